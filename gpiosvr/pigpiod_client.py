"""A blocking, thread-safe client of pigpiod's socket protocol: what the pigpio facade
uses for ``pi(host)`` when ``host`` is not this machine (a gpiosvr pigpiod front end
or a real pigpiod on an old Pi).

It offers the facade what :class:`gpiosvr.blocking.BlockingClient` offers
(``command``, ``call_ints``, ``call_async``, ``callback``, ``cancel_callback``,
watchdogs and filters, ``reconnects``, ``close``), speaking pigpiod's 16-byte
commands instead of gpiosvr's protocol, and keeps what makes the facade better than
pigpio's own client:

* every call has a timeout (:data:`CALL_TIMEOUT`); a call that times out closes its
  socket, so a late answer is never taken as the next call's;
* a daemon that dies makes calls fail at once (``ConnectionFailed``), never hang,
  and the notification thread waits :data:`RECONNECT_SECONDS` between attempts
  rather than spinning;
* the next call after the daemon is back reconnects, and callbacks, watchdogs and
  filters are restored (``reconnects`` counts the times);
* callbacks run on a dispatcher thread of their own, in order; one that raises is
  logged and harms nothing.
"""

from __future__ import annotations

import logging
import queue
import socket
import struct
import threading
import time
from typing import Any, Callable

from gpiosvr import protocol
from gpiosvr.blocking import ThreadState
from gpiosvr.errors import ConnectionFailed, PigpioError, ResponseTimeout
from gpiosvr.server.commands.numbers import ALL_NUMBERS, BY_NAME, NOIB

log = logging.getLogger("gpiosvr.pigpiod_client")

#: Seconds a call waits for its answer.
CALL_TIMEOUT = 10.0
#: Seconds between attempts to reach a daemon that went away (notifications).
RECONNECT_SECONDS = 0.5
#: Callback events waiting for the dispatcher; past it they are dropped and counted.
MAX_QUEUED_EVENTS = 1 << 16

_WORDS = struct.Struct("<4I")
_REPORT = struct.Struct("<HHII")
_U32 = struct.Struct("<I")
_MODES = {"r": 0, "w": 1, "0": 4, "1": 5, "2": 6, "3": 7, "4": 3, "5": 2}
_PUDS = {"o": 0, "d": 1, "u": 2}
#: Commands whose 32-bit result is unsigned (pigs prints them so, pigpio.py too).
_UNSIGNED = frozenset({"br1", "br2", "t", "hwver", "pigpv", "cgi"})
_WDOG, _EVENT = 1 << 5, 1 << 7
TIMEOUT = 2  # pigpio's level for a watchdog timeout
EITHER_EDGE = 2


#: The facade's notification pipe commands as pigpio's own (NO, NB, NP, NC, EVM on a
#: pipe handle), so that they work on a real pigpiod too.
_PIPE_NAMES = {"pno": "no", "pnb": "nb", "pnp": "np", "pnc": "nc", "pevm": "evm"}


def request_words(name: str, args: tuple[Any, ...]) -> tuple[int, int, int, bytes]:
    """``(cmd, p1, p2, extension)`` for pigs command ``name`` with ``args``: the
    inverse of the front end's ``request_args``."""
    number = BY_NAME.get(_PIPE_NAMES.get(name, name))
    if number is None:
        raise PigpioError(-88)  # PI_UNKNOWN_COMMAND
    p1 = p2 = 0
    ext = b""
    rest = list(args)

    def take() -> Any:
        if not rest:
            raise PigpioError(-81, f"bad parameter count for {name}")
        return rest.pop(0)

    for token in ALL_NUMBERS[number].request:
        optional = token.endswith("?")
        token = token.rstrip("?")
        if optional and not rest:
            break
        if token == "p1":
            p1 = _u32(take())
        elif token == "p2":
            p2 = _u32(take())
        elif token == "mode":
            mode = take()
            p2 = _MODES.get(str(mode).lower(), 99) if not isinstance(mode, int) else mode
        elif token == "pud":
            pud = take()
            p2 = _PUDS.get(str(pud).lower(), 9) if not isinstance(pud, int) else pud
        elif token[0] == "u":
            ext += _U32.pack(_u32(take()))
        elif token.startswith("ext"):
            value = take()
            ext += value.encode("latin-1") if isinstance(value, str) else bytes(value)
        elif token == "text":
            ext += str(take()).encode("latin-1")
        elif token == "ints":
            ext += b"".join(_U32.pack(_u32(v)) for v in rest)
            rest = []
        elif token == "args":  # gpiosvr's own commands: the arguments as its text
            ext += " ".join(protocol.encode_arg(v) for v in rest).encode("utf-8")
            rest = []
        elif token == "shell":
            script = str(take()).encode("latin-1")
            p1 = len(script)
            ext = script + b"\0" + str(take()).encode("latin-1")
    return number, p1, p2, ext


def _u32(value: Any) -> int:
    if type(value) is not int or not -(1 << 31) <= value < 1 << 32:
        raise PigpioError(-81, f"bad parameter: {value!r} is not a 32-bit integer")
    return value & 0xFFFFFFFF


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 1 << 31 else value


class _Callback:
    """A registered callback: the facade's ``pi.callback`` wraps it."""

    def __init__(self, gpio: int, edge: int, func: Callable | None) -> None:
        self.gpio, self.edge, self.bit = gpio, edge, 1 << gpio
        self.count = 0
        self.func = func if func is not None else self._tally

    def _tally(self, gpio: int, level: int, tick: int) -> None:
        self.count += 1

    def tally(self) -> int:
        return self.count

    def reset_tally(self) -> None:
        self.count = 0


class PigpiodClient:
    """Blocking pigpiod-protocol client of ``host:port``; safe to share between
    threads (commands go one at a time, as pigpio's socket lock does)."""

    def __init__(self, host: str, port: int = 8888, connect_timeout: float = 3.0,
                 call_timeout: float = CALL_TIMEOUT) -> None:
        self.host, self.port = host, int(port)
        self.connect_timeout, self.call_timeout = connect_timeout, call_timeout
        #: The facade's per-thread state; no fast channel here: calls take the
        #: general way.
        self.thread_state = ThreadState()
        self.reconnects = 0
        self.closed = False
        self.dropped_events = 0
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._was_connected = False
        self._callbacks: list[_Callback] = []
        self._settings: dict[tuple[str, int], tuple[Any, ...]] = {}  # to restore
        self._stream: socket.socket | None = None
        self._handle: int | None = None
        self._levels = 0
        self._reader: threading.Thread | None = None
        self._events: queue.Queue = queue.Queue(MAX_QUEUED_EVENTS)
        self._dispatcher: threading.Thread | None = None

    # -- the command socket -------------------------------------------------------------

    def connect(self) -> None:
        """Connect now (calls do so on demand); raises ConnectionFailed."""
        with self._lock:
            self._command_socket()

    def _open(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as exc:
            raise ConnectionFailed(f"cannot reach pigpiod at {self.host}:{self.port}: "
                                   f"{exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _command_socket(self) -> socket.socket:
        if self.closed:
            raise ConnectionFailed("the client is closed")
        if self._sock is None:
            self._sock = self._open()
            if self._was_connected:
                self.reconnects += 1
                log.warning("reconnected to pigpiod at %s:%d; edges in between were "
                            "not seen", self.host, self.port)
                self._restore()
            self._was_connected = True
        return self._sock

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _exchange(self, cmd: int, p1: int, p2: int, ext: bytes,
                  timeout: float | None) -> tuple[int, bytes]:
        """Send one command and read its answer: (result word, extension)."""
        with self._lock:
            sock = self._command_socket()
            sock.settimeout(self.call_timeout if timeout is None else timeout)
            try:
                sock.sendall(_WORDS.pack(cmd, p1, p2, len(ext)) + ext)
                res = _U32.unpack(_recv(sock, 16)[12:])[0]
                answer = ALL_NUMBERS[cmd].answer
                data = b""
                if answer != "int" and 0 < res < 1 << 31:
                    data = _recv(sock, res)
            except socket.timeout:
                self._drop()  # a late answer must never be taken for the next one's
                raise ResponseTimeout(f"pigpiod at {self.host}:{self.port} did not "
                                      f"answer within {sock.gettimeout()} s") from None
            except OSError as exc:
                self._drop()
                raise ConnectionFailed(f"lost pigpiod at {self.host}:{self.port}: "
                                       f"{exc.strerror or exc}") from None
            return res, data

    def command(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        """Run one pigs command; its result (bytes for data, a list for ``procp``),
        or :class:`PigpioError` with pigpio's code."""
        cmd, p1, p2, ext = request_words(name, args)
        res, data = self._exchange(cmd, p1, p2, ext, timeout)
        if name in _UNSIGNED:
            return res
        value = _signed(res)
        if value < 0:
            raise PigpioError(value)
        shape = ALL_NUMBERS[cmd].answer
        if shape == "value":
            return protocol.decode_value(data.decode("utf-8"))
        if shape == "procp":
            return list(struct.unpack("<11i", data))
        if shape == "bscx":
            return [_U32.unpack(data[:4])[0], data[4:]]
        if shape == "ext":
            return data
        return value

    def call_ints(self, template: bytes, args: tuple[int, ...]) -> Any:
        """:meth:`command` for a gpiosvr frame template (``b"@%d r %d\\n"``)."""
        return self.command(template.split(b" ", 2)[1].decode("ascii"), *args)

    def call_async(self, func: Callable[["PigpiodClient"], Any],
                   timeout: float | None = None) -> Any:
        """``func(self)``: the facade's callback calls, which here are plain calls."""
        return func(self)

    # -- watchdogs and filters: restored after a reconnection ---------------------

    def _setting(self, name: str, gpio: int, *args: int) -> int:
        result = self.command(name, gpio, *args)
        if args and any(args):
            self._settings[(name, gpio)] = args
        else:
            self._settings.pop((name, gpio), None)
        return result

    def set_watchdog(self, user_gpio: int, wdog_timeout: int) -> int:
        return self._setting("wdog", user_gpio, wdog_timeout)

    def set_glitch_filter(self, user_gpio: int, steady: int) -> int:
        return self._setting("fg", user_gpio, steady)

    def set_noise_filter(self, user_gpio: int, steady: int, active: int) -> int:
        return self._setting("fn", user_gpio, steady, active)

    def _restore(self) -> None:
        """After a reconnection: watchdogs and filters as they were (the stream
        thread re-sends the notification bits once its socket is back)."""
        for (name, gpio), args in list(self._settings.items()):
            try:
                self.command(name, gpio, *args)
            except (PigpioError, ConnectionFailed) as exc:
                log.warning("could not restore %s %d: %s", name, gpio, exc)

    # -- callbacks ---------------------------------------------------------------------

    def callback(self, user_gpio: int, edge: int = 0, func: Callable | None = None
                 ) -> _Callback:
        """Call ``func(gpio, level, tick)`` on ``edge`` of ``user_gpio`` (0 rising,
        1 falling, 2 either), on the dispatcher thread."""
        if type(user_gpio) is not int or not 0 <= user_gpio < 32:
            raise PigpioError(-2)  # PI_BAD_USER_GPIO
        if edge not in (0, 1, 2):
            raise PigpioError(-122, "bad ISR edge value, not 0-2")
        cb = _Callback(user_gpio, edge, func)
        with self._lock:
            self._start_stream()
            self._callbacks.append(cb)
            self._monitor()
        return cb

    def cancel_callback(self, cb: _Callback) -> None:
        with self._lock:
            if cb in self._callbacks:
                self._callbacks.remove(cb)
                if self._handle is not None and not self.closed:
                    self._monitor()

    def _monitor(self) -> None:
        bits = 0
        for cb in self._callbacks:
            bits |= cb.bit
        if self._handle is not None:
            self.command("nb", self._handle, bits)

    def _start_stream(self) -> None:
        if self._stream is None:
            self._open_stream()
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_reports, daemon=True,
                                            name="gpiosvr-pigpiod-reports")
            self._reader.start()
            self._dispatcher = threading.Thread(target=self._dispatch, daemon=True,
                                                name="gpiosvr-pigpiod-callbacks")
            self._dispatcher.start()

    def _open_stream(self) -> None:
        """A notification socket (NOIB), and the levels reports change from."""
        self._levels = self.command("br1")
        sock = self._open()
        try:
            sock.settimeout(self.call_timeout)
            sock.sendall(_WORDS.pack(NOIB, 0, 0, 0))
            handle = _signed(_U32.unpack(_recv(sock, 16)[12:])[0])
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(f"no notification socket: {exc}") from None
        if handle < 0:
            sock.close()
            raise PigpioError(handle)
        sock.settimeout(RECONNECT_SECONDS)  # the reader looks at ``closed`` this often
        self._stream, self._handle = sock, handle

    def _read_reports(self) -> None:
        buffer = b""
        while not self.closed:
            sock = self._stream
            if sock is None:
                if not self._reopen():
                    time.sleep(RECONNECT_SECONDS)  # bounded: one attempt per period
                buffer = b""
                continue
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self._stream_lost(sock)
                continue
            buffer += chunk
            whole = len(buffer) - len(buffer) % 12
            for report in _REPORT.iter_unpack(buffer[:whole]):
                self._report(*report)
            buffer = buffer[whole:]

    def _stream_lost(self, sock: socket.socket) -> None:
        sock.close()
        with self._lock:
            if self._stream is sock:
                self._stream, self._handle = None, None
                self._drop()  # the daemon is gone: the next call reconnects

    def _reopen(self) -> bool:
        """Try once to reconnect the notification socket with callbacks restored."""
        with self._lock:
            if self.closed:
                return True
            try:
                self._open_stream()
                self._monitor()
            except (ConnectionFailed, PigpioError, ResponseTimeout):
                if self._stream is not None:
                    self._stream.close()
                self._stream, self._handle = None, None
                return False
            return True

    def _report(self, seq: int, flags: int, tick: int, level: int) -> None:
        if flags == 0:
            changed = level ^ self._levels
            self._levels = level
            for cb in list(self._callbacks):
                if cb.bit & changed:
                    new = 1 if cb.bit & level else 0
                    if cb.edge ^ new:
                        self._queue(cb, new, tick)
        elif flags & _WDOG:
            gpio = flags & 31
            for cb in list(self._callbacks):
                if cb.gpio == gpio:
                    self._queue(cb, TIMEOUT, tick)

    def _queue(self, cb: _Callback, level: int, tick: int) -> None:
        try:
            self._events.put_nowait((cb, level, tick))
        except queue.Full:
            self.dropped_events += 1

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            cb, level, tick = event
            try:
                cb.func(cb.gpio, level, tick)
            except Exception:  # noqa: BLE001 - a callback's bug harms nothing else
                log.exception("callback for GPIO %d raised", cb.gpio)

    # -- the end ---------------------------------------------------------------------

    def close(self) -> None:
        """Close both sockets and stop the threads (bounded, idempotent)."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            stream, self._stream = self._stream, None
            self._drop()
        if stream is not None:
            stream.close()
        if self._dispatcher is not None:
            try:
                self._events.put(None, timeout=1)
            except queue.Full:
                pass  # the dispatcher is stuck in a callback: it is a daemon thread
            if self._dispatcher is not threading.current_thread():
                self._dispatcher.join(2)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(2)

    stop = close


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("the daemon closed the connection")
        data += chunk
    return data
