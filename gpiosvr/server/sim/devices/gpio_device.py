"""The base of a GPIO-level sensor on the simulated board (HC-SR04, DHT22, IR
receiver): it watches GPIOs the Pi drives and drives its own output pin back with
edges at exact ticks.

A :class:`GpioDevice` is attached to a :class:`~gpiosvr.server.backends.sim.SimulatedChip`
(:meth:`GpioDevice.attach`): from then on :meth:`GpioDevice.on_edge` is called with
every level change of the GPIOs it :attr:`~GpioDevice.watches` (writes, mode changes,
wave and trigger pulses), with the edge's tick. It answers through an
:class:`OutputPin`, which plays edges on the chip when their tick comes (a loop timer,
at most :data:`~gpiosvr.server.limits.SIM_SENSOR_EDGES_PER_TURN` a turn), so that
``read`` and callbacks see the level a real sensor's pin has at that moment, each edge
reported with its exact tick.

Hooks run on the server's event loop: quick, never blocking.
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from typing import Any, Iterable

from gpiosvr.server.limits import SIM_SENSOR_EDGES_PER_TURN

log = logging.getLogger(__name__)

_MASK = 0xFFFFFFFF
_RECORD = struct.Struct("<BBI")
#: The shortest wait before the next edges are played, in seconds (a loop timer
#: finer than this costs more than it gains).
MIN_WAIT = 0.0002


def unwrap(chip: Any, tick: int) -> int:
    """The chip's unwrapped microsecond time of the 32-bit ``tick`` (one within
    2**31 µs of now, before or after)."""
    now = chip._now()
    ahead = (tick - now) & _MASK
    return now + ahead if ahead < 1 << 31 else now - ((now - tick) & _MASK)


class OutputPin:
    """A sensor's output pin on one GPIO of the chip: edges scheduled at exact
    (unwrapped) ticks are played when due."""

    def __init__(self, chip: Any, gpio: int, owner: str) -> None:
        self.chip, self.gpio, self.owner = chip, gpio, owner
        self._pending: deque[tuple[int, int]] = deque()
        self._timer: Any = None
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
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_soon(self._play)

    def busy(self) -> bool:
        """True while edges wait to be played."""
        return bool(self._pending)

    def cancel(self) -> None:
        """Forget the edges not played yet."""
        self._pending.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _play(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
        if pending and loop is not None:
            if len(due) >= SIM_SENSOR_EDGES_PER_TURN:  # behind: the rest on the next turn
                self._timer = loop.call_soon(self._play)
            else:
                wait = max((pending[0][1] - now) / 1e6, MIN_WAIT)
                self._timer = loop.call_later(wait, self._play)


class GpioDevice:
    """A sensor wired to GPIOs of the simulated chip; subclasses set
    :attr:`watches` and override :meth:`on_edge` and :meth:`describe`."""

    #: The model's name in a board file (``model = "..."``).
    model = ""

    def __init__(self) -> None:
        self.chip: Any = None
        self.watches: set[int] = set()

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
