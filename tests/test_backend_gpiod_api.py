"""The rest of pigpio's API on the gpiod backend, against the kernel's gpio-sim chip:
bank 2, the board's revision and pigpio's version, PWM ranges and frequencies, the
noise filter, scripts updated and stopped, notification pipes, the wave engine's
counters, padding and send modes, an inverted bit-bang serial read, and the clear
errors where the guest has no device (SPI) or the adapter cannot do a call (I2C).

One chip of 54 lines (GPIO 0-53, so bank 2 has lines) and one server process on it
(``--hwrev`` given) serve the whole module; each test uses lines of its own. The
tests watch and drive the lines through gpio-sim's sysfs ``value`` and ``pull``, and
compare what clients see with the kernel's edge timestamps.

They need gpio-sim (root, configfs): they run in the QEMU guest, ``python3
tools/kernel_tests.py -- tests/test_backend_gpiod_api.py``, and are skipped
elsewhere (failing instead under ``GPIOSVR_REQUIRE_GPIO_SIM=1``, as in the guest).
"""

from __future__ import annotations

import glob
import os
import random

import pigpio as real_pigpio
import pytest

import test_backend_gpiod as gpiod_tests
from conftest import FifoReader, wait_until

pytestmark = pytest.mark.gpio_sim
C = real_pigpio
#: GPIO 0-53, as many as pigpio numbers: bank 2 is GPIO 32-53.
NUM_LINES = 54
LABEL = "gpiosvr-api"
#: A Raspberry Pi 4B's revision code, given with --hwrev.
HWREV = 0xC03114
#: i2c-stub's address (tests/kernel/init loads it with chip_addr=0x48).
I2C_ADDRESS = 0x48


@pytest.fixture(scope="module")
def chip():
    sim = gpiod_tests.make_sim_chip(f"gpiosvr-api-{os.getpid()}", NUM_LINES, LABEL)
    yield sim
    sim.remove()


@pytest.fixture(scope="module")
def server(chip, tmp_path_factory):
    """One server process on the chip for the module; every line may be changed."""
    socket_path = str(tmp_path_factory.mktemp("gpiod-api") / "gpio.sock")
    with gpiod_tests.gpiod_server_process(
            socket_path, "--chip", chip.dev, "--hwrev", hex(HWREV), "--log-level",
            "WARNING", "--permit", "-1") as proc:
        yield socket_path
    assert proc.returncode == 0


@pytest.fixture
def pi(server):
    import gpiosvr.pigpio as pigpio

    pi = pigpio.pi(server)
    assert pi.connected
    yield pi
    pi.stop()


def code_of(call, *args) -> int:
    """The pigpio error code ``call(*args)`` raises."""
    import gpiosvr.pigpio as pigpio

    with pytest.raises(pigpio.error) as info:
        call(*args)
    return info.value.code


def test_bank_2_sets_clears_and_reads_lines_32_to_53(pi, chip):
    import gpiosvr.pigpio as pigpio

    for gpio in (32, 33, 53):
        pi.write(gpio, 0)
    pi.set_mode(40, pigpio.INPUT)
    bits = 1 << 0 | 1 << 21  # GPIO 32 and 53
    assert pi.set_bank_2(bits | 1 << 25) == 0  # bit 25 (GPIO 57): past the chip, ignored
    assert [chip.value(g) for g in (32, 33, 53)] == [1, 0, 1]
    assert pi.read_bank_2() & (1 << 0 | 1 << 1 | 1 << 21) == bits
    assert pi.clear_bank_2(1 << 21) == 0
    assert [chip.value(g) for g in (32, 33, 53)] == [1, 0, 0]
    assert pi.read_bank_2() & (1 << 0 | 1 << 21) == 1 << 0
    # an input's level as pulled from outside; a line nobody used reads 0 (not taken)
    chip.pull(40, 1)
    chip.pull(41, 1)
    assert pi.read_bank_2() >> 8 & 0b11 == 0b01
    assert not chip.line_info(41).used
    chip.pull(40, 0)
    assert pi.read_bank_2() >> 8 & 1 == 0
    # an input keeps the latch for when it becomes an output, as pigpio's GPSET
    pi.set_mode(33, pigpio.INPUT)
    pi.set_bank_2(1 << 1)
    assert chip.value(33) == 0
    pi.set_mode(33, pigpio.OUTPUT)
    assert chip.value(33) == 1 and pi.read(33) == 1
    pi.clear_bank_2(1 << 0 | 1 << 1)
    assert chip.value(32) == chip.value(33) == 0


def test_the_revision_is_the_servers_and_the_version_pigpios(pi):
    assert pi.get_hardware_revision() == HWREV
    assert pi.get_pigpio_version() == 79  # pigpio 1.78's daemon answers 79


def test_pwm_range_and_frequency_reach_the_line(pi, chip):
    """Range and frequency are pigpio's numbers, and the software waveform follows
    them: full range holds the line high, half of it toggles it."""
    import gpiosvr.pigpio as pigpio

    g = 12
    pi.write(g, 0)
    assert pi.set_PWM_frequency(g, 53) == 50  # the nearest of pigpio's table
    assert pi.get_PWM_frequency(g) == 50
    assert pi.get_PWM_real_range(g) == 4000  # 5 µs steps of a 20 ms period
    assert pi.get_PWM_range(g) == 255
    assert code_of(pi.set_PWM_dutycycle, g, 1000) == C.PI_BAD_DUTYCYCLE
    assert pi.set_PWM_range(g, 1000) == 4000
    assert pi.get_PWM_range(g) == 1000
    assert pi.set_PWM_dutycycle(g, 1000) == 0  # the whole range: high, not toggled
    assert chip.value(g) == 1 and pi.read(g) == 1
    rises = []
    cb = pi.callback(g, pigpio.RISING_EDGE, lambda gpio, level, tick: rises.append(tick))
    pi.set_PWM_dutycycle(g, 500)
    wait_until(lambda: len(rises) >= 3, timeout=60)
    # faster than the software waveform can toggle: refused, and the line and the
    # numbers stay as they were (still toggling below)
    assert code_of(pi.set_PWM_frequency, g, 8000) == C.PI_BAD_PARAM
    assert pi.get_PWM_frequency(g) == 50 and pi.get_PWM_real_range(g) == 4000
    # a new range scales the dutycycle, as pigpio's does
    assert pi.set_PWM_range(g, 2000) == 4000
    assert pi.get_PWM_dutycycle(g) == 1000 and pi.get_PWM_range(g) == 2000
    count = len(rises)
    wait_until(lambda: len(rises) >= count + 2, timeout=60)  # still toggling
    assert pi.set_PWM_range(g, 100) == 4000
    assert pi.get_PWM_dutycycle(g) == 50
    pi.set_PWM_dutycycle(g, 100)  # the whole of the new range: high again
    cb.cancel()
    assert chip.value(g) == 1
    assert code_of(pi.set_PWM_range, g, 24) == C.PI_BAD_DUTYRANGE
    pi.set_PWM_dutycycle(g, 0)
    assert chip.value(g) == 0 and pi.get_PWM_dutycycle(g) == 0


def test_the_noise_filter_on_the_kernels_edges(pi, chip):
    """A level steady for ``steady`` µs is reported, stamped ``steady`` after the
    kernel's timestamp of its edge; edges are then reported as they come for
    ``active`` µs; after that the filter waits for a steady level again."""
    import gpiosvr.pigpio as pigpio

    g, steady, active = 5, 200_000, 1_000_000
    pi.set_mode(g, pigpio.INPUT)
    chip.pull(g, 0)
    wait_until(lambda: pi.read(g) == 0, timeout=30)
    assert code_of(pi.set_noise_filter, g, steady, active + 1) == C.PI_BAD_FILTER  # pigpio's most
    assert pi.set_noise_filter(g, steady, active) == 0
    seen = []
    cb = pi.callback(g, pigpio.EITHER_EDGE, lambda gpio, level, tick: seen.append((level, tick)))

    def pull(level: int) -> tuple[int, int]:
        """Pull the line; the ticks before and after (the kernel stamps it between)."""
        before = pi.get_current_tick()
        chip.pull(g, level)
        return before, pi.get_current_tick()

    def within(tick: int, window: tuple[int, int]) -> bool:
        return (tick - window[0]) & 0xFFFFFFFF <= (window[1] - window[0]) & 0xFFFFFFFF

    bounces = [pull(level) for level in (1, 0, 1)]  # a bouncing contact, then high
    # (a precondition, not what is tested: each bounce came before the last was steady)
    assert (bounces[-1][1] - bounces[0][0]) & 0xFFFFFFFF < steady, "too slow to bounce"
    wait_until(lambda: seen, timeout=30)
    (level, tick), = seen
    assert level == 1 and within((tick - steady) & 0xFFFFFFFF, bounces[-1])
    # the active window: an edge is reported at once, at the kernel's timestamp
    window = pull(0)
    assert (window[1] - tick) & 0xFFFFFFFF < active, "too slow for the active window"
    wait_until(lambda: len(seen) == 2, timeout=30)
    assert seen[1][0] == 0 and within(seen[1][1], window)
    # after the window, a change waits to be steady again
    wait_until(lambda: (pi.get_current_tick() - tick) & 0xFFFFFFFF > active + steady,
               timeout=30, interval=0.05)
    again = pull(1)
    wait_until(lambda: len(seen) == 3, timeout=30)
    assert seen[2][0] == 1 and within((seen[2][1] - steady) & 0xFFFFFFFF, again)
    assert pi.set_noise_filter(g, 0, 0) == 0
    cb.cancel()


def test_a_running_script_is_updated_and_stopped(pi, chip):
    import gpiosvr.pigpio as pigpio

    g = 30
    pi.write(g, 0)
    sid = pi.store_script(f"tag 1 w {g} p0 mils 20 jmp 1")
    wait_until(lambda: pi.script_status(sid)[0] != pigpio.PI_SCRIPT_INITING, timeout=30)
    assert pi.run_script(sid, [1]) == 0
    wait_until(lambda: chip.value(g) == 1, timeout=30)
    assert pi.update_script(sid, [0]) == 0
    wait_until(lambda: chip.value(g) == 0, timeout=30)
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_RUNNING
    assert pi.stop_script(sid) == 0
    assert pi.script_status(sid) == (pigpio.PI_SCRIPT_HALTED, (0,) + (0,) * 9)
    assert pi.update_script(sid, [1]) == 0  # a halted script's parameters change too
    assert pi.script_status(sid) == (pigpio.PI_SCRIPT_HALTED, (1,) + (0,) * 9)
    assert pi.run_script(sid) == 0  # run again with those parameters
    wait_until(lambda: chip.value(g) == 1, timeout=30)
    assert pi.stop_script(sid) == 0 and pi.delete_script(sid) == 0
    assert code_of(pi.update_script, sid, [0]) == C.PI_BAD_SCRIPT_ID
    pi.write(g, 0)


def test_notification_pipes_carry_the_kernels_edges(pi, chip):
    """Each report's tick is the kernel's timestamp of the edge (the callback's);
    paused edges are not reported; a closed handle's FIFO is gone."""
    import gpiosvr.pigpio as pigpio

    g = 6
    pi.set_mode(g, pigpio.INPUT)
    chip.pull(g, 0)
    wait_until(lambda: pi.read(g) == 0, timeout=30)
    seen = []
    cb = pi.callback(g, pigpio.EITHER_EDGE, lambda gpio, level, tick: seen.append((level, tick)))
    h = pi.notify_open()
    path = pigpio.notify_path(pi, h)
    reader = FifoReader(path, timeout=30)
    try:
        assert pi.notify_begin(h, 1 << g) == 0
        for level in (1, 0, 1):
            chip.pull(g, level)
        reports = reader.reports(3)
        wait_until(lambda: len(seen) >= 3, timeout=30)
        assert [r[0] for r in reports] == [0, 1, 2]
        assert [r[1] for r in reports] == [0, 0, 0]  # level changes
        assert [r[3] >> g & 1 for r in reports] == [1, 0, 1]
        assert [r[2] for r in reports] == [tick for _, tick in seen]
        assert pi.notify_pause(h) == 0
        chip.pull(g, 0)
        chip.pull(g, 1)
        wait_until(lambda: len(seen) >= 5, timeout=30)
        assert pi.notify_begin(h, 1 << g) == 0
        chip.pull(g, 0)
        wait_until(lambda: len(seen) >= 6, timeout=30)
        (seq, flags, tick, levels), = reader.reports(1)
        assert (seq, flags, tick, levels >> g & 1) == (3, 0, seen[5][1], 0)
        assert reader.buf == b""
        assert pi.notify_close(h) == 0
        assert not os.path.exists(path)
        assert code_of(pi.notify_begin, h, 1 << g) == C.PI_BAD_HANDLE
    finally:
        reader.close()
        cb.cancel()


def test_the_wave_engines_counters_padding_and_new_waves(pi, chip):
    import gpiosvr.pigpio as pigpio

    g, junk = 22, 23
    pi.write(g, 0)
    pi.write(junk, 0)
    assert pi.wave_clear() == 0
    assert pi.wave_add_generic([pigpio.pulse(1 << g, 0, 10), pigpio.pulse(0, 1 << g, 10)]) == 2
    assert (pi.wave_get_micros(), pi.wave_get_pulses(), pi.wave_get_cbs()) == (20, 2, 4)
    assert pi.wave_get_max_micros() == 1_800_000_000
    assert pi.wave_get_max_pulses() == 12_000 and pi.wave_get_max_cbs() == 25_016
    assert pi.wave_add_new() == 0  # the pulses so far are dropped
    assert (pi.wave_get_pulses(), pi.wave_get_cbs()) == (0, 0)
    assert code_of(pi.wave_create) == C.PI_EMPTY_WAVEFORM
    pi.wave_add_generic([pigpio.pulse(1 << junk, 0, 10)])
    assert pi.wave_add_new() == 0
    wave = [pigpio.pulse(1 << g, 0, 20000), pigpio.pulse(0, 1 << g, 20000)]
    ids = []
    for _ in range(2):  # each takes half of the control blocks
        pi.wave_add_generic(wave)
        ids.append(pi.wave_create_and_pad(50))
    assert ids == [0, 1]
    pi.wave_add_generic(wave)
    assert code_of(pi.wave_create_and_pad, 50) == C.PI_TOO_MANY_CBS
    edges = []
    cbs = [pi.callback(line, pigpio.EITHER_EDGE,
                       lambda gpio, level, tick: edges.append((gpio, level)))
           for line in (g, junk)]
    assert pi.wave_send_once(ids[1]) > 0  # a padded wave plays as any other
    wait_until(lambda: not pi.wave_tx_busy() and len(edges) >= 2, timeout=60)
    assert pi.wave_delete(ids[0]) == 0
    assert pi.wave_add_new() == 0  # the pulses the failed create left
    pi.wave_add_generic(wave)
    assert pi.wave_create_and_pad(50) == 0  # its room is free again: the lowest id
    assert pi.wave_send_once(0) > 0
    wait_until(lambda: not pi.wave_tx_busy() and len(edges) >= 4, timeout=60)
    for cb in cbs:
        cb.cancel()
    # the junk pulse dropped by wave_add_new was never sent
    assert edges == [(g, 1), (g, 0), (g, 1), (g, 0)]
    assert chip.value(g) == chip.value(junk) == 0
    # removed from pigpio long before 1.78: the server answers as pigpio does
    assert code_of(pi.wave_tx_start) == C.PI_DEPRECATED
    assert code_of(pi.wave_tx_repeat) == C.PI_DEPRECATED
    assert pi.wave_clear() == 0


def test_send_modes_follow_or_replace_the_wave_being_sent(pi, chip):
    """A ``*_SYNC`` send starts when the wave being sent ends (all its edges come
    first); a plain one-shot send stops it at once."""
    import gpiosvr.pigpio as pigpio

    x, y = 20, 21
    pi.write(x, 0)
    pi.write(y, 0)
    edges = []
    cbs = [pi.callback(line, pigpio.EITHER_EDGE,
                       lambda gpio, level, tick: edges.append((gpio, level, tick)))
           for line in (x, y)]
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(1 << x, 0, 200_000), pigpio.pulse(0, 1 << x, 0)])
    a = pi.wave_create()
    pi.wave_add_generic([pigpio.pulse(1 << y, 0, 20_000), pigpio.pulse(0, 1 << y, 20_000)])
    b = pi.wave_create()
    pi.wave_add_generic([pigpio.pulse(1 << y, 0, 300_000), pigpio.pulse(0, 1 << y, 0)])
    long_b = pi.wave_create()

    def in_order(count: int) -> list[tuple[int, int]]:
        wait_until(lambda: len(edges) >= count, timeout=60)
        ticks = [tick for _, _, tick in edges]
        assert all((t1 - t0) & 0xFFFFFFFF < 1 << 31 for t0, t1 in zip(ticks, ticks[1:]))
        return [(gpio, level) for gpio, level, _ in edges]

    assert pi.wave_send_using_mode(a, pigpio.WAVE_MODE_ONE_SHOT) > 0
    assert pi.wave_send_using_mode(b, pigpio.WAVE_MODE_ONE_SHOT_SYNC) > 0
    assert pi.wave_tx_at() == a  # b waits for a's 200 ms to end
    wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
    assert in_order(4) == [(x, 1), (x, 0), (y, 1), (y, 0)]
    edges.clear()
    assert pi.wave_send_using_mode(a, pigpio.WAVE_MODE_ONE_SHOT) > 0
    assert pi.wave_send_using_mode(b, pigpio.WAVE_MODE_REPEAT_SYNC) > 0
    wait_until(lambda: sum(e[:2] == (y, 1) for e in edges) >= 3, timeout=60)
    assert pi.wave_tx_at() == b and pi.wave_tx_busy() == 1
    assert pi.wave_tx_stop() == 0
    seen = in_order(6)
    assert seen[:2] == [(x, 1), (x, 0)] and {e for e in seen[2:]} == {(y, 1), (y, 0)}
    pi.write(y, 0)
    wait_until(lambda: chip.value(y) == 0, timeout=30)
    edges.clear()
    assert pi.wave_send_using_mode(a, pigpio.WAVE_MODE_ONE_SHOT) > 0
    wait_until(lambda: chip.value(x) == 1, timeout=30)
    assert pi.wave_send_using_mode(long_b, pigpio.WAVE_MODE_ONE_SHOT) > 0
    wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
    # long_b lasted past the end of a's 200 ms: a never set x low, it was stopped
    assert chip.value(x) == 1 and chip.value(y) == 0
    assert in_order(3) == [(x, 1), (y, 1), (y, 0)]
    for cb in cbs:
        cb.cancel()
    pi.write(x, 0)
    pi.wave_clear()


def test_an_inverted_uart_is_read_back_by_bb_serial_read(pi, chip, tmp_path,
                                                         uart_source_program):
    """bb_serial_invert: the UART stand-in sends inverted levels (idle low, start
    bits high) on line 26; with the read inverted every byte comes back."""
    import gpiosvr.pigpio as pigpio
    from uart_source import UartSource, read_serial

    # 4800 baud: the emulated CPU spends up to ~100 µs of server time per edge, so
    # at 9600 (proven in test_backend_gpiod.py) it has no margin left for what the
    # module's earlier tests leave running on this shared server
    rx, baud = 26, 4800
    rng = random.Random(26)
    data = bytes(rng.randrange(256) for _ in range(200))
    pi.set_mode(rx, pigpio.INPUT)
    assert pi.bb_serial_read_open(rx, baud) == 0
    assert pi.bb_serial_invert(rx, 1) == 0
    with UartSource(uart_source_program, chip.sysfs, rx, baud, data, str(tmp_path),
                    invert=True) as source:
        source.start()
        wait_until(lambda: pi.read(rx) == 0, timeout=30)
        source.go()
        got = read_serial(pi, rx, len(data))
        source.figures(timeout=120)
    assert bytes(got) == data
    assert pi.bb_serial_read(rx) == (0, "")
    assert pi.bb_serial_invert(rx, 0) == 0
    assert pi.bb_serial_read_close(rx) == 0
    assert code_of(pi.bb_serial_invert, rx, 1) == C.PI_NOT_SERIAL_GPIO


def test_what_the_guests_buses_cannot_do_is_refused_clearly(pi):
    """The guest's SPI bus (spi-gpio) has one chip select: opening another fails
    naming the device file, and the other SPI calls answer pigpio's bad handle.
    i2c-stub has no process calls: they are refused by the adapter's functionality,
    as pigpio does."""
    import gpiosvr.pigpio as pigpio

    with pytest.raises(pigpio.error) as info:
        pi.spi_open(1, 1_000_000, 0)
    assert info.value.code == C.PI_SPI_OPEN_FAILED
    assert "/dev/spidev0.1" in str(info.value.__cause__)
    assert pi.spi_read(0, 2) == (C.PI_BAD_HANDLE, "")
    assert pi.spi_xfer(0, b"\x01\x02") == (C.PI_BAD_HANDLE, "")
    assert code_of(pi.spi_write, 0, b"\x01") == C.PI_BAD_HANDLE
    assert code_of(pi.spi_close, 0) == C.PI_BAD_HANDLE
    buses = [name for name in glob.glob("/sys/class/i2c-dev/i2c-*/name")
             if open(name).read().strip() == "SMBus stub driver"]
    assert buses, "no i2c-stub adapter (is the module loaded by tests/kernel/init?)"
    bus = int(buses[0].split("/")[-2].split("-")[1])
    h = pi.i2c_open(bus, I2C_ADDRESS)
    assert pi.i2c_block_process_call(h, 0x10, b"\x01\x02") == (C.PI_BAD_SMBUS_CMD, "")
    assert code_of(pi.i2c_process_call, h, 0x10, 0x1234) == C.PI_BAD_SMBUS_CMD
    assert pi.i2c_close(h) == 0
