"""pigpiod's socket protocol as a second front end: every pigpio client (the real
``pigpio.py``, ``pigs``, ``pigpiod_if2``, Node's ``pigpio-client``, gpiozero's remote
pins, ...) runs on gpiosvr, on any backend.

A command is four little-endian 32-bit words ``cmd p1 p2 p3`` and, when ``p3`` is
not 0, ``p3`` extension bytes; the answer is ``cmd p1 p2 res`` (``res`` negative: a
pigpio error code), followed by ``res`` extension bytes for the commands that answer
data. :mod:`gpiosvr.server.commands.numbers` says which pigs command each number is
and how its words become arguments; the command runs through
:func:`gpiosvr.server.commands.run` like any other. ``NOIB`` turns a connection into
a notification stream: 12-byte reports ``seqno flags tick level`` (``<HHII``), where
``level`` holds the levels of GPIO 0-31 after the change and ``flags`` marks a
watchdog timeout (``PI_NTFY_FLAGS_WDOG | gpio``) or an event the handle monitors
(``EVM``; ``PI_NTFY_FLAGS_EVENT | event``, the levels as they are).

The protocol has no authentication. The front end is off unless asked for, listens
on loopback unless told otherwise, and may be limited to a list of peers; TCP peers
have no kernel credentials, so every TCP session runs as one configured uid (None
by default: what a TCP client makes any local user may touch, and a TCP client may
touch only what such sessions made). As pigpiod's, the numbered handles, pipes and
watchdogs a connection opens outlive it (``Session.persist``), until closed; a
``NOIB`` stream closes with its connection. ``docs/pigpiod-protocol.md`` says more.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import logging
import socket
import struct
from typing import Any, Iterable

from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError, ProtocolError
from gpiosvr.protocol import Command
from gpiosvr.server import app, commands, permits, pipes
from gpiosvr.server.app import SHORT_COMMANDS, ClientConnection
from gpiosvr.server.commands import MODE_LETTERS, PUD_LETTERS
from gpiosvr.server.commands.numbers import (ALL_NUMBERS, HANDLE_COMMANDS, HELP, NOIB,
                                             NUMBERS)
from gpiosvr.server.limits import (ANSWER_BATCH_BYTES, LISTEN_BACKLOG, PIGPIOD_ALIVE_SECONDS,
                                   PIGPIOD_MAX_EXTENSION, PIGPIOD_MAX_PENDING_ANSWERS)
from gpiosvr.server.notify import EVENT_FLAG, RECORD, TIMEOUT_LEVEL

log = logging.getLogger("gpiosvr.server.pigpiod")

#: pigpiod's default port.
DEFAULT_PORT = 8888
#: Where the front end listens unless ``--pigpiod-listen`` says otherwise.
DEFAULT_LISTEN = "127.0.0.1"

PI_NTFY_FLAGS_EVENT = 1 << 7
PI_NTFY_FLAGS_ALIVE = 1 << 6
PI_NTFY_FLAGS_WDOG = 1 << 5

_WORDS = struct.Struct("<4I")
_REPORT = struct.Struct("<HHII")
_U32 = struct.Struct("<I")
#: pigpio's notification handles (NOIB streams and NO pipes share them).
PIGPIOD_NOTIFY_SLOTS = 32
NO = 18
#: NB, NP, NC, EVM on a handle that is no NOIB stream: the pipe commands.
_PIPE_COMMANDS = {19: "pnb", 20: "pnp", 21: "pnc", 115: "pevm"}
_MODE_OF_NUMBER = {number: letter for letter, number in MODE_LETTERS.items()}
_PUD_OF_NUMBER = {number: letter for letter, number in PUD_LETTERS.items()}


#: Other commands of GPIOs, PWM and servos, watchdogs and filters, pads, whose words
#: are their only arguments and whose handlers answer at once: run the quick way too,
#: with the permission check :func:`~gpiosvr.server.commands.run` makes first.
CHECKED_QUICK_COMMANDS = frozenset({"pud", "p", "prs", "pfs", "s", "wdog", "prg", "pfg",
                                    "prrg", "gdc", "gpw", "hc", "fg", "pads", "padg"})


def _quick_calls() -> dict[int, tuple[str, Any]]:
    """Command number -> (name, ``call(session, p1, p2)``) for the quick commands
    whose words are their only arguments and whose answer is an int: the handler
    and its argument checks bound once, called without the command table's
    :class:`Command` and :func:`~gpiosvr.server.commands.run`, as the Unix front
    end's short path does. :data:`~gpiosvr.server.app.SHORT_COMMANDS`' handlers check
    their own permissions; :data:`CHECKED_QUICK_COMMANDS` get ``run``'s check."""
    calls: dict[int, tuple[str, Any]] = {}
    for number, shape in NUMBERS.items():
        spec = commands.COMMANDS.get(shape.name)
        if (spec is None or shape.answer != "int"
                or shape.name not in SHORT_COMMANDS | CHECKED_QUICK_COMMANDS
                or not set(shape.request) <= {"p1", "p2", "mode", "pud"}
                or len(spec.converters) != len(shape.request) or spec.variadic
                or shape.name in commands.ANSWERS_LATER):
            continue
        check = shape.name not in SHORT_COMMANDS and spec.updates == "gpio"
        calls[number] = (shape.name, _bind(spec.handler, spec.converters,
                                           shape.request, check))
    return calls


def _bind(handler: Any, converters: tuple[Any, ...], request: tuple[str, ...],
          check: bool) -> Any:
    """``call(session, p1, p2)``: the words as ``request`` makes them arguments, in the
    order of the general way (a mode or pull number, then, with ``check``, the
    permission ``commands.run`` checks of the GPIO a command changes, then the
    converters)."""
    permit = permits.of
    # a word its converter takes unchanged needs no call of it (the everyday case)
    v1, v2 = (_passes(c) for c in (*converters, None, None)[:2])
    if request == ():
        return lambda session, p1, p2: handler(session)
    if request == ("p1",):
        (c1,) = converters
        if check:
            return lambda session, p1, p2: (permit(session).check_argument(p1),
                                            handler(session, c1(p1)))[1]
        return lambda session, p1, p2: handler(session, p1 if p1 in v1 else c1(p1))
    if request == ("p1", "p2"):
        c1, c2 = converters
        if check:
            return lambda session, p1, p2: (permit(session).check_argument(p1),
                                            handler(session, c1(p1), c2(p2)))[1]
        return lambda session, p1, p2: handler(session, p1 if p1 in v1 else c1(p1),
                                               p2 if p2 in v2 else c2(p2))
    if request in (("p1", "mode"), ("p1", "pud")):
        # pigpio's mode and pull numbers are the table's, once valid
        c1 = converters[0]
        valid, code = ((_MODE_OF_NUMBER, errors.PI_BAD_MODE) if request[1] == "mode"
                       else (_PUD_OF_NUMBER, errors.PI_BAD_PUD))

        def set_mode(session: Any, p1: int, p2: int) -> Any:
            if p2 not in valid:  # as request_args: checked before the GPIO
                raise Refused(code)
            if check:
                permit(session).check_argument(p1)
            return handler(session, c1(p1), p2)

        return set_mode
    raise AssertionError(request)  # pragma: no cover - _quick_calls filters


@functools.cache
def _passes(converter: Any) -> frozenset[int]:
    """The words 0-255 that ``converter`` takes unchanged (it only checks them);
    once per converter (the parameter kinds share theirs)."""
    if converter is None:
        return frozenset()
    passed = set()
    for word in range(256):
        try:
            if converter(word) is word:
                passed.add(word)
        except Exception:  # noqa: BLE001 - refused: the converter says how
            pass
    return frozenset(passed)


class Refused(Exception):
    """A command's words or extension do not fit its shape: answered with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- shapes: words and extension -> arguments, value -> result and extension ---------

def request_args(shape: Iterable[str], p1: int, p2: int, ext: bytes) -> tuple[Any, ...]:
    """The pigs arguments of a command of request ``shape`` (see
    :mod:`~gpiosvr.server.commands.numbers`) sent as ``p1``, ``p2`` and ``ext``."""
    args: list[Any] = []
    for token in shape:
        optional = token.endswith("?")
        token = token.rstrip("?")
        if token == "p1":
            args.append(p1)
        elif token == "p2":
            if optional and not p2 and len(ext) < 4:
                continue
            args.append(p2)
        elif token == "mode":
            mode = _MODE_OF_NUMBER.get(p2)
            if mode is None:
                raise Refused(errors.PI_BAD_MODE)
            args.append(mode)
        elif token == "pud":
            pud = _PUD_OF_NUMBER.get(p2)
            if pud is None:
                raise Refused(errors.PI_BAD_PUD)
            args.append(pud)
        elif token[0] == "u":
            offset = int(token[1:])
            if len(ext) < offset + 4:
                if optional:
                    continue
                raise Refused(errors.PI_BAD_PARAM)
            args.append(_U32.unpack_from(ext, offset)[0])
        elif token.startswith("ext"):
            args.append(bytes(ext[int(token[3:] or 0):]))
        elif token == "text":
            args.append(_text(ext))
        elif token == "ints":
            args.extend(_U32.unpack_from(ext, i)[0] for i in range(0, len(ext) - 3, 4))
        elif token == "shell":  # p1 bytes of name, a NUL, the arguments
            args.append(_text(ext[:p1]))
            args.append(_text(ext[p1 + 1:]))
        elif token == "args":  # gpiosvr's own commands: their arguments as its text
            args.extend(_protocol_args(ext))
        else:  # pragma: no cover - numbers.py names only the tokens above
            raise AssertionError(token)
    return tuple(args)


def _protocol_args(ext: bytes) -> tuple[Any, ...]:
    """The arguments in ``ext`` as gpiosvr's protocol writes them (one command's)."""
    try:
        text = bytes(ext).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(errors.PI_BAD_PARAM) from None
    if "\n" in text:
        raise Refused(errors.PI_BAD_PARAM)  # one command's arguments, nothing more
    request = protocol.decode_request(f"x {text}" if text.strip() else "x")
    if len(request.commands) != 1 or request.id is not None:
        raise Refused(errors.PI_BAD_PARAM)
    return request.commands[0].args


def _text(data: bytes) -> str:
    return bytes(data).split(b"\0", 1)[0].decode("latin-1")


def answer_bytes(shape: str, value: Any) -> tuple[int, bytes]:
    """pigpiod's result word and extension for a command of answer ``shape``."""
    if shape == "int":
        if value is None:
            return 0, b""
        if type(value) is bool or not isinstance(value, int):
            log.warning("an int answer was expected, not %r", value)
            return errors.PI_BAD_PARAM, b""
        return value, b""
    if shape == "procp":  # [status, p0, ..., p9]
        words = [int(v) & 0xFFFFFFFF for v in value][:11]
        words += [0] * (11 - len(words))
        return 44, struct.pack("<11I", *words)
    if shape == "bscx":  # [status, data]
        status, data = value
        data = _as_bytes(data)
        return 4 + len(data), _U32.pack(int(status) & 0xFFFFFFFF) + data
    if shape == "value":  # gpiosvr's own commands: the value as its protocol writes it
        data = protocol.encode_value(value).encode("utf-8")
        return len(data), data
    data = _as_bytes(value)
    return len(data), data


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1", errors="replace")
    if isinstance(value, (list, tuple)):
        return bytes(int(v) & 0xFF for v in value)
    if value is None:
        return b""
    raise TypeError(f"no data in {value!r}")


def parse_allow(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--pigpiod-allow``: comma-separated addresses, networks (``192.168.1.0/24``)
    or host names (resolved now); raises ValueError naming a bad one."""
    networks: list[Any] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(item, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ValueError(f"--pigpiod-allow: {item!r} is no address, network or "
                             f"known host name ({exc.strerror or exc})") from None
        networks.extend(ipaddress.ip_network(info[4][0]) for info in infos)
    return networks


def _allowed(networks: list[Any] | None, address: str | None) -> bool:
    if networks is None:
        return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


# -- connections -------------------------------------------------------------------

class PigpiodConnection(ClientConnection):
    """One pigpiod client's TCP connection: 16-byte commands in, answers out, and,
    after ``NOIB``, its notification reports.

    Admission (connection caps), back-pressure (a client that does not read has no
    more of its commands run), the partial-frame deadline and the clean-up when it
    goes are :class:`~gpiosvr.server.app.ClientConnection`'s.
    """

    def __init__(self, frontend: "PigpiodFrontend") -> None:
        super().__init__(frontend.server)
        self.frontend = frontend
        self.session.name = "pigpiod"
        self.session.persist = True  # as pigpiod's: handles and pipes outlive it
        self._answers: collections.deque = collections.deque()  # bytes or futures
        self._waiting = False  # a done callback is set on the head future
        #: After NOIB: the hub handle whose reports this connection carries, and the
        #: pigpio handle (slot) its client knows it by.
        self.stream_handle: int | None = None
        self.slot: int | None = None
        self._levels = 0  # GPIO 0-31 levels as last reported
        self._seq = 0
        self._reported_at = 0.0  # loop time of the last report sent
        self._alive_timer: asyncio.TimerHandle | None = None

    def peer_credentials(self, transport: asyncio.BaseTransport
                         ) -> tuple[int | None, int | None, int | None]:
        return None, self.frontend.uid, None  # TCP: no kernel credentials

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if not _allowed(self.frontend.allow, address):
            self.server.cap_log.warning("pigpiod front end: refused %s (not in "
                                        "--pigpiod-allow)", address)
            self.transport = transport  # type: ignore[assignment]
            transport.close()
            return
        self.session.name = f"pigpiod {address}"
        sock = transport.get_extra_info("socket")
        if sock is not None:  # as pigpiod: a peer that vanished is found out
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot is not None:
            self.frontend.streams.pop(self.slot, None)
        if self._alive_timer is not None:
            self._alive_timer.cancel()
            self._alive_timer = None
        for answer in self._answers:
            if isinstance(answer, asyncio.Future):
                answer.cancel()
        self._answers.clear()
        super().connection_lost(exc)

    def holds_whole_frame(self) -> bool:
        buffer = self._buffer
        return len(buffer) >= 16 and len(buffer) >= 16 + _U32.unpack_from(buffer, 12)[0]

    def data_received(self, data: bytes) -> None:
        if self._turn_pending:  # commands before these wait for their turn
            self._buffer += data
            if not self._turn_paused:  # and no more is read until then
                self._turn_paused = True
                self.transport.pause_reading()
            return
        if len(data) == 16 and self._short and not (self._buffer or self._answers
                                                    or self._held):
            # the everyday read: one whole quick command, answered with one write
            cmd, p1, p2, p3 = _WORDS.unpack(data)
            quick = _QUICK.get(cmd)
            server = self.server
            if quick is not None and not p3 and not server.log_requests:
                session = server.backend.user = self.session  # as _quick, inline
                try:
                    value = quick[1](session, p1, p2)
                except Exception as exc:  # noqa: BLE001 - answered with a code
                    value = _code(exc, quick[0])
                self.transport.write(_WORDS.pack(cmd, p1, p2, value & 0xFFFFFFFF)
                                     if type(value) is int else
                                     _answer(cmd, p1, p2, "int", value, quick[0]))
                return
        if self._buffer:
            self._buffer += data
            data, self._buffer = self._buffer, bytearray()
        self._run_frames(data)

    def _run_frames(self, buffer: "bytes | bytearray", start: int = 0) -> None:
        """Run the whole commands at the start of ``buffer``, in order, until this
        turn's budget is spent (``app.SHORT_COMMANDS_PER_TURN``: a quick command
        costs ``app.FRAME_COST``, another ``app.GENERAL_COMMAND_COST``; the rest on
        the next turn of the loop, other clients served in between), the client is
        behind (back-pressure) or too many answers wait for the backend; keep the
        rest for later."""
        first, end = start, len(buffer)
        out: list[bytes] = []
        size = 0
        budget = app.SHORT_COMMANDS_PER_TURN
        quick, cheap, dear = _QUICK, app.FRAME_COST, app.GENERAL_COMMAND_COST
        while not self._held and end - start >= 16 and budget > 0:
            if len(self._answers) >= PIGPIOD_MAX_PENDING_ANSWERS:
                self.transport.pause_reading()  # resumed when answers come
                break
            cmd, p1, p2, p3 = _WORDS.unpack_from(buffer, start)
            if p3 >= PIGPIOD_MAX_EXTENSION:
                self.close_with(f"extension of {p3} bytes announced, the limit is "
                                f"{PIGPIOD_MAX_EXTENSION - 1} (PIGPIOD_MAX_EXTENSION)")
                return
            if end - start < 16 + p3:
                break
            ext = bytes(buffer[start + 16:start + 16 + p3])
            start += 16 + p3
            budget -= cheap if cmd in quick else dear
            answer = self._command(cmd, p1, p2, ext)
            if type(answer) is bytes and not self._answers:
                out.append(answer)
                size += len(answer)
                if size >= ANSWER_BATCH_BYTES:
                    self._write(b"".join(out))
                    out, size = [], 0
            else:
                if out:
                    self._write(b"".join(out))
                    out, size = [], 0
                self._answers.append(answer)
                self._drain_answers()
        if out:
            self._write(b"".join(out))
        if (budget <= 0 and not self._held and end - start >= 16
                and end - start >= 16 + _U32.unpack_from(buffer, start + 12)[0]):
            self._yield_turn(buffer, start)  # the rest on the next turn
            return
        self._buffer = bytearray(buffer[start:])
        self._watch_partial(start > first)

    def _drain_answers(self, _done: object = None) -> None:
        """Send the answers that are known, in order."""
        self._waiting = False
        ready = []
        answers = self._answers
        while answers:
            head = answers[0]
            if isinstance(head, asyncio.Future):
                if not head.done():
                    if not self._waiting:
                        self._waiting = True
                        head.add_done_callback(self._drain_answers)
                    break
                head = head.result()
            answers.popleft()
            ready.append(head)
        transport = self.transport
        if ready and transport is not None and not transport.is_closing():
            self._write(b"".join(ready))
            if (len(answers) < PIGPIOD_MAX_PENDING_ANSWERS and self._buffer
                    and not self._held and not self._turn_pending):
                buffer, self._buffer = self._buffer, bytearray()
                self._run_frames(buffer)
                transport.resume_reading()

    def send(self, frame: str) -> None:
        """gpiosvr text frames (a ``*bye``) mean nothing to a pigpiod client: dropped."""

    def close_with(self, reason: str) -> None:
        """Close the connection, logging why: pigpio's protocol cannot carry a reason."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.server.cap_log.warning("closing the pigpiod connection of %s: %s",
                                    self.session.name, reason)
        self._buffer.clear()
        self._stop_partial_timer()
        self._held = True
        transport.abort()

    # -- commands --------------------------------------------------------------------

    def _command(self, cmd: int, p1: int, p2: int, ext: bytes) -> "bytes | asyncio.Future":
        """The answer to one command: its bytes, or a future of them."""
        if self.server.log_requests:
            log.debug("%s <- %d %d %d %r", self.session.name, cmd, p1, p2, ext[:64])
        quick = _QUICK.get(cmd) if self._short else None
        if quick is not None:
            return self._quick(cmd, p1, p2, quick)
        spec = ALL_NUMBERS.get(cmd)
        if spec is None:
            return _WORDS.pack(cmd, p1, p2, errors.PI_UNKNOWN_COMMAND & 0xFFFFFFFF)
        if cmd == NOIB:
            return self._noib(p1, p2)
        if cmd == HELP:
            return _WORDS.pack(cmd, p1, p2, 0)
        if cmd == NO or spec.name == "pno":  # gpiosvr's own number for it too
            return self._no(cmd, p1, p2)
        if spec.name not in commands.COMMANDS:  # not in gpiosvr (yet): as pigpiod
            return _WORDS.pack(cmd, p1, p2, errors.PI_UNKNOWN_COMMAND & 0xFFFFFFFF)
        session, name, handle = self.session, spec.name, p1
        if cmd in HANDLE_COMMANDS:
            stream = self.frontend.streams.get(p1)
            if stream is not None:  # the handle's reports go to that connection
                session, handle = stream.session, stream.stream_handle
            else:  # pigpio's handles are NOIB streams' and pipes' (NO) alike
                name = _PIPE_COMMANDS[cmd]
        try:
            args = request_args(spec.request, handle, p2, ext)
            value = commands.run(session, Command(name, args))
        except Exception as exc:  # noqa: BLE001 - answered with a code, never raised
            return _WORDS.pack(cmd, p1, p2, _code(exc, name) & 0xFFFFFFFF)
        if cmd == 19 and p1 in self.frontend.streams:
            self.frontend.streams[p1].refresh_levels()
        if isinstance(value, asyncio.Future):
            answer = value.get_loop().create_future()
            value.add_done_callback(lambda done: _settle(answer, done, cmd, p1, p2,
                                                         spec.answer, spec.name))
            return answer
        return _answer(cmd, p1, p2, spec.answer, value, spec.name)

    def _quick(self, cmd: int, p1: int, p2: int, quick: tuple[str, Any]) -> bytes:
        """The answer to a quick GPIO command (see :func:`_quick_calls`)."""
        self.server.backend.user = self.session
        try:
            value = quick[1](self.session, p1, p2)
        except Exception as exc:  # noqa: BLE001 - answered with a code
            value = _code(exc, quick[0])
        if type(value) is int:
            return _WORDS.pack(cmd, p1, p2, value & 0xFFFFFFFF)
        return _answer(cmd, p1, p2, "int", value, quick[0])

    def _noib(self, p1: int, p2: int) -> bytes:
        """NOIB: open a notification handle whose reports come on this connection."""
        if self.stream_handle is not None:
            return _WORDS.pack(NOIB, p1, p2, errors.PI_NO_HANDLE & 0xFFFFFFFF)
        streams = self.frontend.streams
        taken = dict(iter(pipes.service(self.server).handles))
        slot = next((h for h in range(PIGPIOD_NOTIFY_SLOTS)
                     if h not in streams and h not in taken), None)
        if slot is None:
            return _WORDS.pack(NOIB, p1, p2, errors.PI_NO_HANDLE & 0xFFFFFFFF)
        try:
            self.stream_handle = commands.run(self.session, Command("no"))
        except Exception as exc:  # noqa: BLE001
            return _WORDS.pack(NOIB, p1, p2, _code(exc, "no") & 0xFFFFFFFF)
        self.slot = slot
        streams[slot] = self
        handle = slot
        self.refresh_levels()
        loop = asyncio.get_running_loop()
        self._reported_at = loop.time()
        self._alive_timer = loop.call_later(PIGPIOD_ALIVE_SECONDS, self._alive)
        return _WORDS.pack(NOIB, p1, p2, handle & 0xFFFFFFFF)

    def _no(self, cmd: int, p1: int, p2: int) -> bytes:
        """NO: open a notification pipe, as pigpiod's ``/dev/pigpioN``: the FIFO
        ``pigpioN`` next to the server's socket (:mod:`gpiosvr.server.pipes`), its
        number one no NOIB stream of the front end has."""
        try:
            handle = pipes.service(self.server).open(self.session,
                                                     avoid=self.frontend.streams)
        except Exception as exc:  # noqa: BLE001
            return _WORDS.pack(cmd, p1, p2, _code(exc, "pno") & 0xFFFFFFFF)
        return _WORDS.pack(cmd, p1, p2, handle)

    def refresh_levels(self) -> None:
        """Take the levels of GPIO 0-31 that reports carry from the backend now."""
        try:
            levels = commands.run(self.session, Command("br1"))
        except Exception:  # noqa: BLE001 - keep the levels known
            return
        if isinstance(levels, asyncio.Future):
            levels.add_done_callback(self._levels_came)
        elif type(levels) is int:
            self._levels = levels

    def _levels_came(self, done: asyncio.Future) -> None:
        if not done.cancelled() and done.exception() is None and type(done.result()) is int:
            self._levels = done.result()

    # -- reports ---------------------------------------------------------------------

    def _alive(self) -> None:
        """As pigpiod: a keep-alive report (``PI_NTFY_FLAGS_ALIVE``) on a stream that
        had no report for :data:`PIGPIOD_ALIVE_SECONDS`."""
        loop = asyncio.get_running_loop()
        transport = self.transport
        if transport is None or transport.is_closing() or self.stream_handle is None:
            self._alive_timer = None
            return
        idle = loop.time() - self._reported_at
        if idle >= PIGPIOD_ALIVE_SECONDS:
            sub = self.server.hub.subscriptions.get(self.stream_handle)
            if sub is not None and sub.active:  # pigpiod: only a running handle
                tick = self.server.backend.tick()
                transport.write(_REPORT.pack(self._seq, PI_NTFY_FLAGS_ALIVE,
                                             tick if type(tick) is int else 0,
                                             self._levels))
                self._seq = (self._seq + 1) & 0xFFFF
            self._reported_at, idle = loop.time(), 0.0
        self._alive_timer = loop.call_later(PIGPIOD_ALIVE_SECONDS - idle, self._alive)

    def encode_reports(self, sub: Any, records: bytes) -> bytes:
        """pigpiod's 12-byte reports for edge records of this connection's handle
        (see :class:`~gpiosvr.server.notify.EdgeHub`); reports lost by the hub leave
        a gap in the sequence numbers, as pigpio's lost reports do."""
        seq = (self._seq + sub.lost) & 0xFFFF
        levels = self._levels
        out = []
        pack = _REPORT.pack
        for gpio, level, tick in RECORD.iter_unpack(records):
            if gpio & EVENT_FLAG:  # as alertEmit: the event's flags, the levels now
                out.append(pack(seq, PI_NTFY_FLAGS_EVENT | gpio & 0x1F, tick, levels))
            elif level == TIMEOUT_LEVEL:
                out.append(pack(seq, PI_NTFY_FLAGS_WDOG | gpio, tick, levels))
            else:
                if level:
                    levels |= 1 << gpio
                else:
                    levels &= ~(1 << gpio)
                out.append(pack(seq, 0, tick, levels))
            seq = (seq + 1) & 0xFFFF
        self._seq, self._levels = seq, levels
        self._reported_at = asyncio.get_running_loop().time()
        return b"".join(out)


def _code(exc: BaseException, name: str) -> int:
    if isinstance(exc, PigpioError):
        return exc.code
    if isinstance(exc, Refused):
        return exc.code
    if isinstance(exc, ProtocolError):
        return errors.PI_BAD_PARAM
    # a bug must not reach the client: pigpio has no code for it, PI_BAD_PARAM says least
    log.error("pigpiod command %r failed", name, exc_info=exc)
    return errors.PI_BAD_PARAM


def _answer(cmd: int, p1: int, p2: int, shape: str, value: Any, name: str) -> bytes:
    try:
        result, ext = answer_bytes(shape, value)
    except Exception as exc:  # noqa: BLE001 - a value not of its shape
        return _WORDS.pack(cmd, p1, p2, _code(exc, name) & 0xFFFFFFFF)
    return _WORDS.pack(cmd, p1, p2, result & 0xFFFFFFFF) + ext


def _settle(answer: asyncio.Future, done: asyncio.Future, cmd: int, p1: int, p2: int,
            shape: str, name: str) -> None:
    """The answer to a command once the backend's future ``done`` is."""
    if answer.done():
        return
    if done.cancelled():
        answer.set_result(_WORDS.pack(cmd, p1, p2, errors.PI_CMD_INTERRUPTED & 0xFFFFFFFF))
    elif done.exception() is not None:
        answer.set_result(_WORDS.pack(cmd, p1, p2,
                                      _code(done.exception(), name) & 0xFFFFFFFF))
    else:
        answer.set_result(_answer(cmd, p1, p2, shape, done.result(), name))


#: The quick commands' numbers -> (name, bound call): see :func:`_quick_calls`.
_QUICK = _quick_calls()


class PigpiodFrontend:
    """The TCP listener of pigpiod's protocol, served by a :class:`GpioServer`.

    ``listen``: the address to bind (loopback unless given; ``"0.0.0.0"`` or ``"::"``
    for all); ``port`` 0 lets the system choose (see :attr:`port`); ``allow``: the
    networks a peer must be in (None: any that reaches the port); ``uid``: the uid
    TCP sessions run as (their resources' owner; None by default).
    """

    def __init__(self, server: Any, port: int = DEFAULT_PORT, listen: str = DEFAULT_LISTEN,
                 allow: list[Any] | None = None, uid: int | None = None) -> None:
        self.server = server
        self.listen = listen
        self.requested_port = port
        self.allow = allow
        self.uid = uid
        #: pigpio notification handle -> the connection that carries its reports
        #: (NOIB); pipes (NO) take the numbers no stream has, as in pigpio's one table.
        self.streams: dict[int, PigpiodConnection] = {}
        self._listener: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        """The port the front end listens on (the one the system chose for port 0)."""
        if self._listener is None or not self._listener.sockets:
            return self.requested_port
        return self._listener.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Listen; raises :class:`~gpiosvr.server.app.ServerStartError` saying why not."""
        from gpiosvr.server.app import ServerStartError

        loop = asyncio.get_running_loop()
        try:
            self._listener = await loop.create_server(
                lambda: PigpiodConnection(self), self.listen or None, self.requested_port,
                backlog=LISTEN_BACKLOG, reuse_address=True)
        except OSError as exc:
            raise ServerStartError(f"cannot listen for pigpiod clients on "
                                   f"{self.listen}:{self.requested_port}: "
                                   f"{exc.strerror or exc}") from None
        log.info("pigpiod protocol on %s port %d (no authentication: see "
                 "docs/pigpiod-protocol.md)", self.listen, self.port)

    async def close(self) -> None:
        """Stop listening (the server closes the connections with its others)."""
        if self._listener is not None:
            self._listener.close()
            for client in list(self.server.clients):
                if isinstance(client, PigpiodConnection) and client.transport is not None:
                    client.transport.close()  # a clean end: clients' reads see EOF
            await self._listener.wait_closed()
            self._listener = None
