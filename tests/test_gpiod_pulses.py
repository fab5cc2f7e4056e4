"""The gpiod backend's wave thread (:mod:`gpiosvr.server.backends.gpiod_pulses`) on
stand-in line requests, so that it runs on any machine: which lines a pulse sets,
in which order, with which levels, stops and busy. The real thing, on the kernel's
gpio-sim, is tests/test_backend_gpiod.py (in QEMU)."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("gpiod")

from conftest import wait_until  # noqa: E402
from gpiosvr.server.backends.gpiod import INPUT, OUTPUT, Line  # noqa: E402
from gpiosvr.server.backends.gpiod_pulses import PulseThread  # noqa: E402


class _Request:
    """A line request that notes every value set, (offset, 0 or 1), and every call
    that set some (one ioctl each on a real request)."""

    def __init__(self, log: list, calls: list) -> None:
        self.log, self.calls = log, calls

    def set_value(self, offset, value) -> None:
        self.set_values({offset: value})

    def set_values(self, values) -> None:
        self.calls.append({offset: 1 if v.value else 0 for offset, v in values.items()})
        self.log.extend((offset, 1 if v.value else 0) for offset, v in values.items())


class _Waves:
    def __init__(self) -> None:
        self.toggled: set[int] = set()

    def running(self, gpio: int) -> bool:
        return gpio in self.toggled


class _Chip:
    """What the wave thread uses of a GpiodChip: its lines, its lock, no loop."""

    def __init__(self, held: dict[int, int], together: tuple[int, ...] = ()) -> None:
        self.num_lines = 28
        self.log: list[tuple[int, int]] = []
        self.calls: list[dict[int, int]] = []
        self._lines = [Line(i) for i in range(self.num_lines)]
        shared = _Request(self.log, self.calls)  # the request of the lines `together`
        for offset, mode in held.items():
            self._lines[offset].request = (shared if offset in together
                                           else _Request(self.log, self.calls))
            self._lines[offset].mode = mode
        self._lock = threading.RLock()
        self._loop = None
        self._waves = _Waves()
        self.switching = 0

    def _fast_switching(self, wanted: bool) -> None:
        self.switching += 1 if wanted else -1


@pytest.fixture
def chip():
    chip = _Chip({4: OUTPUT, 5: OUTPUT, 6: INPUT, 7: OUTPUT})
    yield chip
    wait_until(lambda: chip.switching == 0, timeout=5)


def test_pulses_set_the_held_outputs_in_order(chip):
    thread = PulseThread(chip)
    b4, b5, b6, b9 = 1 << 4, 1 << 5, 1 << 6, 1 << 9
    pulses = [(b4 | b6 | b9, 0, 200), (b5, b4, 200), (b4, b5, 200), (0, b4 | b6, 0)]
    playback = thread.play(iter(pulses))
    assert playback.busy()
    wait_until(lambda: not playback.busy(), timeout=5)
    # GPIO 9 is held by nobody and 6 is an input: only 4 and 5 are set, each
    # pulse's lines in line order, back to back
    assert chip.log == [(4, 1), (4, 0), (5, 1), (4, 1), (5, 0), (4, 0)]
    assert chip._lines[6].latch == 0  # the input's latch followed, for later
    items = list(thread._pending)
    assert [(g, level) for g, level, _, _ in items[:-1]] == chip.log
    assert items[-1][0] is None  # the end is reported last
    ticks = [t for _, _, t, _ in items[:-1]]
    assert all((b - a) & 0xFFFFFFFF < 1 << 31 for a, b in zip(ticks, ticks[1:]))
    assert playback.touched == set()  # filled on the loop, by flush


def test_a_pulse_sets_the_lines_of_one_request_in_one_call():
    """pigpio switches all GPIOs of a pulse at one instant: lines a wave holds in one
    request (GpiodChip.wave_lines) are set in one ioctl per pulse, and reported at
    one tick."""
    chip = _Chip({4: OUTPUT, 5: OUTPUT, 6: INPUT, 7: OUTPUT, 8: OUTPUT},
                 together=(4, 5, 6, 7))
    thread = PulseThread(chip)
    b4, b5, b6, b7, b8 = (1 << g for g in (4, 5, 6, 7, 8))
    pulses = [(b4 | b5 | b7, 0, 100), (b5 | b6, b4 | b7, 100), (b8, b5, 100),
              (0, b4 | b5 | b6 | b7 | b8, 0)]
    playback = thread.play(iter(pulses))
    wait_until(lambda: not playback.busy(), timeout=5)
    wait_until(lambda: chip.switching == 0, timeout=5)
    # the input (6) only latches; 8 has a request of its own: a call of its own
    assert chip.calls == [{4: 1, 5: 1, 7: 1}, {4: 0, 7: 0}, {5: 0}, {8: 1}, {8: 0}]
    edges = list(thread._pending)[:-1]
    assert [(g, level) for g, level, _, _ in edges] == [
        (4, 1), (5, 1), (7, 1), (4, 0), (7, 0), (5, 0), (8, 1), (8, 0)]
    ticks = [t for _, _, t, _ in edges]
    assert ticks[0] == ticks[1] == ticks[2] and ticks[3] == ticks[4]  # one instant each


def test_a_pulse_sets_a_line_only_when_its_level_changes(chip):
    thread = PulseThread(chip)
    b4 = 1 << 4
    playback = thread.play(iter([(b4, 0, 10), (b4, 0, 10), (0, b4, 10), (0, b4, 0)]))
    wait_until(lambda: not playback.busy(), timeout=5)
    assert chip.log == [(4, 1), (4, 0)]


def test_stop_ends_an_endless_transmission_at_once(chip):
    thread = PulseThread(chip)
    b7 = 1 << 7

    def forever():
        while True:
            yield (b7, 0, 300)
            yield (0, b7, 300)

    playback = thread.play(forever())
    wait_until(lambda: len(chip.log) >= 6, timeout=5)
    playback.stop()
    assert not playback.busy()
    count = len(chip.log)
    time.sleep(0.01)
    assert len(chip.log) == count  # nothing after stop returned
    assert chip.log == [(7, (i + 1) % 2) for i in range(count)]


def test_a_trigger_plays_beside_a_transmission_and_waveforms_are_left_alone(chip):
    thread = PulseThread(chip)
    b4, b5 = 1 << 4, 1 << 5
    chip._waves.toggled.add(5)  # PWM runs on GPIO 5
    slow = thread.play(iter([(b4 | b5, 0, 20_000), (0, b4 | b5, 0)]))
    trigger = thread.play(iter([(1 << 7, 0, 10), (0, 1 << 7, 0)]))
    wait_until(lambda: not trigger.busy(), timeout=5)
    assert slow.busy()
    wait_until(lambda: not slow.busy(), timeout=5)
    assert chip.log == [(4, 1), (7, 1), (7, 0), (4, 0)]


def test_a_broken_transmission_ends_and_the_thread_goes_on(chip):
    thread = PulseThread(chip)

    def broken():
        yield (1 << 4, 0, 10)
        raise ValueError("broken on purpose")

    playback = thread.play(broken())
    wait_until(lambda: not playback.busy(), timeout=5)
    again = thread.play(iter([(0, 1 << 4, 0)]))
    wait_until(lambda: not again.busy(), timeout=5)
    assert chip.log == [(4, 1), (4, 0)]


def test_the_wave_playing_is_known_before_the_first_pulse_is_pulled():
    """A backend thread pulls pulses when it gets to them; wave_tx_at right after a
    send must name the wave already (it answered 9998 on gpiod in the QEMU guest)."""
    from gpiosvr.server.waves import Transmission

    class Wave:
        pulses = [(1, 0, 10), (0, 1, 10)]

    wave = ("wave", 3, Wave())
    assert Transmission(None, [wave], None).current == 3
    assert Transmission(None, [("loop", [], 5, 0), ("loop", [wave], 2, 20)], None).current == 3
    assert Transmission(None, [("delay", 100), wave], None).current is None
    assert Transmission(None, [("loop", [wave], 0, 20), ("delay", 5)], None).current is None
