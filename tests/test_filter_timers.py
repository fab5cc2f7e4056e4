"""The glitch and noise filters decide in ticks: a level is reported only once no
edge came within the filter's steady µs of it, on uvloop (the server's loop, whose
``call_later`` rounds to whole milliseconds and may fire early) as on asyncio; their
timers are timerfds, one per filtered GPIO, closed with the filter."""

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
