"""The precise wake-up of the simulated chip's wave pulses: a timerfd armed at an
absolute CLOCK_MONOTONIC time, on the stdlib loop and uvloop, the call_later
fallback where no timerfd can be made, and the chip's use of them (armed for its
next pulse's tick, closed with the backend)."""

from __future__ import annotations

import asyncio
import errno
import os
import time

import pytest
from conftest import open_fds, wait_until

from gpiosvr.protocol import EDGE_RECORD
from gpiosvr.server.app import GpioServer
from gpiosvr.server.backends import precise_timer
from gpiosvr.server.backends.precise_timer import (LOOP_TIMER_MIN_WAIT, LoopTimer,
                                                   TimerfdTimer, make_timer)
from gpiosvr.server.backends.sim import OUTPUT, SimulatedChip
from gpiosvr.server.limits import SIM_WAVE_WAKE_GAP_US
from gpiosvr.server.thread import ServerThread

LOOPS = {"asyncio": asyncio.new_event_loop}
try:
    import uvloop
except ImportError:  # (not on every platform: the server then runs on asyncio)
    pass
else:
    LOOPS["uvloop"] = uvloop.new_event_loop


@pytest.fixture(params=sorted(LOOPS))
def loop(request):
    """A new event loop of each kind the server runs on (``--loop``)."""
    new = LOOPS[request.param]()
    yield new
    new.close()


def run_until(loop: asyncio.AbstractEventLoop, condition, timeout: float = 5.0) -> None:
    """Turn ``loop`` until ``condition()`` holds, failing after ``timeout`` s."""
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    loop.run_until_complete(asyncio.wait_for(wait(), timeout))


def no_timerfd() -> None:
    raise AttributeError("libc has no timerfd_create")


def test_a_timerfd_is_armed_for_the_absolute_time_asked(loop):
    timer = TimerfdTimer(loop, lambda: None)
    try:
        when = time.monotonic_ns() + 1_000 * 1_000_000_000
        timer.arm(when)
        before = time.monotonic_ns()
        left = timer.remaining_ns()
        after = time.monotonic_ns()
        assert timer.when_ns == when
        assert when - after <= left <= when - before  # the kernel's own reading
        timer.disarm()
        assert timer.when_ns is None and timer.remaining_ns() == 0
    finally:
        timer.close()


def test_the_callback_runs_on_the_loop_once_the_time_has_come(loop):
    calls: list[int] = []
    timer = TimerfdTimer(loop, lambda: calls.append(time.monotonic_ns()))
    try:
        when = time.monotonic_ns() + 2_000_000
        timer.arm(when)
        run_until(loop, lambda: calls)
        assert calls[0] >= when  # never early
        assert timer.when_ns is None and timer.remaining_ns() == 0
        past = time.monotonic_ns() - 5_000_000  # a time passed: at once
        timer.arm(past)
        run_until(loop, lambda: len(calls) == 2)
    finally:
        timer.close()


def test_rearming_replaces_the_time_and_a_disarmed_timer_calls_nobody(loop):
    calls: list[str] = []
    timer = TimerfdTimer(loop, lambda: calls.append("late"))
    try:
        timer.arm(time.monotonic_ns() - 1)  # expired: readable now
        timer.arm(time.monotonic_ns() + 1_000 * 1_000_000_000)  # and not any more
        timer._expired()  # as the loop would, had it seen it readable in between
        loop.run_until_complete(asyncio.sleep(0.01))
        assert calls == []
        timer.arm(time.monotonic_ns() - 1)
        timer.disarm()
        loop.run_until_complete(asyncio.sleep(0.01))
        assert calls == [] and timer.remaining_ns() == 0
    finally:
        timer.close()


def readable(fd: int) -> bool:
    import select
    return bool(select.select([fd], [], [], 0)[0])


def test_an_expiry_is_read_once_whatever_the_callback_does(loop):
    """The expiry is told by the clock and read after the callback, unless the
    callback re-armed (which resets the count): one wake-up per expiry, never a
    loop seeing a ready fd again."""
    calls: list[str] = []
    wakes: list[int] = []

    class CountingTimer(TimerfdTimer):
        def _expired(self) -> None:
            wakes.append(1)
            super()._expired()

    def callback() -> None:
        calls.append("due")
        if len(calls) == 2:
            timer.arm(time.monotonic_ns() - 1)  # a time passed again: at once
        elif len(calls) == 3:
            timer.arm(time.monotonic_ns() + 1_000 * 1_000_000_000)  # for later
        elif len(calls) == 4:
            raise RuntimeError("a callback that raises")

    timer = CountingTimer(loop, callback)
    loop.set_exception_handler(lambda loop, context: calls.append("raised"))
    try:
        timer.arm(time.monotonic_ns() - 1)
        run_until(loop, lambda: calls)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert calls == ["due"] and wakes == [1] and not readable(timer.fd)
        timer.arm(time.monotonic_ns() - 1)
        run_until(loop, lambda: len(calls) == 3)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert calls == ["due"] * 3 and len(wakes) == 3 and not readable(timer.fd)
        assert timer.when_ns is not None and timer.remaining_ns() > 0
        timer.arm(time.monotonic_ns() - 1)
        run_until(loop, lambda: len(calls) == 5)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert calls == ["due"] * 4 + ["raised"] and len(wakes) == 4
        assert not readable(timer.fd)
    finally:
        timer.close()


def test_closing_frees_the_fd_and_the_loop_forgets_it(loop):
    timer = TimerfdTimer(loop, lambda: None)
    fd = timer.fd
    timer.arm(time.monotonic_ns() + 1_000_000_000)
    timer.close()
    timer.close()  # idempotent
    assert timer.fd == -1 and timer.when_ns is None
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF
    timer.arm(time.monotonic_ns())  # a closed timer does nothing
    assert timer.when_ns is None


def test_a_timer_closed_after_its_loop_still_closes_its_fd():
    for new in LOOPS.values():
        loop = new()
        timer = TimerfdTimer(loop, lambda: None)
        fd = timer.fd
        loop.close()
        timer.close()
        with pytest.raises(OSError):
            os.fstat(fd)


def test_libc_errors_are_checked_and_named():
    api = precise_timer._LibcTimerfd()
    with pytest.raises(OSError) as info:
        api.set_absolute(-1, 1)
    assert info.value.errno == errno.EBADF
    assert str(info.value) == f"[Errno {errno.EBADF}] timerfd_settime failed: " \
                              f"{os.strerror(errno.EBADF)}"
    with pytest.raises(OSError, match="timerfd_gettime failed"):
        api.remaining_ns(-1)


@pytest.mark.skipif(not hasattr(os, "timerfd_create"), reason="os.timerfd_* is 3.13's")
def test_pythons_own_timerfd_functions_are_used_where_there():
    api = precise_timer._timerfd_api()
    assert isinstance(api, precise_timer._OsTimerfd)
    fd = api.create()
    try:
        when = time.monotonic_ns() + 1_000 * 1_000_000_000
        api.set_absolute(fd, when)
        before = time.monotonic_ns()
        left = api.remaining_ns(fd)
        after = time.monotonic_ns()
        assert when - after <= left <= when - before
    finally:
        os.close(fd)


def out_of_fds() -> None:
    raise OSError(errno.EMFILE, "timerfd_create failed: Too many open files")


@pytest.mark.parametrize("failure", [no_timerfd, out_of_fds])
def test_without_a_timerfd_the_fallback_is_the_loops_call_later(loop, monkeypatch, failure):
    monkeypatch.setattr(precise_timer, "_timerfd_api", failure)
    calls: list[int] = []
    timer = make_timer(loop, lambda: calls.append(time.monotonic_ns()))
    assert isinstance(timer, LoopTimer)
    when = time.monotonic_ns() + 1_000_000
    timer.arm(when)
    assert timer.when_ns == when
    run_until(loop, lambda: calls)
    assert timer.when_ns is None
    timer.arm(time.monotonic_ns() + 1_000_000)
    timer.disarm()
    assert timer.when_ns is None
    timer.close()
    timer.arm(time.monotonic_ns())  # a closed timer does nothing
    assert timer.when_ns is None
    loop.run_until_complete(asyncio.sleep(0.01))
    assert len(calls) == 1


class RecordingLoop:
    """Records the delays ``call_later`` is asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def call_later(self, delay: float, callback) -> "RecordingLoop":
        self.delays.append(delay)
        return self  # the handle: only cancelled

    def cancel(self) -> None:
        pass


def test_the_fallback_waits_the_time_left_but_never_less_than_its_floor():
    loop = RecordingLoop()
    timer = LoopTimer(loop, lambda: None)  # type: ignore[arg-type]
    before = time.monotonic_ns()
    timer.arm(before + 3_000_000)
    after = time.monotonic_ns()
    assert (before + 3_000_000 - after) / 1e9 <= loop.delays[0] <= 0.003
    timer.arm(before + 3_000_000)  # the same time: nothing asked again
    timer.arm(time.monotonic_ns() + 100_000)  # sooner than uvloop can wait
    timer.arm(time.monotonic_ns() - 1_000_000)  # a time passed
    assert loop.delays[1:] == [LOOP_TIMER_MIN_WAIT, LOOP_TIMER_MIN_WAIT]


def test_make_timer_makes_a_timerfd_on_linux(loop):
    timer = make_timer(loop, lambda: None)
    try:
        assert isinstance(timer, TimerfdTimer)
    finally:
        timer.close()


# -- the simulated chip wakes for its wave pulses on it ---------------------------------

BIT = 1 << 4
OFFSET = 123_456_789  # the chip's ticks are CLOCK_MONOTONIC µs plus this
MASK = 0xFFFFFFFF


def attached_chip(loop: asyncio.AbstractEventLoop) -> SimulatedChip:
    chip = SimulatedChip(tick_offset=OFFSET)
    chip.attach(loop)
    chip.set_mode(4, OUTPUT)
    return chip


def due_ns(tick: int) -> int:
    """The CLOCK_MONOTONIC ns at which the chip's (unwrapped) ``tick`` comes."""
    return (tick - OFFSET) * 1000


def test_the_chip_arms_its_timer_for_exactly_the_next_pulse(loop):
    chip = attached_chip(loop)
    try:
        first = chip.play_pulses(iter([(BIT, 0, 50_000_000), (0, BIT, 50_000_000)]))
        timer = chip._pulse_timer
        assert isinstance(timer, TimerfdTimer)
        assert timer.when_ns == due_ns(first.next_tick)
        before = time.monotonic_ns()
        left = timer.remaining_ns()
        after = time.monotonic_ns()
        assert timer.when_ns - after <= left <= timer.when_ns - before
        chip.read(4)  # plays what is due: nothing, and the timer keeps its time
        assert timer.when_ns == due_ns(first.next_tick)
        sooner = chip.play_pulses(iter([(0, 0, 20_000_000)]))  # a wave due earlier
        assert sooner.next_tick < first.next_tick
        assert timer.when_ns == due_ns(sooner.next_tick)
        sooner.stop()
        assert timer.when_ns == due_ns(first.next_tick)
        first.stop()  # no player left
        assert timer.when_ns is None and timer.remaining_ns() == 0
    finally:
        chip.close()


def edges_seen(chip: SimulatedChip) -> list[tuple[int, int, int]]:
    """(level, tick, the chip's tick when handed on) of GPIO 4's edges from now on."""
    seen: list[tuple[int, int, int]] = []

    def burst(gpio: int, packed: bytes) -> None:
        now = chip._now()
        seen.extend((level, tick, now) for _, level, tick in EDGE_RECORD.iter_unpack(packed))

    chip.burst_listeners.append(burst)
    return seen


def play_and_collect(loop, chip: SimulatedChip) -> tuple[int, list[tuple[int, int, int]]]:
    """A wave of six pulses 3 ms apart played on ``chip`` with ``loop`` turning:
    the first pulse's tick and the edges handed on."""
    seen = edges_seen(chip)
    player = chip.play_pulses(iter([(BIT, 0, 3000), (0, BIT, 3000)] * 3))
    start = seen[0][1]
    run_until(loop, lambda: player.done)  # (busy() would play what is due itself)
    return start, seen


def test_wave_edges_are_handed_on_by_the_timer_at_their_exact_ticks(loop):
    chip = attached_chip(loop)
    try:
        start, seen = play_and_collect(loop, chip)
        assert isinstance(chip._pulse_timer, TimerfdTimer)
        assert [(level, tick) for level, tick, _ in seen] == [
            (1 - k % 2, (start + 3000 * k) & MASK) for k in range(6)]
        assert all((now - tick) & MASK < 1 << 31 for _, tick, now in seen)  # none early
        assert chip._pulse_timer.when_ns is None  # the wave is over
    finally:
        chip.close()


def test_pulses_due_within_the_wake_gap_wait_for_it_and_keep_their_ticks(loop):
    chip = attached_chip(loop)
    try:
        seen = edges_seen(chip)
        before = time.monotonic_ns()
        player = chip.play_pulses(iter([(BIT, 0, 10), (0, BIT, 10)] * 50))
        after = time.monotonic_ns()
        gap = SIM_WAVE_WAKE_GAP_US * 1000
        assert before + gap <= chip._pulse_timer.when_ns <= after + gap  # not in 10 µs
        start = seen[0][1]
        run_until(loop, lambda: player.done)
        assert [tick for _, tick, _ in seen] == [(start + 10 * k) & MASK for k in range(100)]
    finally:
        chip.close()


def test_without_a_timerfd_the_chip_wakes_on_call_later_with_the_same_ticks(
        loop, monkeypatch):
    monkeypatch.setattr(precise_timer, "_timerfd_api", no_timerfd)
    chip = attached_chip(loop)
    try:
        start, seen = play_and_collect(loop, chip)
        assert isinstance(chip._pulse_timer, LoopTimer)
        assert [tick for _, tick, _ in seen] == [(start + 3000 * k) & MASK for k in range(6)]
    finally:
        chip.close()


def test_a_closed_chip_closes_its_timer_and_makes_no_other(loop):
    chip = attached_chip(loop)
    player = chip.play_pulses(iter([(BIT, 0, 50_000_000), (0, BIT, 1)]))
    fd = chip._pulse_timer.fd
    chip.close()
    assert chip._pulse_timer is None
    with pytest.raises(OSError):
        os.fstat(fd)
    chip.play_pulses(iter([(0, BIT, 50_000_000)]))
    assert chip._pulse_timer is None and player.busy()  # played only when read
    chip.attach(loop)  # served again
    chip.play_due()
    assert isinstance(chip._pulse_timer, TimerfdTimer)
    chip.close()


def serve_a_wave(make_loop, sock_path: str) -> None:
    """A server on a loop of ``make_loop``, closed while a wave plays."""
    loop = make_loop()
    try:
        server = GpioServer(sock_path, SimulatedChip())
        loop.run_until_complete(server.start())
        chip = server.backend
        chip.set_mode(4, OUTPUT)
        chip.play_pulses(iter([(BIT, 0, 1000), (0, BIT, 50_000_000)]))
        run_until(loop, lambda: chip._levels[4] == 0)  # its second pulse, from the timer
        loop.run_until_complete(server.close())
    finally:
        loop.close()


def test_no_fd_is_left_behind_by_twenty_servers_closed_while_a_wave_plays(sock_path):
    for make_loop in LOOPS.values():
        serve_a_wave(make_loop, sock_path)  # what a first server sets up once
        before = open_fds()
        for _ in range(20):
            serve_a_wave(make_loop, sock_path)
        assert open_fds() - before == set()


def test_no_fd_is_left_behind_by_twenty_server_threads(sock_path):
    def serve() -> None:
        with ServerThread(sock_path, SimulatedChip()) as server:
            chip = server.backend
            server.call(chip.set_mode, 4, OUTPUT)
            server.call(chip.play_pulses, iter([(BIT, 0, 1000), (0, BIT, 50_000_000)]))
            wait_until(lambda: server.call(lambda: chip._levels[4] == 0))

    serve()
    before = open_fds()
    for _ in range(20):
        serve()
    assert open_fds() - before == set()
