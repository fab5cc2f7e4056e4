"""The asyncio GPIO server: a Unix socket, one protocol object per client.

Requests are executed as soon as a whole frame has arrived, in the order they came;
all commands of a request that fits one turn of the loop
(:data:`SHORT_COMMANDS_PER_TURN`) run back to back, so no other client's command can
slip between them; a longer one, and the frames of one read past a turn's budget,
run in turns, other clients served in between. A client that sends garbage gets an
error answer and nothing else
changes; a client that stops reading is paused, never buffered without bound.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import struct
import sys
from typing import Any, Callable

from gpiosvr import config, protocol
from gpiosvr.errors import PigpioError, ProtocolError
from gpiosvr.protocol import Command
from gpiosvr.server import commands, instance, logsafe
from gpiosvr.server.backends import Backend, create
from gpiosvr.server.clocks import HardwareClocks
from gpiosvr.server.handles import HandleTables
from gpiosvr.server.instance import ServerAlreadyRunning, ServerStartError  # noqa: F401
from gpiosvr.server.limits import (ANSWER_BATCH_BYTES, BYE_LINGER_SECONDS, DECODE_STEP_BYTES,
                                   LISTEN_BACKLOG, MAX_LINGERING, PARTIAL_FRAME_SECONDS,
                                   RELEASE_STEP_ITEMS, SHORT_COMMANDS_PER_TURN)
from gpiosvr.server.notify import EdgeHub
from gpiosvr.server.ownership import Owner
from gpiosvr.server.permits import Permits
from gpiosvr.server.pwm import PwmController
from gpiosvr.server.quotas import ConnectionQuotas
from gpiosvr.server.scripts import ScriptEngine
from gpiosvr.server.waves import WaveEngine

log = logging.getLogger("gpiosvr.server")

#: Socket file mode: owner and group may connect.
SOCKET_MODE = 0o660


class EdgeSettings:
    """Per-GPIO watchdog and filter settings (pigpio keeps them per GPIO, not per
    client), and who set them (:mod:`gpiosvr.server.ownership`). Edge notifications
    apply them.

    A watchdog stays on while any connection that set it is connected (the facade's
    callback connection sets it; another connection of the same uid may change it),
    or, set by a session that persists, until turned off; ``wdog G 0`` turns it off
    for all. Filters stay until changed, as in pigpio.
    """

    def __init__(self) -> None:
        self.watchdog = [0] * 32
        #: The connections that set each GPIO's watchdog to a time (``("persist",
        #: uid)`` for a session that persists), and as whom.
        self.watchdog_setters: list[dict[object, Owner]] = [{} for _ in range(32)]
        self.glitch = [0] * 32
        self.glitch_owner: list[Owner | None] = [None] * 32
        self.noise = [(0, 0)] * 32
        self.noise_owner: list[Owner | None] = [None] * 32


#: Commands the short path runs by calling their handler directly: quick GPIO calls
#: with int parameters only, whose handlers answer at once.
SHORT_COMMANDS = frozenset({"r", "w", "mg", "m", "br1", "br2", "bc1", "bc2", "bs1", "bs2",
                            "t", "hwver", "pigpv"})
_BIG_INT = 1 << 64  # as protocol.encode_answer: smaller ints are written in decimal

#: Frame tails seen before (``r 4\n``) -> their :func:`short_plan`: the short path
#: parses and checks a command's arguments once, not on every call.
_PARSED: dict[bytes, tuple[int, Any, Any, Any]] = {}
_PARSED_LIMIT = 4096


def short_answer(session: commands.Session, frame: bytes) -> bytes | None:
    """The answer to ``frame`` if it is one whole everyday frame, newline included --
    ``@<id> <name>`` and int arguments of up to 9 digits, e.g. ``@7 r 4\\n`` -- run the
    short way; None for anything else (the general way decodes it).

    The answers are byte for byte those of the general way (``commands.execute``),
    except that the id comes back as it was sent.
    """
    head, _, tail = frame.partition(b" ")  # head: "@<id>"
    parsed = _PARSED.get(tail)
    if not (1 < len(head) < 20 and head[0] == 64 and head[1:].isdigit()):  # 64: "@"
        return None
    if parsed is None:
        if b";" in tail:
            return _short_batch(session, head, tail)
        parsed = _parse_short(tail)
        if parsed is None:
            return None
        if type(parsed) is Command:  # not a short command: the general table
            if parsed.name in commands.ANSWERS_LATER:
                return None  # its answer may be a future: the general way waits for it
            answer = commands.execute(session, parsed)
            return b"%s %s\n" % (head, answer.encode("ascii"))
    try:
        value = call_short(session, parsed)
    except Exception as exc:
        return _short_failure(head, tail, exc)
    if type(value) is int and -_BIG_INT < value < _BIG_INT:
        return b"%s %d\n" % (head, value)
    return _short_value(head, value)


def short_plan(handler: Any, args: tuple[Any, ...]) -> tuple[int, Any, Any, Any]:
    """A short command ready to run: (argument count, handler, first argument, second
    argument), None for those it has not. Its call is written out by argument count
    (:func:`call_short`) where it is hot: a call with ``*args`` costs about as much
    as the handler of ``r`` itself."""
    if len(args) > 2:
        raise ValueError(f"a short command has at most 2 arguments, not {len(args)}")
    return (len(args), handler, *args, *(None,) * (2 - len(args)))


def call_short(session: commands.Session, plan: tuple[int, Any, Any, Any]) -> Any:
    """Run a :func:`short_plan`: its handler's value (or what it raises)."""
    count, handler, a, b = plan
    if count == 1:
        return handler(session, a)
    if count == 2:
        return handler(session, a, b)
    return handler(session)


#: Frames a connection remembers whole (``ClientConnection._remember``), and answers
#: per frame: at most ~10 KiB a connection.
_SEEN_FRAMES = 32
_SEEN_ANSWERS = 8


def _seen_answer(seen: tuple, value: Any) -> bytes:
    """The answer frame to a remembered frame (``ClientConnection._remember``) whose
    handler gave ``value``; an int's is remembered too."""
    head, _, answers = seen
    if type(value) is int and -_BIG_INT < value < _BIG_INT:
        answer = b"%s %d\n" % (head, value)
        if len(answers) < _SEEN_ANSWERS:
            answers[value] = answer
        return answer
    return _short_value(head, value)


def _short_value(head: bytes, value: Any) -> bytes:
    """The answer frame to a short command whose handler gave ``value``."""
    try:
        answer = protocol.encode_answer(value)
    except ProtocolError as exc:  # as commands.execute does
        answer = protocol.encode_answer(None, (exc,))
    return b"%s %s\n" % (head, answer.encode("ascii"))


def _short_failure(head: bytes, tail: bytes, exc: Exception) -> bytes:
    """The answer frame to a short command whose handler raised ``exc``."""
    if isinstance(exc, (PigpioError, ProtocolError)):  # as commands.execute does
        answer = protocol.encode_answer(None, (exc,))
    else:
        commands.log.exception("command %r failed", tail[:-1].decode("ascii"))
        answer = protocol.encode_answer(None, (RuntimeError(f"internal error: {exc}"),))
    return b"%s %s\n" % (head, answer.encode("ascii"))


class _Encoded(bytes):
    """An answer of a batch already encoded (an error, or the general executor's),
    apart from the handlers' values, which :meth:`ShortBatch.answer` encodes."""

    __slots__ = ()


#: The encoded answer of each small int value, so that a batch of everyday answers
#: is joined without formatting each one.
_INT_ANSWERS = {value: b"%d" % value for value in range(-1024, 1024)}


class ShortBatch:
    """A request of several commands planned for the short way (:func:`plan_batch`):
    each command's :func:`short_plan`, or its :class:`Command` for the
    general executor; :meth:`run` executes the next ones, :meth:`answer` is the
    response frame once all ran."""

    __slots__ = ("head", "plans", "short_only", "cost", "known", "values", "_chunks",
                 "_encoded")

    def __init__(self, head: bytes, plans: tuple, short_only: bool, cost: int,
                 known: bool = False) -> None:
        self.head = head
        #: Planned before (:data:`_PLANS`): planning it now cost next to nothing.
        self.known = known
        self.plans = plans
        #: Every command is a short one (no :class:`Command` among the plans).
        self.short_only = short_only
        #: What running all of it costs of a turn's budget (:meth:`run`).
        self.cost = cost
        #: What each command that ran gave: its handler's value, or its answer
        #: already encoded (:class:`_Encoded`).
        self.values: list[Any] = []
        #: The answer's text so far, a piece per :meth:`run`, and how many of
        #: ``values`` it holds.
        self._chunks: list[bytes] = []
        self._encoded = 0

    def run(self, session: commands.Session, budget: int) -> bool:
        """Execute commands in order until ``budget`` is spent (a short command costs
        1, one for the general executor :data:`GENERAL_COMMAND_COST`) and encode
        their answers in the same turn (the turn that ends a long request would
        otherwise encode all of them: 1,000 took ~55 µs); True when all have run."""
        done = self._run_short(session, budget) if self.short_only else \
            self._run_mixed(session, budget)
        self._encode_ran()
        return done

    def _run_short(self, session: commands.Session, budget: int) -> bool:
        plans, values = self.plans, self.values
        append = values.append
        index = len(values)
        stop = min(len(plans), index + budget)
        while index < stop:
            try:  # one try for the whole run: it costs nothing until a command fails
                for count, handler, a, b in plans[index:stop]:  # call_short, written out
                    if count == 1:
                        append(handler(session, a))
                    elif count == 2:
                        append(handler(session, a, b))
                    else:
                        append(handler(session))
            except (PigpioError, ProtocolError) as exc:  # as commands.execute does
                append(_Encoded(protocol.encode_answer(None, (exc,)).encode("ascii")))
            except Exception as exc:
                append(_internal_error(plans[len(values)][1], exc))
            index = len(values)
        return index == len(plans)

    def _run_mixed(self, session: commands.Session, budget: int) -> bool:
        plans, values = self.plans, self.values
        append = values.append
        index = len(values)
        while index < len(plans) and budget > 0:
            parsed = plans[index]
            index += 1
            if type(parsed) is Command:
                budget -= GENERAL_COMMAND_COST
                append(_Encoded(commands.execute(session, parsed).encode("ascii")))
                continue
            budget -= 1
            try:
                append(call_short(session, parsed))
            except (PigpioError, ProtocolError) as exc:  # as commands.execute does
                append(_Encoded(protocol.encode_answer(None, (exc,)).encode("ascii")))
            except Exception as exc:
                append(_internal_error(parsed[1], exc))
        return index == len(plans)

    def _encode_ran(self) -> None:
        """Encode the values of the commands run since the last call as
        :func:`protocol.encode_answer` does (small ints from a table): the answer's
        next piece."""
        values, start = self.values, self._encoded
        if start == len(values):
            return
        ran = values[start:] if start else values
        parts = list(map(_INT_ANSWERS.get, ran))
        if None in parts:
            for index, part in enumerate(parts):
                if part is None:
                    parts[index] = _encode_value(ran[index])
        self._chunks.append(b";".join(parts))
        self._encoded = len(values)

    def answer(self) -> bytes:
        """The response frame, once every command has run."""
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b";".join(chunks)
        return b"%s %s\n" % (self.head, body)


def _encode_value(value: Any) -> bytes:
    """A batch's answer for a handler's ``value`` (or the answer itself)."""
    if type(value) is _Encoded:
        return value
    if type(value) is int and -_BIG_INT < value < _BIG_INT:
        return b"%d" % value
    try:
        return protocol.encode_answer(value).encode("ascii")
    except ProtocolError as exc:  # as commands.execute does
        return protocol.encode_answer(None, (exc,)).encode("ascii")


def _internal_error(handler: Any, exc: Exception) -> _Encoded:
    commands.log.exception("command %r failed", getattr(handler, "__name__", handler))
    return _Encoded(protocol.encode_answer(
        None, (RuntimeError(f"internal error: {exc}"),)).encode("ascii"))


#: What a command run by :func:`commands.execute` costs of a turn's budget
#: (:data:`SHORT_COMMANDS_PER_TURN`), against 1 for a short command in a batch
#: (measured in one process, ``benchmarks/bench_batches.py --calibrate``: ~6.5 µs
#: against ~0.25 µs); in a request the short way does not take (:class:`GeneralBatch`)
#: decoding a command is half of it, executing it the other half.
GENERAL_COMMAND_COST = 24
#: What a frame of one short command costs of a turn's budget among several frames in
#: one read (pipelined requests; measured ~2-4 µs).
FRAME_COST = 8

#: The longest request the short way may plan (:func:`plan_batch`): as many commands
#: as a request may have, each of up to this many bytes (its ``;`` included), the
#: most a short command or one parsed as a :class:`Command` with ints takes here;
#: a longer command is the general way's (and a longer request decoded in steps:
#: ``ClientConnection._run_frames``).
_PLANNED_PART_BYTES = 64
_PLANNED_BYTES = protocol.MAX_COMMANDS_PER_REQUEST * _PLANNED_PART_BYTES
#: What is copied of a frame longer than that (or decoded in pieces): its head, where
#: its id is (``@`` and up to 19 digits), for an answer that cannot wait for the rest.
_FRAME_HEAD_BYTES = 24
#: Request tails planned before (``r 4;r 5\n``) -> (plans, short only): a program
#: that sends the same batch again and again has it parsed once. Bounded in entries
#: and in the length of a tail kept (a longer one is planned every time).
_PLANS: dict[bytes, tuple[tuple, bool, int]] = {}
_PLANS_LIMIT = 64
_PLAN_TAIL_BYTES = 16 * 1024


def plan_batch(head: bytes, tail: bytes) -> ShortBatch | None:
    """The :class:`ShortBatch` of a request of several commands (``@7 r 4;r 5\\n``,
    ``head`` ``@7``): every command looked up in the parsed-tail cache as a single
    one is, instead of the general decoder; None unless the short way takes every
    command (the general way then answers, errors included)."""
    planned = _PLANS.get(tail)
    if planned is not None:
        return ShortBatch(head, *planned, True)
    parts = tail[:-1].split(b";")
    if len(parts) > protocol.MAX_COMMANDS_PER_REQUEST or tail[-1:] != b"\n":
        return None  # the general way answers it with its error
    plans = []
    short_only = True
    cost = 0
    for part in parts:
        if len(part) >= _PLANNED_PART_BYTES:
            return None
        key = part + b"\n"
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = _parse_short(key)
            if parsed is None:
                return None
            if type(parsed) is Command:
                if parsed.name in commands.ANSWERS_LATER:
                    return None
        if type(parsed) is Command:
            short_only = False
            cost += GENERAL_COMMAND_COST
        else:
            cost += 1
        plans.append(parsed)
    planned = (tuple(plans), short_only, cost)
    if len(tail) <= _PLAN_TAIL_BYTES and len(_PLANS) < _PLANS_LIMIT:
        _PLANS[bytes(tail)] = planned
    return ShortBatch(head, *planned)


def _short_batch(session: commands.Session, head: bytes, tail: bytes) -> bytes | None:
    """:func:`short_answer` for a request of several commands, all run at once
    (a connection runs a long one in turns: ``ClientConnection._run_batch``)."""
    batch = plan_batch(head, tail)
    if batch is None:
        return None
    batch.run(session, batch.cost)
    return batch.answer()


class GeneralBatch:
    """A long request the short way does not take (an argument that is not a plain
    int, JSON, a command that may answer later), or a big one (longer than
    :data:`DECODE_STEP_BYTES`), run in turns of the loop as a :class:`ShortBatch`
    is: decoded a command at a time (:func:`protocol.decode_request_in_steps`; a
    big frame a piece of ``step`` bytes a turn, within a command's arguments too),
    all of it before any command runs, so that a frame with a mistake anywhere still
    runs nothing; then executed in order. Decoding a command and executing it cost
    half of :data:`GENERAL_COMMAND_COST` each. The answer is the general way's
    (:meth:`ClientConnection.handle_frame`), byte for byte."""

    __slots__ = ("frame", "request_id", "steps", "commands", "answers", "failed", "big")

    def __init__(self, frame: bytes | bytearray, step: int = 0,
                 within: tuple[bytes | bytearray, int, int] | None = None) -> None:
        #: The frame without its newline (of a big one, its first bytes: its id).
        self.frame = frame
        self.commands: list[Command] = []
        self.answers: list = []  # encoded answers, or futures of them
        #: The answer frame, if the request cannot run at all.
        self.failed: str | None = None
        self.request_id: int | None = None
        self.steps: Any = None
        #: A big frame's (buffer, start, end, step), until its first turn makes it
        #: text (a 1 MiB frame's text and copy took 0.2-0.7 ms on top of its read);
        #: True then.
        self.big: tuple | bool | None = None
        if within is not None:
            self.big = (*within, step)
            return
        self._start(frame, step)

    @classmethod
    def within(cls, buffer: bytes | bytearray, start: int, end: int,
               step: int) -> "GeneralBatch":
        """The batch of the big frame ``buffer[start:end]``, decoded ``step`` bytes a
        turn from its first :meth:`run` (the buffer is left as it is until then)."""
        return cls(bytes(buffer[start:start + _FRAME_HEAD_BYTES]), step, (buffer, start, end))

    def _start(self, frame: bytes | bytearray | memoryview, step: int) -> None:
        try:
            self.request_id, self.steps = protocol.decode_request_in_steps(
                protocol.frame_text(frame), step)
        except ProtocolError as exc:
            self.failed = _error_response(exc, self.frame)

    def run(self, session: commands.Session, budget: int) -> bool:
        """Decode, then execute, commands until ``budget`` is spent (or a piece of a
        big frame is decoded); True when done."""
        if type(self.big) is tuple:  # its first turn: only its text
            buffer, start, end, step = self.big
            self.big = True
            with memoryview(buffer) as view:
                self._start(view[start:end], step)
            return False
        if self.failed is not None:
            return True
        steps = self.steps
        if steps is not None:
            decoded = self.commands
            try:
                for command in steps:
                    if command is None:  # a piece of a big frame: the rest next turn
                        return False
                    decoded.append(command)
                    budget -= GENERAL_COMMAND_COST // 2
                    if budget <= 0:
                        return False
            except ProtocolError as exc:
                self.failed = _error_response(exc, self.frame)
                return True
            self.steps = None
        decoded, answers = self.commands, self.answers
        execute = commands.execute
        while len(answers) < len(decoded):
            if budget <= 0:
                return False
            answers.append(execute(session, decoded[len(answers)]))
            budget -= GENERAL_COMMAND_COST - GENERAL_COMMAND_COST // 2
        if self.big is not None:
            self.commands = []
            _release_in_turns(decoded)
        return True

    def answer(self) -> "bytes | asyncio.Future[str]":
        """The response frame once :meth:`run` is done (a future of its text while a
        command's answer is still to come)."""
        if self.failed is not None:
            return self.failed.encode("ascii")
        if all(type(a) is str for a in self.answers):
            return protocol.encode_response(self.answers, self.request_id).encode("ascii")
        return _response_later(self.answers, self.request_id)


def _release_in_turns(decoded: list[Command]) -> None:
    """Let go of a big request's ``decoded`` commands, their big lists of arguments
    :data:`RELEASE_STEP_ITEMS` items a turn of the loop: freeing a 1 MiB frame's
    140,000 ints at once held it 1.5 ms. A list someone else refers to too (a
    handler kept it) is left whole to them."""
    big = []
    for command in decoded:
        args = command.args
        if len(args) > RELEASE_STEP_ITEMS:  # ints, as pigs sends them
            big.append(list(args))
            continue
        big.extend(arg for arg in args if type(arg) is list and len(arg) > RELEASE_STEP_ITEMS
                   and sys.getrefcount(arg) <= 3)  # args, the loop's arg, the call's
    decoded.clear()
    if big:
        asyncio.get_running_loop().call_soon(_release_step, big)


def _release_step(big: list[list]) -> None:
    last = big[-1]
    del last[-RELEASE_STEP_ITEMS:]
    if not last:
        big.pop()
    if big:
        asyncio.get_running_loop().call_soon(_release_step, big)


def _parse_short(tail: bytes) -> Any:
    """For a frame tail ``<name>[ <int>...]\\n``: the :func:`short_plan` of a
    :data:`SHORT_COMMANDS` command with good arguments (remembered); the
    :class:`Command` for another well-formed one; None for anything else."""
    if tail[-1:] != b"\n":
        return None
    words = tail[:-1].split(b" ")
    name, args = words[0], words[1:]
    if not (name[:1].isalpha() and name.isalnum() and name.islower()):
        return None
    for arg in args:
        if not arg.isdigit() or len(arg) > 9:
            return None
    command = Command(name.decode("ascii"), tuple(map(int, args)))
    spec = commands.COMMANDS.get(command.name)
    if (command.name in SHORT_COMMANDS and spec is not None and len(args) <= 2
            and len(args) == len(spec.params) == spec.required):
        try:
            values = tuple(convert(arg) for convert, arg in zip(spec.converters, command.args))
        except PigpioError:
            pass  # a bad argument: execute() answers as it always does
        else:
            plan = short_plan(spec.handler, values)
            if len(_PARSED) < _PARSED_LIMIT:
                _PARSED[bytes(tail)] = plan
            return plan
    return command


class ClientConnection(asyncio.Protocol):
    """One connected client: frames in, answers and notifications out.

    A client that does not read its answers gets no more of them made: once its
    write buffer is past the high-water mark, the frames it sent are kept unexecuted
    (reading it is paused, so they are at most one read) and run when the buffer
    drains. A frame begun and not finished within :data:`PARTIAL_FRAME_SECONDS`
    closes the connection, with a ``*bye`` saying why.
    """

    #: How a front end with a report format of its own packs a subscription's
    #: reports, ``encode_reports(sub, records) -> bytes`` (pigpiod's); None: ours.
    encode_reports: Callable[[Any, bytes], bytes] | None = None

    def __init__(self, server: "GpioServer") -> None:
        self.server = server
        self.session = commands.Session(server=server, backend=server.backend,
                                        connection=self)
        self.transport: asyncio.Transport | None = None
        self.subscriptions: set[int] = set()  # notification handles it opened
        #: Edge reports go out as binary frames, not ``*e`` text (``nfmt 1``).
        self.binary_reports = False
        self._buffer = bytearray()  # the unfinished frame; while held, whole ones too
        self._discarding = False  # skipping the rest of an over-long frame
        self._pending: collections.deque = collections.deque()  # frames not sent yet
        # The short path calls handlers directly: only for backends that answer at once.
        self._short = not server.backend.native_commands
        self._waiting_on: asyncio.Future | None = None
        self._admitted = False  # counted by the server's quotas
        self._held = False  # the write buffer is past high water: execute nothing
        self._batch: ShortBatch | GeneralBatch | None = None  # a long request, in turns
        #: A turn of kept frames is due (:meth:`_run_turn`).
        self._turn_pending = False
        #: Input kept for a later turn, by reference: (buffer, where it starts);
        #: ``_buffer`` then holds what was read since (:meth:`_keep_input`).
        self._rest: tuple[bytes | bytearray, int] | None = None
        #: Answers of the frames run on the turns before it, and their bytes.
        self._kept: list = []
        self._kept_size = 0
        #: Reading is paused until the long request or the turn due is done: the
        #: client sent more meanwhile (it is kept, in order).
        self._turn_paused = False
        self._partial_since: float | None = None  # loop time the unfinished frame began
        self._partial_timer: asyncio.TimerHandle | None = None
        self._lingering = False  # told *bye, closing soon (see close_with)
        #: The loop serving this connection (``asyncio.get_running_loop()`` costs a
        #: ``getpid`` system call, twice per long request).
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Everyday frames this connection sent before (:meth:`_remember`).
        self._seen: dict[bytes, tuple] = {}

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        pid, uid, gid = self.peer_credentials(transport)
        self.session.pid, self.session.uid, self.session.gid = pid, uid, gid
        server = self.server
        refused = server.quotas.admit(uid)
        if refused is not None:
            server.cap_log.warning("refused a connection from pid=%s uid=%s: %s",
                                   pid, uid, refused)
            self.close_with(refused)
            return
        self._admitted = True
        server.clients.add(self)
        server.handles.connected(self.session)
        server.conn_log.info("client connected: pid=%s uid=%s gid=%s", pid, uid, gid)

    def peer_credentials(self, transport: asyncio.BaseTransport
                         ) -> tuple[int | None, int | None, int | None]:
        """The peer's (pid, uid, gid) as the kernel reports them (``SO_PEERCRED``),
        None where it does not: who owns what this connection makes."""
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(socket, "SO_PEERCRED"):
            try:
                creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                return struct.unpack("3i", creds)
            except OSError:
                pass
        return None, None, None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_partial_timer()
        if self._lingering:
            self._lingering = False
            self.server.lingering -= 1
        if not self._admitted:
            return
        self._admitted = False
        server = self.server
        server.quotas.release(self.session.uid)
        server.clients.discard(self)
        server.handles.disconnected(self.session)
        server.hub.client_gone(self)
        server.backend.user_gone(self.session)
        server.conn_log.info("client disconnected: %s pid=%s",
                             logsafe.printable(self.session.name), self.session.pid)

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading and executing its
        # requests; what it sent already waits in the buffer.
        self._held = True
        self._stop_partial_timer()
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._held = False
        if self.transport is None or self.transport.is_closing():
            return
        self.server.hub.client_drained(self)
        if self._batch is not None or self._turn_pending:
            return  # a turn is due: it runs what is kept, and reading resumes after
        if self.holds_whole_frame():  # whole frames held back: their turn now
            self.server.backend.user = self.session
            buffer, self._buffer = self._buffer, bytearray()
            self._run_frames(buffer)
        else:
            self._watch_partial(True)
        if not self._held and self._batch is None and not self._turn_pending:
            self._turn_paused = False
            self.transport.resume_reading()

    def holds_whole_frame(self) -> bool:
        """Whether the input kept while the client was not reading has a whole frame."""
        return b"\n" in self._buffer

    def data_received(self, data: bytes) -> None:
        server, session = self.server, self.session
        logged = server.log_requests
        if logged:
            log.debug("%s pid=%s <- %r", logsafe.printable(session.name),
                      session.pid, bytes(data))
        if self._batch is not None or self._turn_pending:  # it waits for that turn
            self._buffer += data
            if not self._turn_paused:  # and no more is read until then
                self._turn_paused = True
                self.transport.pause_reading()
            return
        server.backend.user = session  # the short path skips execute()
        if (self._short and not self._buffer and not self._discarding and not self._held
                and len(data) <= DECODE_STEP_BYTES):  # a big read: no hashing it whole
            # The everyday frame: one this connection sent before, id and all (the
            # blocking client reuses its id), or a command parsed before; short_answer's
            # way, written out here (the calls it saves are a tenth of the server's
            # Python per call).
            seen = self._seen.get(data)
            if seen is None:
                head, _, tail = data.partition(b" ")
                parsed = _PARSED.get(tail)
                if (parsed is not None and head[1:].isdigit() and head[0] == 64  # "@"
                        and len(head) < 20):
                    seen = self._remember(data, head, parsed)
            if seen is not None:
                head, (count, handler, a, b), answers = seen  # call_short, written out
                try:
                    if count == 1:
                        value = handler(session, a)
                    elif count == 2:
                        value = handler(session, a, b)
                    else:
                        value = handler(session)
                except Exception as exc:
                    answer = _short_failure(head, data[len(head) + 1:], exc)
                else:
                    answer = answers.get(value) if type(value) is int else None
                    if answer is None:
                        answer = _seen_answer(seen, value)
                server.hub.flush_first()
                if logged:
                    self._write(answer)
                else:
                    self.transport.write(answer)
                return
            # a request of several commands: _run_frames, which weighs it against a turn
            answer = short_answer(session, data) if b";" not in data else None
            if answer is not None:  # one whole everyday frame: the short way, same answers
                server.hub.flush_first()
                self._write(answer)
                return
        if b"\n" not in data:
            self._buffer += data
            self._check_length()
            self._watch_partial(False)
            return
        buffer = self._buffer
        if buffer:  # extended where it is: a big frame's reads are not copied again
            buffer += data
            self._buffer = bytearray()
            self._run_frames(buffer)
        else:
            self._run_frames(data)

    def _remember(self, frame: bytes, head: bytes, plan: tuple) -> tuple:
        """Remember ``frame``, an everyday frame of this connection (``head``: its
        ``@<id>``), for when it comes again: (head, its :func:`short_plan`, its answers
        by value so far). Bounded: all are forgotten when :data:`_SEEN_FRAMES` are kept
        (a client that does not reuse ids makes a new frame of every call)."""
        seen = self._seen
        if len(seen) >= _SEEN_FRAMES:
            seen.clear()
        remembered = seen[frame] = (head, plan, {})
        return remembered

    def _start_long(self, batch: "ShortBatch | GeneralBatch", buffer: bytes | bytearray,
                    start: int, now: bool) -> None:
        """Run ``batch``, a request longer than a turn, in turns of the loop
        (:meth:`_run_batch`), its first ``now`` or on the next turn; what the client
        sent after it (``buffer`` from ``start``) and what it sends meanwhile wait
        until it is answered, so that its requests stay in order."""
        self._batch = batch
        self._keep_input(buffer, start)
        if now:
            self._run_batch()
        else:
            (self._loop or asyncio.get_running_loop()).call_soon(self._run_batch)

    def _run_batch(self) -> None:
        """Run the next turn's worth (:data:`SHORT_COMMANDS_PER_TURN`) of the long
        request in progress, so that other clients are served in between (what this
        one sends meanwhile is kept, and reading it paused: its requests stay in
        order); answer it when done."""
        batch, transport = self._batch, self.transport
        if batch is None or transport is None or transport.is_closing():
            self._batch = None
            return
        self.server.backend.user = self.session
        if not batch.run(self.session, SHORT_COMMANDS_PER_TURN):
            (self._loop or asyncio.get_running_loop()).call_soon(self._run_batch)
            return
        self._batch = None
        answer = batch.answer()
        self._kept.append(answer)  # behind the answers of the frames before it
        if type(answer) is bytes:
            self._kept_size += len(answer)
        if self._held or not self._input_has_frame():  # nothing more to run now
            self.server.hub.flush_first()
            self._emit(self._kept)
            self._kept, self._kept_size = [], 0
        self._next_turn()

    def _keep_input(self, buffer: bytes | bytearray, start: int) -> None:
        """Keep ``buffer`` from ``start``, input not run yet, for a later turn: by
        reference, not copied (a read of many small frames run a few a turn would
        copy its rest at every turn); what the client sends meanwhile goes to
        ``_buffer``, behind it. Not timed as an unfinished frame meanwhile."""
        self._rest = (buffer, start)
        self._partial_since = None

    def _take_input(self) -> tuple[bytes | bytearray, int]:
        """The input not run yet, all of it (kept, then read since), and where it
        starts in the buffer returned; ``_buffer`` is left empty."""
        rest, self._rest = self._rest, None
        buffer, self._buffer = self._buffer, bytearray()
        if rest is None:
            return buffer, 0
        kept, start = rest
        if buffer:
            return kept[start:] + buffer, 0
        return kept, start

    def _input_has_frame(self) -> bool:
        """Whether the input not run yet has a whole frame."""
        rest = self._rest
        return ((rest is not None and rest[0].find(b"\n", rest[1]) >= 0)
                or b"\n" in self._buffer)

    def _settle_input(self) -> None:
        """Put the input not run yet in ``_buffer`` (where resume_writing and the
        unfinished frame's timing look for it)."""
        if self._rest is not None:
            buffer, start = self._take_input()
            self._buffer = bytearray(buffer[start:])

    def _yield_turn(self, buffer: bytes | bytearray, start: int) -> None:
        """This turn's budget is spent: run ``buffer``'s frames from ``start`` on the
        next turn of the loop (:meth:`_run_turn`), other clients served in between."""
        self._keep_input(buffer, start)
        self._schedule_turn()

    def _schedule_turn(self) -> None:
        """Run the kept input on the next turn of the loop (once, however often asked)."""
        if not self._turn_pending:
            self._turn_pending = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._run_turn)

    def _run_turn(self) -> None:
        """The next turn of the frames kept by :meth:`_yield_turn`."""
        self._turn_pending = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._held:  # resume_writing runs them when the client reads again
            self._settle_input()
            if self._kept:
                self._emit(self._kept)
                self._kept, self._kept_size = [], 0
            return
        self.server.backend.user = self.session
        self._run_frames(*self._take_input())
        self._resume_after_turn()

    def _next_turn(self) -> None:
        """After a long request's answer: what the client sent meanwhile runs on the
        next turn (this one is spent), or reading goes on."""
        if self._held:  # resume_writing runs what was read meanwhile, and reads again
            self._settle_input()
            return
        if self._input_has_frame():
            self._schedule_turn()
            return
        self._settle_input()
        self._watch_partial(True)  # the unfinished frame read with it, if any
        self._resume_after_turn()

    def _resume_after_turn(self) -> None:
        """Read again if reading was paused for a turn and nothing else holds it."""
        if (self._turn_paused and not self._held and self._batch is None
                and not self._turn_pending):
            self._turn_paused = False
            self.transport.resume_reading()

    def _plan(self, frame: bytes | bytearray) -> ShortBatch | None:
        """The :class:`ShortBatch` of ``frame``, a request of several commands
        (newline included), or None if the short way does not take it."""
        head, _, tail = bytes(frame).partition(b" ")
        if not (1 < len(head) < 20 and head[0] == 64 and head[1:].isdigit()):  # "@"
            return None
        return plan_batch(head, tail)

    def _run_frames(self, buffer: bytes | bytearray, start: int = 0) -> None:
        """Execute the whole frames of ``buffer`` from ``start`` in order, sending their
        answers in batches, until this turn's budget is spent
        (:data:`SHORT_COMMANDS_PER_TURN`: a short command in a batch costs 1, a
        frame of its own :data:`FRAME_COST`, a command of the general executor
        :data:`GENERAL_COMMAND_COST`; the rest on the next turn, its answers sent
        with these) or the client's write buffer is past high water; keep the rest
        (frames not executed, the unfinished one) for later. A request that alone
        costs more than a turn runs in turns (:meth:`_start_long`); one that costs
        less runs whole, in one turn."""
        # answer frames (bytes) or futures of them (str); those of the turns before,
        # kept so that a read's answers still go out together (one write, not one a
        # turn: a pipelining client's wake-ups and system calls)
        out, size = self._kept, self._kept_size
        self._kept = []
        session, short = self.session, self._short
        turn = SHORT_COMMANDS_PER_TURN
        budget = turn
        first = start
        find = buffer.find
        while not self._held:  # pause_writing came: keep the rest for later
            end = find(b"\n", start)
            if end < 0:
                break
            if budget <= 0:  # spent: the rest on the next turn
                self._kept, self._kept_size = out, size
                self._yield_turn(buffer, start)
                return
            length = end - start
            # a big frame is not copied (GeneralBatch.within): only its head, its id
            line = buffer[start:end if length <= _PLANNED_BYTES else start + _FRAME_HEAD_BYTES]
            if self._discarding:
                self._discarding = False
                start = end + 1
                continue
            if length >= protocol.MAX_FRAME_BYTES:
                answer = _too_long(line).encode("ascii")
                budget -= FRAME_COST
            elif line:  # several frames in one read (pipelined requests): short ways too
                long_one = None
                answer = None
                big = length > DECODE_STEP_BYTES  # decoded a piece a turn
                if big or b";" in line:
                    batch = (self._plan(bytes(line) + b"\n") if short and b";" in line
                             and length <= _PLANNED_BYTES else None)
                    if batch is not None:
                        cost = batch.cost
                    elif big:
                        cost = turn + 1
                    else:
                        cost = (line.count(b";") + 1) * GENERAL_COMMAND_COST
                    if cost > budget:
                        if budget < turn:  # it may fit a turn of its own
                            self._kept, self._kept_size = out, size
                            self._yield_turn(buffer, start)
                            return
                        if batch is not None:
                            long_one, now = batch, batch.known
                        elif big:  # from the next turn: this one read it
                            long_one, now = GeneralBatch.within(
                                buffer, start, end, DECODE_STEP_BYTES), False
                        else:
                            long_one, now = GeneralBatch(line), True
                    elif batch is not None:
                        batch.run(session, cost)
                        answer = batch.answer()
                    budget -= cost
                    if long_one is not None:  # what comes after it waits until it has run
                        self._kept, self._kept_size = out, size
                        self._start_long(long_one, buffer, end + 1, now)
                        return
                elif short:
                    answer = short_answer(session, bytes(line) + b"\n")
                    budget -= FRAME_COST
                if answer is None:
                    answer = self.handle_frame(line)
                    if type(answer) is str:
                        answer = answer.encode("ascii")
                    if b";" not in line:
                        budget -= GENERAL_COMMAND_COST - (FRAME_COST if short else 0)
            else:
                start = end + 1
                continue
            start = end + 1
            out.append(answer)
            if type(answer) is bytes:
                size += len(answer)
                if size >= ANSWER_BATCH_BYTES:
                    self._emit(out)
                    out, size = [], 0
        if out:
            self.server.hub.flush_first()
            self._emit(out)
        self._buffer = bytearray(buffer[start:]) if start < len(buffer) else bytearray()
        if not self._held:
            self._check_length()
        self._watch_partial(start > first)

    def _emit(self, frames: list) -> None:
        """Send answer frames (bytes) in order; a frame still being answered by the
        backend (a future of its text) holds back the ones after it."""
        if not self._pending and all(type(f) is bytes for f in frames):
            if self.transport is not None and not self.transport.is_closing():
                self._write(b"".join(frames))
            return
        self._pending.extend(frames)
        self._drain_pending()

    def _drain_pending(self, _done: object = None) -> None:
        ready = []
        pending = self._pending
        while pending:
            head = pending[0]
            if type(head) is not bytes:
                if not head.done():
                    if head is not self._waiting_on:
                        self._waiting_on = head
                        head.add_done_callback(self._drain_pending)
                    break
                head = head.result().encode("ascii")
            pending.popleft()
            ready.append(head)
        if ready and self.transport is not None and not self.transport.is_closing():
            self._write(b"".join(ready))

    def _write(self, data: bytes) -> None:
        if self.server.log_requests:
            log.debug("%s pid=%s -> %r", logsafe.printable(self.session.name),
                      self.session.pid, data)
        self.transport.write(data)

    # -- frames ------------------------------------------------------------------

    def _check_length(self) -> None:
        if len(self._buffer) >= protocol.MAX_FRAME_BYTES:
            if not self._discarding:
                self._discarding = True
                self.send(_too_long(self._buffer))
            self._buffer.clear()

    def _watch_partial(self, restart: bool) -> None:
        """Time the unfinished frame, if there is one and the client may send the
        rest; ``restart``: a frame was finished, so the clock starts again."""
        if not (self._buffer or self._discarding) or self._held:
            self._partial_since = None
            return
        loop = asyncio.get_running_loop()
        if restart or self._partial_since is None:
            self._partial_since = loop.time()
        if self._partial_timer is None:
            self._partial_timer = loop.call_at(self._partial_since + PARTIAL_FRAME_SECONDS,
                                               self._partial_check)

    def _partial_check(self) -> None:
        self._partial_timer = None
        since = self._partial_since
        if since is None or self._held:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - since < PARTIAL_FRAME_SECONDS:  # finished one, began another
            self._partial_timer = loop.call_at(since + PARTIAL_FRAME_SECONDS,
                                               self._partial_check)
            return
        reason = (f"frame not finished within {PARTIAL_FRAME_SECONDS:g} s "
                  f"(limit PARTIAL_FRAME_SECONDS); closing the connection")
        self.server.cap_log.warning("closing the connection of %s pid=%s uid=%s: %s",
                                    logsafe.printable(self.session.name),
                                    self.session.pid, self.session.uid, reason)
        self.close_with(reason)

    def _stop_partial_timer(self) -> None:
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None

    def close_with(self, reason: str) -> None:
        """Tell the client why (a ``*bye`` notification) and close the connection.

        The server stops executing its requests but, for up to
        :data:`BYE_LINGER_SECONDS`, reads and drops what it still sends, with the
        sending side shut: closing at once could make the client's next send fail
        (EPIPE, ECONNRESET) before it reads the ``*bye``, and lose the reason.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.send(protocol.encode_notification("bye", reason))
        self._buffer.clear()
        self._rest = None
        self._stop_partial_timer()
        self._held = True  # nothing more is executed
        server = self.server
        if (transport.get_write_buffer_size()  # it does not read: it would not see it
                or server.lingering >= MAX_LINGERING or not transport.can_write_eof()):
            transport.abort()
            return
        server.lingering += 1
        self._lingering = True
        self.data_received = self.eof_received = _drop  # type: ignore[method-assign]
        transport.write_eof()
        transport.resume_reading()
        asyncio.get_running_loop().call_later(BYE_LINGER_SECONDS, transport.abort)

    def handle_frame(self, line: bytes) -> "str | asyncio.Future[str]":
        """Execute one request frame and return its encoded response frame (or a
        future of it, when the backend answers later)."""
        try:
            request = protocol.decode_request(protocol.frame_text(bytes(line)))
        except ProtocolError as exc:
            return _error_response(exc, line)
        session = self.session
        answers = [commands.execute(session, cmd) for cmd in request.commands]
        if all(type(a) is str for a in answers):
            return protocol.encode_response(answers, request.id)
        return _response_later(answers, request.id)

    def send(self, frame: str) -> None:
        """Send a frame (an answer or a notification) to this client."""
        if self.transport is not None and not self.transport.is_closing():
            self._write(frame.encode("ascii"))


def _drop(*_: object) -> None:
    """Reading a connection that is being closed: what it sends is dropped (and at
    its end of file the transport closes)."""


def _response_later(answers: list, request_id: Any) -> "asyncio.Future[str]":
    """A future of the response frame, once every answer that is a future is known."""
    waiting = [a for a in answers if type(a) is not str]
    gathered = asyncio.gather(*waiting)
    frame = gathered.get_loop().create_future()

    def done(gathered: asyncio.Future) -> None:
        known = iter(gathered.result())  # answer futures never fail
        parts = [a if type(a) is str else next(known) for a in answers]
        frame.set_result(protocol.encode_response(parts, request_id))

    gathered.add_done_callback(done)
    return frame


def _error_response(exc: Exception, frame: bytes) -> str:
    """The answer to a frame that could not be executed at all."""
    answer = protocol.encode_answer(None, (exc,))
    return protocol.encode_response([answer], protocol.salvage_id(frame))


def _too_long(frame: bytes) -> str:
    return _error_response(ProtocolError(
        f"frame longer than the limit of {protocol.MAX_FRAME_BYTES - 1} bytes; skipped"), frame)


class GpioServer:
    """Serves one backend on one Unix socket to any number of clients."""

    def __init__(self, socket_path: str | None = None, backend: Backend | None = None,
                 group: str | int | None = None, log_requests: bool = False,
                 admin_group: str | int | None = None, permit: int | None = None) -> None:
        self.socket_path = config.server_socket_path(socket_path)
        self.backend = backend if backend is not None else create("sim")
        self.group = group
        #: Members of this group may touch every client's resources
        #: (:mod:`gpiosvr.server.ownership`); None: only root and the server's uid.
        self.admin_gid = _gid(admin_group) if admin_group is not None else None
        self.clients: set[ClientConnection] = set()
        #: Log every request and response at DEBUG level (``--log-requests``).
        self.log_requests = log_requests
        self.edge_settings = EdgeSettings()
        self.hub = EdgeHub(self.edge_settings)
        self.pwm = PwmController(self.backend)
        self.scripts = ScriptEngine(self)
        #: Waves, chains and the transmission (:mod:`gpiosvr.server.waves`).
        self.waves = WaveEngine(self.backend, self.pwm)
        #: The hardware clocks (:mod:`gpiosvr.server.clocks`).
        self.clocks = HardwareClocks(self.backend, self.pwm)
        #: The GPIOs clients may change: ``permit`` (``--permit``), else the board's.
        self.permits = Permits(self.backend, permit)
        #: Connections per uid and in total (:mod:`gpiosvr.server.quotas`).
        self.quotas = ConnectionQuotas()
        #: Numbered handles of every kind (:mod:`gpiosvr.server.handles`); a client's
        #: close when its last connection goes.
        self.handles = HandleTables()
        #: Connections told ``*bye`` and closing (``ClientConnection.close_with``).
        self.lingering = 0
        #: Connect, handshake and disconnect lines, rate-limited.
        self.conn_log = logsafe.RateLimitedLog(log, "connection")
        #: Lines about refused and closed connections (a cap reached), rate-limited.
        self.cap_log = logsafe.RateLimitedLog(log, "connection refusal")
        self._server: asyncio.base_events.Server | None = None
        self._instance: instance.Instance | None = None  # the socket's lock and file
        #: Other front ends (:mod:`gpiosvr.server.frontends`), started and closed with
        #: the socket: objects with ``async start()`` and ``async close()``.
        self.frontends: list[Any] = []

    @property
    def client_count(self) -> int:
        """How many clients are connected now."""
        return len(self.clients)

    async def start(self) -> None:
        """Claim the socket path (:func:`instance.claim`: its directory, its lock, a
        stale socket), bind it and start accepting clients; raises
        :class:`ServerStartError` saying why it cannot, leaving nothing behind."""
        gid = _gid(self.group) if self.group is not None else None
        self.quotas.start()
        self._instance = instance.claim(self.socket_path)
        try:
            loop = asyncio.get_running_loop()
            self.hub.attach(loop, self.backend)
            self.backend.attach(loop)
            self.backend.add_listener(self.hub.level_changed, self.hub.burst)
            await self._bind_socket(loop, gid)
            for frontend in self.frontends:
                await frontend.start()
        except BaseException:
            try:
                for frontend in self.frontends:
                    await frontend.close()
                if self._server is not None:
                    self._server.close()
                    self._server = None
            finally:
                self._instance.release()
                self._instance = None
                self.hub.close_timers()
                self.backend.close()  # what attach opened (timers, lines, a daemon link)
            raise
        # DEBUG: gpiosvr-server prints its own "serving" line, which is what users see
        log.debug("gpiosvr serving backend %s on %s", self.backend.name, self.socket_path)

    async def _bind_socket(self, loop: asyncio.AbstractEventLoop, gid: int | None) -> None:
        old_umask = os.umask(0o117)
        try:
            self._server = await loop.create_unix_server(
                lambda: ClientConnection(self), self.socket_path, backlog=LISTEN_BACKLOG)
        except OSError as exc:
            raise ServerStartError(f"cannot create the socket {self.socket_path}: "
                                   f"{exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)
        self._instance.bound()
        try:
            os.chmod(self.socket_path, SOCKET_MODE)
            if gid is not None:
                os.chown(self.socket_path, -1, gid)
        except OSError as exc:
            raise ServerStartError(f"cannot give the socket {self.socket_path} mode "
                                   f"{SOCKET_MODE:o} and group {self.group}: "
                                   f"{exc.strerror}") from None

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, reason: str = "server shutting down") -> None:
        """Stop scripts and accepting, tell every client why (a ``*bye`` notification)
        and drop it, remove the socket file."""
        running = self.scripts.close()
        for frontend in self.frontends:
            await frontend.close()
        if self._server is not None:
            log.info("shutting down: %d client(s), %d running script(s) stopped",
                     len(self.clients), running)
            self._server.close()
            bye = protocol.encode_notification("bye", reason)
            for client in list(self.clients):
                client.send(bye)
                if client.transport is not None:
                    client.transport.close()
            await self._server.wait_closed()
            self._server = None
        if self._instance is not None:  # only the socket file this server bound
            self._instance.release()
            self._instance = None
        self.hub.close_timers()
        self.backend.close()
        self.conn_log.close()
        self.cap_log.close()

    async def __aenter__(self) -> "GpioServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _gid(group: str | int) -> int:
    """A group's id, from its name or id."""
    return instance.group_id(group)
