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
  computed in bulk rather than timed one by one, and handed on
  :data:`~gpiosvr.server.limits.SIM_EDGES_PER_TURN` at a time so that a big burst
  never holds up other clients;
* :meth:`SimulatedChip.play` plays a list of (level, tick) edges the same way
  (a recorded signal replayed, see :meth:`gpiosvr.simulator.Simulator.replay`);
* :meth:`SimulatedChip.wire` connects an output to an input like a jumper wire.

PWM and servo outputs really toggle (:meth:`SimulatedChip.set_waveform`): their
edges are computed from the waveform every few milliseconds, in bulk per GPIO, with
exact ticks, and ``read`` samples the waveform at the moment it is called. All
waveforms together make at most
:data:`~gpiosvr.server.limits.SIM_WAVEFORM_EDGES_PER_SECOND` edges: one that would
pass it when it is set holds a level instead, as one faster than
:data:`~gpiosvr.server.limits.SIM_MAX_WAVEFORM_HZ` does.

Wave pulses (:meth:`SimulatedChip.play_pulses`: waves, chains, triggers) change the
output latches of GPIO 0-31 at their exact ticks: an output's edges are handed on
with those ticks, each when due (the loop wakes at the next pulse's tick, to the
µs: :mod:`~gpiosvr.server.backends.precise_timer`), ``read`` first plays what is
due, and at most :data:`~gpiosvr.server.limits.SIM_WAVE_PULSES_PER_TURN` pulses play
per turn of the loop (a wave faster than that is late, never wrong).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from array import array
from collections import deque
from typing import Callable, Union

from gpiosvr.protocol import EDGE_RECORD, pack_edges
from gpiosvr.server.backends.base import NUM_GPIOS, Backend
from gpiosvr.server.backends.precise_timer import Timer, make_timer
from gpiosvr.server.limits import (SIM_EDGES_PER_TURN, SIM_MAX_QUEUED_EDGES,
                                   SIM_MAX_WAVEFORM_HZ, SIM_WAVE_PULSES_PER_TURN,
                                   SIM_WAVE_WAKE_GAP_US, SIM_WAVEFORM_EDGES_PER_SECOND)

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

_MASK = 0xFFFFFFFF


class Waveform:
    """A periodic output: high for ``high`` of every ``period`` µs from ``start`` (a
    tick that does not wrap), with the number of the next edge to hand on."""

    __slots__ = ("start", "period", "high", "next_edge")

    def __init__(self, start: int, period: float, high: float) -> None:
        self.start = start
        self.period = period
        self.high = high
        self.next_edge = 0  # edge 2k rises at k * period, edge 2k + 1 falls `high` later

    @property
    def rate(self) -> float:
        """Edges per second."""
        return 2e6 / self.period

    def level_at(self, now: int) -> int:
        return 1 if (now - self.start) % self.period < self.high else 0

    def due(self, now: int) -> int:
        """How many edges the waveform has made before ``now``."""
        elapsed = now - self.start
        if elapsed <= 0:
            return 0
        rises = math.ceil(elapsed / self.period)
        falls = max(0, math.ceil((elapsed - self.high) / self.period))
        return rises + falls

    def edges(self, now: int, limit: int) -> tuple[int, "array[int]"]:
        """The next edges made before ``now``, at most ``limit`` of them: the first
        one's level and all their ticks (exact, computed in bulk)."""
        first, last = self.next_edge, min(self.due(now), self.next_edge + limit)
        if last <= first:
            return 1, array("I")
        start, period, high = self.start, self.period, self.high
        ks = range(first >> 1, (last + 1) >> 1)
        ticks = [0] * (2 * len(ks))
        ticks[0::2] = [(start + round(k * period)) & _MASK for k in ks]
        ticks[1::2] = [(start + round(k * period + high)) & _MASK for k in ks]
        skip = first & 1
        self.next_edge = last
        return 1 - skip, array("I", ticks[skip:skip + last - first])


class PulsePlayer:
    """Pulses being played on the simulated chip (see :meth:`SimulatedChip.play_pulses`)."""

    __slots__ = ("chip", "pulses", "next_tick", "done")

    def __init__(self, chip: "SimulatedChip", pulses, start: int) -> None:
        self.chip = chip
        self.pulses = pulses
        self.next_tick = start  # when the next pulse is due (a tick that does not wrap)
        self.done = False

    def busy(self) -> bool:
        """True until the last pulse's delay has passed (or :meth:`stop`)."""
        if not self.done:
            self.chip.play_due()
        return not self.done

    def stop(self) -> None:
        """Stop now: the GPIOs keep the levels they have."""
        chip = self.chip
        chip.play_due()
        if not self.done:
            self.done = True
            chip._players.remove(self)
            chip._wait_for_pulses(False, False)  # for the next player's pulse, or none


class _Burst:
    """What is left of an injected burst: its next edge's level and tick."""

    __slots__ = ("level", "tick", "interval", "left")

    def __init__(self, level: int, tick: int, interval: int, count: int) -> None:
        self.level, self.tick, self.interval, self.left = level, tick, interval, count

    def take(self, limit: int) -> tuple[int, "array[int]"]:
        """The next ``limit`` edges (or fewer): the first one's level and the ticks."""
        count = min(limit, self.left)
        tick, interval = self.tick, self.interval
        if interval == 0:
            ticks = array("I", [tick]) * count
        elif tick + (count - 1) * interval <= _MASK:
            ticks = array("I", range(tick, tick + (count - 1) * interval + 1, interval))
        else:  # wraps at 2**32
            ticks = array("I", [(tick + i * interval) & _MASK for i in range(count)])
        level = self.level
        self.level ^= count & 1
        self.tick = (tick + count * interval) & _MASK
        self.left -= count
        return level, ticks


def _next_tick(player: PulsePlayer) -> int:
    return player.next_tick


class _Played(bytes):
    """Packed edges of a :meth:`SimulatedChip.play`, counted among the queued edges."""


#: What waits to be handed on for one GPIO, in order: the rest of a burst, packed
#: edges (a waveform's, into a wired input; a played chunk), or one level change
#: (level, tick).
_Queued = Union[_Burst, bytes, _Played, tuple]


class SimulatedChip(Backend):
    """54 simulated GPIOs with modes, pulls, output latches and external drivers."""

    name = "sim"

    def __init__(self, hardware_revision: int = DEFAULT_HARDWARE_REVISION,
                 tick_offset: int = 0) -> None:
        self._hwrev = int(hardware_revision)
        self._tick_offset = int(tick_offset)
        self._pinned: int | None = None  # the tick while one_tick() holds the clock
        self._modes = [INPUT] * NUM_GPIOS
        self._pulls = [PUD_UP if g <= 8 or g in SD_CARD_GPIOS else PUD_DOWN
                       for g in range(NUM_GPIOS)]
        self._latch = [0] * NUM_GPIOS
        self._external: list[int | None] = [None] * NUM_GPIOS
        self._levels = [self._computed(g, 0) for g in range(NUM_GPIOS)]
        self._wires: dict[int, set[int]] = {}  # output -> inputs it drives
        self._waveforms: dict[int, Waveform] = {}
        self._wave_turn = 0  # which waveform goes first in a step, in turn
        self._queued: dict[int, deque[_Queued]] = {}  # gpio -> not handed on yet
        self._queued_edges = 0  # edges of bursts in self._queued
        self._pump_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: asyncio.Handle | None = None
        self._players: list[PulsePlayer] = []
        self._player_soon: asyncio.Handle | None = None  # play_due on the next turn
        self._pulse_timer: Timer | None = None  # wakes play_due when a pulse is due
        self._closed = False
        self.listeners: list[LevelListener] = []
        self.burst_listeners: list[Callable[[int, bytes], None]] = []
        self._pads = [3, 3, 3]  # the pads' 3-bit drive fields: 3 is 8 mA, a Pi's default

    @property
    def hardware_revision(self) -> int:
        return self._hwrev

    def tick(self) -> int:
        return self._now() & _MASK

    def _now(self) -> int:
        """Microseconds, as ``tick`` but without wrapping."""
        pinned = self._pinned
        if pinned is not None:
            return pinned
        return time.monotonic_ns() // 1000 + self._tick_offset

    def monotonic_ns(self, tick: int) -> int:
        """The CLOCK_MONOTONIC ns at which the unwrapped ``tick`` comes (what a
        :mod:`~gpiosvr.server.backends.precise_timer` timer is armed at)."""
        return (tick - self._tick_offset) * 1000

    @contextlib.contextmanager
    def one_tick(self):
        """The chip's clock stands still meanwhile (see :meth:`Backend.one_tick`)."""
        if self._pinned is not None:
            yield
            return
        self._pinned = self._now()
        try:
            yield
        finally:
            self._pinned = None

    # -- the Backend interface ---------------------------------------------

    def get_pad(self, pad: int) -> int:
        return self._pads[pad] * 2 + 2

    def set_pad(self, pad: int, strength: int) -> None:
        self._pads[pad] = ((strength + 1) // 2 - 1) & 7  # as pigpio: 1-16 mA to 0-7

    def set_mode(self, gpio: int, mode: int) -> None:
        self._modes[gpio] = mode
        self._update(gpio)

    def get_mode(self, gpio: int) -> int:
        return self._modes[gpio]

    def set_pull(self, gpio: int, pud: int) -> None:
        self._pulls[gpio] = pud
        self._update(gpio)

    def read(self, gpio: int) -> int:
        if self._players:
            self.play_due()
        wave = self._waveforms.get(gpio)
        if wave is not None:
            return wave.level_at(self._now())
        return self._levels[gpio]

    def write(self, gpio: int, level: int) -> None:
        if gpio in self._waveforms:  # its edges end, and the written one follows, now
            with self.one_tick():
                self.set_waveform(gpio, None)
                self._write(gpio, level)
            return
        self._write(gpio, level)

    def _write(self, gpio: int, level: int) -> None:
        self._latch[gpio] = level
        if self._modes[gpio] != OUTPUT:
            self._modes[gpio] = OUTPUT
        self._update(gpio)

    def read_bank(self, bank: int) -> int:
        if self._players:
            self.play_due()
        first, last = (0, 32) if bank == 1 else (32, NUM_GPIOS)
        levels = self._levels
        return sum(levels[g] << (g - first) for g in range(first, last))

    def set_bank(self, bank: int, bits: int) -> None:
        self._set_latches(bank, bits, 1)

    def clear_bank(self, bank: int, bits: int) -> None:
        self._set_latches(bank, bits, 0)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stop_waking()
        self._loop = loop
        self._closed = False

    def set_waveform(self, gpio: int, period_us: float | None, high_us: float = 0) -> None:
        """Make output ``gpio`` toggle: high ``high_us`` of every ``period_us`` µs
        (None: stop; the GPIO keeps the level it has then). A waveform that is
        always high or always low, faster than :data:`SIM_MAX_WAVEFORM_HZ`, or one
        whose edges would take the waveforms past
        :data:`SIM_WAVEFORM_EDGES_PER_SECOND` together, just sets the level (for the
        fast ones: high when at least half the time high)."""
        if gpio in self._waveforms and self._pinned is None:
            with self.one_tick():  # the old waveform's edges end at the tick it is cut
                self.set_waveform(gpio, period_us, high_us)
            return
        old = self._waveforms.pop(gpio, None)
        if old is not None:
            self._step_one(gpio, old, self._now(), None)
            self._latch[gpio] = self._levels[gpio]
        if period_us is None:
            return
        self._modes[gpio] = OUTPUT
        rate = 2e6 / period_us
        busy = sum(wave.rate for wave in self._waveforms.values())
        if (high_us <= 0 or high_us >= period_us or period_us < 1e6 / SIM_MAX_WAVEFORM_HZ
                or busy + rate > SIM_WAVEFORM_EDGES_PER_SECOND):
            self._latch[gpio] = 1 if high_us * 2 >= period_us and high_us > 0 else 0
            self._update(gpio)
            return
        self._waveforms[gpio] = Waveform(self._now(), float(period_us), float(high_us))
        if self._clock is None and self._loop is not None:
            self._clock = self._loop.call_later(WAVEFORM_STEP, self._step)

    def play_pulses(self, pulses) -> PulsePlayer:
        """Play wave pulses from now (see :meth:`Backend.play_pulses`): each changes
        the latches of GPIO 0-31 at its exact tick; outputs show it, with an edge
        at that tick (and the inputs wired to them). Those due play at once."""
        player = PulsePlayer(self, pulses, self._now())
        self._players.append(player)
        self.play_due()
        return player

    def edges_due(self, gpio: int) -> None:
        """The wave edges due by now, played first (they may reach ``gpio``
        through a jumper)."""
        self.play_due()

    def handed_on_until(self, gpio: int) -> int:
        """The unwrapped tick up to which every edge of ``gpio`` has been handed on
        to the listeners: now, unless wave pulses due before now are still to be
        played (the loop was late, or a turn had no room for them all) or edges of
        ``gpio`` wait in the queue; then the tick of the first of those. A device
        that waits for a quiet time counts it up to here, never by the clock alone."""
        now = self._now()
        until = now
        if self._players:
            until = min(until, min(p.next_tick for p in self._players))
        queued = self._queued.get(gpio)
        if queued:
            item = queued[0]
            if type(item) is _Burst:
                tick = item.tick
            elif type(item) is tuple:
                tick = item[1]
            else:
                tick = EDGE_RECORD.unpack_from(item)[2]
            behind = (now - tick) & _MASK
            if behind < 1 << 31:
                until = min(until, now - behind)
        wave = self._waveforms.get(gpio)
        if wave is not None and wave.next_edge < wave.due(now):
            k, fall = divmod(wave.next_edge, 2)
            until = min(until, wave.start + round(k * wave.period + (wave.high if fall else 0)))
        return until

    def holds_edges(self, gpio: int) -> bool:
        """True while edges of ``gpio`` wait in the queue (a burst handed on a chunk
        a turn) or wave pulses due by now are still to be played."""
        with self.one_tick():
            return gpio in self._queued or self.handed_on_until(gpio) < self._now()

    def play_due(self) -> None:
        """Play the pulses due by now, at most :data:`SIM_WAVE_PULSES_PER_TURN`, in
        tick order over all players; then wait for the next one."""
        now = self._now()
        players = self._players
        room = SIM_WAVE_PULSES_PER_TURN
        latch, modes = self._latch, self._modes
        edges: dict[int, tuple[int, list[int]]] = {}
        while players and room > 0:
            player = min(players, key=_next_tick) if len(players) > 1 else players[0]
            tick = player.next_tick
            if tick > now:
                break
            try:
                on, off, delay = next(player.pulses)
            except StopIteration:
                player.done = True
                players.remove(player)
                continue
            room -= 1
            player.next_tick = tick + delay
            bits = (on | off) & _MASK
            while bits:
                low = bits & -bits
                bits ^= low
                gpio = low.bit_length() - 1
                level = 0 if off & low else 1
                if latch[gpio] != level:
                    latch[gpio] = level
                    if modes[gpio] == OUTPUT and gpio not in self._waveforms:
                        seen = edges.get(gpio)
                        if seen is None:
                            edges[gpio] = (level, [tick & _MASK])
                        else:
                            seen[1].append(tick & _MASK)
        for gpio, (first, ticks) in edges.items():
            wired = self._wires.get(gpio)
            targets = [t for t in wired if modes[t] != OUTPUT] if wired else ()
            if len(ticks) == 1:  # a lone edge, the everyday one: no array on its way
                last = first
            else:
                last = first if len(ticks) % 2 else first ^ 1
                ticks = array("I", ticks)
            self._levels[gpio] = last
            self._hand_on_packed(gpio, pack_edges(gpio, first, ticks))
            for target in targets:
                self._external[target] = last
                self._levels[target] = last
                self._hand_on_packed(target, pack_edges(target, first, ticks))
        self._wait_for_pulses(room <= 0, room < SIM_WAVE_PULSES_PER_TURN)

    def _wait_for_pulses(self, behind: bool, played: bool) -> None:
        """Call :meth:`play_due` again on the next turn (``behind``: the turn had no
        room for all that is due), else when the next pulse is due, to the µs: the
        pulse timer (:mod:`~gpiosvr.server.backends.precise_timer`) is armed at the
        CLOCK_MONOTONIC time of its tick, but when pulses were just ``played`` no
        sooner than :data:`SIM_WAVE_WAKE_GAP_US` from now; none without players."""
        self._cancel_soon()
        timer = self._pulse_timer
        if not self._players or self._loop is None or self._closed:
            if timer is not None:
                timer.disarm()
            return
        if behind:
            self._player_soon = self._loop.call_soon(self.play_due)
            return
        if timer is None:
            timer = self._pulse_timer = make_timer(self._loop, self.play_due)
        due = self.monotonic_ns(min(p.next_tick for p in self._players))
        if played:
            due = max(due, time.monotonic_ns() + SIM_WAVE_WAKE_GAP_US * 1000)
        timer.arm(due)

    def _cancel_soon(self) -> None:
        if self._player_soon is not None:
            self._player_soon.cancel()
            self._player_soon = None

    def _stop_waking(self) -> None:
        """Cancel the wake-ups of :meth:`play_due` and close the pulse timer."""
        self._cancel_soon()
        if self._pulse_timer is not None:
            self._pulse_timer.close()
            self._pulse_timer = None

    def hardware_clock(self, gpio: int, frequency: int) -> None:
        """A clock is a square waveform (held high when too fast to simulate)."""
        if frequency:
            self.set_waveform(gpio, 1e6 / frequency, 5e5 / frequency)
        else:
            self.set_waveform(gpio, None)

    def toggling(self) -> list[int]:
        """The GPIOs whose waveform is simulated edge by edge now."""
        return sorted(self._waveforms)

    def _step(self) -> None:
        """Hand on the edges the waveforms made since the last step, at most
        :data:`SIM_EDGES_PER_TURN`; when some are left (the loop was late), the
        next step follows at once instead of after :data:`WAVEFORM_STEP`."""
        self._clock = None
        now, room, behind = self._now(), SIM_EDGES_PER_TURN, False
        waves = list(self._waveforms.items())
        if waves:
            turn = self._wave_turn = (self._wave_turn + 1) % len(waves)
            waves = waves[turn:] + waves[:turn]  # who waits when there is no room
        for gpio, wave in waves:
            if room <= 0:
                behind = True
                break
            room -= self._step_one(gpio, wave, now, room)
            behind = behind or wave.next_edge < wave.due(now)
        if self._waveforms and self._loop is not None:
            if behind:
                self._clock = self._loop.call_soon(self._step)
            else:
                self._clock = self._loop.call_later(WAVEFORM_STEP, self._step)

    def _step_one(self, gpio: int, wave: Waveform, now: int, room: int | None) -> int:
        """Hand on the edges of one waveform made before ``now``, at most ``room``
        records (None: all); returns the records handed on."""
        targets = [gpio] + [t for t in self._wires.get(gpio, ()) if self._modes[t] != OUTPUT]
        limit = wave.due(now) if room is None else max(1, room // len(targets))
        at_start = wave.next_edge == 0
        first, ticks = wave.edges(now, limit)
        if at_start and ticks and first == self._levels[gpio]:  # not a change: no edge
            first, ticks = first ^ 1, ticks[1:]
        if not ticks:
            return 0
        last = first if len(ticks) % 2 else first ^ 1
        self._levels[gpio] = last
        for target in targets:
            if target != gpio:
                self._external[target] = last
                self._levels[target] = last
            self._hand_on_packed(target, pack_edges(target, first, ticks))
        return len(ticks) * len(targets)

    def buses(self):
        """The simulated board (:mod:`gpiosvr.server.sim.board`): a bare Pi unless
        a board file's :class:`~gpiosvr.server.sim.board.Board` was attached."""
        if self.bus_provider is None:
            from gpiosvr.server.sim.board import Board

            Board.bare().attach(self)
        return self.bus_provider

    def close(self) -> None:
        """Close the pulse timer (wave pulses then play only when read) and the
        simulated board's buses."""
        self._closed = True
        self._stop_waking()
        if self.bus_provider is not None:
            self.bus_provider.close()

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

        The GPIO is driven to the last edge's level at once. The edges go to the
        burst listeners packed (see :func:`gpiosvr.protocol.pack_edges`), in order,
        :data:`SIM_EDGES_PER_TURN` at a time: the first chunk before this returns,
        the rest on later turns of the loop. A burst injected while an earlier one
        (or a level change queued behind it) is still being handed on follows it.
        Raises ValueError for an output, or when more than
        :data:`SIM_MAX_QUEUED_EDGES` edges would wait. Returns the first edge's tick.
        """
        if self._modes[gpio] == OUTPUT:
            raise ValueError(f"GPIO {gpio} is an output; only inputs can be driven")
        if self._queued_edges + count > SIM_MAX_QUEUED_EDGES:
            raise ValueError(
                f"{self._queued_edges} injected edges are still waiting to be handed "
                f"on; {count} more would pass the {SIM_MAX_QUEUED_EDGES} that may wait "
                f"(SIM_MAX_QUEUED_EDGES): inject again once they are delivered")
        if count == 1 and gpio not in self._queued:
            # one edge and nothing of this GPIO waiting, the everyday case: handed on
            # the short way, stamped the moment before (the edge's way to a callback)
            level = self._levels[gpio] ^ 1
            self._external[gpio] = level
            self._levels[gpio] = level
            start = self.tick() if start_tick is None else start_tick
            packed = EDGE_RECORD.pack(gpio, level, start)
            for listener in self.burst_listeners:
                listener(gpio, packed)
            for target in self._wires.get(gpio, ()):
                self.drive(target, level)
            return start
        start = self.tick() if start_tick is None else start_tick
        if count > 0:
            first = self._levels[gpio] ^ 1
            level = first if count % 2 else first ^ 1
            self._external[gpio] = level
            self._levels[gpio] = level
            idle = gpio not in self._queued
            self._queued.setdefault(gpio, deque()).append(
                _Burst(first, start, interval_us, count))
            self._queued_edges += count
            if idle:
                self._hand_on(gpio, SIM_EDGES_PER_TURN if self._loop is not None else count)
            self._schedule_pump()
            for target in self._wires.get(gpio, ()):
                self.drive(target, level)
        return start

    def play(self, gpio: int, edges: "list[tuple[int, int]]") -> int:
        """Drive ``gpio`` through ``edges``, (level, tick) pairs in order, with their
        exact ticks, as :meth:`inject` does a burst: the GPIO goes to the last level
        at once and the edges are handed on :data:`SIM_EDGES_PER_TURN` at a time. A
        pair that is no change of level is left out. Raises ValueError as
        :meth:`inject` does; returns the number of edges played."""
        if self._modes[gpio] == OUTPUT:
            raise ValueError(f"GPIO {gpio} is an output; only inputs can be driven")
        level, ticks = self._levels[gpio], array("I")
        first = level ^ 1
        for new, tick in edges:
            if new != level:
                ticks.append(tick)
                level = new
        count = len(ticks)
        if self._queued_edges + count > SIM_MAX_QUEUED_EDGES:
            raise ValueError(
                f"{self._queued_edges} injected edges are still waiting to be handed "
                f"on; {count} more would pass the {SIM_MAX_QUEUED_EDGES} that may wait "
                f"(SIM_MAX_QUEUED_EDGES): play again once they are delivered")
        if count:
            self._external[gpio] = level
            self._levels[gpio] = level
            idle = gpio not in self._queued
            queued = self._queued.setdefault(gpio, deque())
            for i in range(0, count, SIM_EDGES_PER_TURN):
                chunk = ticks[i:i + SIM_EDGES_PER_TURN]
                queued.append(_Played(pack_edges(gpio, first ^ (i & 1), chunk)))
            self._queued_edges += count
            if idle:
                self._hand_on(gpio, SIM_EDGES_PER_TURN if self._loop is not None else count)
            self._schedule_pump()
            for target in self._wires.get(gpio, ()):
                self.drive(target, level)
        return count

    def queued_edges(self) -> int:
        """Injected edges still waiting to be handed on."""
        return self._queued_edges

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
            queued = self._queued.get(gpio)
            if queued is not None:  # after the edges still to come
                queued.append((new, self.tick()))
            elif self.listeners:
                tick = self.tick()
                for listener in self.listeners:
                    listener(gpio, new, tick)
            for target in self._wires.get(gpio, ()):
                self.drive(target, new)

    # -- handing on what is queued, a bounded amount per turn of the loop ----------

    def _hand_on_packed(self, gpio: int, packed: bytes) -> None:
        queued = self._queued.get(gpio)
        if queued is not None:
            queued.append(packed)
        else:
            for listener in self.burst_listeners:
                listener(gpio, packed)

    def _hand_on(self, gpio: int, room: int) -> int:
        """Hand on what is queued for ``gpio``, in order, up to ``room`` edges (a
        queued item that is not a burst goes whole); returns the edges handed on."""
        queued = self._queued[gpio]
        used = 0
        while queued and used < room:
            item = queued[0]
            if type(item) is _Burst:
                level, ticks = item.take(room - used)
                used += len(ticks)
                self._queued_edges -= len(ticks)
                packed = pack_edges(gpio, level, ticks)
                for listener in self.burst_listeners:
                    listener(gpio, packed)
                if item.left:
                    break
            elif type(item) is bytes or type(item) is _Played:
                used += len(item) // 6
                if type(item) is _Played:
                    self._queued_edges -= len(item) // 6
                for listener in self.burst_listeners:
                    listener(gpio, item)
            else:
                used += 1
                for listener in self.listeners:
                    listener(gpio, *item)
            queued.popleft()
        if not queued:
            del self._queued[gpio]
        return used

    def _schedule_pump(self) -> None:
        if self._queued and self._pump_handle is None and self._loop is not None:
            self._pump_handle = self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        """One turn's worth of what is queued, GPIO after GPIO in turn."""
        self._pump_handle = None
        room = SIM_EDGES_PER_TURN
        while room > 0 and self._queued:
            gpio = next(iter(self._queued))
            room -= max(1, self._hand_on(gpio, room))
            queued = self._queued.pop(gpio, None)
            if queued is not None:
                self._queued[gpio] = queued  # to the back: the others go first
        self._schedule_pump()
