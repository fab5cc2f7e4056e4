"""The simulated sensors' timers: a GPIO-level sensor's output pin and the IR
receiver's quiet timer wake at the ticks they wait for (timerfds, on uvloop and
asyncio alike), never spin, and are closed with the chip; the filters' timers too."""

from __future__ import annotations

import asyncio
import os

import pytest

from gpiosvr.protocol import EDGE_RECORD
from gpiosvr.server.app import GpioServer
from gpiosvr.server.backends.precise_timer import TimerfdTimer
from gpiosvr.server.backends.sim import OUTPUT, SimulatedChip
from gpiosvr.server.sim.board import Board
from gpiosvr.server.sim.devices.ir_receiver import QUIET_US, IRReceiver

from conftest import open_fds
from test_precise_timer import LOOPS, loop, run_until  # noqa: F401 - fixture

MASK = 0xFFFFFFFF


def edges_of(chip: SimulatedChip, gpio: int) -> list[tuple[int, int]]:
    """(level, tick) of ``gpio``'s edges handed on from now on."""
    seen: list[tuple[int, int]] = []

    def burst(g: int, packed: bytes) -> None:
        if g == gpio:
            seen.extend((level, tick) for _, level, tick in EDGE_RECORD.iter_unpack(packed))

    chip.burst_listeners.append(burst)
    return seen


def board_with(loop, ir: IRReceiver) -> SimulatedChip:
    """A simulated chip served on ``loop`` with ``ir`` on its board."""
    chip = SimulatedChip()
    board = Board()
    board.sensors.append(ir)
    board.attach(chip)
    chip.attach(loop)
    return chip


def test_an_output_pin_plays_each_edge_at_its_tick_waking_once_per_edge(loop):
    ir = IRReceiver(17)
    chip = board_with(loop, ir)
    pin = ir._pin
    wakes = []
    play = pin._play
    pin._play = lambda: (wakes.append(chip._now()), play())  # what its timer calls
    seen = edges_of(chip, 17)
    code = [560, 440] * 10 + [560]  # 21 marks and spaces: 22 edges, the last a rise
    try:
        first = ir.send(code)
        run_until(loop, lambda: not pin.busy())
        ticks = [first]
        for length in code:
            ticks.append((ticks[-1] + length) & MASK)
        assert seen == [(k & 1, tick) for k, tick in enumerate(ticks)]
        # on uvloop call_later(wait < 1 ms) ran at once and was asked again: thousands
        assert len(wakes) <= len(ticks) + 1  # (+1: the turn after send)
        assert isinstance(pin._timer, TimerfdTimer) and pin._timer.when_ns is None
    finally:
        chip.close()
    assert pin._timer is None


def test_the_ir_receivers_quiet_timer_is_armed_once_a_mark_not_once_an_edge(
        loop, monkeypatch):
    ir = IRReceiver(17, led=18)
    chip = board_with(loop, ir)
    chip.set_mode(18, OUTPUT)
    arms: list[tuple[int, int]] = []  # (timer's fd, time armed)
    arm = TimerfdTimer.arm
    monkeypatch.setattr(TimerfdTimer, "arm",
                        lambda self, when: (arms.append((self.fd, when)), arm(self, when)))
    wakes = []
    quiet = ir._quiet
    ir._quiet = lambda: (wakes.append(1), quiet())  # what its timer calls
    led = 1 << 18
    cycles = [(led, 0, 13), (0, led, 13)] * 21  # 21 cycles of a 38 kHz carrier
    try:
        chip.play_pulses(iter(cycles + [(0, 0, 1)]))
        run_until(loop, lambda: ir.codes_sent == 1)
        assert ir.sent == [21 * 26]
        timer = ir._end_timer
        assert isinstance(timer, TimerfdTimer) and timer.when_ns is None  # all done
        mine = [when for fd, when in arms if fd == timer.fd]
        # the first of the mark's 42 edges armed it; each wake-up armed it again at
        # most once (its end, then the code's)
        assert mine[0] == chip.monotonic_ns(ir._pin.last_tick - 21 * 26 + QUIET_US)
        assert len(mine) <= 1 + len(wakes) <= 4
    finally:
        chip.close()
    assert ir._end_timer is None
    with pytest.raises(OSError):
        os.fstat(timer.fd)


def serve_sensors_and_filters(make_loop, sock_path: str) -> None:
    """A server with an IR receiver on GPIO 17 (its LED on 18), glitch and noise
    filters on GPIO 5 and 6 and a watchdog on 7, closed while a code plays and the
    filters and the watchdog wait."""
    loop = make_loop()
    try:
        ir = IRReceiver(17, led=18)
        chip = SimulatedChip()
        board = Board()
        board.sensors.append(ir)
        board.attach(chip)
        server = GpioServer(sock_path, chip)
        loop.run_until_complete(server.start())
        ir.send([50_000, 560])  # a mark long enough to be seen, and its space
        for gpio, setting in ((5, "glitch"), (6, "noise")):
            if setting == "glitch":
                server.edge_settings.glitch[gpio] = 100_000
                server.hub.glitch_changed(gpio)
            else:
                server.edge_settings.noise[gpio] = (100_000, 10)
                server.hub.noise_changed(gpio)
            chip.inject(gpio, 1, 1)  # a level pending: its timer armed
        server.edge_settings.watchdog[7] = 1000
        server.hub.watchdog_changed(7)
        run_until(loop, lambda: chip._levels[17] == 0)  # the code's first mark
        assert len(server.hub._filter_timers) == 2 and 7 in server.hub._watchdog_timers
        loop.run_until_complete(server.close())
        assert server.hub._filter_timers == server.hub._watchdog_timers == {}
        assert ir._pin._timer is None
    finally:
        loop.close()


def test_no_fd_is_left_behind_by_servers_closed_while_sensors_and_filters_wait(sock_path):
    for make_loop in LOOPS.values():
        serve_sensors_and_filters(make_loop, sock_path)
        before = open_fds()
        for _ in range(10):
            serve_sensors_and_filters(make_loop, sock_path)
        assert open_fds() - before == set()


def test_turning_a_filter_off_closes_its_timer(server):
    hub, settings, chip = server.server.hub, server.server.edge_settings, server.backend

    def set_glitch(steady: int) -> None:
        settings.glitch[5] = steady
        hub.glitch_changed(5)

    server.call(set_glitch, 100_000)
    server.call(chip.inject, 5, 1, 1)
    timer = server.call(lambda: hub._filter_timers[5])
    assert isinstance(timer, TimerfdTimer) and timer.when_ns is not None
    server.call(set_glitch, 0)
    assert server.call(lambda: 5 in hub._filter_timers) is False
    with pytest.raises(OSError):
        os.fstat(timer.fd)


def test_turning_a_watchdog_off_closes_its_timer(server):
    hub, settings = server.server.hub, server.server.edge_settings

    def set_watchdog(ms: int) -> None:
        settings.watchdog[5] = ms
        hub.watchdog_changed(5)

    server.call(set_watchdog, 1000)
    timer = server.call(lambda: hub._watchdog_timers[5])
    assert isinstance(timer, TimerfdTimer) and timer.when_ns is not None
    server.call(set_watchdog, 0)
    assert server.call(lambda: (5 in hub._watchdog_timers, 5 in hub._watchdogs)) == (
        False, False)
    with pytest.raises(OSError):
        os.fstat(timer.fd)
