"""pigpio's events on a real server: any client triggers, every subscriber is called
(``event_callback``, ``wait_for_event``), scripts trigger and wait (``EVT``,
``EVTWT``), bad events and handles answer pigpio's codes."""

from __future__ import annotations

import threading

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError

from conftest import wait_until


@pytest.fixture
def pis(server, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    made = [pigpio.pi() for _ in range(3)]
    assert all(p.connected for p in made)
    yield made
    for p in made:
        p.stop()


def test_every_subscriber_is_called_with_the_event_and_tick(pis):
    a, b, c = pis
    got_b, got_c = [], []
    cb_b = b.event_callback(5, lambda event, tick: got_b.append((event, tick)))
    cb_c = c.event_callback(5, lambda event, tick: got_c.append((event, tick)))
    other = c.event_callback(6)
    before = a.get_current_tick()
    assert a.event_trigger(5) == 0
    after = a.get_current_tick()
    wait_until(lambda: got_b and got_c)
    assert got_b == got_c
    event, tick = got_b[0]
    assert event == 5 and pigpio.tickDiff(before, tick) <= pigpio.tickDiff(before, after)
    assert other.tally() == 0
    cb_b.cancel()
    a.event_trigger(5)
    a.event_trigger(6)
    wait_until(lambda: len(got_c) == 2 and other.tally() == 1)
    assert len(got_b) == 1
    cb_c.cancel()
    other.cancel()


def test_tally_and_reset(pis):
    a, b, _ = pis
    cb = b.event_callback(0)
    for _ in range(3):
        a.event_trigger(0)
    wait_until(lambda: cb.tally() == 3)
    cb.reset_tally()
    assert cb.tally() == 0
    b.event_trigger(0)  # the subscriber may trigger it itself
    wait_until(lambda: cb.tally() == 1)
    cb.cancel()


def test_edges_and_events_share_the_callback_connection(pis, server):
    a, b, _ = pis
    edges, events = [], []
    b.callback(4, pigpio.EITHER_EDGE, lambda g, lvl, t: edges.append(lvl))
    b.event_callback(31, lambda e, t: events.append(e))
    a.set_mode(4, pigpio.OUTPUT)
    a.write(4, 1)
    a.event_trigger(31)
    wait_until(lambda: edges[-1:] == [1] and events == [31])


def test_wait_for_event(pis):
    a, b, _ = pis
    assert b.wait_for_event(9, 0.05) is False
    result = []
    waiter = threading.Thread(target=lambda: result.append(b.wait_for_event(9, 30)))
    waiter.start()
    wait_until(lambda: b.sl.s.call_async(lambda c: _has_event(c, 9)))
    a.event_trigger(9)
    waiter.join(10)
    assert result == [True]


async def _has_event(client, event):
    return (0x80 | event) in client.callbacks


def test_bad_events(pis):
    a, _, _ = pis
    for event in (-1, 32, 1000):
        with pytest.raises(pigpio.error, match="bad event id"):
            a.event_trigger(event)
        with pytest.raises(pigpio.error, match="bad event id"):
            a.event_callback(event)
    pigpio.exceptions = False
    try:
        assert a.event_trigger(32) == pigpio.PI_BAD_EVENT_ID
    finally:
        pigpio.exceptions = True


def test_evm_is_for_the_handles_own_connection(server):
    with BlockingClient(server.socket_path) as one, BlockingClient(server.socket_path) as two:
        handle = one.command("no")
        assert one.command("evm", handle, 0xFF) == 0
        with pytest.raises(PigpioError) as err:
            two.command("evm", handle, 1)
        assert err.value.code == pigpio.PI_BAD_HANDLE
        with pytest.raises(PigpioError) as err:
            one.command("evm", 999999, 1)
        assert err.value.code == pigpio.PI_BAD_HANDLE


def test_scripts_trigger_and_wait_for_events(pis):
    a, b, _ = pis
    seen = b.event_callback(7)
    sid = a.store_script("evt 7")
    wait_until(lambda: a.script_status(sid)[0] != pigpio.PI_SCRIPT_INITING)
    a.run_script(sid)
    wait_until(lambda: seen.tally() == 1)
    waiter = a.store_script("evtwt 0x200 sta p1")
    wait_until(lambda: a.script_status(waiter)[0] != pigpio.PI_SCRIPT_INITING)
    a.run_script(waiter)
    wait_until(lambda: a.script_status(waiter)[0] == pigpio.PI_SCRIPT_WAITING)
    b.event_trigger(8)  # not waited for
    b.event_trigger(9)
    wait_until(lambda: a.script_status(waiter)[0] == pigpio.PI_SCRIPT_HALTED)
    assert a.script_status(waiter)[1][1] == 1 << 9
    for sid_ in (sid, waiter):
        a.delete_script(sid_)
