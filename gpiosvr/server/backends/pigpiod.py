"""Relay to a pigpio daemon (``pigpiod``) through the ``pigpio`` Python package.

On a Raspberry Pi up to the 4B, pigpiod drives the GPIOs with DMA-timed PWM, its own
scripts, watchdogs and filters. This backend hands every GPIO command to it
(:data:`RELAYS` says which ``pigpio.pi`` method carries each pigs command) and brings
its edge reports back to the server's notification hub, so gpiosvr's clients get
pigpiod's timing while gpiosvr gives them thread safety, many processes and no
hangs.

How it keeps the server's loop free and the daemon's failures visible:

* The ``pigpio`` package blocks on its socket, so one worker thread makes every call,
  in the order the server received the commands; the loop gets a future.
* Edges come on a notification socket of the backend's own (pigpiod's ``NOIB``),
  read on the loop: each report carries the levels of GPIO 0-31, and the backend
  derives the edges from them against levels it keeps itself. When a GPIO joins the
  set clients watch, its level is read from the daemon first (``BR1``), so an edge
  right after is not missed because the GPIO changed while nobody watched it.
  (pigpio's own callback thread compares against the levels of its last report, and
  misses that edge.)
* The command socket gets a timeout (``call_timeout``): a daemon that stops
  answering fails the call instead of holding it for ever.
* An idle TCP connection to the daemon tells at once when it goes away (the kernel
  closes it). Then, and whenever a call fails on the socket, the backend logs it once,
  answers every command with ``PI_SOCK_READ_FAILED`` and a message naming the
  daemon, and reconnects every ``retry_interval`` seconds; once back it logs that and
  asks for the edges clients want again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import logging
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from gpiosvr import errors
from gpiosvr._pigpio_tables import ERRORS
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.base import Backend, BackendUnavailable

log = logging.getLogger("gpiosvr.pigpiod")

#: pigs command -> the ``pigpio.pi`` method that carries it out.
RELAYS: dict[str, str] = {
    "m": "set_mode", "mg": "get_mode", "pud": "set_pull_up_down",
    "r": "read", "w": "write", "t": "get_current_tick",
    "hwver": "get_hardware_revision", "pigpv": "get_pigpio_version",
    "br1": "read_bank_1", "br2": "read_bank_2", "bs1": "set_bank_1", "bs2": "set_bank_2",
    "bc1": "clear_bank_1", "bc2": "clear_bank_2",
    "wdog": "set_watchdog", "fg": "set_glitch_filter", "fn": "set_noise_filter",
    "p": "set_PWM_dutycycle", "gdc": "get_PWM_dutycycle", "prs": "set_PWM_range",
    "prg": "get_PWM_range", "prrg": "get_PWM_real_range", "pfs": "set_PWM_frequency",
    "pfg": "get_PWM_frequency", "s": "set_servo_pulsewidth", "gpw": "get_servo_pulsewidth",
    "hp": "hardware_PWM",
    "proc": "store_script", "procr": "run_script", "procu": "update_script",
    "procp": "script_status", "procs": "stop_script", "procd": "delete_script",
    "wvclr": "wave_clear", "wvnew": "wave_add_new", "wvag": "wave_add_generic",
    "wvas": "wave_add_serial", "wvcre": "wave_create", "wvcap": "wave_create_and_pad",
    "wvdel": "wave_delete", "wvtx": "wave_send_once", "wvtxr": "wave_send_repeat",
    "wvtxm": "wave_send_using_mode", "wvcha": "wave_chain", "wvtat": "wave_tx_at",
    "wvbsy": "wave_tx_busy", "wvhlt": "wave_tx_stop", "wvgo": "wave_tx_start",
    "wvgor": "wave_tx_repeat", "wvsm": "", "wvsp": "", "wvsc": "",
    "trig": "gpio_trigger", "hc": "hardware_clock",
    "padg": "get_pad_strength", "pads": "set_pad_strength",
    "slro": "bb_serial_read_open", "slr": "bb_serial_read", "slrc": "bb_serial_read_close",
    "slri": "bb_serial_invert", "bi2co": "bb_i2c_open", "bi2cc": "bb_i2c_close",
    "bi2cz": "bb_i2c_zip", "bspio": "bb_spi_open", "bspic": "bb_spi_close",
    "bspix": "bb_spi_xfer",
}
#: Commands whose arguments pigpio takes in another shape (its method's order).
_SHAPES: dict[str, Callable[[list[Any]], list[Any]]] = {
    "wvag": lambda a: [[_pulse(*p) for p in a[0]]],
    "wvas": lambda a: [a[0], a[1], a[5], a[4], a[2], a[3]],  # gpio baud data offset bits stops
    "wvcha": lambda a: [list(a[0])],
    "wvcap": lambda a: [a[0]],
    "slr": lambda a: [a[0]],  # pigpio asks for 10,000 bytes itself
}
#: Commands pigpio answers as ``(count, data)``, count < 0 an error code.
_COUNT_AND_DATA = {"slr", "bi2cz", "bspix"}
#: Commands pigpio.py has no method for (the "high" wave counters): sent as they are.
_RAW = {"wvsm": 34, "wvsp": 35, "wvsc": 36}  # pigpio's _PI_CMD_WVSM, WVSP, WVSC
#: Commands whose trailing arguments pigpio takes as one list (script parameters).
_PARAM_LISTS = {"procr", "procu"}

#: pigpio's text of each error code, back to the code (``pigpio.error`` keeps the text).
_CODES: dict[str, int] = {}
for _code, _text in ERRORS:
    _CODES.setdefault(_text, _code)

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8888

#: pigpiod's command frame (cmd, p1, p2, p3 / result) and notification report (seq,
#: flags, tick, levels of GPIO 0-31), as in pigpio.py.
_CMD = struct.Struct("<IIII")
_REPORT = struct.Struct("<HHII")
_PI_CMD_NOIB = 99
_NTFY_FLAGS_WDOG = 1 << 5
_NTFY_FLAGS_GPIO = 31
_TIMEOUT = 2


class PigpiodBackend(Backend):
    """The GPIOs of the machine a pigpio daemon runs on, at ``host:port``."""

    name = "pigpiod"
    native_commands = frozenset(RELAYS)

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 retry_interval: float = 1.0, call_timeout: float = 5.0) -> None:
        try:
            import pigpio  # noqa: F401 - checked here, used on the worker thread
        except ImportError:
            raise BackendUnavailable(
                "the pigpiod backend needs the pigpio package: pip install "
                "pigpio==1.78 (from gpiosvr's clone: pip install '.[pigpiod]')") from None
        self.host = host
        self.port = int(port)
        self.retry_interval = retry_interval
        self.call_timeout = call_timeout
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="gpiosvr-pigpiod")
        self._pi: Any = None  # pigpio.pi; only the worker calls it
        self._ready = False  # _pi is set up: levels read, reports asked for
        self._hardware_revision = 0
        self._monitor = 0  # the GPIOs clients want edges of (set on the loop)
        self._asked = 0  # the GPIOs the daemon was asked to report (worker only)
        self._notify_sock: socket.socket | None = None  # opened by the worker
        self._notify_handle: int | None = None
        self._reports: asyncio.Transport | None = None  # that socket, on the loop
        self._levels = 0  # GPIO 0-31 as last known (loop only)
        self._down_reason: str | None = "not connected yet"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost: asyncio.Event | None = None
        self._supervisor: asyncio.Task | None = None
        self._closed = False
        self._on_change: Callable[[int, int, int], None] | None = None

    # -- Backend ------------------------------------------------------------------

    @property
    def hardware_revision(self) -> int:
        """The daemon's board revision, as read when it was last reached (0 before)."""
        return self._hardware_revision

    @property
    def connected(self) -> bool:
        """Whether the daemon is reachable now and set up: its levels read and its
        reports asked for, so that nothing more goes to it until a call does."""
        return self._ready

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lost = asyncio.Event()
        self._supervisor = loop.create_task(self._supervise())

    def add_listener(self, on_change: Callable[[int, int, int], None],
                     on_burst: Callable[[int, bytes], None]) -> None:
        self._on_change = on_change

    def monitor(self, bits: int) -> asyncio.Future | None:
        self._monitor = bits
        if self._loop is None:
            return None
        return self._loop.run_in_executor(self._worker, self._sync_monitor)

    def run_native(self, name: str, args: list[Any]) -> asyncio.Future:
        if name in _SHAPES:
            args = _SHAPES[name](args)
        elif name in _PARAM_LISTS:
            args = [args[0], [_uint32(a) for a in args[1:]]]
        elif name != "proc":
            args = [_uint32(a) for a in args]
        return self._relay(name, RELAYS[name], args)

    def tick(self) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("t", [])

    def set_mode(self, gpio: int, mode: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("m", [gpio, mode])

    def get_mode(self, gpio: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("mg", [gpio])

    def set_pull(self, gpio: int, pud: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("pud", [gpio, pud])

    def read(self, gpio: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("r", [gpio])

    def write(self, gpio: int, level: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native("w", [gpio, level])

    def read_bank(self, bank: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native(f"br{bank}", [])

    def set_bank(self, bank: int, bits: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native(f"bs{bank}", [bits])

    def clear_bank(self, bank: int, bits: int) -> asyncio.Future:  # type: ignore[override]
        return self.run_native(f"bc{bank}", [bits])

    def buses(self) -> Any:
        """The daemon's I2C, SPI and serial buses (:mod:`.pigpiod_buses`)."""
        if self.bus_provider is None:
            from gpiosvr.server.backends.pigpiod_buses import PigpiodBuses

            self.bus_provider = PigpiodBuses(self)
        return self.bus_provider

    def close(self) -> None:
        """Stop reconnecting and let go of the daemon (waits at most a few seconds)."""
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        try:
            self._worker.submit(self._disconnect).result(timeout=self.call_timeout)
        except Exception as exc:  # closing must not fail; say why it was not clean
            log.warning("pigpiod at %s: not closed cleanly: %s", self._where, exc)
        if self._reports is not None:
            self._reports.close()
        self._worker.shutdown(wait=False)

    # -- calls ----------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _relay(self, name: str, method: str, args: list[Any]) -> asyncio.Future:
        assert self._loop is not None, "backend not attached to a loop"
        return self._loop.run_in_executor(self._worker, self._call, name, method, args)

    def _call(self, name: str, method: str, args: list[Any]) -> Any:
        """On the worker: one pigpio call, its errors turned into PigpioError."""
        import pigpio

        pi = self._pi
        if pi is None:
            raise PigpioError(errors.PI_SOCK_READ_FAILED,
                              f"pigpiod at {self._where} is unreachable "
                              f"({self._down_reason}); gpiosvr keeps retrying")
        try:
            if name in _RAW:
                result = pigpio._u2i(pigpio._pigpio_command(pi.sl, _RAW[name], args[0], 0))
            else:
                result = getattr(pi, method)(*args)
        except pigpio.error as exc:
            text = str(exc.value)
            raise PigpioError(_CODES.get(text, errors.PI_BAD_PARAM), text) from None
        except (OSError, struct.error) as exc:  # the socket failed: the daemon is gone
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._connection_lost(reason)
            raise PigpioError(errors.PI_SOCK_READ_FAILED,
                              f"pigpiod at {self._where} went away during {name!r} "
                              f"({reason}); gpiosvr keeps retrying") from None
        if name == "procp":  # pigpio returns a bad status instead of raising
            status, params = result
            if status < 0:
                raise PigpioError(status, errors.error_text(status))
            return [status, *params]
        if name in _COUNT_AND_DATA:
            count, data = result
            if count < 0:
                raise PigpioError(count, errors.error_text(count))
            return bytes(data) if count else b""
        return result

    # -- connection -------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Connect, watch the daemon, reconnect when it goes: until closed."""
        assert self._loop is not None and self._lost is not None
        loop, first = self._loop, True
        while not self._closed:
            if self._pi is None:
                reason = await loop.run_in_executor(self._worker, self._connect)
                if reason is not None:
                    if first or reason != self._down_reason:
                        log.error("cannot reach pigpiod at %s: %s; retrying every %g s",
                                  self._where, reason, self.retry_interval)
                    self._down_reason, first = reason, False
                    await asyncio.sleep(self.retry_interval)
                    continue
                await self._attach_reports()
                self._lost.clear()
                log.info("connected to pigpiod at %s (hardware revision %#x)",
                         self._where, self._hardware_revision)
            first = False
            await self._watch()

    async def _watch(self) -> None:
        """Return when the daemon goes away: its idle watch connection ends, or a call
        failed on the socket."""
        assert self._loop is not None and self._lost is not None
        lost = asyncio.ensure_future(self._lost.wait())
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.call_timeout)
            eof = asyncio.ensure_future(reader.read(1))  # pigpiod never speaks first
            done, _ = await asyncio.wait({lost, eof}, return_when=asyncio.FIRST_COMPLETED)
            eof.cancel()
            if lost not in done:
                reason = "it closed the connection"
                self._abort_call()
                await self._loop.run_in_executor(self._worker, self._connection_lost, reason)
        except (OSError, asyncio.TimeoutError) as exc:
            reason = f"watch connection failed: {exc or type(exc).__name__}"
            await self._loop.run_in_executor(self._worker, self._connection_lost, reason)
        finally:
            lost.cancel()
            if writer is not None:
                writer.close()

    def _abort_call(self) -> None:
        """On the loop: end the worker's call on a dead daemon's socket now. (pigpio's
        ``_rxbuf`` would spin for ever on a closed peer; shut down, the socket wakes a
        waiting recv, and closed, it fails the next one.)"""
        pi = self._pi
        sock = getattr(getattr(pi, "sl", None), "s", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _connect(self) -> str | None:
        """On the worker: reach the daemon; None when connected, else why not."""
        import pigpio

        try:  # a plain probe first: pigpio.pi prints a banner when it cannot connect
            socket.create_connection((self.host, self.port), self.call_timeout).close()
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                pi = pigpio.pi(self.host, self.port)
        except Exception as exc:  # pigpio raises little of its own; never kill the loop
            return f"{type(exc).__name__}: {exc}"
        if not pi.connected:
            return " ".join(printed.getvalue().split()) or "pigpio could not connect"
        pi.sl.s.settimeout(self.call_timeout)  # pigpio 1.78 would wait for ever
        try:
            self._hardware_revision = pi.get_hardware_revision()
            sock, handle = self._open_reports()
        except (OSError, struct.error) as exc:
            _stop(pi)
            return f"{type(exc).__name__}: {exc}"
        self._pi, self._down_reason = pi, None
        self._notify_sock, self._notify_handle, self._asked = sock, handle, 0
        self._sync_monitor(refresh=0xFFFFFFFF)
        self._ready = self._pi is pi  # not if that set-up found the daemon gone
        return None

    def _open_reports(self) -> tuple[socket.socket, int]:
        """On the worker: a notification socket of our own (``NOIB``) and its handle;
        the loop reads it once :meth:`_attach_reports` has handed it over."""
        sock = socket.create_connection((self.host, self.port), self.call_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(_CMD.pack(_PI_CMD_NOIB, 0, 0, 0))
            answer = b""
            while len(answer) < _CMD.size:
                chunk = sock.recv(_CMD.size - len(answer))
                if not chunk:
                    raise ConnectionError("the daemon closed the notification socket")
                answer += chunk
            handle = struct.unpack_from("<i", answer, 12)[0]
            if handle < 0:
                raise ConnectionError(f"no notification handle: {errors.error_text(handle)}")
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        return sock, handle

    async def _attach_reports(self) -> None:
        """On the loop: read the notification socket :meth:`_connect` opened."""
        assert self._loop is not None
        sock, self._notify_sock = self._notify_sock, None
        if sock is None:
            return
        try:
            self._reports, _ = await self._loop.create_connection(
                lambda: _Reports(self), sock=sock)
        except OSError as exc:
            sock.close()
            await self._loop.run_in_executor(
                self._worker, self._connection_lost, f"notification socket: {exc}")

    def _connection_lost(self, reason: str) -> None:
        """On the worker: forget the daemon's connection and have the loop reconnect."""
        if self._pi is None:
            return
        log.error("pigpiod at %s went away (%s); commands fail until it is back, "
                  "retrying every %g s", self._where, reason, self.retry_interval)
        self._down_reason = f"lost: {reason}"
        self._disconnect()
        if self._loop is not None and self._lost is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._lost.set)

    def _disconnect(self) -> None:
        self._ready = False
        pi, self._pi = self._pi, None
        self._notify_handle, self._asked = None, 0
        if pi is not None:
            _stop(pi)
        reports = self._reports
        sock = reports.get_extra_info("socket") if reports is not None else self._notify_sock
        if sock is not None:  # the loop sees the end and closes it
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- edges ----------------------------------------------------------------------------

    def _sync_monitor(self, refresh: int = 0) -> None:
        """On the worker: have the daemon report the GPIOs in ``self._monitor``, no
        more. The levels of those joining the set (and of ``refresh``) are read first
        and handed to the loop before the daemon is asked, so the first report of a
        joining GPIO is compared with its level now, not with a stale one."""
        import pigpio

        pi, handle = self._pi, self._notify_handle
        if pi is None or handle is None:
            return
        wanted = self._monitor
        try:
            joining = (wanted & ~self._asked) | refresh
            if joining:
                levels = pi.read_bank_1()
                self._on_loop(self._refresh_levels, joining, levels)
            if wanted != self._asked:
                pi.notify_begin(handle, wanted)
                self._asked = wanted
        except (OSError, struct.error) as exc:
            self._connection_lost(f"{type(exc).__name__}: {exc}")
        except pigpio.error as exc:
            log.error("pigpiod at %s refused to report GPIOs %#x: %s", self._where,
                      wanted, exc)

    def _on_loop(self, func: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(func, *args)

    def _refresh_levels(self, bits: int, levels: int) -> None:
        self._levels = (self._levels & ~bits) | (levels & bits)

    def _reports_in(self, data: bytes) -> None:
        """On the loop: whole reports from the daemon, turned into edges of the GPIOs
        clients watch (level 2: a watchdog timeout)."""
        on_change, monitor, levels = self._on_change, self._monitor, self._levels
        for _seq, flags, tick, level in _REPORT.iter_unpack(data):
            if flags == 0:
                changed = (level ^ levels) & monitor
                levels = level
                while changed and on_change is not None:
                    bit = changed & -changed
                    changed ^= bit
                    on_change(bit.bit_length() - 1, 1 if level & bit else 0, tick)
            elif flags & _NTFY_FLAGS_WDOG:
                gpio = flags & _NTFY_FLAGS_GPIO
                if monitor >> gpio & 1 and on_change is not None:
                    on_change(gpio, _TIMEOUT, tick)
        self._levels = levels


class _Reports(asyncio.Protocol):
    """The read side of the backend's notification socket: whole 12-byte reports."""

    def __init__(self, backend: PigpiodBackend) -> None:
        self.backend = backend
        self.rest = b""
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.rest:
            data = self.rest + data
        end = len(data) - len(data) % _REPORT.size
        self.rest = data[end:]
        if end:
            self.backend._reports_in(data[:end] if self.rest else data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.backend._reports is self.transport:
            self.backend._reports = None


def _pulse(on: int, off: int, delay: int) -> Any:
    import pigpio

    return pigpio.pulse(on, off, delay)


def _uint32(value: Any) -> Any:
    """An int argument as pigpio sends it: 32 bits, negative ones two's complement."""
    if type(value) is not int:
        return value
    if not -(1 << 31) <= value < 1 << 32:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value} is not 32 bits")
    return value & 0xFFFFFFFF


def _stop(pi: Any) -> None:
    """Close a pigpio connection that may already be dead."""
    atexit.unregister(pi.stop)  # pigpio.pi registers one per connection: don't pile up
    try:
        pi.stop()
    except (OSError, struct.error):
        pass  # pigpio's notification thread has already been told to stop
