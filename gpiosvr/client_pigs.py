"""An async pigpio-shaped client that speaks pigs commands to a gpiosvr server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from gpiosvr import errors, protocol
from gpiosvr.channel import bye_reason
from gpiosvr.client import Response, SocketClient, _Connection
from gpiosvr.client_pigpio import (PigpioCallbackApi, PigpioMinimalApi, PigpioPwmApi,
                                   PigpioScriptApi)
from gpiosvr.edge_reports import (EITHER_EDGE, EVENT_FLAG, FALLING_EDGE,  # noqa: F401
                                  PI_BAD_EVENT_ID, RECORD, RISING_EDGE, TIMEOUT,
                                  EdgeCallback, EventCallback, run_callbacks)
from gpiosvr.errors import ConnectionFailed, PigpioError, ProtocolError
from gpiosvr.pigs_args import MODE_LETTERS, PUD_LETTERS, mode_arg, pud_arg  # noqa: F401
from gpiosvr.protocol import Command

log = logging.getLogger(__name__)


class PigpioSocketClient(SocketClient, PigpioMinimalApi):
    """:class:`SocketClient` with pigpio's minimal API as coroutines.

    Errors raise :class:`gpiosvr.errors.PigpioError` whose ``code`` is pigpio's.
    """

    async def set_mode(self, gpio: int, mode: int) -> int:
        return await self.command("m", gpio, mode_arg(mode))

    async def get_mode(self, gpio: int) -> int:
        return await self.command("mg", gpio)

    async def set_pull_up_down(self, gpio: int, pud: int) -> int:
        return await self.command("pud", gpio, pud_arg(pud))

    async def read(self, gpio: int) -> int:
        return await self.command("r", gpio)

    async def write(self, gpio: int, level: int) -> int:
        return await self.command("w", gpio, level)

    async def get_current_tick(self) -> int:
        return await self.command("t")

    async def get_hardware_revision(self) -> int:
        """The server's hardware revision code."""
        return await self.command("hwver")

    async def get_pigpio_version(self) -> int:
        """The pigpio version the server emulates."""
        return await self.command("pigpv")

    async def read_bank_1(self) -> int:
        """Levels of GPIO 0-31 as a bit mask."""
        return await self.command("br1")

    async def read_bank_2(self) -> int:
        """Levels of GPIO 32-53 as a bit mask."""
        return await self.command("br2")

    async def set_bank_1(self, bits: int) -> int:
        """Set the output latches of GPIO 0-31 whose bits are set."""
        return await self.command("bs1", bits)

    async def set_bank_2(self, bits: int) -> int:
        """Set the output latches of GPIO 32-53 whose bits are set."""
        return await self.command("bs2", bits)

    async def clear_bank_1(self, bits: int) -> int:
        """Clear the output latches of GPIO 0-31 whose bits are set."""
        return await self.command("bc1", bits)

    async def clear_bank_2(self, bits: int) -> int:
        """Clear the output latches of GPIO 32-53 whose bits are set."""
        return await self.command("bc2", bits)


class PigpioPwmClient(PigpioSocketClient, PigpioPwmApi):
    """:class:`PigpioSocketClient` with PWM, servo pulses and hardware PWM."""

    async def set_PWM_dutycycle(self, user_gpio: int, dutycycle: int) -> int:
        return await self.command("p", user_gpio, dutycycle)

    async def get_PWM_dutycycle(self, user_gpio: int) -> int:
        return await self.command("gdc", user_gpio)

    async def set_PWM_range(self, user_gpio: int, range_: int) -> int:
        return await self.command("prs", user_gpio, range_)

    async def get_PWM_range(self, user_gpio: int) -> int:
        return await self.command("prg", user_gpio)

    async def get_PWM_real_range(self, user_gpio: int) -> int:
        return await self.command("prrg", user_gpio)

    async def set_PWM_frequency(self, user_gpio: int, frequency: int) -> int:
        return await self.command("pfs", user_gpio, frequency)

    async def get_PWM_frequency(self, user_gpio: int) -> int:
        return await self.command("pfg", user_gpio)

    async def set_servo_pulsewidth(self, user_gpio: int, pulsewidth: int) -> int:
        return await self.command("s", user_gpio, pulsewidth)

    async def get_servo_pulsewidth(self, user_gpio: int) -> int:
        return await self.command("gpw", user_gpio)

    async def hardware_PWM(self, gpio: int, PWMfreq: int, PWMduty: int) -> int:  # noqa: N803
        """Hardware PWM (pigpio's argument names)."""
        return await self.command("hp", gpio, PWMfreq, PWMduty)


class PigpioScriptClient(PigpioSocketClient, PigpioScriptApi):
    """:class:`PigpioSocketClient` with pigpio scripts run in the server."""

    async def store_script(self, script: str) -> int:
        return await self.command("proc", script)

    async def run_script(self, script_id: int, params: list[int] | None = None) -> int:
        return await self.command("procr", script_id, *(params or ()))

    async def update_script(self, script_id: int, params: list[int] | None = None) -> int:
        return await self.command("procu", script_id, *(params or ()))

    async def script_status(self, script_id: int) -> tuple[int, list[int]]:
        status, *params = await self.command("procp", script_id)
        return status, params

    async def stop_script(self, script_id: int) -> int:
        return await self.command("procs", script_id)

    async def delete_script(self, script_id: int) -> int:
        return await self.command("procd", script_id)


class PigpioCallbackClient(PigpioPwmClient, PigpioScriptClient, PigpioCallbackApi):
    """The whole async client: PWM, scripts, and edge callbacks, watchdogs, filters.

    Callbacks need a keep-alive connection: the server sends the edge reports on it.
    By default they run on the client's event loop; set :attr:`edge_sink` to a
    callable taking the packed reports to run them elsewhere, and :attr:`edge_reader`
    to have threads of its own read the keep-alive connection (the blocking client's
    :class:`~gpiosvr.dispatch.Dispatcher` does both: an edge then reaches its callback
    without a hop through the loop thread). After a reconnection the notification handle
    is opened again and the GPIOs are subscribed again; the edges of the gap are
    lost, which :attr:`reconnects` counts and a WARNING log line says.
    """

    GAP_NOTE = "edges in between were not seen"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.callbacks: dict[int, tuple[EdgeCallback, ...]] = {}
        self.edge_sink: Callable[[bytes], None] | None = None
        #: What reads the keep-alive connection instead of the loop: None, or an
        #: object with ``attach(conn, transport)`` (a connection was just made) and
        #: ``detach(conn)`` (it ended), which hands the frames other than edge
        #: reports to :meth:`_lines_from_reader` on the loop. Set before connecting.
        self.edge_reader: Any = None
        self.lost_reports = 0
        self._handle: int | None = None
        self._bits = 0
        self._events = 0
        self._seq = 0
        self._bits_task: asyncio.Task | None = None
        self._bits_lock: asyncio.Lock | None = None
        #: Watchdogs and filters set through this client, restored on reconnection.
        self.settings: dict[tuple[str, int], tuple[int, ...]] = {}
        self.auto_reconnect = self.isKeepAlive
        self.on_notification(self._notified)
        self.on_connect(self._resubscribe)

    async def set_watchdog(self, user_gpio: int, wdog_timeout: int) -> int:
        return await self._setting("wdog", user_gpio, wdog_timeout)

    async def set_glitch_filter(self, user_gpio: int, steady: int) -> int:
        return await self._setting("fg", user_gpio, steady)

    async def set_noise_filter(self, user_gpio: int, steady: int, active: int) -> int:
        """Report edges for ``active`` µs after ``steady`` µs without one."""
        return await self._setting("fn", user_gpio, steady, active)

    async def _setting(self, name: str, gpio: int, *values: int) -> int:
        """Send a watchdog or filter setting and remember it, to restore it after a
        reconnection (a server that restarted has forgotten it)."""
        result = await self.command(name, gpio, *values)
        if self.isKeepAlive:
            if any(values):
                self.settings[(name, gpio)] = values
            else:
                self.settings.pop((name, gpio), None)
        return result

    async def callback(self, user_gpio: int, edge: int = RISING_EDGE,
                       func: Callable[[int, int, int], Any] | None = None) -> EdgeCallback:
        if not self.isKeepAlive:
            raise ConnectionFailed("edge callbacks need a keep-alive client (isKeepAlive=True)")
        if type(user_gpio) is not int or not 0 <= user_gpio < 32:
            raise PigpioError(errors.PI_BAD_USER_GPIO)
        if edge not in (RISING_EDGE, FALLING_EDGE, EITHER_EDGE):
            raise PigpioError(errors.PI_BAD_EDGE)
        cb = EdgeCallback(self, user_gpio, edge, func)
        self.callbacks[user_gpio] = (*self.callbacks.get(user_gpio, ()), cb)
        try:
            await self._sync_bits()
        except BaseException:
            # The caller got an error, not a callback it could cancel: it must never
            # fire, nor come back with a reconnection.
            self._remove_callback(cb)
            raise
        return cb

    def _remove_callback(self, cb: EdgeCallback) -> None:
        left = tuple(c for c in self.callbacks.get(cb.gpio, ()) if c is not cb)
        if left:
            self.callbacks[cb.gpio] = left
        else:
            self.callbacks.pop(cb.gpio, None)
        if self._bits_task is None or self._bits_task.done():
            self._bits_task = asyncio.ensure_future(self._sync_bits_later())

    async def _sync_bits_later(self) -> None:
        """:meth:`_sync_bits` for a task nobody awaits: a failure is logged, and the
        next change of the callbacks tries again."""
        try:
            await self._sync_bits()
        except (errors.GpioServerError, OSError) as exc:
            log.warning("could not update the edge subscription at %s: %s",
                        self.socketPath, exc)

    async def event_callback(self, event: int,
                             func: Callable[[int, int], Any] | None = None) -> EventCallback:
        """Call ``func(event, tick)`` each time ``event`` (0-31) is triggered."""
        if not self.isKeepAlive:
            raise ConnectionFailed("event callbacks need a keep-alive client (isKeepAlive=True)")
        if type(event) is not int or not 0 <= event < 32:
            raise PigpioError(PI_BAD_EVENT_ID, f"event not 0-31 (got {event!r})")
        cb = EventCallback(self, event, func)
        self.callbacks[cb.gpio] = (*self.callbacks.get(cb.gpio, ()), cb)
        try:
            await self._sync_bits()
        except BaseException:
            self._remove_callback(cb)
            raise
        return cb

    async def event_trigger(self, event: int) -> int:
        """Trigger ``event`` (0-31) for every client monitoring it."""
        return await self.command("evt", event)

    async def cancel_callback(self, cb: EdgeCallback) -> None:
        """Remove ``cb`` and wait until the server stopped reporting what nobody wants."""
        self._remove_callback(cb)
        await self._sync_bits()

    async def _sync_bits(self) -> None:
        """Make the server's subscription match :attr:`callbacks` (one at a time)."""
        if self._bits_lock is None:
            self._bits_lock = asyncio.Lock()
        async with self._bits_lock:
            await self._ensure_connection()  # a new connection resubscribes itself
            bits, events = self._wanted_bits(), self._wanted_events()
            if self._handle is None and not bits and not events:
                self._bits = self._events = 0
                return
            if bits == self._bits and events == self._events and self._handle is not None:
                return
            try:
                if self._handle is None:
                    self._handle = await self.command("no")
                    self._bits = self._events = -1
                if bits != self._bits:
                    await self.command("nb", self._handle, bits)
                    self._bits = bits
                if events != self._events:
                    await self.command("evm", self._handle, events)
                    self._events = events
            except BaseException:
                # the server may or may not have taken it: send again
                self._bits = self._events = -1
                raise

    def _wanted_bits(self) -> int:
        bits = 0
        for gpio in self.callbacks:
            if gpio < 32:
                bits |= 1 << gpio
        return bits

    def _wanted_events(self) -> int:
        bits = 0
        for key in self.callbacks:
            if key & EVENT_FLAG:
                bits |= 1 << (key & 31)
        return bits

    async def _resubscribe(self) -> None:
        """On each new connection: restore watchdogs and filters, open a handle and
        subscribe to what the callbacks want."""
        self._handle = None
        self._bits = self._events = 0
        self._seq = 0
        conn, timeout = self._conn, self.responseTimeout_ms / 1000
        restore = [(name, gpio, *values) for (name, gpio), values in self.settings.items()]
        if restore:
            await self._exchange(conn, restore, timeout)
        bits, events = self._wanted_bits(), self._wanted_events()
        if bits or events:
            answers = await self._exchange(conn, (("no",),), timeout)
            handle = Response._from_answer(answers[0]).result()
            answers = await self._exchange(conn, (("nb", handle, bits),), timeout)
            Response._from_answer(answers[0]).result()
            if events:
                answers = await self._exchange(conn, (("evm", handle, events),), timeout)
                Response._from_answer(answers[0]).result()
            self._handle, self._bits, self._events = handle, bits, events

    def _greeting(self) -> tuple[tuple[Any, ...], ...]:
        """The hello, and ``nfmt 1`` if the :attr:`edge_reader` reads binary edge
        frames (a server that does not know it answers -88 and sends text)."""
        if getattr(self.edge_reader, "binary_reports", False):
            return (self._hello(), ("nfmt", protocol.EDGE_FORMAT_BINARY))
        return (self._hello(),)

    @property
    def edge_listeners(self) -> bool:
        """Whether notification handlers besides this client's own want edge frames
        (an :attr:`edge_reader` then hands those to the loop as well)."""
        return len(self._notification_handlers) > 1

    async def _open(self, protocol_factory):
        transport, conn = await super()._open(protocol_factory)
        if self.edge_reader is not None and isinstance(conn, _Connection):
            self.edge_reader.attach(conn, transport)
        return transport, conn

    def _connection_failed(self, conn: _Connection, exc: BaseException) -> None:
        if self.edge_reader is not None:
            self.edge_reader.detach(conn)
        super()._connection_failed(conn, exc)

    def _lines_from_reader(self, conn: _Connection,
                           lines: list[bytes] | ProtocolError) -> None:
        """Frames the :attr:`edge_reader` read on ``conn`` that are not its business
        (answers, notifications other than edge reports), in order, on the loop; the
        edge reports among them only for the other notification handlers. An error:
        the server sent what no frame can be (too long, a bad binary edge frame)."""
        from gpiosvr.dispatch import edge_frame_note

        if isinstance(lines, ProtocolError):
            conn._fail(lines)
            return
        for line in lines:
            if line.startswith(b"*e "):
                note = edge_frame_note(line)
                if note is not None:
                    for handler in self._notification_handlers:
                        if handler != self._notified:
                            try:
                                handler(note)
                            except Exception:
                                log.exception("notification handler failed")
                    continue
            if line.startswith(b"*bye"):
                conn.bye = bye_reason(line)
            try:
                self._frame_received(protocol.frame_text(line))
            except ProtocolError as exc:
                conn._fail(exc)
                return

    def _notified(self, note: Command) -> None:
        if note.name == "bye":
            log.warning("the server at %s is closing the connection: %s",
                        self.socketPath, " ".join(map(str, note.args)))
            return
        if note.name != "e" or len(note.args) != 3:
            return  # a kind of notification this client does not know: ignore it
        seq, lost, records = note.args
        if lost:
            self.lost_reports += lost
            log.warning("the server dropped %d edge reports for this client "
                        "(it was not reading fast enough)", lost)
        self._seq = seq
        if not isinstance(records, bytes) or len(records) % RECORD.size:
            log.error("malformed edge report frame ignored")
            return
        if self.edge_sink is not None:
            self.edge_sink(records)
        else:
            run_callbacks(self.callbacks, records, _log_callback_error)


def _log_callback_error(cb: EdgeCallback) -> None:
    log.exception("edge callback %r for GPIO %d raised", cb.func, cb.gpio)
