"""Wave pulses on the gpiod backend: waves, chains and ``gpio_trigger`` played by one
thread of the server, with the best timing Linux user space gives.

Each pulse is due at an exact time (the first pulse's plus the delays before it; the
first plays as soon as the thread has it, so a thread starting up shortens no
pulse), so errors never accumulate: a late edge does not delay the ones after it. The thread
sleeps until :data:`GPIOD_WAVE_SPIN_US` before the next pulse is due (its timer
slack is 1 µs), reads that pulse from the transmission meanwhile, busy-waits the
last microseconds, then sets the lines the pulse changes, in one ioctl per line
request (the output lines of a wave share one, so a pulse switches them at one
instant, as pigpio does), and notes the tick at which it did: those real ticks are
the edges callbacks see.

The thread asks for ``SCHED_FIFO`` (priority :data:`FIFO_PRIORITY`) so that no
normal process delays its wake-ups; where that is not permitted (not root, no
``CAP_SYS_NICE``, a container) it stays a normal thread, says so once in the log,
and is only later (``docs/gpiod.md`` has both measured). A real-time thread that
busy-waits could starve the machine on dense waves, so after
:data:`GPIOD_WAVE_MAX_BUSY_US` without sleeping it sleeps
:data:`GPIOD_WAVE_BREATHE_US` (the wave is late then, never reordered).

A pulse changes the output latch of the lines the server holds (a client used
them): outputs show it at once, inputs keep it for when they become outputs, as
pigpio's GPSET/GPCLR registers do. Lines nobody used, lines past the chip's end and
lines a PWM or servo waveform toggles are left alone. From its first edge on, a line
a transmission drives stays held by the server until the transmission ends, even if
the client that made it an output leaves (waves outlive their clients in pigpio).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterator

from gpiosvr.server.limits import (GPIOD_WAVE_BREATHE_US, GPIOD_WAVE_MAX_BUSY_US,
                                   GPIOD_WAVE_SPIN_US)

if TYPE_CHECKING:
    from gpiosvr.server.backends.gpiod import GpiodChip

log = logging.getLogger(__name__)

#: The SCHED_FIFO priority asked for (1-99; low, so kernel threads still come first).
FIFO_PRIORITY = 10
_MASK = 0xFFFFFFFF
OUTPUT = 1
#: What a playback holds as its next pulse once it has none left.
_END = object()


class Playback:
    """One transmission or trigger being played (the handle ``play_pulses`` returns)."""

    __slots__ = ("player", "pulses", "due", "pulse", "started", "stopped", "done", "holder",
                 "touched")

    def __init__(self, player: "PulseThread", pulses: Iterator[tuple[int, int, int]],
                 start: int, holder: str) -> None:
        self.player = player
        self.pulses = pulses
        self.due = start  # ns (CLOCK_MONOTONIC) the next pulse is due
        self.pulse: Any = None  # the next pulse once read (_END: no more)
        self.started = False  # its first pulse was read (the times count from then)
        self.stopped = False
        self.done = False  # the last delay has passed, or stopped
        self.holder = holder  # what holds the lines it drives
        self.touched: set[int] = set()

    def busy(self) -> bool:
        """True until the last pulse's delay has passed (or :meth:`stop`)."""
        return not self.done

    def stop(self) -> None:
        """Stop now: the lines keep their levels; no pulse of it is set after this."""
        self.player._stop(self)


class PulseThread:
    """The thread that plays every wave transmission and trigger of a gpiod chip."""

    def __init__(self, chip: "GpiodChip") -> None:
        self._chip = chip
        self._playing: list[Playback] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._count = 0
        # (gpio, level, tick, playback) per edge; (None, 0, 0, playback): it ended
        self._pending: deque[tuple] = deque()
        self._flush_scheduled = False
        #: True once the thread runs with SCHED_FIFO (None: not started yet).
        self.realtime: bool | None = None

    def play(self, pulses: Iterator[tuple[int, int, int]]) -> Playback:
        """Play ``pulses`` from now; the handle's ``stop()`` ends it at once."""
        self._count += 1
        playback = Playback(self, iter(pulses), time.monotonic_ns(), f"wave-{self._count}")
        with self._cond:
            self._playing.append(playback)
            if self._thread is None:
                self._chip._fast_switching(True)
                self._thread = threading.Thread(target=self._run, name="gpiod-pulses",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return playback

    def _stop(self, playback: Playback) -> None:
        with self._chip._lock:  # a pulse being set is finished once we have it
            playback.stopped = True
        self._finish(playback)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=2)

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        from gpiosvr.server.backends.gpiod import _tight_timer_slack

        _tight_timer_slack()
        self.realtime = _ask_for_fifo()
        spin = GPIOD_WAVE_SPIN_US * 1000
        busy_since = time.monotonic_ns()
        while True:
            with self._cond:
                if self._closed or not self._playing:
                    self._thread = None  # the next play starts another thread
                    self._chip._fast_switching(False)
                    return
                playback = min(self._playing, key=_due)
                wait = playback.due - spin - time.monotonic_ns()
                if wait > 0:
                    self._cond.wait(wait / 1e9)  # woken early by a new or stopped playback
                    busy_since = time.monotonic_ns()
                    continue
            if time.monotonic_ns() - busy_since > GPIOD_WAVE_MAX_BUSY_US * 1000:
                time.sleep(GPIOD_WAVE_BREATHE_US / 1e6)  # let the machine breathe
                busy_since = time.monotonic_ns()
            if playback.pulse is None:
                try:
                    playback.pulse = next(playback.pulses)
                except StopIteration:  # done once its last delay has passed
                    playback.pulse = _END
                except Exception:  # noqa: BLE001 - a broken transmission ends, not the thread
                    log.exception("a wave transmission failed; it is stopped")
                    self._finish(playback)
                    continue
                if not playback.started:  # the times count from its first pulse
                    playback.started = True
                    playback.due = max(playback.due, time.monotonic_ns())
                continue  # reading it took time: look again at what is due first
            while time.monotonic_ns() < playback.due:
                pass
            if playback.pulse is _END:
                self._finish(playback)
                continue
            on, off, delay = playback.pulse
            playback.pulse = None
            self._set(playback, on, off)
            playback.due += delay * 1000

    def _set(self, playback: Playback, on: int, off: int) -> None:
        """Set the lines pulse ``(on, off)`` changes, one ioctl per line request (the
        lines of a wave share one: :meth:`GpiodChip.wave_lines`); report them."""
        chip = self._chip
        bits = (on | off) & _MASK
        with chip._lock:
            if playback.stopped:
                return
            changes: dict[int, tuple[Any, dict[int, Any], list[tuple[int, int]]]] = {}
            while bits:
                low = bits & -bits
                bits ^= low
                gpio = low.bit_length() - 1
                if gpio >= chip.num_lines:
                    continue
                line = chip._lines[gpio]
                if line.request is None or chip._waves.running(gpio):
                    continue
                level = 0 if off & low else 1
                if line.latch == level:
                    continue
                line.latch = level
                if line.mode == OUTPUT:
                    request = line.request
                    change = changes.get(id(request))
                    if change is None:
                        change = changes[id(request)] = (request, {}, [])
                    change[1][gpio] = _VALUES[level]
                    change[2].append((gpio, level))
            for request, values, lines in changes.values():
                try:
                    request.set_values(values)
                except OSError as exc:
                    log.warning("wave on GPIO %s: %s", ", ".join(map(str, values)), exc)
                    continue
                tick = (time.monotonic_ns() // 1000) & _MASK
                for gpio, level in lines:
                    self._report((gpio, level, tick, playback))

    def _finish(self, playback: Playback) -> None:
        with self._cond:
            if playback.done:
                return
            playback.done = playback.stopped = True
            if playback in self._playing:
                self._playing.remove(playback)
            self._cond.notify()
        self._report((None, 0, 0, playback))

    def _report(self, item: tuple) -> None:
        self._pending.append(item)
        loop = self._chip._loop
        if loop is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                loop.call_soon_threadsafe(self.flush)
            except RuntimeError:  # the loop is closed: the server is stopping
                pass

    def flush(self) -> None:
        """On the loop: hand on the edges made so far, hold the lines a transmission
        drives and let go of those of transmissions that ended."""
        self._flush_scheduled = False
        chip = self._chip
        while self._pending:
            gpio, level, tick, playback = self._pending.popleft()
            if gpio is None:  # it ended: its lines are free to go
                chip._let_go_all([chip._lines[offset] for offset in sorted(playback.touched)],
                                 playback.holder)
                continue
            line = chip._lines[gpio]
            if line.request is None:
                continue
            if gpio not in playback.touched:
                playback.touched.add(gpio)
                line.holders.add(playback.holder)
            chip._changed(line, level, tick)


def _due(playback: Playback) -> int:
    return playback.due


def _ask_for_fifo() -> bool:
    """Make the calling thread SCHED_FIFO if permitted; True if it is now."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
    except (OSError, AttributeError) as exc:
        log.info("wave pulses are played by a normal thread (SCHED_FIFO not permitted: "
                 "%s); edges are later under load, see docs/gpiod.md", exc)
        return False
    log.info("wave pulses are played by a SCHED_FIFO thread (priority %d)", FIFO_PRIORITY)
    return True


try:
    from gpiod.line import Value

    _VALUES = (Value.INACTIVE, Value.ACTIVE)
except ImportError:
    _VALUES = (0, 1)
