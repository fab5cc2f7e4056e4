"""Edge callbacks through the facade: order, threads, tally, errors, wait_for_edge."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.client_pigs import PigpioCallbackClient
from gpiosvr.errors import ResponseTimeout
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from conftest import wait_until


def drive(pi, *args):
    return pi.sl.s.command(*args)


def test_callbacks_get_every_edge_in_order_on_the_dispatcher_thread(pi):
    got, threads = [], set()

    def func(gpio, level, tick):
        got.append((gpio, level, tick))
        threads.add(threading.current_thread().name)

    cb = pi.callback(20, pigpio.EITHER_EDGE, func)
    assert cb.gpio == 20 and cb.edge == pigpio.EITHER_EDGE
    drive(pi, "siminject", 20, 1000, 7, 100)
    wait_until(lambda: len(got) >= 1000)
    assert got == [(20, (i + 1) % 2, 100 + 7 * i) for i in range(1000)]
    assert threads == {"gpiosvr-callbacks"}
    assert pi.sl.s.lost_reports == 0


def test_edge_selection_and_tally(pi):
    rising = pi.callback(21)
    falling = pi.callback(21, pigpio.FALLING_EDGE)
    either = pi.callback(21, pigpio.EITHER_EDGE)
    drive(pi, "siminject", 21, 10, 1)
    wait_until(lambda: either.tally() == 10)
    wait_until(lambda: rising.tally() == 5 and falling.tally() == 5)
    rising.reset_tally()
    assert rising.tally() == 0
    rising.cancel()
    drive(pi, "siminject", 21, 4, 1)
    wait_until(lambda: either.tally() == 14)
    assert rising.tally() == 0


def test_a_callback_may_call_pi_and_one_that_raises_is_logged(pi, caplog):
    levels = []

    def reads_back(gpio, level, tick):
        levels.append(pi.read(gpio))

    def broken(gpio, level, tick):
        raise RuntimeError("callback bug")

    pi.callback(22, pigpio.EITHER_EDGE, broken)
    pi.callback(22, pigpio.EITHER_EDGE, reads_back)
    with caplog.at_level(logging.ERROR):
        drive(pi, "simdrive", 22, 1)
        wait_until(lambda: levels)
    assert levels == [1]
    assert "callback bug" in caplog.text


def test_a_slow_callback_delays_neither_requests_nor_the_loop(pi):
    entered, release, left = threading.Event(), threading.Event(), threading.Event()

    def slow(gpio, level, tick):
        entered.set()
        release.wait(60)
        left.set()

    pi.callback(23, pigpio.EITHER_EDGE, slow)
    drive(pi, "simdrive", 23, 1)
    wait_until(entered.is_set)
    for _ in range(50):
        assert pi.read(4) == 1
    assert pi.sl.s.call_async(lambda c: c.read(4)) == 1  # the loop still answers
    assert not left.is_set()  # all answered while the callback was still busy
    release.set()


def listening(server, gpio: int) -> bool:
    """Whether a notification handle on ``server`` listens to ``gpio`` now."""
    return server.call(lambda: any(sub.bits >> gpio & 1 and sub.active for sub in
                                   list(server.server.hub.subscriptions.values())))


def test_wait_for_edge(pi, server):
    got = []
    waiter = threading.Thread(target=lambda: got.append(
        pi.wait_for_edge(24, pigpio.RISING_EDGE, 60)))
    waiter.start()
    wait_until(lambda: listening(server, 24))  # the edge comes while it waits
    drive(pi, "simdrive", 24, 1)
    waiter.join(60)
    assert got == [True]
    wait_until(lambda: not listening(server, 24))  # and it stopped listening
    # a falling edge is not the rising one waited for: the wait ends by its timeout
    waiter = threading.Thread(target=lambda: got.append(
        pi.wait_for_edge(24, pigpio.RISING_EDGE, 0.5)))
    waiter.start()
    wait_until(lambda: listening(server, 24) or not waiter.is_alive())
    drive(pi, "simdrive", 24, 0)
    waiter.join(60)
    assert got == [True, False]


def test_watchdog_timeouts_reach_callbacks_as_level_2(pi):
    got = []
    pi.callback(25, pigpio.RISING_EDGE, lambda g, lvl, t: got.append(lvl))
    assert pi.set_watchdog(25, 20) == 0
    wait_until(lambda: len(got) >= 2)
    assert set(got) == {pigpio.TIMEOUT}
    assert pi.set_watchdog(25, 0) == 0


def test_glitch_and_noise_filters_through_the_facade(pi):
    got = []
    pi.callback(26, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append((lvl, t)))
    assert pi.set_glitch_filter(26, 500) == 0
    drive(pi, "siminject", 26, 2, 100, 1000)  # a 100 µs pulse: filtered
    drive(pi, "siminject", 26, 1, 1, 9000)
    wait_until(lambda: got)
    assert got == [(1, 9500)]
    assert pi.set_noise_filter(26, 1000, 5000) == 0
    with pytest.raises(pigpio.error):
        pi.set_noise_filter(26, 300001, 5)


def test_bad_callback_arguments(pi):
    with pytest.raises(pigpio.error) as info:
        pi.callback(40, pigpio.RISING_EDGE, print)
    assert info.value.code == pigpio.PI_BAD_USER_GPIO


def test_async_client_callbacks_run_on_its_loop(server):
    async def main():
        client = PigpioCallbackClient(None, server.socket_path, isKeepAlive=True)
        got = asyncio.Queue()
        await client.callback(19, 2, lambda g, lvl, t: got.put_nowait((g, lvl, t)))
        await client.command("siminject", 19, 3, 10, 50)
        records = [await asyncio.wait_for(got.get(), 5) for _ in range(3)]
        await client.close()
        return records

    assert asyncio.run(main()) == [(19, 1, 50), (19, 0, 60), (19, 1, 70)]


def test_callbacks_watchdogs_and_filters_come_back_after_a_server_restart(sock_path):
    first = ServerThread(sock_path, SimulatedChip()).start()
    p = pigpio.pi(sock_path)
    try:
        got = []
        p.callback(18, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append((lvl, t)))
        p.set_glitch_filter(18, 10)
        p.set_watchdog(18, 60000)
        first.stop()
        second = ServerThread(sock_path, SimulatedChip()).start()
        try:
            # (how soon: benchmarks/bench_restart.py)
            settings = second.server.edge_settings
            wait_until(lambda: second.call(lambda: settings.watchdog[18]) == 60000)
            assert second.call(lambda: settings.glitch[18]) == 10
            # subscribed again (the handle is opened, then its GPIOs asked for)
            wait_until(lambda: listening(second, 18))
            with Simulator(sock_path) as sim:
                sim.inject(18, 1, 1, 4242)
            wait_until(lambda: got == [(1, 4252)])
        finally:
            second.stop()
    finally:
        p.stop()


def test_a_callback_whose_registration_timed_out_never_fires(server_process):
    path = server_process.socket_path
    client = BlockingClient(path, response_timeout=0.3)
    try:
        first, late, second = [], [], []
        client.callback(21, pigpio.EITHER_EDGE, lambda g, lvl, t: first.append(t))
        server_process.signal(signal.SIGSTOP)
        try:
            with pytest.raises(ResponseTimeout):  # the server never answers the "nb"
                client.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: late.append(t))
        finally:
            server_process.signal(signal.SIGCONT)
        client.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: second.append(t))
        with Simulator(path) as sim:
            sim.inject(20, 3, 10, 500)
            sim.inject(21, 1, 1, 900)
        wait_until(lambda: second == [500, 510, 520] and first == [900])
        assert late == []  # reports come in order: it had its chance before 900
    finally:
        client.close()
