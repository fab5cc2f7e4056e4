"""A simulated GPIO chip with pigpio's semantics, the default backend.

GPIOs 0-53 start as inputs; 0-8 are pulled up and the rest down, as on a BCM283x
after reset, except the SD card's lines, GPIO 48-53 (:data:`SD_CARD_GPIOS`), which
are pulled up and read high as on a running Pi: bank 2 reads ``0x3F0000``, the value
of pigpio's ``pigs br2`` example, not 0 (pigpio's own tests expect it non-zero). An
output reads back what was written; an input reads what drives it from outside or
else follows its pull. With the pull off an undriven input keeps its last level, a
stand-in for a floating pin.

Tests, examples and other processes drive it from outside (the ``sim*`` commands in
``docs/protocol.md`` call these methods):

* :meth:`SimulatedChip.drive` sets an input's external level (None lets go);
* :meth:`SimulatedChip.inject` plays a burst of alternating edges with exact ticks,
  computed in one go rather than timed one by one;
* :meth:`SimulatedChip.wire` connects an output to an input like a jumper wire.

PWM and servo outputs really toggle (:meth:`SimulatedChip.set_waveform`): their
edges are computed from the waveform every few milliseconds, in one go per GPIO,
with exact ticks, and ``read`` samples the waveform at the moment it is called.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from typing import Callable

from gpiosvr.protocol import pack_edge_burst, pack_edges
from gpiosvr.server.backends.base import NUM_GPIOS, Backend

INPUT, OUTPUT = 0, 1
PUD_OFF, PUD_DOWN, PUD_UP = 0, 1, 2

#: Raspberry Pi 3 Model B, revision 1.2 (Sony UK): a real board pigpio and gpiozero know.
DEFAULT_HARDWARE_REVISION = 0xA02082

#: The SD card's clock, command and data lines: high on a running Pi (the card and
#: the board pull them up), so they start pulled up here.
SD_CARD_GPIOS = range(48, 54)

#: Called as ``listener(gpio, level, tick)`` whenever a GPIO's level changes.
LevelListener = Callable[[int, int, int], None]

#: How often waveform edges are computed and handed on, in seconds.
WAVEFORM_STEP = 0.005
#: Faster waveforms are not simulated edge by edge: their GPIO holds a level.
MAX_WAVEFORM_HZ = 100_000


class Waveform:
    """A periodic output: high for ``high_us`` of every ``period_us``, from ``start``."""

    __slots__ = ("start", "period", "high", "done_until")

    def __init__(self, start: int, period: float, high: float) -> None:
        self.start = start
        self.period = period
        self.high = high
        self.done_until = start  # edges before this tick were handed on

    def level_at(self, tick: int) -> int:
        return 1 if ((tick - self.start) & 0xFFFFFFFF) % self.period < self.high else 0

    def edges(self, until: int) -> tuple[int, "array[int]"]:
        """Edges in [done_until, until): the first one's level and all their ticks."""
        start, period, high = self.start, self.period, self.high
        begin = (self.done_until - start) & 0xFFFFFFFF
        end = (until - start) & 0xFFFFFFFF
        ticks = array("I")
        first_level = 1
        k = int(begin // period)
        while True:
            rise, fall = k * period, k * period + high
            if rise >= begin and rise < end:
                if not ticks:
                    first_level = 1
                ticks.append((start + round(rise)) & 0xFFFFFFFF)
            if fall >= end:
                break
            if fall >= begin:
                if not ticks:
                    first_level = 0
                ticks.append((start + round(fall)) & 0xFFFFFFFF)
            k += 1
        self.done_until = until
        return first_level, ticks


class SimulatedChip(Backend):
    """54 simulated GPIOs with modes, pulls, output latches and external drivers."""

    name = "sim"

    def __init__(self, hardware_revision: int = DEFAULT_HARDWARE_REVISION,
                 tick_offset: int = 0) -> None:
        self._hwrev = int(hardware_revision)
        self._tick_offset = int(tick_offset)
        self._modes = [INPUT] * NUM_GPIOS
        self._pulls = [PUD_UP if g <= 8 or g in SD_CARD_GPIOS else PUD_DOWN
                       for g in range(NUM_GPIOS)]
        self._latch = [0] * NUM_GPIOS
        self._external: list[int | None] = [None] * NUM_GPIOS
        self._levels = [self._computed(g, 0) for g in range(NUM_GPIOS)]
        self._wires: dict[int, set[int]] = {}  # output -> inputs it drives
        self._waveforms: dict[int, Waveform] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: asyncio.TimerHandle | None = None
        self.listeners: list[LevelListener] = []
        self.burst_listeners: list[Callable[[int, bytes], None]] = []

    @property
    def hardware_revision(self) -> int:
        return self._hwrev

    def tick(self) -> int:
        return (time.monotonic_ns() // 1000 + self._tick_offset) & 0xFFFFFFFF

    # -- the Backend interface ---------------------------------------------

    def set_mode(self, gpio: int, mode: int) -> None:
        self._modes[gpio] = mode
        self._update(gpio)

    def get_mode(self, gpio: int) -> int:
        return self._modes[gpio]

    def set_pull(self, gpio: int, pud: int) -> None:
        self._pulls[gpio] = pud
        self._update(gpio)

    def read(self, gpio: int) -> int:
        wave = self._waveforms.get(gpio)
        if wave is not None:
            return wave.level_at(self.tick())
        return self._levels[gpio]

    def write(self, gpio: int, level: int) -> None:
        self.set_waveform(gpio, None)
        self._latch[gpio] = level
        if self._modes[gpio] != OUTPUT:
            self._modes[gpio] = OUTPUT
        self._update(gpio)

    def read_bank(self, bank: int) -> int:
        first, last = (0, 32) if bank == 1 else (32, NUM_GPIOS)
        levels = self._levels
        return sum(levels[g] << (g - first) for g in range(first, last))

    def set_bank(self, bank: int, bits: int) -> None:
        self._set_latches(bank, bits, 1)

    def clear_bank(self, bank: int, bits: int) -> None:
        self._set_latches(bank, bits, 0)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def set_waveform(self, gpio: int, period_us: float | None, high_us: float = 0) -> None:
        """Make output ``gpio`` toggle: high ``high_us`` of every ``period_us`` µs
        (None: stop; the GPIO keeps the level it has then). A waveform that is
        always high or always low, or faster than :data:`MAX_WAVEFORM_HZ`, just sets
        the level (for the fast one: high when at least half the time high)."""
        old = self._waveforms.pop(gpio, None)
        if old is not None:
            self._step_one(gpio, old, self.tick())
            self._latch[gpio] = self._levels[gpio]
        if period_us is None:
            return
        self._modes[gpio] = OUTPUT
        if high_us <= 0 or high_us >= period_us or period_us < 1e6 / MAX_WAVEFORM_HZ:
            self._latch[gpio] = 1 if high_us * 2 >= period_us and high_us > 0 else 0
            self._update(gpio)
            return
        self._waveforms[gpio] = Waveform(self.tick(), float(period_us), float(high_us))
        if self._clock is None and self._loop is not None:
            self._clock = self._loop.call_later(WAVEFORM_STEP, self._step)

    def _step(self) -> None:
        """Hand on the edges every waveform made since the last step."""
        self._clock = None
        now = self.tick()
        for gpio, wave in list(self._waveforms.items()):
            self._step_one(gpio, wave, now)
        if self._waveforms and self._loop is not None:
            self._clock = self._loop.call_later(WAVEFORM_STEP, self._step)

    def _step_one(self, gpio: int, wave: Waveform, now: int) -> None:
        first, ticks = wave.edges(now)
        if ticks and first == self._levels[gpio]:  # not a change: no edge
            first, ticks = first ^ 1, ticks[1:]
        if not ticks:
            return
        last = first if len(ticks) % 2 else first ^ 1
        self._levels[gpio] = last
        for target in [gpio, *self._wires.get(gpio, ())]:
            if target != gpio:
                if self._modes[target] == OUTPUT:
                    continue
                self._external[target] = last
                self._levels[target] = last
            packed = pack_edges(target, first, ticks)
            for listener in self.burst_listeners:
                listener(target, packed)

    def add_listener(self, on_change, on_burst) -> None:
        self.listeners.append(on_change)
        self.burst_listeners.append(on_burst)

    # -- driving the simulation from outside ---------------------------------

    def drive(self, gpio: int, level: int | None) -> None:
        """Drive an input from outside to ``level`` (None: let go, pull decides)."""
        self._external[gpio] = level
        self._update(gpio)

    def inject(self, gpio: int, count: int, interval_us: int,
               start_tick: int | None = None) -> int:
        """Drive ``gpio`` through ``count`` alternating edges, ``interval_us`` apart,
        the first at ``start_tick`` (default: now); the ticks are exact.

        The edges are computed in one go and handed to the burst listeners packed
        (see :func:`gpiosvr.protocol.pack_edge_burst`); the GPIO is left driven to
        the last edge's level. Returns the first edge's tick.
        """
        if self._modes[gpio] == OUTPUT:
            raise ValueError(f"GPIO {gpio} is an output; only inputs can be driven")
        start = self.tick() if start_tick is None else start_tick
        if count > 0:
            first = self._levels[gpio] ^ 1
            packed = pack_edge_burst(gpio, first, start, interval_us, count)
            level = first if count % 2 else first ^ 1
            self._external[gpio] = level
            self._levels[gpio] = level
            for listener in self.burst_listeners:
                listener(gpio, packed)
            for target in self._wires.get(gpio, ()):
                self.drive(target, level)
        return start

    def wire(self, output: int, input_: int) -> None:
        """Connect ``output`` to ``input_``: the input is driven to the output's level
        from now on, like a jumper wire."""
        self.unwire(input_)
        self._wires.setdefault(output, set()).add(input_)
        self.drive(input_, self._levels[output])

    def unwire(self, input_: int) -> None:
        """Remove the wire into ``input_`` (if any) and let the input go."""
        for inputs in self._wires.values():
            if input_ in inputs:
                inputs.discard(input_)
                self.drive(input_, None)

    # -- internals -------------------------------------------------------------

    def _set_latches(self, bank: int, bits: int, level: int) -> None:
        first = 0 if bank == 1 else 32
        for g in range(first, min(first + 32, NUM_GPIOS)):
            if bits >> (g - first) & 1:
                self._latch[g] = level
                self._update(g)

    def _computed(self, gpio: int, previous: int) -> int:
        if self._modes[gpio] == OUTPUT:
            return self._latch[gpio]
        external = self._external[gpio]
        if external is not None:
            return external
        pull = self._pulls[gpio]
        if pull == PUD_UP:
            return 1
        if pull == PUD_DOWN:
            return 0
        return previous

    def _update(self, gpio: int) -> None:
        old = self._levels[gpio]
        new = self._computed(gpio, old)
        if new != old:
            self._levels[gpio] = new
            if self.listeners:
                tick = self.tick()
                for listener in self.listeners:
                    listener(gpio, new, tick)
            for target in self._wires.get(gpio, ()):
                self.drive(target, new)
