"""pigpio scripts run inside the server: language, timing, errors, lifetime."""

from __future__ import annotations

import asyncio

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.client_pigs import PigpioCallbackClient

from conftest import wait_until

TOGGLE = """
ld v0 p0
tag 1
  w 21 1
  mils 5
  w 21 0
  mils 5
  dcr v0
  jnz 1
ld p1 99
"""


@pytest.fixture
def pi(server):
    p = pigpio.pi(server.socket_path)
    yield p
    p.stop()


def wait_status(pi, sid, status, timeout=10.0):
    wait_until(lambda: pi.script_status(sid)[0] == status, timeout=timeout)
    return pi.script_status(sid)


def test_a_toggling_script_makes_exactly_its_edges_with_its_timing(pi):
    ticks = []
    pi.callback(21, pigpio.EITHER_EDGE, lambda g, level, tick: ticks.append((level, tick)))
    sid = pi.store_script(TOGGLE)
    assert pi.script_status(sid) == (pigpio.PI_SCRIPT_HALTED, (0,) * 10)
    assert pi.run_script(sid, [100]) == 0
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_RUNNING
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert params[:2] == (100, 99)
    wait_until(lambda: len(ticks) >= 200)
    assert len(ticks) == 200 and [lvl for lvl, _ in ticks] == [1, 0] * 100
    gaps = [(b - a) % 2**32 for (_, a), (_, b) in zip(ticks, ticks[1:])]
    assert 4_500 <= sorted(gaps)[len(gaps) // 2] <= 8_000  # about 5 ms apart


def test_arithmetic_logic_calls_and_params(pi):
    sid = pi.store_script("""
        lda p0 add 5 mlt 3 sta p1
        lda 7 and 3 or 8 xor 1 sta p2
        lda 1 rla 4 sta p3
        lda 17 mod 5 sta p4
        lda 17 div 5 sta p5
        call 10 sta p6
        lda 3 cmp 5 jm 20 ld p7 1 jmp 21
        tag 20 ld p7 -1
        tag 21 halt
        tag 10 lda 42 ret
    """)
    pi.run_script(sid, [2])
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    # (2+5)*3, 7&3|8^1, 1 rotated left 4, 17 mod 5, 17 div 5, called, 3 < 5
    assert params[:8] == (2, 21, 10, 16, 2, 3, 42, -1)


def test_update_stop_and_delete(pi):
    sid = pi.store_script("tag 1 mils 10 lda p0 sta p1 jmp 1")
    pi.run_script(sid, [1])
    wait_until(lambda: pi.script_status(sid)[1][1] == 1)
    assert pi.update_script(sid, [7]) == 0
    wait_until(lambda: pi.script_status(sid)[1][1] == 7)
    assert pi.stop_script(sid) == 0
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED
    assert pi.delete_script(sid) == 0
    assert pi.script_status(sid) == (pigpio.PI_BAD_SCRIPT_ID, ())
    with pytest.raises(pigpio.error) as info:
        pi.run_script(sid)
    assert info.value.code == pigpio.PI_BAD_SCRIPT_ID


@pytest.mark.parametrize("text,code,where", [
    ("w 4 1\nfoo 3", real_pigpio.PI_BAD_SCRIPT_CMD, "line 2"),
    ("jmp 9", -63, "line 1"),
    ("tag 1 tag 1", -53, "line 1"),
    ("\n\nld v150 1", -56, "line 3"),
    ("ld p10 1", -52, "line 1"),
    ("lda", real_pigpio.PI_BAD_SCRIPT, "line 1"),
])
def test_scripts_that_do_not_parse_are_refused_naming_the_line(pi, text, code, where):
    with pytest.raises(pigpio.error) as info:
        pi.store_script(text)
    assert info.value.code == code
    assert where in str(info.value.__cause__)


def test_a_script_failing_at_run_time_shows_failed(pi):
    sid = pi.store_script("w 99 1")
    pi.run_script(sid)
    assert wait_status(pi, sid, pigpio.PI_SCRIPT_FAILED)[0] == pigpio.PI_SCRIPT_FAILED
    with pytest.raises(pigpio.error) as info:
        pi.run_script(sid, list(range(11)))
    assert info.value.code == -61


def test_wait_shows_waiting_until_an_edge(pi):
    sid = pi.store_script(f"wait {1 << 24} sta p0")
    pi.run_script(sid)
    wait_status(pi, sid, pigpio.PI_SCRIPT_WAITING)
    pi.sl.s.command("simdrive", 24, 1)
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert params[0] == 1 << 24


def test_scripts_outlive_their_client_and_others_can_read_them(server):
    first = pigpio.pi(server.socket_path)
    sid = first.store_script("tag 1 mils 20 inr p0 jmp 1")
    first.run_script(sid)
    first.stop()
    other = pigpio.pi(server.socket_path)
    try:
        status, params = other.script_status(sid)
        assert status == pigpio.PI_SCRIPT_RUNNING
        wait_until(lambda: other.script_status(sid)[1][0] > params[0] + 2)
        other.stop_script(sid)
    finally:
        other.stop()


def test_async_script_api(server):
    async def main():
        c = PigpioCallbackClient(None, server.socket_path, isKeepAlive=True)
        sid = await c.store_script("lda p0 add p1 sta p2")
        await c.run_script(sid, [20, 22])
        for _ in range(200):
            status, params = await c.script_status(sid)
            if status == 1:
                break
            await asyncio.sleep(0.01)
        await c.close()
        return status, params

    assert asyncio.run(main()) == (1, [20, 22, 42, 0, 0, 0, 0, 0, 0, 0])
