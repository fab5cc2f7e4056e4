"""The Linux GPIO character device through libgpiod v2: the Raspberry Pi 5 and any
board whose kernel has a GPIO chip (``/dev/gpiochipN``).

GPIO number N is line offset N of the chosen chip (on a Pi 5, ``pinctrl-rp1``'s line
N is BCM GPIO N). Uses the ``gpiod`` 2.x bindings from PyPI.

What the character device gives, and how pigpio's commands map onto it:

* modes INPUT and OUTPUT (ALT0-ALT5 belong to the pin controller: refused);
* pulls as the line's bias (PUD_OFF = bias disabled);
* levels, banks, and edges with the kernel's timestamps (CLOCK_MONOTONIC), turned
  into pigpio ticks exactly as :meth:`GpiodChip.tick` counts: ``ns // 1000`` modulo
  2**32. An output's changes are reported by the server itself when it writes;
* the glitch filter as the kernel's debounce of the line (watchdogs and the noise
  filter stay in the server, on the edge stream);
* PWM and servo pulses are toggled by a thread of the server (see
  :class:`SoftwareWaveforms` and ``docs/gpiod.md`` for their accuracy);
* wave transmissions, chains and ``gpio_trigger`` are played by another
  (:mod:`gpiosvr.server.backends.gpiod_pulses`); there is no hardware clock.

A line is requested from the kernel when a client first uses it (a mode, pull,
read, write, a bank command or an edge subscription) and released when no
connected client has used it, no edge subscription wants it and no waveform runs
on it; the server holds it meanwhile, so any number of processes share it. Each
line is requested on its own, so requesting and releasing stay independent, until
a wave is sent: the output lines it changes are then requested together, as one
request (:meth:`GpiodChip.wave_lines`), so that a pulse switching several of them
sets them all in one ioctl, at one instant, as pigpio's GPSET/GPCLR writes do. They
stay together until one of them is released; the others are then requested again
without it (``docs/gpiod.md``).
"""

from __future__ import annotations

import asyncio
import errno
import glob
import heapq
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from datetime import timedelta
from typing import Callable

from gpiosvr.errors import (PI_BAD_GPIO, PI_BAD_MODE, PI_BAD_PARAM, PI_NOT_PERMITTED,
                            PigpioError)
from gpiosvr.server.backends.base import NUM_GPIOS, Backend, BackendUnavailable
from gpiosvr.server.backends.gpiod_pulses import Playback, PulseThread

try:
    import gpiod
    from gpiod.line import Bias, Direction, Edge, Value
except ImportError:  # reported when the backend is built, not when imported
    gpiod = None

try:
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except (ImportError, OSError):
    _libc = None

log = logging.getLogger(__name__)

INPUT, OUTPUT = 0, 1
PUD_OFF, PUD_DOWN, PUD_UP = 0, 1, 2
#: The revision reported when the board's own cannot be read (as the sim's default).
DEFAULT_HARDWARE_REVISION = 0xA02082
#: Consumer name the kernel shows for our lines (``gpioinfo``).
CONSUMER = "gpiosvr"
#: Edge events the kernel may queue per line before the server reads them.
EVENT_BUFFER = 1024
#: Fastest software waveform: a period shorter than this many µs is refused.
MIN_WAVEFORM_PERIOD_US = 200
#: While waveforms run, threads switch this often (s) so the toggler is not kept
#: waiting for the GIL by the server's loop for Python's default 5 ms.
WAVEFORM_SWITCH_INTERVAL = 0.0005
#: prctl(2): set the calling thread's timer slack (ns).
PR_SET_TIMERSLACK = 29
#: The holder of a line that a waveform toggles.
WAVEFORM = "waveform"
#: The holder of a line an edge subscription wants.
SUBSCRIBED = "edges"


def _require_gpiod() -> None:
    if gpiod is None:
        raise BackendUnavailable("the gpiod backend needs the gpiod 2.x bindings: "
                           "pip install 'gpiod>=2.1'")


def find_chip(chip: str | None = None, label: str | None = None) -> str:
    """The device path of the chip named by ``chip`` (a path, ``gpiochipN`` or N) or,
    with ``label``, of the chip with that label; default ``/dev/gpiochip0``."""
    _require_gpiod()
    if chip is not None and label is not None:
        raise ValueError("give --chip or --chip-label, not both")
    if label is None:
        chip = chip or "/dev/gpiochip0"
        if chip.isdigit():
            chip = f"/dev/gpiochip{chip}"
        elif "/" not in chip:
            chip = f"/dev/{chip}"
        if not os.path.exists(chip):
            raise ValueError(f"no GPIO chip at {chip}")
        if not gpiod.is_gpiochip_device(chip):
            raise ValueError(f"{chip} is not a GPIO character device")
        return chip
    seen = []
    for path in sorted(glob.glob("/dev/gpiochip*"), key=lambda p: int(p[13:] or 0)):
        if not gpiod.is_gpiochip_device(path):
            continue
        with gpiod.Chip(path) as candidate:
            found = candidate.get_info().label
        if found == label:
            return path
        seen.append(f"{path} ({found})")
    raise ValueError(f"no GPIO chip labelled {label!r}; found: {', '.join(seen) or 'none'}")


def board_revision() -> int | None:
    """The Raspberry Pi's revision code from /proc/cpuinfo, if this is one."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("Revision"):
                    return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


class Line:
    """What the server knows of one line: its request (while held) and settings."""

    __slots__ = ("offset", "request", "mode", "pull", "latch", "level", "holders",
                 "debounce_us", "seqno")

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.request = None  # a gpiod.LineRequest while the line is held
        self.mode = INPUT
        self.pull: int | None = None  # None: as the kernel has it
        self.latch = 0
        self.level = 0
        self.holders: set[object] = set()
        self.debounce_us = 0  # the glitch filter, done by the kernel; kept across requests
        self.seqno = 0  # the last edge event's line_seqno (gaps: the kernel dropped some)


class GpiodChip(Backend):
    """A GPIO chip of the kernel's character device, lines requested while in use."""

    name = "gpiod"

    def __init__(self, chip: str | None = None, chip_label: str | None = None,
                 hardware_revision: int = DEFAULT_HARDWARE_REVISION,
                 consumer: str = CONSUMER) -> None:
        _require_gpiod()
        self.path = find_chip(chip, chip_label)
        try:
            self._chip = gpiod.Chip(self.path)
        except OSError as exc:
            raise ValueError(f"cannot open {self.path}: {exc.strerror}") from exc
        info = self._chip.get_info()
        self.label = info.label
        self.num_lines = min(info.num_lines, NUM_GPIOS)
        if hardware_revision == DEFAULT_HARDWARE_REVISION:
            hardware_revision = board_revision() or hardware_revision
        self._hwrev = int(hardware_revision)
        self._consumer = consumer
        self._lines = [Line(offset) for offset in range(self.num_lines)]
        self._lock = threading.RLock()  # the waveform thread shares the requests
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Callable[[int, int, int], None]] = []
        self._wanted = 0
        self._switching = 0  # threads wanting WAVEFORM_SWITCH_INTERVAL
        self._switch_interval = sys.getswitchinterval()
        self._waves = SoftwareWaveforms(self)
        self._pulses = PulseThread(self)
        log.info("gpiod backend on %s (%s, %d lines)", self.path, self.label, info.num_lines)

    # -- the Backend interface ---------------------------------------------------

    @property
    def hardware_revision(self) -> int:
        return self._hwrev

    def tick(self) -> int:
        return (time.monotonic_ns() // 1000) & 0xFFFFFFFF

    def set_mode(self, gpio: int, mode: int) -> None:
        if mode not in (INPUT, OUTPUT):
            raise PigpioError(PI_BAD_MODE, f"GPIO {gpio}: the gpiod backend has modes INPUT "
                              "and OUTPUT only; ALT0-ALT5 belong to the pin controller")
        self._configure(self._use(gpio), mode)

    def get_mode(self, gpio: int) -> int:
        line = self._line(gpio)
        if line.request is not None:
            return line.mode
        try:
            info = self._chip.get_line_info(gpio)
        except OSError as exc:
            raise _os_error(line, exc) from None
        return OUTPUT if info.direction == Direction.OUTPUT else INPUT

    def set_pull(self, gpio: int, pud: int) -> None:
        line = self._use(gpio)
        line.pull = pud
        self._configure(line, line.mode)

    def read(self, gpio: int) -> int:
        line = self._use(gpio)
        if self._waves.running(gpio):
            return line.level
        return self._get(line)

    def write(self, gpio: int, level: int) -> None:
        line = self._use(gpio)
        self._stop_waveform(gpio)
        line.latch = level
        if line.mode != OUTPUT:
            self._configure(line, OUTPUT)
            return
        self._put(line, level)
        self._changed(line, level, self.tick())

    def read_bank(self, bank: int) -> int:
        """Levels of the bank's lines the server holds (a client used them); the
        others read 0: requesting a line takes its pin from whatever peripheral
        (I2C, UART, ...) has it, which a bank read must not do behind one's back."""
        bits = 0
        for gpio in self._bank(bank):
            line = self._lines[gpio]
            if line.request is not None:
                level = line.level if self._waves.running(gpio) else self._get(line)
                bits |= level << (gpio % 32)
        return bits

    def set_bank(self, bank: int, bits: int) -> None:
        self._latch_bank(bank, bits, 1)

    def clear_bank(self, bank: int, bits: int) -> None:
        self._latch_bank(bank, bits, 0)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for request in {id(line.request): line.request for line in self._lines
                        if line.request is not None}.values():
            self._watch(request)

    def add_listener(self, on_change, on_burst) -> None:
        self._listeners.append(on_change)

    def set_waveform(self, gpio: int, period_us: float | None, high_us: float = 0) -> None:
        """Toggle output ``gpio`` in software (see :class:`SoftwareWaveforms`)."""
        if period_us is None:
            self._stop_waveform(gpio)
            return
        if 0 < high_us < period_us and period_us < MIN_WAVEFORM_PERIOD_US:
            raise PigpioError(PI_BAD_PARAM, f"GPIO {gpio}: the gpiod backend's software "
                              f"PWM goes up to {1e6 / MIN_WAVEFORM_PERIOD_US:.0f} Hz")
        line = self._use(gpio)
        if high_us <= 0 or high_us >= period_us:  # always low or always high
            self._stop_waveform(gpio)
            if line.mode != OUTPUT:
                self._configure(line, OUTPUT)
            self._set_output(line, 1 if high_us > 0 else 0)
            return
        self._hold(line, WAVEFORM)
        if line.mode != OUTPUT:
            self._configure(line, OUTPUT)
        self._waves.start(gpio, float(period_us), float(high_us))

    def wave_lines(self, gpios: int) -> None:
        """A wave about to be sent changes ``gpios`` (a bit mask of GPIO 0-31): the
        held output lines among them are requested together, so that a pulse sets
        them in one ioctl (:meth:`_request_together`)."""
        lines = [line for line in self._lines[:32]
                 if gpios >> line.offset & 1 and line.request is not None
                 and line.mode == OUTPUT]
        requests = {id(line.request): line.request for line in lines}
        if len(requests) < 2:
            return
        together = [line for line in self._lines
                    if line.request is not None and id(line.request) in requests]
        self._request_together(together)

    def edges_due(self, gpio: int) -> None:
        """Read the edge events the kernel holds for input ``gpio`` now, rather than
        when the loop gets to its file: a server that is behind (a fast UART on a
        busy machine) would otherwise settle a bit-bang serial character at the
        current tick with its last edges still in the kernel's buffer."""
        line = self._lines[gpio] if gpio < self.num_lines else None
        if line is None or line.request is None or line.mode != INPUT:
            return
        # poll(2), not the bindings' wait_edge_events: that is select(2), which
        # fails on descriptors past 1023 (a server with many clients has them)
        waiting = select.poll()
        waiting.register(line.request.fd, select.POLLIN)
        if waiting.poll(0):
            self._events(line.request)

    def play_pulses(self, pulses) -> Playback:
        """Play wave pulses from now on the lines the server holds, from a thread of
        the server (see :mod:`gpiosvr.server.backends.gpiod_pulses`)."""
        return self._pulses.play(pulses)

    def hardware_clock(self, gpio: int, frequency: int) -> None:
        raise PigpioError(PI_NOT_PERMITTED, f"GPIO {gpio}: the gpiod backend has no "
                          f"hardware clock: the GPIO character device of {self.path} "
                          f"({self.label}) drives line levels only, a clock is the pin "
                          f"controller's GPCLK function")

    def set_debounce(self, gpio: int, steady_us: int) -> bool:
        """pigpio's glitch filter as the kernel's debounce of the line (the kernel
        reports a level once it has been steady for ``steady_us``, stamped then)."""
        line = self._line(gpio)
        line.debounce_us = steady_us
        if line.request is not None and line.mode == INPUT:
            self._configure(line, INPUT)
        return True

    def monitor(self, bits: int) -> None:
        changed, self._wanted = bits ^ self._wanted, bits
        for gpio in range(min(32, self.num_lines)):
            if changed >> gpio & 1:
                line = self._lines[gpio]
                if bits >> gpio & 1:
                    try:
                        self._hold(line, SUBSCRIBED)
                    except PigpioError as exc:
                        log.warning("no edges for GPIO %d: %s", gpio, exc)
                else:
                    self._let_go(line, SUBSCRIBED)

    def user_gone(self, user: object) -> None:
        if self.user is user:
            self.user = None
        key = id(user)
        self._let_go_all([line for line in self._lines if key in line.holders], key)

    def buses(self):
        """Linux's I2C, SPI and serial devices (:mod:`.linux_buses`)."""
        if self.bus_provider is None:
            from gpiosvr.server.backends.linux_buses import LinuxBuses

            self.bus_provider = LinuxBuses(self.name)
        return self.bus_provider

    def close(self) -> None:
        self._pulses.close()
        if self.bus_provider is not None:
            self.bus_provider.close()
        self._waves.close()
        requests = {id(line.request): line.request for line in self._lines
                    if line.request is not None}
        for line in self._lines:
            line.request = None
            line.holders.clear()
        for request in requests.values():
            if self._loop is not None:
                self._loop.remove_reader(request.fd)
            request.release()
        self._chip.close()

    # -- lines: requesting and releasing -------------------------------------------

    def _line(self, gpio: int) -> Line:
        if gpio >= self.num_lines:
            raise PigpioError(PI_BAD_GPIO, f"GPIO {gpio}: {self.path} ({self.label}) has "
                              f"lines 0-{self.num_lines - 1}")
        return self._lines[gpio]

    def _use(self, gpio: int) -> Line:
        """The line of ``gpio``, requested and held for the current user."""
        line = self._line(gpio)
        self._hold(line, id(self.user))
        return line

    def _hold(self, line: Line, holder: object) -> None:
        if line.request is None:
            self._request(line)
        line.holders.add(holder)

    def _let_go(self, line: Line, holder: object) -> None:
        self._let_go_all([line], holder)

    def _let_go_all(self, lines: list[Line], holder: object) -> None:
        """``holder`` no longer needs ``lines``: release those nobody holds now, all
        at once (lines that share a request are released together, and the rest of
        it requested again once)."""
        unused = []
        for line in lines:
            line.holders.discard(holder)
            if not line.holders and line.request is not None:
                unused.append(line)
        if unused:
            self._release_all(unused)

    def _request(self, line: Line) -> None:
        """Request the line from the kernel as it is now: an output stays an output
        with its level, anything else becomes an input with edge detection."""
        try:
            info = self._chip.get_line_info(line.offset)
        except OSError as exc:
            raise _os_error(line, exc) from None
        if info.used:
            raise PigpioError(PI_NOT_PERMITTED, f"GPIO {line.offset}: line {line.offset} "
                              f"of {self.path} is used by {info.consumer or 'the kernel'!r}")
        line.pull = None
        line.mode = OUTPUT if info.direction == Direction.OUTPUT else INPUT
        settings = self._settings(line, line.mode, keep_output=True)
        try:
            with self._lock:
                line.request = self._chip.request_lines(
                    {line.offset: settings}, consumer=self._consumer,
                    event_buffer_size=EVENT_BUFFER)
                line.level = 1 if line.request.get_value(line.offset) == Value.ACTIVE else 0
        except OSError as exc:
            raise _os_error(line, exc) from None
        line.latch = line.level
        line.seqno = 0
        self._watch(line.request)
        log.debug("requested line %d (%s)", line.offset, "output" if line.mode else "input")

    def _release(self, line: Line) -> None:
        self._release_all([line])

    def _release_all(self, lines: list[Line]) -> None:
        """Give ``lines`` back to the kernel. A line that shares its request with
        lines still held is released by requesting those again without it."""
        requests = {}
        for line in lines:
            self._waves.stop(line.offset)
            requests[id(line.request)] = line.request
            line.request = None
            line.holders.clear()
        for request in requests.values():
            others = self._members(request)
            if others:  # it was shared: the others are requested again without them
                self._request_together(others, request)
                continue
            if self._loop is not None:
                self._loop.remove_reader(request.fd)
            with self._lock:
                request.release()
        log.debug("released lines %s", ", ".join(str(line.offset) for line in lines))

    def _members(self, request) -> list[Line]:
        """The lines held through ``request`` (one, or those a wave grouped)."""
        return [line for line in self._lines if line.request is request]

    def _watch(self, request) -> None:
        """Read ``request``'s edge events on the loop while any of its lines is an
        input."""
        if self._loop is None:
            return
        if any(line.mode == INPUT for line in self._members(request)):
            self._loop.add_reader(request.fd, self._events, request)
        else:
            self._loop.remove_reader(request.fd)

    def _request_together(self, lines: list[Line], *old) -> None:
        """Request ``lines`` (held now, through their requests and any ``old`` ones)
        as one request, each as it is: outputs keep their levels, inputs their
        settings. The kernel cannot add lines to a request, so the old requests are
        released first and the lines requested again at once; a driver that
        resets a released line (gpio-sim does) shows its pull for those
        microseconds, and a program that takes a line meanwhile gets it (the
        line is then logged and released here)."""
        requests = {id(r): r for r in old}
        requests.update((id(line.request), line.request) for line in lines
                        if line.request is not None)
        with self._lock:  # no pulse or toggle is set meanwhile
            config = {}
            for line in lines:
                if line.mode == OUTPUT and line.request is not None:
                    line.latch = self._get(line)  # what it drives now (PWM toggles it)
                config[line.offset] = self._settings(line, line.mode)
            for request in requests.values():
                if self._loop is not None:
                    self._loop.remove_reader(request.fd)
                request.release()
            try:
                request = self._chip.request_lines(config, consumer=self._consumer,
                                                   event_buffer_size=EVENT_BUFFER)
            except OSError as exc:
                log.error("lines %s could not be requested again: %s; they are released",
                          ", ".join(str(line.offset) for line in lines), exc)
                for line in lines:
                    self._waves.stop(line.offset)
                    line.request = None
                    line.holders.clear()
                return
            for line in lines:
                line.request = request
                if line.mode == INPUT:
                    line.seqno = 0
        self._watch(request)
        log.debug("requested lines %s together",
                  ", ".join(str(line.offset) for line in lines))

    def _settings(self, line: Line, mode: int, keep_output: bool = False):
        bias = {None: Bias.AS_IS, PUD_OFF: Bias.DISABLED, PUD_DOWN: Bias.PULL_DOWN,
                PUD_UP: Bias.PULL_UP}[line.pull]
        if mode == OUTPUT:
            if keep_output:  # take an output over without a glitch
                return gpiod.LineSettings(direction=Direction.AS_IS)
            return gpiod.LineSettings(
                direction=Direction.OUTPUT, bias=bias,
                output_value=Value.ACTIVE if line.latch else Value.INACTIVE)
        return gpiod.LineSettings(direction=Direction.INPUT, bias=bias,
                                  edge_detection=Edge.BOTH,
                                  debounce_period=timedelta(microseconds=line.debounce_us))

    def _configure(self, line: Line, mode: int) -> None:
        """Give a held line its mode and pull; report the level change it causes.
        The other lines of its request keep theirs (outputs as they are, inputs
        with their edge detection)."""
        was = line.mode
        if mode == INPUT:
            self._waves.stop(line.offset)
        request = line.request
        config = {other.offset: (gpiod.LineSettings(direction=Direction.AS_IS)
                                 if other.mode == OUTPUT else self._settings(other, INPUT))
                  for other in self._members(request) if other is not line}
        config[line.offset] = self._settings(line, mode)
        try:
            with self._lock:
                request.reconfigure_lines(config)
                line.mode = mode
                level = 1 if request.get_value(line.offset) == Value.ACTIVE else 0
        except OSError as exc:
            raise _os_error(line, exc) from None
        if was != mode:
            self._watch(request)
        self._changed(line, level, self.tick())

    def _set_output(self, line: Line, level: int) -> None:
        line.latch = level
        self._put(line, level)
        self._changed(line, level, self.tick())

    def _get(self, line: Line) -> int:
        """The line's level from the kernel (a PigpioError if the chip fails)."""
        try:
            with self._lock:
                return 1 if line.request.get_value(line.offset) == Value.ACTIVE else 0
        except OSError as exc:
            raise _os_error(line, exc) from None

    def _put(self, line: Line, level: int) -> None:
        try:
            with self._lock:
                line.request.set_value(line.offset, Value.ACTIVE if level else Value.INACTIVE)
        except OSError as exc:
            raise _os_error(line, exc) from None

    def _stop_waveform(self, gpio: int) -> None:
        """Stop ``gpio``'s waveform; the line keeps the level it has then."""
        if not self._waves.stop(gpio):
            return
        line = self._lines[gpio]
        with self._lock:  # no toggle is under way once we have the lock
            self._waves.flush()
            level = self._get(line)
        self._changed(line, level, self.tick())
        line.latch = level
        self._let_go(line, WAVEFORM)

    def _fast_switching(self, wanted: bool) -> None:
        """A toggling thread starts (True) or ends (False): while any runs, Python
        switches threads every WAVEFORM_SWITCH_INTERVAL so it is not kept waiting."""
        with self._lock:
            self._switching += 1 if wanted else -1
            if self._switching == 1 and wanted:
                self._switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(WAVEFORM_SWITCH_INTERVAL)
            elif self._switching == 0:
                sys.setswitchinterval(self._switch_interval)

    def _bank(self, bank: int) -> range:
        first = 0 if bank == 1 else 32
        return range(first, min(first + 32, self.num_lines))

    def _latch_bank(self, bank: int, bits: int, level: int) -> None:
        for gpio in self._bank(bank):
            if bits >> (gpio % 32) & 1:
                line = self._use(gpio)
                self._stop_waveform(gpio)
                if line.mode == OUTPUT:
                    self._set_output(line, level)
                else:
                    line.latch = level

    # -- levels out ---------------------------------------------------------------------

    def _changed(self, line: Line, level: int, tick: int) -> None:
        if level != line.level:
            line.level = level
            for listener in self._listeners:
                listener(line.offset, level, tick)

    def _events(self, request) -> None:
        """The kernel has edge events for ``request``'s lines: report them in order."""
        try:
            events = request.read_edge_events()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EINTR):
                # the chip went away or broke: stop listening rather than spin
                log.error("no more edges from lines %s: %s", list(request.offsets), exc)
                self._loop.remove_reader(request.fd)
            return
        rising = gpiod.EdgeEvent.Type.RISING_EDGE
        for event in events:
            line = self._lines[event.line_offset]
            if line.request is not request:
                continue  # released or requested again meanwhile
            if line.seqno and event.line_seqno > line.seqno + 1:
                log.warning("line %d: the kernel dropped %d edges (its buffer was full)",
                            line.offset, event.line_seqno - line.seqno - 1)
            line.seqno = event.line_seqno
            self._changed(line, 1 if event.event_type == rising else 0,
                          (event.timestamp_ns // 1000) & 0xFFFFFFFF)

    def _waveform_edges(self, edges: list[tuple[int, int, int]]) -> None:
        """On the loop: the toggler's edges, in the order it made them."""
        for gpio, level, tick in edges:
            line = self._lines[gpio]
            if line.request is not None:
                self._changed(line, level, tick)


def _os_error(line: Line, exc: OSError) -> PigpioError:
    what = "busy: another program holds it" if exc.errno == errno.EBUSY else exc.strerror
    return PigpioError(PI_NOT_PERMITTED, f"GPIO {line.offset}: {what}")


def _tight_timer_slack() -> None:
    """Let this thread's sleeps end on time: Linux lets a normal thread's timers run
    up to 50 µs late (the timer slack) to save wake-ups; the toggler wants 1 µs."""
    if _libc is not None:
        _libc.prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)


class SoftwareWaveforms:
    """PWM and servo pulses toggled by one thread for all GPIOs.

    Each waveform's edges are due at exact times (``start + k * period`` and ``+
    high``); the thread sleeps until the next one is due, sets the line and notes the
    tick it really did so. Those real ticks are reported as the GPIO's edges, so a
    callback sees the pulses as they were made, lateness included.
    """

    def __init__(self, chip: GpiodChip) -> None:
        self._chip = chip
        # gpio: (start ns, period ns, high ns, generation)
        self._waves: dict[int, tuple[int, float, float, int]] = {}
        self._due: list[tuple[int, int, int, int]] = []  # (ns, gpio, level, generation)
        self._generation = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pending: deque[tuple[int, int, int]] = deque()
        self._flush_scheduled = False

    def running(self, gpio: int) -> bool:
        return gpio in self._waves

    def start(self, gpio: int, period_us: float, high_us: float) -> None:
        with self._cond:
            self._generation += 1
            start = time.monotonic_ns()
            replaced = gpio in self._waves
            self._waves[gpio] = (start, period_us * 1000, high_us * 1000, self._generation)
            heapq.heappush(self._due, (start, gpio, 1, self._generation))
            if len(self._waves) == 1 and not replaced:
                self._chip._fast_switching(True)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gpiod-waveforms",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self, gpio: int) -> bool:
        """Stop ``gpio``'s waveform; the line keeps its level. True if one ran."""
        with self._cond:
            if self._waves.pop(gpio, None) is None:
                return False
            if not self._waves:
                self._chip._fast_switching(False)
            self._cond.notify()
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            if self._waves:
                self._chip._fast_switching(False)
            self._waves.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        _tight_timer_slack()
        chip = self._chip
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    while self._due and self._stale(self._due[0]):
                        heapq.heappop(self._due)
                    if not self._due:
                        self._cond.wait()
                        continue
                    wait = (self._due[0][0] - time.monotonic_ns()) / 1e9
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                due, gpio, level, generation = heapq.heappop(self._due)
                start, period, high, _ = self._waves[gpio]
                next_due = due + (high if level else period - high)
                late = time.monotonic_ns() - next_due
                if late > period:  # whole periods missed (a stall): skip them, no burst
                    next_due += (late // period) * period
                heapq.heappush(self._due, (int(next_due), gpio, level ^ 1, generation))
            line = chip._lines[gpio]
            with chip._lock:
                request = line.request
                wave = self._waves.get(gpio)
                if request is None or wave is None or wave[3] != generation:
                    continue  # stopped meanwhile
                try:
                    request.set_value(gpio, Value.ACTIVE if level else Value.INACTIVE)
                except OSError as exc:
                    log.warning("waveform on GPIO %d: %s", gpio, exc)
                    continue
                self._report(gpio, level, (time.monotonic_ns() // 1000) & 0xFFFFFFFF)

    def _stale(self, entry: tuple[int, int, int, int]) -> bool:
        wave = self._waves.get(entry[1])
        return wave is None or wave[3] != entry[3]

    def _report(self, gpio: int, level: int, tick: int) -> None:
        self._pending.append((gpio, level, tick))
        loop = self._chip._loop
        if loop is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                loop.call_soon_threadsafe(self.flush)
            except RuntimeError:  # the loop is closed: the server is stopping
                pass

    def flush(self) -> None:
        """On the loop: hand on the edges made so far."""
        self._flush_scheduled = False
        edges = []
        while self._pending:
            edges.append(self._pending.popleft())
        self._chip._waveform_edges(edges)
