"""The simulated chip's pigpio semantics, and the bounded work it does per turn of
the server's loop (injected bursts, waveforms)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import wait_until

import gpiosvr.pigpio as pigpio
from gpiosvr import errors
from gpiosvr.blocking import BlockingClient
from gpiosvr.client_pigpio import tickDiff
from gpiosvr.server.backends import sim
from gpiosvr.server.backends.sim import (DEFAULT_HARDWARE_REVISION, INPUT, OUTPUT,
                                         PUD_DOWN, PUD_OFF, PUD_UP, SimulatedChip)


def test_reset_state_follows_bcm283x_defaults():
    chip = SimulatedChip()
    assert all(chip.get_mode(g) == INPUT for g in range(54))
    assert [chip.read(g) for g in range(12)] == [1] * 9 + [0] * 3
    assert chip.hardware_revision == DEFAULT_HARDWARE_REVISION


def test_write_makes_an_output_and_input_follows_pull():
    chip = SimulatedChip()
    chip.write(10, 1)
    assert chip.get_mode(10) == OUTPUT and chip.read(10) == 1
    chip.set_mode(10, INPUT)
    chip.set_pull(10, PUD_UP)
    assert chip.read(10) == 1
    chip.set_pull(10, PUD_DOWN)
    assert chip.read(10) == 0
    chip.set_pull(10, PUD_OFF)
    assert chip.read(10) == 0  # floating: keeps its last level


def test_external_drive_and_level_listeners():
    chip = SimulatedChip()
    seen = []
    chip.listeners.append(lambda g, lvl, tick: seen.append((g, lvl)))
    chip.drive(12, 1)
    chip.drive(12, 1)
    chip.drive(12, None)
    chip.write(13, 1)
    assert seen == [(12, 1), (12, 0), (13, 1)]


def test_ticks_wrap_at_32_bits(monkeypatch):
    """The chip's tick is its clock (CLOCK_MONOTONIC in µs, plus the offset) modulo
    2**32: with the clock set by hand, each tick is exact."""
    clock_ns = [7_000_000_000_123]  # 7,000,000,000 µs (and 123 ns, dropped)
    monkeypatch.setattr(sim, "time", SimpleNamespace(monotonic_ns=lambda: clock_ns[0]))
    chip = SimulatedChip(tick_offset=(1 << 32) - 7_000_000_000 - 2000)
    before = chip.tick()
    assert before == (1 << 32) - 2000
    clock_ns[0] += 1_999_000
    assert chip.tick() == (1 << 32) - 1
    clock_ns[0] += 1000
    assert chip.tick() == 0
    clock_ns[0] += 500_000
    after = chip.tick()
    assert after == 500 and tickDiff(before, after) == 2500
    assert SimulatedChip(tick_offset=5 << 32).tick() == 7_000_002_500 % (1 << 32)


def test_bank_latches_show_on_outputs_only():
    chip = SimulatedChip()
    chip.write(3, 0)
    chip.set_bank(1, (1 << 3) | (1 << 20))
    assert chip.read(3) == 1 and chip.read(20) == 0
    assert chip.read_bank(1) >> 3 & 1 == 1
    chip.clear_bank(1, 1 << 3)
    assert chip.read(3) == 0
    chip.write(40, 1)
    assert chip.read_bank(2) == 0x3F0000 | 1 << 8  # 48-53: the SD card


# -- bounded work per turn of the loop, on a real server ------------------------------

MASK = 0xFFFFFFFF


class Chunks:
    """A burst listener on the server's chip: what was handed on, chunk by chunk, in
    the loop's order; ``mark`` (a level listener) notes other events in that order."""

    def __init__(self, server) -> None:
        self.log: list[tuple] = []
        self.edges = 0
        server.call(server.backend.add_listener, self.mark, self.chunk)

    def chunk(self, gpio: int, packed: bytes) -> None:
        self.edges += len(packed) // 6
        self.log.append((gpio, len(packed) // 6))

    def mark(self, gpio: int, level: int, tick: int) -> None:
        self.log.append(("change", gpio, level, self.edges))

    def sizes(self, gpio: int) -> list[int]:
        return [n for g, n, *_ in self.log if g == gpio]


def test_a_big_inject_is_handed_on_in_chunks_with_exact_ticks(server, client, monkeypatch):
    monkeypatch.setattr(sim, "SIM_EDGES_PER_TURN", 1000, raising=False)
    chunks = Chunks(server)
    got = []
    client.callback(20, 2, lambda g, level, tick: got.append((g, level, tick)))
    start = MASK - 30_000  # the ticks wrap at 2**32 during the burst
    assert client.command("siminject", 20, 25_000, 3, start) == start
    assert client.command("r", 20) == 0  # at once the level the last edge leaves
    wait_until(lambda: len(got) == 25_000)
    assert got == [(20, (i + 1) % 2, (start + 3 * i) & MASK) for i in range(25_000)]
    assert chunks.sizes(20) == [1000] * 25


def test_another_client_is_answered_while_a_big_inject_is_handed_on(server, client,
                                                                    monkeypatch):
    """``siminject 6 10000000 0`` once held every client for seconds."""
    monkeypatch.setattr(sim, "SIM_EDGES_PER_TURN", 1, raising=False)  # 10M turns
    chunks = Chunks(server)
    with BlockingClient(server.socket_path) as other:
        assert client.command("siminject", 6, 10_000_000, 0) >= 0
        assert other.command("t") >= 0
        other.command("w", 17, 1)  # marks, in the loop's order, when it was served
        wait_until(lambda: any(e[0] == "change" for e in chunks.log))
        served = next(e for e in chunks.log if e[0] == "change")
        assert served[3] < 10_000_000  # between two chunks, not after the last
        assert set(chunks.sizes(6)) == {1}
        assert server.call(server.backend.queued_edges) > 0


def test_what_comes_while_a_burst_is_handed_on_waits_behind_it(server, client, monkeypatch):
    monkeypatch.setattr(sim, "SIM_EDGES_PER_TURN", 1000, raising=False)
    chunks = Chunks(server)
    got = []
    client.callback(21, 2, lambda g, level, tick: got.append((level, tick)))
    answers = client.request([["siminject", 21, 2500, 1, 1000],
                              ["siminject", 21, 3, 10, 500],  # behind the first
                              ["simfloat", 21]])  # pulled down: a fall, behind them
    assert [a.result() for a in answers] == [1000, 500, 0]
    wait_until(lambda: len(got) == 2504)
    assert got[:2500] == [((i + 1) % 2, 1000 + i) for i in range(2500)]
    assert got[2500:2503] == [(1, 500), (0, 510), (1, 520)]
    assert got[2503][0] == 0
    assert chunks.sizes(21) == [1000, 1000, 500, 3]
    assert [e for e in chunks.log if e[0] == "change"] == [("change", 21, 0, 2503)]


def test_more_queued_edges_than_the_limit_are_refused(server, client, monkeypatch):
    monkeypatch.setattr(sim, "SIM_EDGES_PER_TURN", 1000, raising=False)
    monkeypatch.setattr(sim, "SIM_MAX_QUEUED_EDGES", 5000, raising=False)
    first, second = client.request([["siminject", 22, 4000, 1], ["siminject", 23, 2500, 1]])
    assert first.result() >= 0
    error = second.exception()
    assert error.code == errors.PI_NOT_PERMITTED
    assert "3000 injected edges are still waiting" in str(error)
    assert "SIM_MAX_QUEUED_EDGES" in str(error)
    wait_until(lambda: server.call(server.backend.queued_edges) == 0)
    assert client.command("siminject", 23, 2500, 1) >= 0


@pytest.mark.permit(-1)  # hardware PWM on all nine GPIOs, bank 2's too
def test_waveforms_past_the_edge_budget_hold_a_level(server):
    """Hardware PWM at 99 kHz on the nine hardware-PWM GPIOs once left other clients
    a few answers a second."""
    pi = pigpio.pi(server.socket_path)
    try:
        for gpio in (12, 13, 18, 19, 40, 41, 45, 52, 53):
            assert pi.hardware_PWM(gpio, 99_000, 600_000) == 0
        # 198,000 edges/s each: two fit in SIM_WAVEFORM_EDGES_PER_SECOND (400,000)
        assert server.call(server.backend.toggling) == [12, 13]
        assert {pi.read(18) for _ in range(20)} == {1}  # high 60 % of the time: held high
        assert {pi.read(12) for _ in range(200)} == {0, 1}  # read samples the waveform
        # pigpio's settings are kept: the frequency its PWM clock really makes,
        # 250 MHz over a range of 2525
        assert pi.get_PWM_frequency(18) == 99_010
        pi.hardware_PWM(12, 0, 0)
        pi.hardware_PWM(18, 99_000, 250_000)  # room again: it toggles
        assert server.call(server.backend.toggling) == [13, 18]
        pi.hardware_PWM(19, 99_000, 250_000)  # no room: held low (high a quarter)
        assert {pi.read(19) for _ in range(20)} == {0}
    finally:
        pi.stop()


def test_waveform_edges_are_handed_on_a_bounded_chunk_at_a_time(server, monkeypatch):
    monkeypatch.setattr(sim, "SIM_EDGES_PER_TURN", 40, raising=False)
    chunks = Chunks(server)
    pi = pigpio.pi(server.socket_path)
    try:
        got = []
        pi.callback(18, pigpio.EITHER_EDGE, lambda g, level, tick: got.append((level, tick)))
        pi.hardware_PWM(18, 10_000, 250_000)  # 20,000 edges/s: 100 a 5 ms step
        wait_until(lambda: len(got) >= 1000)
        pi.write(18, 0)
    finally:
        pi.stop()
    sizes = chunks.sizes(18)[:-1]  # the last: what was left when the write stopped it
    assert max(sizes) == 40 and len(sizes) >= 25
    levels = [level for level, _ in got[:1000]]
    assert levels == [1, 0] * 500
    gaps = {(b[1] - a[1]) & MASK for a, b in zip(got[:1000], got[1:1000])}
    assert gaps == {25, 75}  # high 25 µs of every 100 µs, exact, none missed
