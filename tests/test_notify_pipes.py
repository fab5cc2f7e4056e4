"""pigpio's notification pipes on a real server: notify_open makes a FIFO next to the
socket that any program reads pigpio's 12-byte reports from; begin, pause, close;
watchdogs and events in the flags; a reader that does not read loses reports
(counted) and never holds up the server; the handle closes with its process."""

from __future__ import annotations

import os
import stat

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.simulator import Simulator

from conftest import FifoReader, wait_until



@pytest.fixture
def sim(server):
    s = Simulator(server.socket_path)
    yield s
    s.close()


def test_reports_come_on_a_fifo_next_to_the_socket(server, pi, sim):
    h = pi.notify_open()
    assert h == 0
    path = pigpio.notify_path(pi, h)
    assert path == os.path.join(os.path.dirname(server.socket_path), "pigpio0")
    info = os.stat(path)
    assert stat.S_ISFIFO(info.st_mode) and info.st_mode & 0o777 == 0o600
    reader = FifoReader(path)
    try:
        assert pi.notify_begin(h, 1 << 17) == 0
        first = sim.inject(17, 3, 250)
        reports = reader.reports(3)
        assert [r[0] for r in reports] == [0, 1, 2]  # seq from 0
        assert [r[1] for r in reports] == [0, 0, 0]  # flags: a level change
        assert [r[2] for r in reports] == [first, first + 250, first + 500]  # exact ticks
        assert [r[3] >> 17 & 1 for r in reports] == [1, 0, 1]  # levels of GPIO 0-31
        assert pi.notify_pause(h) == 0
        sim.inject(17, 2, 100)
        assert pi.notify_begin(h, 1 << 17) == 0
        sim.inject(17, 1, 100)
        (seq, flags, tick, levels), = reader.reports(1)
        assert seq == 3  # the paused edges were not reported
        assert pi.notify_close(h) == 0
        assert not os.path.exists(path)
        with pytest.raises(pigpio.error, match="unknown handle"):
            pi.notify_begin(h, 1)
    finally:
        reader.close()


def test_watchdogs_and_events_in_the_flags(pi):
    h = pi.notify_open()
    reader = FifoReader(pigpio.notify_path(pi, h))
    try:
        pi.notify_begin(h, 1 << 5)
        pi.set_watchdog(5, 20)
        (_, flags, _, _), = reader.reports(1)
        assert flags == pigpio.NTFY_FLAGS_WDOG | 5
        pi.set_watchdog(5, 0)
        pi._cmd("pevm", h, 1 << 9)
        pi.event_trigger(9)

        def event_seen():
            for _, flags, _, _ in reader.reports(1):
                if flags == pigpio.NTFY_FLAGS_EVENT | 9:
                    return True
            return False
        wait_until(event_seen)
    finally:
        reader.close()
        pi.notify_close(h)


def test_a_reader_that_does_not_read_loses_reports_and_holds_nothing_up(pi, sim):
    h = pi.notify_open()
    reader = FifoReader(pigpio.notify_path(pi, h))  # open, never read: the pipe fills (64 KiB)
    try:
        pi.notify_begin(h, 1 << 20)
        sim.inject(20, 20_000, 10)
        wait_until(lambda: pi._cmd("pnlost", h) > 0)
        assert pi.get_current_tick() > 0  # the server answers
        lost = pi._cmd("pnlost", h)
        wait_until(lambda: pi._cmd("pnlost", h) + 65536 // 12 >= 20_000)
        assert lost <= 20_000
    finally:
        reader.close()
        pi.notify_close(h)


def test_the_handle_belongs_to_the_process_and_closes_with_it(server, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi()
    h = p.notify_open()
    path = pigpio.notify_path(p, h)
    table = server.server._pipes.handles
    stranger = type("S", (), {"pid": os.getpid() + 1, "uid": 0, "connection": None})()
    with pytest.raises(PigpioError) as err:
        table.get(stranger, h)
    assert err.value.code == pigpio.PI_BAD_HANDLE
    with BlockingClient(server.socket_path) as same_process:  # another connection of it
        assert same_process.command("pnb", h, 1) == 0
    p.stop()
    wait_until(lambda: not os.path.exists(path))


def test_handles_as_pigpio(pi):
    handles = [pi.notify_open() for _ in range(16)]
    assert handles == list(range(16))
    with pytest.raises(pigpio.error, match="no handle available"):
        pi.notify_open()  # 16 a uid
    pi.notify_close(3)
    assert pi.notify_open() == 3  # the lowest free, as pigpio
    for h in handles:
        pi.notify_close(h)
