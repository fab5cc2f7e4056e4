"""A simulated GPIO chip with pigpio's semantics, the default backend.

GPIOs 0-53 start as inputs; 0-8 are pulled up and the rest down, as on a BCM283x
after reset. An output reads back what was written; an input reads what drives it
from outside or else follows its pull. With the pull off an undriven input keeps its
last level, a stand-in for a floating pin.

Tests, examples and other processes drive it from outside (the ``sim*`` commands in
``docs/protocol.md`` call these methods):

* :meth:`SimulatedChip.drive` sets an input's external level (None lets go);
* :meth:`SimulatedChip.inject` plays a burst of alternating edges with exact ticks,
  computed in one go rather than timed one by one;
* :meth:`SimulatedChip.wire` connects an output to an input like a jumper wire.
"""

from __future__ import annotations

import time
from typing import Callable

from gpiosvr.protocol import pack_edge_burst
from gpiosvr.server.backends.base import NUM_GPIOS, Backend

INPUT, OUTPUT = 0, 1
PUD_OFF, PUD_DOWN, PUD_UP = 0, 1, 2

#: Raspberry Pi 3 Model B, revision 1.2 (Sony UK): a real board pigpio and gpiozero know.
DEFAULT_HARDWARE_REVISION = 0xA02082

#: Called as ``listener(gpio, level, tick)`` whenever a GPIO's level changes.
LevelListener = Callable[[int, int, int], None]


class SimulatedChip(Backend):
    """54 simulated GPIOs with modes, pulls, output latches and external drivers."""

    name = "sim"

    def __init__(self, hardware_revision: int = DEFAULT_HARDWARE_REVISION,
                 tick_offset: int = 0) -> None:
        self._hwrev = int(hardware_revision)
        self._tick_offset = int(tick_offset)
        self._modes = [INPUT] * NUM_GPIOS
        self._pulls = [PUD_UP if g <= 8 else PUD_DOWN for g in range(NUM_GPIOS)]
        self._latch = [0] * NUM_GPIOS
        self._external: list[int | None] = [None] * NUM_GPIOS
        self._levels = [self._computed(g, 0) for g in range(NUM_GPIOS)]
        self._wires: dict[int, set[int]] = {}  # output -> inputs it drives
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
        return self._levels[gpio]

    def write(self, gpio: int, level: int) -> None:
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
