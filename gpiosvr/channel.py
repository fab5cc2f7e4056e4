"""A synchronous request channel: one blocking Unix-socket connection, one thread.

The blocking client gives every calling thread a channel of its own, so a call is a
plain ``send`` and ``recv`` on the caller's thread: no hand-off to another thread on
the hot path, and concurrent callers are concurrent requests on the server. Every
request carries an id; an answer whose id is not the one awaited (the late answer
to a call that timed out or was interrupted) is dropped, never taken for another.

The everyday call (int arguments, a small int answer) has a short way,
:meth:`Channel.call_ints`, measured in ``benchmarks/bench_calls.py``: its calls
share a request id until one is abandoned, so that frames and answers are looked up
whole; no ``os.getpid()`` per call (a fork clears every channel's ``ready`` flag
instead), one ``sendall`` and one ``recv``. A request of many int commands has one
too (:func:`encode_int_request`, :meth:`Channel.responses`). Anything unusual on
the way falls back to the general codec, which gives the same results.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Sequence

from gpiosvr import protocol
from gpiosvr.errors import ConnectionFailed, ProtocolError, ResponseTimeout
from gpiosvr.response import Response

if TYPE_CHECKING:  # socket and peercred are imported on the first connect: importing a
    import socket  # client (the pigpio facade) costs no more than pigpio's (issue #18)

_RETRY_ERRNOS = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN}
#: How many frames and answers of :meth:`Channel.call_ints` a channel remembers.
_SHORT_MEMORY = 256
#: Bytes :meth:`Channel.call_ints` reads at first (see there).
_SHORT_READ = 256
#: ``@%d name %d ...\n`` frame templates by command name and argument count.
_TEMPLATES: dict[tuple[str, int], bytes] = {}
#: Bumped in a forked child: a channel made before the fork is the parent's. Cheaper
#: on every call than ``os.getpid()``, which is a system call.
_generation = 0
#: Every open channel, so that a forked child can mark them all not ready at once.
_channels: "weakref.WeakSet[Channel]" = weakref.WeakSet()
#: How many channels are open in this process (see :meth:`Channel.call_ints`).
_open_count = 0
_open_lock = threading.Lock()


def _forked() -> None:
    global _generation, _open_lock
    _generation += 1
    _open_lock = threading.Lock()  # another thread may have held it at the fork
    for channel in list(_channels):
        channel.ready = False


os.register_at_fork(after_in_child=_forked)


def generation() -> int:
    """How many forks this process descends from (compare :attr:`Channel.generation`)."""
    return _generation


def frame_template(name: str, count: int) -> bytes:
    """The frame of command ``name`` with ``count`` int arguments, the request id and
    the arguments left as ``%d``: ``frame_template("r", 1) == b"@%d r %d\\n"``."""
    template = _TEMPLATES.get((name, count))
    if template is None:
        protocol.encode_command(name)  # refuses a bad name as the general way does
        template = b"@%d " + name.encode("ascii") + b" %d" * count + b"\n"
        if len(_TEMPLATES) < 4096:
            _TEMPLATES[(name, count)] = template
    return template


_BIG_INT = 1 << 64  # as protocol.encode_value: smaller ints are written in decimal
#: Commands of plain int arguments encoded before: ``("r", 4)`` -> ``b"r 4"``. Looked
#: up by equality, so a hit still checks each argument's type (``4.0 == 4``).
_ENCODED: dict[tuple, bytes] = {}
_ENCODED_LIMIT = 4096


def encode_int_request(commands: Sequence[Sequence[Any]], request_id: int) -> bytes | None:
    """``protocol.encode_request(commands, request_id)`` as bytes, the short way, when
    every command is a tuple of a name and plain ints (``type(a) is int``, below
    2**64); None for anything else (the general encoder then writes it, or refuses).
    A bad name raises as the general encoder does."""
    if not commands:
        return None
    parts = []
    append = parts.append
    encoded_before = _ENCODED.get
    for command in commands:
        try:
            encoded = encoded_before(command)
        except TypeError:  # unhashable: a list, or an argument that is one
            return None
        if encoded is None:
            encoded = _encode_int_command(command)
            if encoded is None:
                return None
        elif len(command) == 2:  # equal to one encoded before; its type may not be
            if type(command[1]) is not int:
                return None
        else:
            for arg in command[1:]:
                if type(arg) is not int:
                    return None
        append(encoded)
    return b"@%d %s\n" % (request_id, b";".join(parts))


def _encode_int_command(command: Any) -> bytes | None:
    """One command of :func:`encode_int_request` seen for the first time (remembered)."""
    if type(command) is not tuple or not command or type(command[0]) is not str:
        return None
    name, args = command[0], command[1:]
    for arg in args:
        if type(arg) is not int or not -_BIG_INT < arg < _BIG_INT:
            return None
    protocol.encode_command(name)  # refuses a bad name as the general way does
    encoded = name.encode("ascii") + b"".join([b" %d" % arg for arg in args])
    if len(_ENCODED) < _ENCODED_LIMIT:
        _ENCODED[command] = encoded
    return encoded


def bye_reason(line: bytes | bytearray) -> str | None:
    """The reason in a ``*bye "<reason>"`` frame (the server's last word before it
    closes the connection), or None if ``line`` is not one."""
    if not line.startswith(b"*bye"):
        return None
    try:
        note = protocol.decode_notification(protocol.frame_text(bytes(line)))
    except ProtocolError:
        return bytes(line[5:]).decode("ascii", "replace")
    return " ".join(map(str, note.args))


def lost_message(path: str, exc: BaseException | None, bye: str | None) -> str:
    """What to tell the user when the connection to ``path`` ended: the server's
    reason when it gave one."""
    if bye is not None:
        return f"connection to {path} closed by the server: {bye}"
    return f"connection to {path} lost" + (f": {exc}" if exc else "")


def connect_unix(path: str, timeout: float) -> socket.socket:
    """Connect to the server at ``path``, retrying while it is not there yet, up to
    ``timeout`` seconds, and check who serves it (:func:`peercred.check_server`).

    Raises :class:`ConnectionFailed` when the time is up, at once for an error that
    waiting cannot cure (permission denied, not a socket, ...), and for a server run
    by a user this client does not trust.
    """
    import socket

    from gpiosvr import peercred

    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            sock.connect(path)
        except OSError as exc:
            sock.close()
            remaining = deadline - time.monotonic()
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise ConnectionFailed(f"cannot connect to the GPIO server at {path}: "
                                       f"{peercred.permission_denied(path)}") from exc
            if exc.errno not in _RETRY_ERRNOS:
                raise ConnectionFailed(f"cannot connect to the GPIO server at {path}: "
                                       f"{exc.strerror or exc}") from exc
            if remaining <= 0:
                raise ConnectionFailed(
                    f"cannot connect to the GPIO server at {path} within "
                    f"{timeout * 1000:.0f} ms: {exc.strerror or exc}") from exc
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)
            continue
        try:
            peercred.check_server(sock, path)
        except BaseException:
            sock.close()
            raise
        return sock


class Channel:
    """One connection used by one thread at a time (see the module doc)."""

    def __init__(self, path: str, name: str, connect_timeout: float,
                 response_timeout: float) -> None:
        self.path = path
        self.pid = os.getpid()
        self.generation = _generation
        self.response_timeout = response_timeout
        #: True while :meth:`call_ints` may take the short way at once: open, in the
        #: process that opened it, nothing buffered, the response timeout in force.
        self.ready = False
        self._sock: socket.socket | None = connect_unix(path, connect_timeout)
        self._sock.settimeout(None)  # blocking; timeouts come from SO_RCVTIMEO
        import select

        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._poll_ms = max(1, int(response_timeout * 1000))
        self._timeout: float | None = None
        self._buffer = b""
        self._next_id = 1
        self._new_short_id()
        self._bye: str | None = None  # the reason the server gave for closing
        _channels.add(self)
        global _open_count
        with _open_lock:
            _open_count += 1
        try:
            hello = self.exchange((("hello", protocol.PROTOCOL_VERSION, name, self.pid),),
                                  connect_timeout)
            answer = hello[0]
            if answer.exceptions:
                raise answer.exceptions[-1]
            self.server_info: dict[str, Any] = answer.value
        except BaseException:
            self.close()
            raise

    @property
    def closed(self) -> bool:
        """True once the connection is closed or lost."""
        return self._sock is None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        global _open_count
        self.ready = False
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
            with _open_lock:
                _open_count -= 1

    def __del__(self) -> None:  # a thread that ended takes its channel with it
        try:
            self.close()
        except Exception:
            pass

    def call(self, name: str, args: tuple[Any, ...], timeout: float | None = None) -> Any:
        """Run one command; return its result or raise its exception.

        The everyday shape -- int arguments, one whole int answer -- is encoded and
        decoded the short way (:meth:`call_ints`); anything else takes the general
        way. Both give the same results.
        """
        if timeout is None:
            for arg in args:
                if type(arg) is not int:
                    break
            else:
                template = _TEMPLATES.get((name, len(args))) or frame_template(name, len(args))
                return self.call_ints(template, args)
        return self._call_general(name, args, timeout)

    def _call_general(self, name: str, args: tuple[Any, ...], timeout: float | None) -> Any:
        answer = self.exchange(((name, *args),), timeout)[0]
        if answer.exceptions:
            raise answer.exceptions[-1]
        return answer.value

    def call_ints(self, template: bytes, args: tuple[int, ...]) -> Any:
        """:meth:`call` the short way: ``args`` are ints (``type(a) is int``, checked by
        the caller) and ``template`` is their :func:`frame_template`.

        When :attr:`ready`: one ``sendall``, one ``recv`` (after a ``poll`` when this
        is the process's only connection), and an answer ``@<id> <digits>`` is
        returned as an int at once; anything else (an error, a negative
        or other value, a late answer to an abandoned call, a partial frame) is read
        and decoded the general way, as is the whole call when not :attr:`ready`.

        These calls share one request id until one of them is abandoned (a timeout,
        Ctrl-C): the server does not check ids for uniqueness, and with one request
        in flight at a time each answer with that id is the awaited one. So the
        frame of each command and the answers seen are remembered whole, id and
        all: a call is a dict lookup each way, no formatting or parsing. An
        abandoned call retires the id (:meth:`_new_short_id`): its late answer
        never matches another call's.
        """
        if not self.ready:
            return self._call_general(template[4:].split()[0].decode("ascii"), args, None)
        frame = self._short_frames.get((template, args))
        if frame is None:
            frame = self._short_frame(template, args)
        sock = self._sock
        try:
            sock.sendall(frame)
            if _open_count == 1:
                # The only connection of the process: wait in poll(), which wakes for
                # input only; a thread asleep in recv() on a Unix socket is woken
                # twice, the first time for nothing when the server reads the request
                # (freeing send-buffer space). Several threads each with a connection
                # do better without the extra system call: it hands the GIL over once
                # more per call.
                if not self._poll.poll(self._poll_ms):
                    raise BlockingIOError  # no answer in time
            # An everyday answer is a few bytes: a small buffer is one of Python's
            # own (a 64 KiB one is a malloc and a realloc per call); anything longer
            # is read on the general way below.
            data = sock.recv(_SHORT_READ)
        except BlockingIOError:  # SO_RCVTIMEO (or the poll) expired
            self._new_short_id()  # its answer may come yet
            raise self._timeout_error(self.response_timeout) from None
        except OSError as exc:
            self.close()
            raise ConnectionFailed(f"connection to {self.path} lost: {exc}") from exc
        except BaseException:  # Ctrl-C
            self._new_short_id()
            raise
        value = self._short_answers.get(data)
        if value is not None:
            return value
        return self._short_answer(data)

    def _new_short_id(self) -> None:
        """Give :meth:`call_ints` a request id of its own, unused so far, and forget
        the frames and answers made with the one before."""
        self._short_id = self._take_id()
        self._short_prefix = b"@%d " % self._short_id
        self._short_frames: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self._short_answers: dict[bytes, int] = {}

    def _short_frame(self, template: bytes, args: tuple[int, ...]) -> bytes:
        frame = self._short_prefix + template[4:] % args  # template: b"@%d name %d\n"
        if len(self._short_frames) < _SHORT_MEMORY:
            self._short_frames[(template, args)] = frame
        return frame

    def _short_answer(self, data: bytes) -> Any:
        """:meth:`call_ints`'s answer from ``data``, the bytes it read, when they are
        not an answer seen before."""
        prefix = self._short_prefix
        start = len(prefix)
        if data[:start] == prefix and data[-1:] == b"\n":
            digits = data[start:-1]
            if digits.isdigit():  # bytes: ASCII digits only
                value = int(digits)
                if len(self._short_answers) < _SHORT_MEMORY:
                    self._short_answers[data] = value
                return value
        self._buffer = data  # anything else: read it the general way
        try:
            answer = self._decode(self._round_trip(None, self._short_id, None))[0]
        except BaseException:
            self._new_short_id()  # abandoned: a timeout, Ctrl-C (or closed: no matter)
            raise
        if answer.exceptions:
            raise answer.exceptions[-1]
        return answer.value

    def exchange(self, commands: Sequence[Sequence[Any]],
                 timeout: float | None = None) -> list[protocol.Answer]:
        """Send one request and return its answers, one per command."""
        request_id = self._take_id()
        return self._decode(self._round_trip(self._frame(commands, request_id),
                                             request_id, timeout))

    def responses(self, commands: Sequence[Sequence[Any]],
                  timeout: float | None = None) -> list[Response]:
        """Send one request and return one :class:`Response` per command, as
        :meth:`exchange` does; an answer of plain ints only (the everyday batch) is
        decoded in one pass over the frame (:func:`protocol.int_answers`)."""
        request_id = self._take_id()
        line = self._round_trip(self._frame(commands, request_id), request_id, timeout)
        values = protocol.int_answers(line[len(b"@%d " % request_id):])
        if values is not None:
            return Response._from_values(values)
        return [Response._from_answer(answer) for answer in self._decode(line)]

    @staticmethod
    def _frame(commands: Sequence[Sequence[Any]], request_id: int) -> bytes:
        frame = encode_int_request(commands, request_id)
        if frame is None:
            frame = protocol.encode_request(commands, request_id).encode("ascii")
        return frame

    def _take_id(self) -> int:
        request_id = self._next_id
        self._next_id = request_id + 1 if request_id < protocol.MAX_ID else 1
        return request_id

    def _decode(self, line: bytes) -> list[protocol.Answer]:
        try:
            return protocol.decode_response(protocol.frame_text(line))[1]
        except ProtocolError:
            self.close()
            raise

    def _round_trip(self, frame: bytes | None, request_id: int,
                    timeout: float | None) -> bytes:
        """Send ``frame`` (None: it was sent already); return the answer frame that
        carries ``request_id``."""
        sock = self._sock
        if sock is None:
            raise ConnectionFailed(f"connection to {self.path} is closed")
        wait = self.response_timeout if timeout is None else timeout
        prefix = b"@%d " % request_id
        self.ready = False
        try:
            self._set_timeout(sock, wait)
            if frame:
                sock.sendall(frame)
            deadline = None
            while True:
                line, deadline = self._read_line(sock, wait, deadline)
                if line.startswith(prefix):
                    return line
                # a notification, or a late answer to an abandoned request: drop it
                if line.startswith(b"*bye"):
                    self._bye = bye_reason(line)
        except ResponseTimeout:
            raise
        except ProtocolError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise ConnectionFailed(lost_message(self.path, exc, self._bye)) from exc
        finally:
            self.ready = (self._sock is not None and not self._buffer
                          and self._timeout == self.response_timeout
                          and self.generation == _generation)

    def _set_timeout(self, sock: socket.socket, seconds: float) -> None:
        """Bound blocking sends and receives by the kernel (SO_RCVTIMEO/SO_SNDTIMEO),
        so a call costs two system calls, not five; set only when it changes."""
        if seconds != self._timeout:
            import socket

            tv = _timeval(seconds)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            self._timeout = seconds

    def _read_line(self, sock: socket.socket, wait: float,
                   deadline: float | None) -> tuple[bytes, float | None]:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n")
            if end >= 0:
                self._buffer = buffer[end + 1:]
                return buffer[:end], deadline
            if len(buffer) > protocol.MAX_FRAME_BYTES:
                raise ProtocolError("response frame longer than the frame limit")
            if deadline is None:
                deadline = time.monotonic() + wait
            else:  # a second read in the same call: only what is left of the wait
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._buffer = buffer
                    raise self._timeout_error(wait)
                self._set_timeout(sock, remaining)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:  # SO_RCVTIMEO expired
                self._buffer = buffer
                raise self._timeout_error(wait) from None
            except BaseException:
                self._buffer = buffer  # Ctrl-C: keep what arrived, ids sort it out
                raise
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            buffer += chunk

    def _timeout_error(self, wait: float) -> ResponseTimeout:
        return ResponseTimeout(f"no answer from {self.path} within {wait * 1000:.0f} ms")


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO; 0 would mean wait for ever."""
    micros = max(1, int(seconds * 1_000_000))
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)
