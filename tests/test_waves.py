"""Waves, chains, triggers and hardware clocks: pigpio 1.78's API and errors, every
edge at its exact tick on the simulated chip, ownership between users."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pigpio as real_pigpio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.server.limits import WAVE_MAX_PULSES
from gpiosvr.server.waves import PI_BAD_WAVE_MODE, PI_TOO_MANY_PULSES, Builder, _bit_delays
from gpiosvr.simulator import Simulator

from conftest import OTHER_UID, ask_as, needs_root, open_to_all, wait_until

G1, G2, RX = 4, 5, 17


@pytest.fixture
def pi(server):
    p = pigpio.pi(server.socket_path)
    p.wave_clear()
    p.set_mode(G1, pigpio.OUTPUT)
    p.set_mode(G2, pigpio.OUTPUT)
    p.write(G1, 0)
    p.write(G2, 0)
    yield p
    p.wave_tx_stop()
    p.stop()


class Edges:
    """Every edge callbacks see on some GPIOs, as (gpio, level, tick)."""

    def __init__(self, pi, *gpios: int) -> None:
        self.pi = pi
        self.seen: list[tuple[int, int, int]] = []
        self.cbs = [pi.callback(g, pigpio.EITHER_EDGE, self._edge) for g in gpios]

    def _edge(self, gpio: int, level: int, tick: int) -> None:
        self.seen.append((gpio, level, tick))

    def settle(self) -> None:
        """Return once every report the server sent so far has been through the
        callbacks (a wave's edges are sent before ``wave_tx_busy`` answers 0, but the
        callbacks run on the client's own threads, maybe later)."""
        self.pi.sl.s.wait_callbacks()

    def wait(self, count: int) -> list[tuple[int, int, int]]:
        wait_until(lambda: len(self.seen) >= count)
        return self.seen[:count]

    def relative(self, count: int) -> list[tuple[int, int, int]]:
        """The first ``count`` edges, ticks counted from the first one's, in tick order
        (then GPIO order)."""
        edges = sorted(self.wait(count),
                       key=lambda e: ((e[2] - self.seen[0][2]) & 0xFFFFFFFF, e[0]))
        t0 = edges[0][2]
        return [(g, lv, (t - t0) & 0xFFFFFFFF) for g, lv, t in edges]


def _code(call) -> int:
    with pytest.raises(pigpio.error) as info:
        call()
    return info.value.code


# -- building: pigpio's merge and counters ---------------------------------------------


def test_pulses_merge_in_time_order_and_the_counters_follow(pi):
    assert pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10), pigpio.pulse(0, 1 << G1, 10)]) == 2
    assert (pi.wave_get_micros(), pi.wave_get_pulses(), pi.wave_get_cbs()) == (20, 2, 4)
    # a second stream starting 5 µs in is interleaved with the first, as pigpio does
    assert pi.wave_add_generic([pigpio.pulse(0, 0, 5), pigpio.pulse(1 << G2, 0, 10),
                                pigpio.pulse(0, 1 << G2, 10)]) == 4
    assert (pi.wave_get_micros(), pi.wave_get_pulses(), pi.wave_get_cbs()) == (25, 4, 8)
    assert pi.wave_get_max_micros() == 1_800_000_000
    assert pi.wave_get_max_pulses() == 12_000 and pi.wave_get_max_cbs() == 25_016
    wid = pi.wave_create()
    assert wid == 0
    assert pi.wave_get_pulses() == 4  # the counters stay; the pulses were consumed
    assert _code(pi.wave_create) == real_pigpio.PI_EMPTY_WAVEFORM
    assert pi.wave_add_new() == 0 and pi.wave_get_pulses() == 0
    with BlockingClient(pi.sl.s.socket_path) as c:
        assert c.command("wvsp", 1) == 4 and c.command("wvsm", 1) == 25  # the highs
        assert c.command("wvsc", 1) == 8


def test_serial_pulses_are_pigpios(pi):
    # 'U' (0x55) at 9600 baud: an idle bit, start, 8 alternating data bits, stop
    assert pi.wave_add_serial(G1, 9600, b"U") == 11
    delays = _bit_delays(9600, 8, 2)
    assert delays[:3] == [104, 104, 104] and sum(delays) == 1042
    assert pi.wave_get_micros() == 104 + 1042
    pi.wave_add_new()
    assert pi.wave_add_serial(G1, 300, "Hello world", offset=5000) > 0
    assert pi.wave_add_serial(G1, 300, []) == 0  # nothing to send: not even asked


# -- transmission, at the exact ticks ----------------------------------------------


def test_every_edge_of_a_wave_comes_at_its_exact_tick(pi):
    edges = Edges(pi, G1, G2)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 100), pigpio.pulse(1 << G2, 1 << G1, 250),
                         pigpio.pulse(1 << G1, 1 << G2, 30), pigpio.pulse(0, 1 << G1, 1000)])
    wid = pi.wave_create()
    assert pi.wave_send_once(wid) == 1 + 4 + 4  # its CBs, as pigpio answers
    assert edges.relative(6) == [(G1, 1, 0), (G1, 0, 100), (G2, 1, 100), (G1, 1, 350),
                                 (G2, 0, 350), (G1, 0, 380)]
    wait_until(lambda: not pi.wave_tx_busy())
    assert pi.wave_tx_at() == pigpio.NO_TX_WAVE
    assert pi.read(G1) == 0 and pi.read(G2) == 0


def test_busy_is_decided_by_the_ticks_of_the_simulated_chip(pi):
    edges = Edges(pi, G1)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 100_000), pigpio.pulse(0, 1 << G1, 200_000)])
    wid = pi.wave_create()
    pi.wave_send_once(wid)
    assert pi.wave_tx_busy() == 1 and pi.wave_tx_at() == wid
    start = edges.wait(1)[0][2]
    wait_until(lambda: not pi.wave_tx_busy())
    assert pigpio.tickDiff(start, pi.get_current_tick()) >= 300_000  # no sooner
    assert edges.relative(2) == [(G1, 1, 0), (G1, 0, 100_000)]


def test_serial_at_9600_baud_reaches_a_wired_input_at_the_exact_bit_times(pi, server):
    with Simulator(server.socket_path) as sim:
        sim.wire(G1, RX)
        pi.write(G1, 1)  # the line idles high
        edges = Edges(pi, RX)
        data = bytes(random.Random(9600).randrange(256) for _ in range(40))
        pi.wave_add_serial(G1, 9600, data)
        pi.wave_send_once(pi.wave_create())
        expected = _serial_edges(data, 9600)
        got = [(lv, t) for _, lv, t in edges.relative(len(expected))]
        assert got == expected
        assert _decode(got, 9600) == data  # the levels read back, bit by bit


def _serial_edges(data: bytes, baud: int) -> list[tuple[int, int]]:
    """The edges 8N1 serial makes, counted from the first start bit: each bit starts
    at the µs nearest its exact time within the character, as pigpio rounds."""
    full = 10**9 // baud  # ns
    char = (10 * full + 500) // 1000
    level, edges = 1, []
    for n, byte in enumerate(data):
        for i, v in enumerate([0] + [byte >> b & 1 for b in range(8)] + [1]):
            if v != level:
                edges.append((v, n * char + (i * full + 500) // 1000))
                level = v
    return edges


def _decode(edges: list[tuple[int, int]], baud: int) -> bytes:
    bit = 1e6 / baud
    out, i = bytearray(), 0
    level_at = lambda t: next((lv for lv, tt in reversed(edges) if tt <= t), 1)  # noqa: E731
    start = 0
    while i < len(edges):
        start = edges[i][1]
        out.append(sum(level_at(start + (b + 1.5) * bit) << b for b in range(8)))
        stop = start + 9.5 * bit
        i = next((j for j, (lv, t) in enumerate(edges) if lv == 0 and t > stop), len(edges))
    return bytes(out)


def test_a_chain_with_nested_loops_and_delays_makes_the_exact_edges(pi):
    edges = Edges(pi, G1)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 20), pigpio.pulse(0, 1 << G1, 80)])
    a = pi.wave_create()
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 50), pigpio.pulse(0, 1 << G1, 50)])
    b = pi.wave_create()
    assert pi.wave_chain([a, 255, 0, a, 255, 0, b, 255, 1, 2, 0, 255, 2, 0xE8, 0x03,
                          255, 1, 3, 0, b]) == 0
    # a; then 3 x (a, 2 x b, 1000 µs); then b
    expected, t = [], 0
    for wave in ["a"] + (["a", "b", "b", 1000] * 3) + ["b"]:
        if wave == 1000:
            t += 1000
            continue
        high = 20 if wave == "a" else 50
        expected += [(G1, 1, t), (G1, 0, t + high)]
        t += 100
    assert edges.relative(len(expected)) == expected
    wait_until(lambda: not pi.wave_tx_busy())
    edges.settle()
    assert len(edges.seen) == len(expected) == 2 + 3 * 2 * 3 + 2


def test_repeat_loop_forever_stop_and_sync(pi):
    edges = Edges(pi, G1, G2)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 300), pigpio.pulse(0, 1 << G1, 700)])
    a = pi.wave_create()
    pi.wave_add_generic([pigpio.pulse(1 << G2, 0, 100), pigpio.pulse(0, 1 << G2, 100)])
    b = pi.wave_create()
    pi.wave_send_repeat(a)
    edges.wait(6)
    assert pi.wave_send_using_mode(b, pigpio.WAVE_MODE_ONE_SHOT_SYNC) == 5
    wait_until(lambda: not pi.wave_tx_busy())
    edges.settle()
    ticks = edges.relative(len(edges.seen))
    a_edges = [e for e in ticks if e[0] == G1]
    b_edges = [e for e in ticks if e[0] == G2]
    assert [t % 1000 for _, _, t in a_edges] == [0, 300] * (len(a_edges) // 2)
    first_b = b_edges[0][2]
    assert first_b % 1000 == 0 and first_b == a_edges[-1][2] + 700  # at the cycle's end
    assert b_edges == [(G2, 1, first_b), (G2, 0, first_b + 100)]
    # loop forever until stopped
    pi.wave_chain([255, 0, a, b, 255, 3])
    wait_until(lambda: len(edges.seen) > len(ticks) + 20)
    assert pi.wave_tx_busy() == 1 and pi.wave_tx_at() in (a, b)
    assert pi.wave_tx_stop() == 0 and pi.wave_tx_busy() == 0
    assert pi.wave_tx_at() == pigpio.NO_TX_WAVE


def test_a_fast_endless_wave_does_not_stall_other_clients(pi, server):
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 1), pigpio.pulse(0, 1 << G1, 1)])
    pi.wave_send_repeat(pi.wave_create())  # 1 MHz of edges: more than the sim plays
    with BlockingClient(server.socket_path) as other:
        for _ in range(200):
            assert other.command("r", 20) in (0, 1)
    assert pi.wave_tx_busy() == 1
    pi.wave_tx_stop()


def test_a_trigger_pulse_and_a_hardware_clock_are_exact(pi):
    edges = Edges(pi, G1)
    assert pi.gpio_trigger(G1, 10, 1) == 0
    assert edges.relative(2) == [(G1, 1, 0), (G1, 0, 10)]
    assert pi.gpio_trigger(G1, 100) == 0
    (_, rise, t1), (_, fall, t2) = edges.relative(4)[2:]
    assert (rise, fall, t2 - t1) == (1, 0, 100)
    clock = Edges(pi, 6)
    assert pi.hardware_clock(6, 5000) == 0  # clock 2: a real 5 kHz square wave
    ticks = [t for _, _, t in clock.relative(20)]
    assert ticks == [100 * i for i in range(20)]
    assert pi.hardware_clock(6, 40_000_000) == 0  # faster than the sim: held high
    assert pi.read(6) == 1
    assert pi.hardware_clock(6, 0) == 0


@pytest.mark.parametrize("call,code", [
    (lambda p: p.wave_send_once(7), real_pigpio.PI_BAD_WAVE_ID),
    (lambda p: p.wave_delete(0), real_pigpio.PI_BAD_WAVE_ID),
    (lambda p: p.wave_add_serial(60, 9600, b"x"), real_pigpio.PI_BAD_USER_GPIO),
    (lambda p: p.wave_add_serial(4, 49, b"x"), real_pigpio.PI_BAD_WAVE_BAUD),
    (lambda p: p.wave_add_serial(4, 9600, b"x", bb_bits=33), real_pigpio.PI_BAD_DATABITS),
    (lambda p: p.wave_add_serial(4, 9600, b"x", bb_stop=1), real_pigpio.PI_BAD_STOPBITS),
    (lambda p: p.wave_add_serial(4, 9600, b"x" * 1201), real_pigpio.PI_TOO_MANY_CHARS),
    (lambda p: p.wave_add_serial(4, 9600, b"x", 1_800_000_001), real_pigpio.PI_BAD_SER_OFFSET),
    (lambda p: p.wave_add_generic([pigpio.pulse(0, 0, 1)] * 12001),
     real_pigpio.PI_TOO_MANY_PULSES),
    (lambda p: p.wave_add_generic([pigpio.pulse(0, 0, 1)] * 12000),
     real_pigpio.PI_TOO_MANY_PULSES),  # pigpio refuses a wave of exactly 12000 too
    (lambda p: p.wave_create_and_pad(101), real_pigpio.PI_BAD_PARAM),
    (lambda p: p.wave_tx_start(), real_pigpio.PI_DEPRECATED),
    (lambda p: p.wave_tx_repeat(), real_pigpio.PI_DEPRECATED),
    (lambda p: p.wave_chain([3]), real_pigpio.PI_BAD_WAVE_ID),
    (lambda p: p.wave_chain([255]), real_pigpio.PI_BAD_CHAIN_CMD),
    (lambda p: p.wave_chain([255, 9]), real_pigpio.PI_BAD_CHAIN_CMD),
    (lambda p: p.wave_chain([255, 1, 2, 0]), real_pigpio.PI_BAD_CHAIN_LOOP),
    (lambda p: p.wave_chain([255, 0, 255, 1, 2, 0]), real_pigpio.PI_BAD_CHAIN_LOOP),
    (lambda p: p.wave_chain([255, 0] * 11), real_pigpio.PI_CHAIN_NESTING),
    (lambda p: p.wave_chain([255, 3]), real_pigpio.PI_BAD_CHAIN_LOOP),
    (lambda p: p.gpio_trigger(4, 0), real_pigpio.PI_BAD_PULSELEN),
    (lambda p: p.gpio_trigger(4, 101), real_pigpio.PI_BAD_PULSELEN),
    (lambda p: p.gpio_trigger(4, 10, 2), real_pigpio.PI_BAD_LEVEL),
    (lambda p: p.gpio_trigger(60, 10), real_pigpio.PI_BAD_USER_GPIO),
    (lambda p: p.gpio_trigger(32, 10), real_pigpio.PI_NOT_PERMITTED),  # permission first
    (lambda p: p.hardware_clock(7, 5000), real_pigpio.PI_NOT_HCLK_GPIO),
    (lambda p: p.hardware_clock(4, 4688), real_pigpio.PI_BAD_HCLK_FREQ),
    (lambda p: p.hardware_clock(4, 250_000_001), real_pigpio.PI_BAD_HCLK_FREQ),
    (lambda p: p.hardware_clock(5, 5000), real_pigpio.PI_BAD_HCLK_PASS),
    (lambda p: p.hardware_clock(3, 5000), real_pigpio.PI_NOT_HCLK_GPIO),
])
def test_errors_are_pigpios(pi, call, code):
    assert _code(lambda: call(pi)) == code


def test_chain_errors_that_need_waves(pi):
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10), pigpio.pulse(0, 1 << G1, 10)])
    w = pi.wave_create()
    assert _code(lambda: pi.wave_chain([255, 0, w, 255, 3, w])) == real_pigpio.PI_BAD_FOREVER
    assert _code(lambda: pi.wave_chain([w] * 599)) == real_pigpio.PI_CHAIN_TOO_BIG
    assert pi.wave_chain([w] * 598) == 0  # with the start's delay and the end's CB: 600
    loops = [255, 0, w, 255, 1, 2, 0] * 21
    assert _code(lambda: pi.wave_chain(loops)) == real_pigpio.PI_CHAIN_COUNTER
    assert pi.wave_send_using_mode(w, 3) == 5
    assert _code(lambda: pi.wave_send_using_mode(w, 4)) == -33  # PI_BAD_WAVE_MODE
    for which in ("wvsm", "wvsp", "wvsc"):
        with BlockingClient(pi.sl.s.socket_path) as c:
            with pytest.raises(Exception) as info:
                c.command(which, 3)
        assert info.value.code in (-43, -44, -45)


def test_waves_are_numbered_as_pigpio_and_space_runs_out(pi):
    ids = []
    for _ in range(3):
        pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10), pigpio.pulse(0, 1 << G1, 10)])
        ids.append(pi.wave_create())
    assert ids == [0, 1, 2]
    assert pi.wave_delete(1) == 0
    assert _code(lambda: pi.wave_delete(1)) == real_pigpio.PI_BAD_WAVE_ID
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10)])
    assert pi.wave_create() == 1
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10)])
    assert pi.wave_create_and_pad(50) == 3
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10)])
    assert _code(lambda: pi.wave_create_and_pad(50)) == real_pigpio.PI_TOO_MANY_CBS
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 10)])
    assert pi.wave_create() == 0


def test_pulses_on_gpios_not_permitted_are_masked_as_pigpiod_does(pi):
    # GPIO 0 and 1 are not permitted on this board: they are masked off, the rest added
    assert _code(lambda: pi.wave_add_generic(
        [pigpio.pulse(1 << G1 | 1, 2, 10), pigpio.pulse(0, 1 << G1, 10)])) == \
        real_pigpio.PI_SOME_PERMITTED
    assert pi.wave_get_pulses() == 2
    assert _code(lambda: pi.wave_add_serial(1, 9600, b"x")) == real_pigpio.PI_NOT_PERMITTED
    assert _code(lambda: pi.gpio_trigger(0, 10)) == real_pigpio.PI_NOT_PERMITTED
    assert _code(lambda: pi.hardware_clock(0x5A000000 | 44, 5000)) == \
        real_pigpio.PI_NOT_PERMITTED


# -- pigs, users --------------------------------------------------------------------


def _pigs(socket_path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "--socket", socket_path,
                           *args], capture_output=True, text=True, timeout=30)


def test_pigs_builds_a_wave_over_several_calls_as_pigpios_docs_do(server):
    path = server.socket_path
    assert _pigs(path, "wvclr", "m", "4", "w").stdout == ""
    assert _pigs(path, "wvag", "16", "0", "10000", "0", "16", "30000").stdout == "2\n"
    assert _pigs(path, "wvsm", "0", "wvsp", "0", "wvsc", "0").stdout.split() == \
        ["40000", "2", "4"]
    assert _pigs(path, "wvcre").stdout == "0\n"
    assert _pigs(path, "wvas", "4", "9600", "8", "2", "0", "72", "105").stdout == "15\n"
    out = _pigs(path, "wvcre", "wvtx", "0", "wvbsy", "wvcha", "0", "1", "255", "0", "0",
                "255", "1", "3", "0", "wvhlt", "wvbsy", "wvgo")
    assert out.stdout.split()[:5] == ["1", "5", "1", "0", "-120"], out
    assert "ERROR: deprecated function removed" in out.stderr
    bad = _pigs(path, "wvag", "1", "2")
    assert bad.stdout.strip() == "-81"
    assert _pigs(path, "trig", "4", "10", "1", "hc", "4", "5000", "hc", "4", "0").stdout == ""


@needs_root
def test_waves_belong_to_the_uid_that_made_them(pi, server):
    open_to_all(server.socket_path)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 1000), pigpio.pulse(0, 1 << G1, 1000)])
    mine = pi.wave_create()
    pi.wave_send_repeat(mine)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 wvdel 0", "@2 wvtx 0", "@3 wvhlt",
                     "@4 wvcha 0", "@5 wvbsy", "@6 wvtat", "@7 wvag 16 0 5",
                     "@8 wvsp 0", "@9 wvcre", "@10 wvclr", "@11 hc 4 5000")
    assert all("!PigpioError:-41:" in a for a in answers[:4]), answers
    assert "belongs to uid 0" in answers[0]
    assert answers[4:9] == ["@5 1", "@6 0", "@7 1", "@8 1", "@9 1"]  # its own wave
    assert answers[9:] == ["@10 0", "@11 0"]
    assert pi.wave_get_pulses() == 2  # its wave being built was its own: mine is as it was
    assert pi.wave_tx_busy() == 1  # its wvclr left mine alone
    assert _code(lambda: pi.wave_delete(5)) == real_pigpio.PI_BAD_WAVE_ID
    assert pi.wave_delete(mine) == 0  # root may touch everything, as admins
    assert pi.hardware_clock(4, 0) == 0  # and stop its clock
    pi.wave_tx_stop()


# -- through pigpiod: the real pigpio package, and gpiosvr's pigpiod backend ------------


@pytest.fixture
def standin(server):
    """A pigpiod stand-in in front of the simulated chip of ``server``."""
    from pigpiod_standin import PigpiodStandIn

    daemon = PigpiodStandIn(server.socket_path)
    yield daemon
    daemon.close()


def _send_and_watch(p, module, edges) -> list[tuple[int, int, int]]:
    p.set_mode(G1, module.OUTPUT)
    p.write(G1, 0)
    p.wave_clear()
    assert p.wave_add_generic([module.pulse(1 << G1, 0, 40), module.pulse(0, 1 << G1, 60)]) == 2
    assert p.wave_get_micros() == 100 and p.wave_get_max_pulses() == 12_000
    a = p.wave_create()
    assert p.wave_add_serial(G1, 19200, b"\x0f") == 5
    b = p.wave_create()
    assert p.wave_chain([a, 255, 0, a, 255, 1, 2, 0, 255, 2, 0x10, 0x27, b]) == 0
    wait_until(lambda: not p.wave_tx_busy())
    assert p.wave_tx_at() == module.NO_TX_WAVE
    p.write(G1, 0)  # serial leaves the line high
    assert p.gpio_trigger(G1, 20, 1) == 0
    assert p.wave_send_using_mode(a, module.WAVE_MODE_ONE_SHOT) == 5
    with pytest.raises(module.error) as info:
        p.wave_delete(9)
    assert "non existent wave id" in str(info.value)
    # the chain's first rise (before it: set_mode's and write's); edges come on the
    # callback connection, so through a relay they may still be on their way
    wait_until(lambda: any(e[1] == 1 for e in list(edges)))
    first = next(i for i, e in enumerate(edges) if e[1] == 1)
    wait_until(lambda: len(edges) >= first + 16)
    t0 = edges[first][2]
    return [(g, lv, (t - t0) & 0xFFFFFFFF) for g, lv, t in edges[first:]]


def _expected_chain_edges() -> list[tuple[int, int, int]]:
    # a three times (100 µs each), 10,000 µs, b: 0x0f at 19200 baud from an idle bit
    bit = [((i + 1) * (10**9 // 19200) + 500) // 1000 for i in range(10)]
    b0 = 300 + 10_000 + bit[0]  # b's start bit, after its first (idle, high) bit
    return [(G1, 1, 0), (G1, 0, 40), (G1, 1, 100), (G1, 0, 140), (G1, 1, 200),
            (G1, 0, 240), (G1, 1, 300 + 10_000), (G1, 0, b0), (G1, 1, b0 + bit[0]),
            (G1, 0, b0 + bit[4]), (G1, 1, b0 + bit[8])]


def test_the_real_pigpio_package_sends_waves_through_the_standin(standin, server):
    with BlockingClient(server.socket_path) as c:  # low before pigpio reads the levels
        c.command("w", G1, 0)
    p = real_pigpio.pi("127.0.0.1", standin.port)
    try:
        edges: list = []
        p.set_mode(G1, real_pigpio.OUTPUT)
        cb = p.callback(G1, real_pigpio.EITHER_EDGE, lambda g, lv, t: edges.append((g, lv, t)))
        got = _send_and_watch(p, real_pigpio, edges)
        assert got[:11] == _expected_chain_edges()
        assert [lv for _, lv, _ in got[11:16]] == [0, 1, 0, 1, 0]  # write, trigger, a
        assert got[13][2] - got[12][2] == 20 and got[15][2] - got[14][2] == 40
        cb.cancel()
    finally:
        p.stop()


def test_gpiosvr_relays_waves_to_pigpiod(standin, sock_dir):
    from gpiosvr.server.backends.pigpiod import PigpiodBackend
    from gpiosvr.server.thread import ServerThread

    backend = PigpiodBackend("127.0.0.1", standin.port, retry_interval=0.05, call_timeout=2)
    with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as relay:
        wait_until(lambda: backend.connected)
        p = pigpio.pi(relay.socket_path)
        try:
            edges = Edges(p, G1)
            got = _send_and_watch(p, pigpio, edges.seen)
            assert got[:11] == _expected_chain_edges()
            with BlockingClient(relay.socket_path) as c:  # the "high" counters, raw
                assert c.command("wvsp", 1) >= 4 and c.command("wvsm", 2) == 1_800_000_000
            assert p.hardware_clock(0x5A000000 | 5, 5000) == 0
            with pytest.raises(pigpio.error) as info:
                p.hardware_clock(5, 5000)  # clock 1 without its password
            assert info.value.code == real_pigpio.PI_BAD_HCLK_PASS
        finally:
            p.stop()


# -- waves and hardware PWM share pigpio's PWM peripheral -------------------------------

HW = 18  # hardware PWM channel 0


def _not_pwm(pi, gpio: int) -> tuple:
    """What pigpio's PWM getters answer on a GPIO that runs no PWM (defaults)."""
    return (pi.get_PWM_frequency(gpio), _code(lambda: pi.get_PWM_dutycycle(gpio)),
            pi.get_PWM_range(gpio), pi.get_PWM_real_range(gpio))


def test_a_wave_sent_stops_hardware_pwm_where_its_first_pulse_plays(pi):
    """pigpio's gpioWaveTxSend stops hardware PWM on every GPIO (stopHardwarePWM):
    the channel is disabled, its output goes low, the GPIO is no PWM GPIO any more."""
    pi.write(HW, 0)
    edges = Edges(pi, G1, HW)
    assert pi.hardware_PWM(HW, 1000, 500_000) == 0
    assert (pi.get_PWM_frequency(HW), pi.get_PWM_dutycycle(HW), pi.get_PWM_range(HW),
            pi.get_PWM_real_range(HW)) == (1000, 500_000, 1_000_000, 250_000)
    wait_until(lambda: sum(g == HW for g, _, _ in edges.seen) >= 7)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 3000), pigpio.pulse(0, 1 << G1, 0)])
    wid = pi.wave_create()
    assert pi.wave_send_once(wid) == 4
    wait_until(lambda: [e[1] for e in edges.seen if e[0] == G1] == [1, 0])
    (_, _, sent), (_, _, ended) = [e for e in edges.seen if e[0] == G1]
    assert (ended - sent) & 0xFFFFFFFF == 3000
    pwm = [(level, tick) for g, level, tick in edges.seen if g == HW]
    start = pwm[0][1]
    upto = (sent - start) & 0xFFFFFFFF
    # every edge of the 1 kHz waveform before the wave's first pulse, exactly...
    expected = [(1 - i % 2, 1000 * (i // 2) + 500 * (i % 2)) for i in range(2 * upto // 500 + 2)
                if 1000 * (i // 2) + 500 * (i % 2) < upto]
    if expected[-1][0] == 1:  # ...then low at that tick, and nothing after
        expected.append((0, upto))
    assert [(level, (t - start) & 0xFFFFFFFF) for level, t in pwm] == expected
    assert pi.read(HW) == 0 and pi.get_mode(HW) == pigpio.OUTPUT
    assert _not_pwm(pi, HW) == (800, real_pigpio.PI_NOT_PWM_GPIO, 255, 250)


def test_a_chain_stops_hardware_pwm_and_the_wave_even_when_it_is_bad(pi):
    """pigpio's gpioWaveChain stops hardware PWM and the transmission before it
    parses the chain; gpioWaveTxSend checks the wave id and mode first."""
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 100), pigpio.pulse(0, 1 << G1, 100)])
    wid = pi.wave_create()
    pi.wave_send_repeat(wid)
    assert _code(lambda: pi.wave_chain([255, 1, 2, 0])) == real_pigpio.PI_BAD_CHAIN_LOOP
    assert pi.wave_tx_busy() == 0 and pi.wave_tx_at() == 9999
    assert pi.hardware_PWM(13, 2000, 250_000) == 0  # channel 1
    assert _code(lambda: pi.wave_send_once(wid + 1)) == real_pigpio.PI_BAD_WAVE_ID
    assert _code(lambda: pi.wave_send_using_mode(wid, 4)) == PI_BAD_WAVE_MODE
    assert pi.get_PWM_frequency(13) == 2000 and pi.get_PWM_dutycycle(13) == 250_000
    assert _code(lambda: pi.wave_chain([255, 1, 2, 0])) == real_pigpio.PI_BAD_CHAIN_LOOP
    assert pi.read(13) == 0
    assert _not_pwm(pi, 13) == (800, real_pigpio.PI_NOT_PWM_GPIO, 255, 250)
    assert pi.hardware_PWM(13, 2000, 250_000) == 0
    pi.wave_send_using_mode(wid, pigpio.WAVE_MODE_ONE_SHOT_SYNC)  # a sync send too
    assert _not_pwm(pi, 13) == (800, real_pigpio.PI_NOT_PWM_GPIO, 255, 250)


def test_hardware_pwm_stops_the_wave_being_sent(pi):
    """pigpio's gpioHardwarePWM stops a busy transmission (gpioWaveTxStop): the
    wave's edges end at the tick the PWM starts, the GPIOs keep their levels, the
    wave and the counters stay."""
    pi.write(HW, 0)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 100), pigpio.pulse(0, 1 << G1, 100)])
    counters = (pi.wave_get_micros(), pi.wave_get_pulses(), pi.wave_get_cbs())
    wid = pi.wave_create()
    edges = Edges(pi, G1, HW)
    cbs = pi.wave_send_repeat(wid)
    wait_until(lambda: len(edges.seen) >= 9)
    assert pi.hardware_PWM(HW, 500, 250_000) == 0
    assert pi.wave_tx_busy() == 0 and pi.wave_tx_at() == 9999
    wait_until(lambda: sum(g == HW for g, _, _ in edges.seen) >= 4)  # 2 ms of PWM
    wave = [(level, t) for g, level, t in edges.seen if g == G1]
    pwm = [(level, t) for g, level, t in edges.seen if g == HW]
    start = wave[0][1]
    began = (pwm[0][1] - start) & 0xFFFFFFFF
    # the wave's edges every 100 µs up to the PWM's first, then none
    assert [(level, (t - start) & 0xFFFFFFFF) for level, t in wave] == \
        [(1 - i % 2, 100 * i) for i in range(began // 100 + 1)]
    assert [(level, (t - pwm[0][1]) & 0xFFFFFFFF) for level, t in pwm[:4]] == \
        [(1, 0), (0, 500), (1, 2000), (0, 2500)]
    assert pi.read(G1) == wave[-1][0]  # it keeps the level it had
    assert (pi.wave_get_micros(), pi.wave_get_pulses(), pi.wave_get_cbs()) == counters
    assert pi.wave_send_once(wid) == cbs  # the wave is still there (and stops the PWM)
    pi.wave_tx_stop()


@needs_root
def test_another_uids_wave_and_hardware_pwm_do_not_stop_each_other(pi, server):
    """pigpio lets any client's wave end any hardware PWM and back; here that stop
    is a change to what another uid started, refused as stopping it is."""
    open_to_all(server.socket_path)
    pi.wave_add_generic([pigpio.pulse(1 << G1, 0, 100), pigpio.pulse(0, 1 << G1, 100)])
    mine = pi.wave_create()
    pi.wave_send_repeat(mine)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 hp 18 1000 500000",
                     "@2 wvag 16 0 100", "@3 wvcre")
    assert "!PigpioError:-41:" in answers[0] and "wave transmission" in answers[0]
    assert answers[1:] == ["@2 1", "@3 1"]
    assert pi.wave_tx_busy() == 1
    pi.wave_tx_stop()
    assert pi.hardware_PWM(HW, 1000, 500_000) == 0
    answers = ask_as(OTHER_UID, server.socket_path, "@4 wvtx 1", "@5 wvcha 1", "@6 wvbsy")
    assert all("!PigpioError:-41:" in a and "GPIO 18" in a for a in answers[:2]), answers
    assert answers[2] == "@6 0"
    assert pi.get_PWM_frequency(HW) == 1000 and pi.get_PWM_dutycycle(HW) == 500_000
    assert pi.hardware_PWM(HW, 0, 0) == 0


_PULSE = st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF),
                   st.one_of(st.integers(0, 3), st.integers(0, 0x3FFFF)))


@settings(max_examples=200, deadline=None)
@given(st.lists(_PULSE, max_size=60), st.booleans())
def test_adding_to_an_empty_wave_counts_as_interleaving_does(pulses, lite):
    """The first wave_add_generic after wave_clear takes a short way (nothing to
    interleave): the same pulses, length, CB count and high-water marks as the
    general merge gives."""
    quick, general = Builder(), Builder()
    assert quick._first(pulses, lite) == general._interleave(pulses, lite) == len(pulses)
    assert quick == general
    assert quick.merge(pulses, lite) == general._interleave(pulses, lite)  # then: general
    assert quick == general


def test_too_many_pulses_for_an_empty_wave_leave_it_empty():
    pulses = [(1, 0, 1)] * WAVE_MAX_PULSES
    quick, general = Builder(), Builder()
    assert quick._first(pulses, False) == general._interleave(pulses, False) \
        == PI_TOO_MANY_PULSES
    assert quick == general == Builder()
    assert quick.merge(pulses[1:], False) == WAVE_MAX_PULSES - 1
