"""pigpio scripts run inside the server: language, timing, errors, lifetime."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.client_pigs import PigpioCallbackClient

from conftest import OTHER_UID, ask_as, needs_root, open_fds, open_to_all, wait_until
from test_filter_timers import facade  # noqa: F401 - a fixture
from test_persist import pigs, stub  # noqa: F401 - a fixture

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


def test_a_mics_delay_is_never_shorter_than_asked(facade):
    """On uvloop too, whose call_later rounded 300 µs to 0 ms: ~200 µs pulses."""
    pi, ticks = facade, []
    pi.write(21, 0)
    callback = pi.callback(21, pigpio.EITHER_EDGE, lambda g, level, tick: ticks.append(tick))
    sid = pi.store_script("ld v0 20 tag 1 w 21 1 mics 300 w 21 0 mics 300 dcr v0 jnz 1")
    wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert pi.run_script(sid) == 0
    wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    wait_until(lambda: len(ticks) == 40)
    callback.cancel()
    assert min((b - a) % 2**32 for a, b in zip(ticks, ticks[1:])) >= 300
    assert pi.delete_script(sid) == 0


def test_a_scripts_delay_timer_is_closed_when_it_is_deleted(pi, server):
    sid = pi.store_script("mics 100 mils 1")
    wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    before = open_fds()
    assert pi.run_script(sid) == 0
    wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    kept = open_fds() - before
    assert [link for _, link in kept] == ["anon_inode:[timerfd]"]  # kept for the next run
    assert pi.run_script(sid) == 0
    wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert open_fds() - before == kept
    assert pi.delete_script(sid) == 0
    assert open_fds() - before == set()


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


TAGS_50 = " ".join(f"tag {n}" for n in range(50))
PARSE_CODES = [
    # pigpio 1.78's cmdParseScript: PI_BAD_SCRIPT_CMD for an unknown word ...
    ("w 4 1\nfoo 3", -55, "line 2", "unknown script command 'foo'"),
    # a word taken before is refused where it does not fit, at that line
    ("ld v1 5\nw 4 1\njmp v1", -55, "line 3", "jmp needs a number, not the register 'v1'"),
    ("lda 5\nlda 5\nm 4 5\nm 4 9", -55, "line 4", "m needs a mode letter"),
    ("12abc", -55, "line 1", "unknown"),
    # ... a missing, extra or bad parameter (cmdParse's "bad parameter")
    ("lda", -55, "line 1", "lda needs 1 parameter"),
    ("w 4\n", -55, "line 1", "w needs 2 parameter"),
    ("ld v1", -55, "line 1", "ld needs 2"),
    ("\nlda 5 6", -55, "line 2", "unknown script command '6'"),
    ("w 4 1\nlda W sta p0", -55, "line 2", "lda needs a number or a register"),
    ("lda 09", -55, "line 1", "not '09'"),  # C's %i: 0 starts an octal number
    ("m 4 x", -55, "line 1", "m needs a mode letter (RW540123)"),
    ("pud 4 v1", -55, "line 1", "pud needs a pull letter (ODU)"),
    ("w -1 1", -55, "line 1", "w takes 0 or more there, not -1"),
    ("mils -1", -55, "line 1", "mils takes 0 or more"),
    ("w 0x80000000 1", -55, "line 1", "w takes 0 or more"),  # an int, as pigpio
    ("jmp v1 tag 1", -55, "line 1", "jmp needs a number, not the register 'v1'"),
    ("tag p0", -55, "line 1", "tag needs a number"),
    ("fs 0 1 v1", -55, "line 1", "fs needs a number, not the register"),
    ("inr 150", -55, "line 1", "inr needs a register"),
    ("inr -1", -55, "line 1", "inr needs a register"),
    ("sta W", -55, "line 1", "sta needs a register"),
    # ... a variable or parameter id out of range: PI_BAD_SCRIPT_CMD, never -56 / -52
    ("\n\nld v150 1", -55, "line 3", "'v150': script variable id not 0-149"),
    ("ld p10 1", -55, "line 1", "'p10': script parameter id not 0-9"),
    ("lda p-1", -55, "line 1", "script parameter id not 0-9"),
    ("sta V5", -55, "line 1", "registers are lower case"),  # sscanf(" v%ji")
    # ... a command pigpio's cmdInfo marks as not for scripts
    ("i2crd 0 4", -55, "line 1", "'i2crd' may not be used in a script"),
    ("proc w 4 1", -55, "line 1", "'proc' may not be used in a script"),
    ("wvag 1 2 3", -55, "line 1", "may not be used in a script"),
    ("shell x y", -55, "line 1", "may not be used in a script"),
    ("help", -55, "line 1", "may not be used in a script"),
    ("hello 1", -55, "line 1", "may not be used in a script"),  # gpiosvr's own
    ("pno", -55, "line 1", "may not be used in a script"),  # pigpio's name is NO
    # the tags: a duplicate, the 51st, one no TAG names
    ("tag 1\ntag 1", -53, "line 2", "duplicate tag 1"),
    (TAGS_50 + "\ntag 50", -54, "line 2", "too many tags: more than 50"),
    (TAGS_50 + "\ntag 0", -54, "line 2", "too many tags"),  # counted before dups
    ("jmp 9", -63, "line 1", "unresolved tag 9"),
    # the first mistake in the text wins; an unresolved tag only shows without one
    ("jmp 2\nfoo", -55, "line 2", "unknown"),
    ("tag 1 tag 1\nfoo", -53, "line 1", "duplicate"),
    ("foo\ntag 1 tag 1", -55, "line 1", "unknown"),
]


@pytest.mark.parametrize("text,code,where,says", PARSE_CODES)
def test_store_answers_pigpios_code_for_each_kind_of_mistake(pi, text, code, where, says):
    """The codes are pigpio 1.78's (command.c's cmdParseScript, compiled and run on
    each of these texts); the messages are ours and name the line."""
    with pytest.raises(pigpio.error) as info:
        pi.store_script(text)
    assert info.value.code == code
    assert info.value.value == real_pigpio.error_text(code)
    message = str(info.value.__cause__)
    assert where in message and says in message, message
    assert pi.store_script("halt") == 0  # nothing was stored


def test_gpiosvr_refuses_what_pigpio_would_take_and_mangle(pi):
    # pigpio takes a literal past 32 bits and truncates it (0x100000000 is 0) and
    # reads a script of 64 KiB or more from nobody (pigpiod drops the connection)
    with pytest.raises(pigpio.error) as info:
        pi.store_script("lda 1\nlda 0x100000000")
    assert info.value.code == pigpio.PI_BAD_SCRIPT_CMD
    assert "does not fit in 32 bits" in str(info.value.__cause__)
    assert "line 2" in str(info.value.__cause__)
    longest = "halt" + " " * 65531
    assert pi.delete_script(pi.store_script(longest)) == 0
    with pytest.raises(pigpio.error) as info:
        pi.store_script(longest + " ")
    assert info.value.code == pigpio.PI_BAD_SCRIPT
    assert "65536 characters, longer than pigpio's 65535" in str(info.value.__cause__)


def test_50_tags_and_every_one_is_a_place_to_jump(pi):
    # tag n (0-47) sits before "ld p0 n"; tag 48 before "ld p1 48"; tag 99 at the end
    text = " ".join(f"tag {n} ld p0 {n} jmp 99" for n in range(48))
    status, params = run_to_end(pi, f"jmp 48 {text} tag 48 ld p1 48 tag 99")
    assert (status, params[:2]) == (pigpio.PI_SCRIPT_HALTED, (0, 48))
    status, params = run_to_end(pi, f"jmp 7 {text} tag 48 ld p1 48 tag 99")
    assert (status, params[:2]) == (pigpio.PI_SCRIPT_HALTED, (7, 0))
    # a tag is any 32-bit number, as on the 32-bit Pi OS: -1 and 0xFFFFFFFF are one
    status, params = run_to_end(pi, "jmp 0xFFFFFFFF ld p0 1 tag -1 ld p1 2")
    assert (status, params[:2]) == (pigpio.PI_SCRIPT_HALTED, (0, 2))
    with pytest.raises(pigpio.error) as info:
        pi.store_script("tag -1 tag 0xFFFFFFFF")
    assert info.value.code == pigpio.PI_DUP_TAG


def run_to_end(pi, text, params=()):
    """Store and run ``text``; its status and parameters once it has ended."""
    sid = pi.store_script(text)
    pi.run_script(sid, list(params))
    wait_until(lambda: pi.script_status(sid)[0] in (pigpio.PI_SCRIPT_HALTED,
                                                     pigpio.PI_SCRIPT_FAILED))
    return pi.script_status(sid)


# pigpio 1.78's pthScript: A = myDoCommand(...); F = A; PC++ -- a command's result,
# an error code included, goes to A and F and the script goes on

@pytest.mark.parametrize("text,params", [
    ("w 70 1 sta p0 ld p1 7", (real_pigpio.PI_BAD_GPIO, 7)),
    ("r 70 sta p0 m 70 w sta p1 pud 70 u sta p2 s 4 400 sta p3 w 4 1 sta p4",
     (real_pigpio.PI_BAD_GPIO, real_pigpio.PI_BAD_GPIO, real_pigpio.PI_BAD_GPIO,
      real_pigpio.PI_BAD_PULSEWIDTH, 0)),
    # a command answered later (I2C on a worker thread): its error lands in A too
    ("i2co 1 0x50 0 sta v0 i2crb v0 0 sta p0 i2cc v0 sta p1 i2cc v0 sta p2",
     (real_pigpio.PI_I2C_READ_FAILED, 0, real_pigpio.PI_BAD_HANDLE)),
])
def test_a_failing_command_leaves_its_code_in_a_and_the_script_goes_on(pi, text, params):
    status, got = run_to_end(pi, text)
    assert status == pigpio.PI_SCRIPT_HALTED
    assert got[:len(params)] == params


@pytest.mark.parametrize("text,branched", [
    ("w 70 1 jm 1", True), ("w 4 1 jm 1", False),
    ("w 70 1 jp 1", False), ("w 4 1 jp 1", True),
    ("w 70 1 jnz 1", True), ("w 4 1 jz 1", True),
    ("s 4 400 jm 1", True), ("s 4 1500 jm 1", False),
])
def test_jumps_test_a_failing_commands_result(pi, text, branched):
    status, params = run_to_end(pi, text + " ld p0 1 halt tag 1 ld p0 -1")
    assert status == pigpio.PI_SCRIPT_HALTED and params[0] == (-1 if branched else 1)


def test_mils_and_mics_are_commands_their_result_goes_to_a(pi):
    # PI_CMD_MILS/MICS are commands: A = 0 after the delay, a bad delay's code at once
    status, params = run_to_end(pi, "lda 5 mils 1 sta p0 lda 5 mics 1 sta p1 "
                                    "mils 60001 sta p2 ld v1 -1 mics v1 sta p3 mils v0 sta p4 "
                                    "mics 1000001 jm 1 ld p5 1 tag 1", [])
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[:6] == (0, 0, real_pigpio.PI_BAD_MILS_DELAY,
                          real_pigpio.PI_BAD_MICS_DELAY, 0, 0)
    status, params = run_to_end(pi, "mils p0 sta p1", [-1])
    assert params[:2] == (-1, real_pigpio.PI_BAD_MILS_DELAY)


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


# -- hardening (issue #12) ------------------------------------------------------------

INT_MIN, INT_MAX = -2**31, 2**31 - 1


def test_arithmetic_wraps_as_int32_and_divides_toward_zero(pi):
    sid = pi.store_script("""
        lda 0x7fffffff add 1 sta p0
        lda -2147483648 dcra sta p1
        lda 65537 mlt 65537 sta p2
        lda 3 ld v1 6 tag 0 sta v0 mlt v0 dcr v1 jnz 0 sta p3
        lda -7 div 2 sta p4
        lda -7 mod 2 sta v2 lda 7 mod -2 mlt 10 add v2 sta p5
        lda 0x80000000 div -1 sta p6
        lda -8 rra 1 sta v3 lda 1 rla 31 add v3 sta p7
        lda 1 rla 32 sta v4 lda -1 rra 40 add v4 sta p8
        ld p9 0xFFFFFFFF
    """)
    pi.run_script(sid)
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert params == (
        INT_MIN,                      # INT_MAX + 1 wraps
        INT_MAX,                      # INT_MIN - 1 wraps
        131073,                       # 65537**2 = 2**32 + 131073
        2038349057,                   # 3 squared 6 times: 3**64 % 2**32
        -3,                           # -7 / 2 truncates toward zero
        1 * 10 + -1,                  # 7 % -2 == 1, -7 % 2 == -1 (C's %)
        INT_MIN,                      # INT_MIN / -1 wraps
        INT_MAX - 3,                  # (1 << 31) + (-8 >> 1) = INT_MIN - 4, wrapped
        -1,                           # 1 << 32 is 0 (as on ARM), -1 >> 40 stays -1
        -1,                           # the literal 0xFFFFFFFF is the int32 -1
    )


def test_the_squaring_loop_of_the_issue_stays_32_bit_and_can_be_stopped(pi):
    sid = pi.store_script("lda 3 tag 0 sta v0 mlt v0 sta p0 inr p1 jmp 0")
    pi.run_script(sid)
    wait_until(lambda: pi.script_status(sid)[1][1] > 1000)
    assert pi.read(4) in (0, 1)  # the server answers while it runs
    assert pi.stop_script(sid) == 0
    status, params = pi.script_status(sid)
    assert status == pigpio.PI_SCRIPT_HALTED and INT_MIN <= params[0] <= INT_MAX


def test_division_by_zero_fails_the_script(pi):
    for text in ("lda 1 div 0", "lda 1 mod p0"):
        sid = pi.store_script(text)
        pi.run_script(sid)
        assert wait_status(pi, sid, pigpio.PI_SCRIPT_FAILED)[0] == pigpio.PI_SCRIPT_FAILED


def test_only_32_bit_literals_parse(pi):
    with pytest.raises(pigpio.error) as info:
        pi.store_script("lda 0x20000000000001 div 1")
    assert info.value.code == pigpio.PI_BAD_SCRIPT_CMD
    assert pi.delete_script(pi.store_script("lda -2147483648 lda 0xFFFFFFFF lda 017")) == 0


def test_run_and_update_take_only_32_bit_parameters(pi):
    sid = pi.store_script("lda p0 sta p1")
    assert pi.run_script(sid, [0xFFFFFFFF]) == 0
    assert wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)[1][:2] == (-1, -1)
    for call in (pi.run_script, pi.update_script):
        for bad in (2**32, INT_MIN - 1, 10**4000):
            with pytest.raises(pigpio.error) as info:
                call(sid, [1, bad])
            assert info.value.code == pigpio.PI_BAD_PARAM
            message = str(info.value.__cause__)
            assert "p1" in message and "32-bit" in message and len(message) < 200
    assert pi.script_status(sid) == (pigpio.PI_SCRIPT_HALTED, (-1, -1) + (0,) * 8)


@pytest.mark.parametrize("text,status,params", [
    ("tag 0 call 0", pigpio.PI_SCRIPT_FAILED, ()),
    ("tag 0 pusha jmp 0", pigpio.PI_SCRIPT_FAILED, ()),
    ("ld v0 256 tag 0 push v0 dcr v0 jnz 0", pigpio.PI_SCRIPT_HALTED, ()),
    ("ld v0 257 tag 0 push v0 dcr v0 jnz 0", pigpio.PI_SCRIPT_FAILED, ()),
    # scrPop fails the run but gives 0 and the instruction completes; then the end
    # check (PC >= instrs: HALTED) runs, so a failing last instruction ends HALTED
    ("ld p0 5 pop p0", pigpio.PI_SCRIPT_HALTED, (0,)),
    ("ld p0 5 pop p0 ld p1 1", pigpio.PI_SCRIPT_FAILED, (0, 0)),
    ("push p0 pop p1 pop p2", pigpio.PI_SCRIPT_HALTED, (0, 0, 0)),
    ("lda 5 popa sta p0", pigpio.PI_SCRIPT_FAILED, (0,)),
    ("lda 5 popa", pigpio.PI_SCRIPT_HALTED, ()),
    ("ld p0 3 ret ld p0 4", pigpio.PI_SCRIPT_FAILED, (3,)),  # PC = 0, not the end
    # CALL on a full stack jumps all the same: to a tag at the end, HALTED
    ("ld v0 256 tag 0 push v0 dcr v0 jnz 0 call 9 ld p0 1 tag 9",
     pigpio.PI_SCRIPT_HALTED, (0,)),
    ("ld v0 256 tag 0 push v0 dcr v0 jnz 0 call 9 ld p0 1 tag 9 ld p1 2",
     pigpio.PI_SCRIPT_FAILED, (0, 0)),
    # RET to a popped place: past the end ends the script; before the start FAILS it
    ("ld v0 100 push v0 ret ld p0 1", pigpio.PI_SCRIPT_HALTED, (0,)),
    ("ld v0 4 push v0 ret ld p0 1 ld p1 2", pigpio.PI_SCRIPT_HALTED, (0, 2)),
    ("ld v0 -1 push v0 ret ld p0 1", pigpio.PI_SCRIPT_FAILED, (0,)),
])
def test_the_stack_holds_256_entries_then_the_script_fails(pi, text, status, params):
    got_status, got = run_to_end(pi, text)
    assert got_status == status
    assert got[:len(params)] == params


def test_running_a_running_script_updates_it_and_it_goes_on(pi):
    # pigpio 1.78 (gpioRunScript): the parameters are copied, the script goes on,
    # and the answer is 0; it is never restarted nor seen HALTED meanwhile
    sid = pi.store_script("inr p1 tag 1 mils 1 lda p0 sta p2 jmp 1")
    pi.run_script(sid, [5])
    wait_until(lambda: pi.script_status(sid)[1][2] == 5)
    for n in range(50):
        assert pi.run_script(sid, [n]) == 0
        status, params = pi.script_status(sid)
        assert status == pigpio.PI_SCRIPT_RUNNING and params[:2] == (n, 1)
    wait_until(lambda: pi.script_status(sid)[1][2] == 49)
    pi.stop_script(sid)
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED


def test_a_stopped_wait_is_dropped_at_once(pi, server):
    hub = server.server.hub
    sid = pi.store_script(f"wait {1 << 5}")
    for _ in range(200):
        pi.run_script(sid)
        wait_status(pi, sid, pigpio.PI_SCRIPT_WAITING)
        assert server.call(lambda: len(hub._waiters)) == 1
        pi.stop_script(sid)
        assert server.call(lambda: len(hub._waiters)) == 0
    pi.run_script(sid)
    wait_status(pi, sid, pigpio.PI_SCRIPT_WAITING)
    pi.delete_script(sid)
    assert server.call(lambda: len(hub._waiters)) == 0


def test_script_ids_are_the_lowest_free_slot(pi):
    ids = [pi.store_script("halt") for _ in range(32)]
    assert ids == list(range(32))
    with pytest.raises(pigpio.error) as info:
        pi.store_script("halt")
    assert info.value.code == pigpio.PI_NO_SCRIPT_ROOM
    pi.delete_script(5)
    pi.delete_script(17)
    assert pi.store_script("halt") == 5
    assert pi.store_script("halt") == 17


def test_an_optional_command_parameter_ends_at_the_next_instruction(pi):
    sid = pi.store_script("siminject 5 2 100 lda 7 sta p0 siminject 6 2 100 0 sta p1")
    pi.run_script(sid)
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    assert params[0] == 7
    sid = pi.store_script("tag 0 siminject 5 10 1 jmp 0")  # the issue's script parses
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED


def test_32_scripts_flat_out_leave_the_loop_one_turn_at_a_time(pi, server):
    """Between a callback and the next one it schedules (a request arriving and its
    answer, say) scripts run at most one turn: SCRIPT_TURN_INSTRUCTIONS in all."""
    from gpiosvr.server.limits import SCRIPT_TURN_INSTRUCTIONS

    engine = server.server.scripts
    ids = [pi.store_script("tag 0 inr p0 jmp 0") for _ in range(32)]
    for sid in ids:
        pi.run_script(sid)

    def counted() -> int:  # two instructions per increment of p0
        return sum(engine.scripts[sid].params[0] for sid in ids)

    def probe() -> concurrent.futures.Future:
        later: concurrent.futures.Future = concurrent.futures.Future()
        before = counted()
        asyncio.get_running_loop().call_soon(lambda: later.set_result(counted() - before))
        return later

    deltas = [server.call(probe).result(10) for _ in range(100)]
    for _ in range(20):
        assert pi.read(4) in (0, 1)
    assert max(deltas) <= SCRIPT_TURN_INSTRUCTIONS // 2 + 32, deltas
    assert sum(deltas) > 0
    final = [pi.script_status(sid) for sid in ids]
    assert all(status == pigpio.PI_SCRIPT_RUNNING and params[0] > 0
               for status, params in final), final
    for sid in ids:
        pi.stop_script(sid)


def test_scripts_flat_out_hand_the_gil_over_between_turns(pi, server, monkeypatch):
    """A thread of the server's own process (this test's, a notebook's) waiting for
    the GIL gets it: turns back to back for SCRIPT_GIL_SECONDS end in a sleep."""
    from gpiosvr.server import scripts

    engine = server.server.scripts
    pauses = []
    monkeypatch.setattr(scripts, "hand_over_the_gil", lambda: pauses.append(engine.turns))
    ids = [pi.store_script("tag 0 inr p0 jmp 0") for _ in range(32)]
    start = server.call(lambda: engine.turns)
    for sid in ids:
        pi.run_script(sid)
    # 5,000 turns of at least 2,000 instructions or 0.2 ms each are far more than
    # the 4 ms after which the scheduler lets go of the GIL
    deadline = time.monotonic() + 120
    while server.call(lambda: engine.turns) < start + 5000 and time.monotonic() < deadline:
        time.sleep(0.05)
    for sid in ids:
        pi.stop_script(sid)
    assert server.call(lambda: engine.turns) >= start + 5000
    assert pauses and all(turn > start for turn in pauses), pauses[:5]


# -- ownership ------------------------------------------------------------------------


def _frames(*commands: str) -> list[str]:
    return [f"@{n} {c}" for n, c in enumerate(commands, 1)]


@needs_root
def test_only_the_uid_that_stored_a_script_may_touch_it(pi, server):
    sid = pi.store_script("tag 0 mils 5 jmp 0")
    pi.run_script(sid)
    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path, *_frames(
        f"procr {sid}", f"procu {sid} 1", f"procs {sid}", f"procd {sid}", f"procp {sid}"))
    for answer in answers[:4]:
        assert " !PigpioError:-41:" in answer, answer
        assert f"script {sid} belongs to uid 0" in answer
    assert answers[4] == "@5 [2,0,0,0,0,0,0,0,0,0,0]"
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_RUNNING

    # nobody's own script: it may run and stop it, and its commands run as nobody
    theirs = ask_as(OTHER_UID, server.socket_path, '@1 proc "tag 0 mils 5 jmp 0"')
    other = int(theirs[0].split()[1])
    assert ask_as(OTHER_UID, server.socket_path, f"@1 procr {other}") == ["@1 0"]
    assert server.call(lambda: server.server.scripts.scripts[other].run.session.uid) \
        == OTHER_UID
    assert ask_as(OTHER_UID, server.socket_path, f"@1 procs {other}",
                  f"@2 procd {other}") == ["@1 0", "@2 0"]
    # root may touch everybody's
    theirs = ask_as(OTHER_UID, server.socket_path, '@1 proc "halt"')
    assert pi.delete_script(int(theirs[0].split()[1])) == 0
    pi.stop_script(sid)


def _open_handles(server) -> tuple[int, int]:
    """How many I2C and notification pipe handles the server holds open."""
    return server.call(lambda: (len(server.server.i2c_handles),
                                len(server.server._pipes.handles)))


@needs_root
def test_a_scripts_handles_are_its_owners_until_closed_as_in_pigpio(pi, server, stub):
    """pigpio's handles are the daemon's: one a script opens stays open, pigs (or
    any client of the script's uid, or root) closes it, another uid may not."""
    open_to_all(server.socket_path)
    theirs = ask_as(OTHER_UID, server.socket_path, '@1 proc "i2co 1 0x48 0 sta p0 no sta p1"')
    other = int(theirs[0].split()[1])
    assert ask_as(OTHER_UID, server.socket_path, f"@1 procr {other}") == ["@1 0"]
    wait_status(pi, other, pigpio.PI_SCRIPT_HALTED)
    assert pi.script_status(other)[1][:2] == (0, 0)
    mine = pi.store_script("i2co 1 0x48 0 sta p0 no sta p1")
    pi.run_script(mine)
    wait_status(pi, mine, pigpio.PI_SCRIPT_HALTED)
    assert pi.script_status(mine)[1][:2] == (1, 1)
    assert _open_handles(server) == (2, 2)

    # the script's uid closes them from another process; another uid is refused
    assert ask_as(OTHER_UID, server.socket_path, "@1 i2cc 1", "@2 pnc 1") == [
        '@1 null !PigpioError:-41:"not permitted: i2c handle 1 belongs to uid 0"',
        '@2 null !PigpioError:-41:"not permitted: notification pipe handle 1 '
        'belongs to uid 0"']
    assert ask_as(OTHER_UID, server.socket_path, "@1 i2crb 0 16", "@2 i2cc 0",
                  "@3 pnc 0") == ["@1 0", "@2 0", "@3 0"]
    # deleting the script that opened them leaves them open, as pigpio does
    assert pi.delete_script(mine) == 0
    assert _open_handles(server) == (1, 1)
    assert pigs(server, "i2crb", "1", "16", "i2cc", "1", "nc", "1") == ("0\n", "", 0)
    assert _open_handles(server) == (0, 0)


def test_a_scripts_handles_are_closed_by_its_uids_facade_and_pigs(pi, server, stub):
    status, params = run_to_end(pi, "i2co 1 0x48 0 sta p0 no sta p1 i2co 1 0x48 0 sta p2")
    assert status == pigpio.PI_SCRIPT_HALTED and params[:3] == (0, 0, 1)
    assert pigs(server, "nc", "0", "i2cc", "0") == ("", "", 0)
    assert pi.i2c_close(1) == 0
    assert pigs(server, "i2cc", "1") == ("-25\n", "ERROR: unknown handle\n", 253)
    assert _open_handles(server) == (0, 0)


@needs_root
def test_one_uid_may_store_at_most_max_scripts_per_uid(pi, server):
    from gpiosvr.server.limits import MAX_SCRIPTS_PER_UID

    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path,
                     *_frames(*['proc "halt"'] * (MAX_SCRIPTS_PER_UID + 1)))
    assert [a.split()[1] for a in answers[:-1]] == [str(n) for n in range(16)]
    assert answers[-1].startswith("@17 null !PigpioError:-57:"), answers[-1]
    assert "uid 65534" in answers[-1]
    # root is not held to it: the remaining slots are its
    assert [pi.store_script("halt") for _ in range(16)] == list(range(16, 32))


def test_sigterm_stops_a_server_running_busy_scripts(server_process):
    import signal
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(server_process.socket_path)
        sock.sendall(b'@1 proc "lda 3 tag 0 sta v0 mlt v0 jmp 0"\n@2 procr 0\n')
        data = b""
        while data.count(b"\n") < 2:
            data += sock.recv(4096)
        assert data.splitlines() == [b"@1 0", b"@2 0"]
        sock.sendall(b"@3 procp 0\n")  # the loop still answers while the script squares
        data = b""
        while b"\n" not in data:
            data += sock.recv(4096)
        assert data.startswith(b"@3 [2,")
        server_process.signal(signal.SIGTERM)
        assert server_process.proc.wait(10) == 0


# -- pigpio 1.78's other instructions and what a script may call ------------------------


def test_rl_and_rr_shift_a_register_and_set_f(pi):
    # pigpio: *y <<= x; F = *y (and >>=, arithmetic); a bare number is a variable
    status, params = run_to_end(pi, """
        ld p0 3 rl p0 4
        ld v1 -64 rr 1 3 ld p1 v1
        ld p2 1 ld v2 31 rl p2 v2
        ld p3 1 rl p3 32 jz 1 ld p4 7 tag 1
        ld p5 -1 rr p5 40 jm 2 ld p6 7 tag 2
        lda 5 ld p7 8 rr p7 2 sta p8
    """)
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params == (48, -8, INT_MIN, 0, 0, -1, 0, 2, 5, 0)


def test_registers_may_be_bare_numbers_naming_variables(pi):
    # pigs.1: "If p or v isn't specified y is assumed to be a variable"
    status, params = run_to_end(pi, """
        ld 3 40 inr 3 lda v3 sta p0
        lda 9 sta 149 ld p1 v149
        ld v7 1 ld v8 2 x 7 8 ld p2 v7 ld p3 v8
        xa 8 sta p4 push 7 pop p5 dcr 7 ld p6 v7
    """)
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[:7] == (41, 9, 2, 1, 1, 2, 1)


def test_ldab_and_stab_address_the_scripts_64_kib_buffer(pi):
    sid = pi.store_script("""
        lda 0x1234 stab 0 lda 0x2FF stab 65535 lda -2 stab p0
        lda 7 cmp 7 ldab 0 sta p1 jz 1 ld p9 1 tag 1
        ldab 65535 sta p2 ldab v0 sta p3
        lda 11 ldab 65536 sta p4 ldab -1 sta p5
        ldab 1 sta p6
        trig 4 10 0x01020304 ldab 0 sta p7 ldab 3 sta p8
    """)
    pi.run_script(sid, [5])
    status, params = wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)
    # bytes are unsigned (char on the Pi); F stays 0 after CMP (LDAB leaves it);
    # an index out of 0-65535 leaves A; TRIG's third parameter lands in bytes 0-3
    assert params == (5, 0x34, 0xFF, 0x34, 11, 11, 0, 4, 1, 0)


def test_the_buffer_is_the_scripts_own_and_outlives_a_run(pi):
    # pigpio's buffer lives in the script's thread: kept from one run to the next
    sid = pi.store_script("ldab 9 sta p0 lda p1 stab 9")
    other = pi.store_script("ldab 9 sta p0")
    for params, seen in (([0, 77], 0), ([0, 78], 77), ([0, 300], 78), ([0, 0], 300 & 0xFF)):
        pi.run_script(sid, params)
        assert wait_status(pi, sid, pigpio.PI_SCRIPT_HALTED)[1][0] == seen
    pi.run_script(other)
    assert wait_status(pi, other, pigpio.PI_SCRIPT_HALTED)[1][0] == 0


@pytest.mark.parametrize("word", ["nop", "cmdr 1", "cmdw p0"])
def test_nop_cmdr_and_cmdw_fail_where_pigpio_would_spin_for_ever(pi, word):
    # pigpio 1.78 parses them, but pthScript has no case for them: PC never moves
    status, params = run_to_end(pi, f"ld p0 1 lda 5 {word} ld p1 1")
    assert (status, params[:2]) == (pigpio.PI_SCRIPT_FAILED, (1, 0))


def test_pigpios_second_names_work_in_scripts(pi):
    status, params = run_to_end(pi, """
        modes 4 w write 4 1 read 4 sta p0 modeg 4 sta p1
        modes 5 0 modeg 5 sta p2
        pwm 18 100 sta p3 servo 17 1500 sta p4 tick sta p5
        m 6 r pud 6 u read 6 sta p6 pud 6 d read 6 sta p7
    """)
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[:5] == (1, 1, 4, 0, 0) and params[6:8] == (1, 0)
    assert pi.get_PWM_dutycycle(18) == 100 and pi.get_servo_pulsewidth(17) == 1500


def test_no_nb_np_nc_in_a_script_use_a_notification_pipe(pi, server):
    # pigpio's NO in a script opens /dev/pigpioN: here the pipe next to the socket
    status, params = run_to_end(pi, "no sta p0 nb p0 0x10 sta p1 np p0 sta p2 "
                                    "evm p0 1 sta p3 nc p0 sta p4 nc p0 sta p5")
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[0] >= 0 and params[1:5] == (0, 0, 0, 0)
    assert params[5] == real_pigpio.PI_BAD_HANDLE


def test_cgi_and_csi_which_gpiosvr_lacks_answer_unknown_command_in_a(pi):
    status, params = run_to_end(pi, "cgi sta p0 csi 0 sta p1 ld p2 1")
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[:3] == (real_pigpio.PI_UNKNOWN_COMMAND,) * 2 + (1,)


def test_division_by_zero_fails_the_script_where_it_divides(pi):
    # pigpio: SIGFPE kills pigpiod on 32-bit Pi OS; 64-bit gives 0 (DIV) or A (MOD)
    for text in ("ld p0 1 lda 7 div 0 ld p1 1", "ld p0 1 lda 7 mod p2 ld p1 1",
                 "ld p0 1 lda 7 div v0 ld p1 1"):
        status, params = run_to_end(pi, text)
        assert (status, params[:3]) == (pigpio.PI_SCRIPT_FAILED, (1, 0, 0)), text


def test_sys_is_refused_unless_the_server_runs_programs(pi):
    with pytest.raises(pigpio.error) as info:
        pi.store_script("lda 1\nsys prog")
    assert info.value.code == pigpio.PI_BAD_SCRIPT_CMD
    message = str(info.value.__cause__)
    assert "line 2" in message and "--shell-dir" in message


def test_sys_runs_a_program_of_the_shell_directory_with_a_and_the_levels(
        pi, server, tmp_path):
    import stat

    directory = tmp_path / "cgi"
    directory.mkdir()
    out = tmp_path / "args"
    program = directory / "args"
    program.write_text(f'#!/bin/sh\necho "$@" > {out}\nexit 3\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    server.server.shell_dir = str(directory)
    status, params = run_to_end(pi, "w 4 1 w 5 1 lda -1 sys args sta p0 "
                                    "lda 0 sys nosuch sta p1 sys ../args sta p2")
    assert status == pigpio.PI_SCRIPT_HALTED
    assert params[:3] == (3 * 256, 32512, real_pigpio.PI_BAD_SCRIPT_NAME)
    assert out.read_text() == f"4294967295 {(1 << 4) | (1 << 5) | pi.read_bank_1() & ~0x30}\n"


# every command of pigpio's cmdInfo not valid in a script (and that gpiosvr has)
FORBIDDEN = ("bi2cz bscx bspio bspix cf1 cf2 fl fo fr fw i2cpk i2crd i2cri i2crk i2cwd "
             "i2cwi i2cwk i2cz proc procd procp procr procs procu sero serr serw shell "
             "slr spir spiw spix wvag wvas wvcha wvgo wvgor").split()


@pytest.mark.parametrize("name", FORBIDDEN)
def test_what_pigpio_forbids_in_scripts_is_refused_at_store(pi, name):
    with pytest.raises(pigpio.error) as info:
        pi.store_script(f"w 4 1 {name} 0 0 0 0 0 0")
    assert info.value.code == pigpio.PI_BAD_SCRIPT_CMD
    assert f"'{name}' may not be used in a script" in str(info.value.__cause__)


def test_script_shapes_fit_the_servers_command_table():
    from gpiosvr.server.commands import COMMANDS
    from gpiosvr.server.scripts import ALIASES, SCRIPT_ONLY, SHAPES

    assert not set(FORBIDDEN) & set(SHAPES)
    for name, shape in SHAPES.items():
        if name in SCRIPT_ONLY or name in ("cgi", "csi"):
            continue
        spec = COMMANDS[ALIASES.get(name, name)]
        assert spec.required <= len(shape) <= len(spec.params), name


def test_an_empty_script_stores_and_runs_to_halted(pi):
    for text in ("", " \n\t "):
        status, params = run_to_end(pi, text)
        assert (status, params) == (pigpio.PI_SCRIPT_HALTED, (0,) * 10)
