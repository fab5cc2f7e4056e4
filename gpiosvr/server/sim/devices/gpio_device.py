"""The base of a GPIO-level sensor on the simulated board (HC-SR04, DHT22, IR
receiver): it watches GPIOs the Pi drives and drives its own output pin back with
edges at exact ticks.

A :class:`GpioDevice` is attached to a :class:`~gpiosvr.server.backends.sim.SimulatedChip`
(:meth:`GpioDevice.attach`): from then on :meth:`GpioDevice.on_edge` is called with
every level change of the GPIOs it :attr:`~GpioDevice.watches` (writes, mode changes,
wave and trigger pulses), with the edge's tick. It answers through an
:class:`OutputPin`, which plays edges on the chip when their tick comes (a timerfd,
at most :data:`~gpiosvr.server.limits.SIM_SENSOR_EDGES_PER_TURN` a turn), so that
``read`` and callbacks see the level a real sensor's pin has at that moment, each edge
reported with its exact tick.

Hooks run on the server's event loop: quick, never blocking.
"""

from __future__ import annotations

import logging
import struct
import time
from collections import deque
from typing import Any, Callable, Iterable

from gpiosvr.server.backends.precise_timer import Timer, make_timer
from gpiosvr.server.limits import SIM_SENSOR_EDGES_PER_TURN

log = logging.getLogger(__name__)

_MASK = 0xFFFFFFFF
_RECORD = struct.Struct("<BBI")
#: After playing edges, the shortest wait before the next are played, in ns: edges
#: due sooner go together, at their exact ticks (a wake-up per edge of a DHT22's
#: 26-70 µs bits costs more than it gains).
MIN_WAIT_NS = 200_000


def unwrap(chip: Any, tick: int) -> int:
    """The chip's unwrapped microsecond time of the 32-bit ``tick`` (one within
    2**31 µs of now, before or after)."""
    now = chip._now()
    ahead = (tick - now) & _MASK
    return now + ahead if ahead < 1 << 31 else now - ((now - tick) & _MASK)


class OutputPin:
    """A sensor's output pin on one GPIO of the chip: edges scheduled at exact
    (unwrapped) ticks are played when due, woken by a
    :mod:`~gpiosvr.server.backends.precise_timer` timer armed at the next edge's
    tick (uvloop's ``call_later`` rounds to whole milliseconds: a wait under 1 ms
    asked again after each early wake-up spun the loop)."""

    def __init__(self, chip: Any, gpio: int, owner: str) -> None:
        self.chip, self.gpio, self.owner = chip, gpio, owner
        self._pending: deque[tuple[int, int]] = deque()
        self._soon: Any = None  # _play on the loop's next turn
        self._timer: Timer | None = None  # _play when the next edge is due
        self.last_tick = 0  # when the last scheduled edge is due (unwrapped)

    def idle(self, level: int) -> None:
        """Drive the pin to ``level`` now (what its pull-up or push-pull idles at)."""
        self.chip.drive(self.gpio, level)

    def schedule(self, edges: Iterable[tuple[int, int]]) -> None:
        """Play ``edges``, (level, unwrapped tick) in order, each when its tick comes."""
        self._pending.extend(edges)
        if self._pending:
            self.last_tick = max(self.last_tick, self._pending[-1][1])
        loop = self.chip._loop
        if loop is None:
            self._play()
        else:  # never from inside a listener: the edge that made us answer is
            # handed on to the others first
            self._cancel_soon()
            self._soon = loop.call_soon(self._play)

    def busy(self) -> bool:
        """True while edges wait to be played."""
        return bool(self._pending)

    def cancel(self) -> None:
        """Forget the edges not played yet."""
        self._pending.clear()
        self._cancel_soon()
        if self._timer is not None:
            self._timer.disarm()

    def close(self) -> None:
        """Forget the edges not played yet and close the timer (the chip is closing);
        idempotent. Edges scheduled later make a new one once the chip is served."""
        self.cancel()
        if self._timer is not None:
            self._timer.close()
            self._timer = None

    def _cancel_soon(self) -> None:
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None

    def _play(self) -> None:
        self._cancel_soon()
        chip, pending = self.chip, self._pending
        loop = chip._loop
        now = chip._now()
        due: list[tuple[int, int]] = []
        while pending and (loop is None or pending[0][1] <= now) \
                and len(due) < SIM_SENSOR_EDGES_PER_TURN:
            level, tick = pending.popleft()
            due.append((level, tick & _MASK))
        if due:
            try:
                chip.play(self.gpio, due)
            except ValueError as exc:  # the Pi drives the pin as an output: it wins
                log.debug("%s: %s", self.owner, exc)
        if not pending or loop is None:
            if self._timer is not None:
                self._timer.disarm()
        elif len(due) >= SIM_SENSOR_EDGES_PER_TURN:  # behind: the rest on the next turn
            self._soon = loop.call_soon(self._play)
        else:
            when = chip.monotonic_ns(pending[0][1])
            if due:  # edges due within MIN_WAIT_NS of these wait and go together
                when = max(when, time.monotonic_ns() + MIN_WAIT_NS)
            self._wake_at(when)

    def _wake_at(self, when_ns: int) -> None:
        self._timer = timer = device_timer(self.chip, self._timer, self._play)
        if timer is not None:
            timer.arm(when_ns)


def device_timer(chip: Any, timer: Timer | None, callback: Callable[[], None]
                 ) -> Timer | None:
    """``timer`` if it is on the loop ``chip`` is served on now, else a new timer
    there calling ``callback`` (the old one closed); None while the chip is closed
    or not served."""
    loop = chip._loop
    if timer is not None and timer.loop is loop and not chip._closed:
        return timer
    if timer is not None:
        timer.close()
    if loop is None or chip._closed:
        return None
    return make_timer(loop, callback)


class GpioDevice:
    """A sensor wired to GPIOs of the simulated chip; subclasses set
    :attr:`watches` and override :meth:`on_edge` and :meth:`describe`."""

    #: The model's name in a board file (``model = "..."``).
    model = ""

    def __init__(self) -> None:
        self.chip: Any = None
        self.watches: set[int] = set()
        self._pins: list[OutputPin] = []

    @property
    def gpios(self) -> list[int]:
        """Every GPIO the device is wired to (for the board's checks)."""
        return sorted(self.watches)

    def attach(self, chip: Any) -> None:
        """Wire the device to ``chip``: listen to its GPIOs, drive the idle levels."""
        self.chip = chip
        chip.listeners.append(self._changed)
        chip.burst_listeners.append(self._burst)
        self.start()

    def start(self) -> None:
        """Drive the output pins to their idle levels (called once attached)."""

    def on_edge(self, gpio: int, level: int, tick: int) -> None:
        """``gpio`` (one of :attr:`watches`) changed to ``level`` at unwrapped ``tick``."""

    def describe(self) -> dict:
        """What ``simboard`` says of this device."""
        return {"model": self.model}

    def output_pin(self, gpio: int, owner: str) -> OutputPin:
        """A new output pin of this device on ``gpio`` (closed with the device)."""
        pin = OutputPin(self.chip, gpio, owner)
        self._pins.append(pin)
        return pin

    def close(self) -> None:
        """Close the output pins' timers (the chip is closing); idempotent.
        Subclasses with timers of their own close them too."""
        for pin in self._pins:
            pin.close()

    def _changed(self, gpio: int, level: int, tick: int) -> None:
        if gpio in self.watches:
            self._guarded(gpio, level, tick)

    def _burst(self, gpio: int, packed: bytes) -> None:
        if gpio in self.watches:
            for _, level, tick in _RECORD.iter_unpack(packed):
                self._guarded(gpio, level, tick)

    def _guarded(self, gpio: int, level: int, tick: int) -> None:
        try:
            self.on_edge(gpio, level, unwrap(self.chip, tick))
        except Exception as exc:  # noqa: BLE001 - a model's bug never stops the chip
            log.warning("sensor model %s failed: %r", self.model, exc)
