"""The simulated chip's pigpio semantics."""

from __future__ import annotations

from conftest import wait_until

from gpiosvr.client_pigpio import tickDiff
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


def test_ticks_wrap_at_32_bits():
    base = SimulatedChip().tick()
    chip = SimulatedChip(tick_offset=(1 << 32) - base - 2000)
    before = chip.tick()
    assert before > (1 << 32) - 1_000_000
    after = wait_until(lambda: (t := chip.tick()) < before and t + 1)
    assert 0 < tickDiff(before, after - 1) < 1_000_000


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
