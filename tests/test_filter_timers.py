"""The glitch and noise filters and the watchdogs decide in ticks: a level is
reported only once no edge came within the filter's steady µs of it, a TIMEOUT only
once no edge came within the watchdog's time, on uvloop (the server's loop, whose
``call_later`` rounds to whole milliseconds and may fire early) as on asyncio; their
timers are timerfds, one per GPIO, closed with the filter or watchdog."""

from __future__ import annotations

import pytest
from conftest import wait_until

import gpiosvr.pigpio as pigpio

FILTERED, PLAIN = 4, 6
BITS = 1 << FILTERED | 1 << PLAIN
STEADY = 500
#: A 300 µs pulse (shorter than STEADY: a glitch), then one of 1000 µs (steady).
PULSES = [(BITS, 0, 300), (0, BITS, 1700), (BITS, 0, 1000), (0, BITS, 1000)]


@pytest.fixture(params=["uvloop", "asyncio"])
def facade(request, monkeypatch):
    """A ``pigpio.pi`` of a server on uvloop (a server process, as run by
    ``gpiosvr-server``) or on asyncio (a server thread)."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
        server = request.getfixturevalue("server_process")
    else:
        server = request.getfixturevalue("server")
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    pi = pigpio.pi()
    assert pi.connected
    yield pi
    pi.stop()


def play_and_watch(pi, set_filter) -> tuple[int, list[tuple[int, int]]]:
    """Play PULSES on FILTERED and PLAIN with ``set_filter(pi)`` on FILTERED: the
    first pulse's tick (from PLAIN) and FILTERED's reports as (level, tick - it)."""
    plain: list[int] = []
    filtered: list[tuple[int, int]] = []
    for gpio in (FILTERED, PLAIN):
        pi.write(gpio, 0)
    set_filter(pi)
    callbacks = [pi.callback(PLAIN, pigpio.EITHER_EDGE, lambda g, l, t: plain.append(t)),
                 pi.callback(FILTERED, pigpio.EITHER_EDGE,
                             lambda g, l, t: filtered.append((l, t)))]
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(*p) for p in PULSES])
    wave = pi.wave_create()
    pi.wave_send_once(wave)
    wait_until(lambda: len(plain) == 4)
    start = plain[0]
    last = (start + 3000 + STEADY) & 0xFFFFFFFF
    wait_until(lambda: filtered and filtered[-1][1] == last)
    for callback in callbacks:
        callback.cancel()
    return start, [(level, (tick - start) & 0xFFFFFFFF) for level, tick in filtered]


def test_a_glitch_shorter_than_the_filter_is_never_reported(facade):
    start, reports = play_and_watch(facade, lambda pi: pi.set_glitch_filter(FILTERED, STEADY))
    assert reports == [(1, 2000 + STEADY), (0, 3000 + STEADY)]


def test_the_noise_filter_opens_only_on_a_level_steady_in_ticks(facade):
    start, reports = play_and_watch(
        facade, lambda pi: pi.set_noise_filter(FILTERED, STEADY, 200))
    assert reports == [(1, 2000 + STEADY), (0, 3000 + STEADY)]


def test_no_watchdog_timeout_comes_between_edges_closer_than_its_time(facade):
    """A watchdog of 2 ms on a GPIO whose edges come 1,900 µs apart: its first
    TIMEOUT comes after the last edge (uvloop's call_at came up to 1 ms early)."""
    pi, reports = facade, []
    pi.write(FILTERED, 0)
    callback = pi.callback(FILTERED, pigpio.EITHER_EDGE,
                           lambda g, level, tick: reports.append((level, tick)))
    assert pi.set_watchdog(FILTERED, 2) == 0
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(1 << FILTERED, 0, 1900),
                         pigpio.pulse(0, 1 << FILTERED, 1900)] * 4)
    pi.wave_send_once(pi.wave_create())
    def after_the_wave() -> list[tuple[int, int]]:
        # (TIMEOUTs before the wave's first edge are right: making it took a while)
        levels = [level for level, _ in reports]
        return reports[levels.index(1):] if 1 in levels else []

    wait_until(lambda: [level for level, _ in after_the_wave()].count(pigpio.TIMEOUT) >= 2)
    assert pi.set_watchdog(FILTERED, 0) == 0
    callback.cancel()
    wave = after_the_wave()
    levels = [level for level, _ in wave]
    first = levels.index(pigpio.TIMEOUT)
    assert levels[:first] == [1, 0] * 4 and set(levels[first:]) == {pigpio.TIMEOUT}
    last_edge = wave[first - 1][1]
    assert (wave[first][1] - last_edge) & 0xFFFFFFFF >= 2000
    assert (wave[first + 1][1] - wave[first][1]) & 0xFFFFFFFF == 2000
