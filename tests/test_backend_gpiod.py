"""The gpiod backend against a real kernel GPIO chip: the kernel's gpio-sim.

The server runs as its own process on ``--backend gpiod --chip-label ...``; the
tests use it through the pigpio facade and watch and drive the lines from outside
through gpio-sim's sysfs attributes (``sim_gpioN/value`` and ``sim_gpioN/pull``),
like a person with a voltmeter and a button.

These tests need the gpio-sim module and configfs (as root): they run inside a QEMU
guest through ``python3 tools/kernel_tests.py`` and are skipped elsewhere (with
``GPIOSVR_REQUIRE_GPIO_SIM=1``, as in the guest, a missing chip fails instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from children import spawn, spawn_run
from conftest import wait_until

GPIO_SIM = "/sys/kernel/config/gpio-sim"
NUM_LINES = 28  # as many as a Raspberry Pi's header GPIOs (0-27)
LABEL = "gpiosvr-sim"


def _missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "gpio-sim is a Linux kernel module"
    try:
        import gpiod  # noqa: F401
    except ImportError:
        return "the gpiod bindings are not installed"
    if not os.path.isdir(GPIO_SIM):
        return f"no gpio-sim chip can be made here ({GPIO_SIM} is missing); " \
               "run python3 tools/kernel_tests.py"
    if not os.access(GPIO_SIM, os.W_OK):
        return f"{GPIO_SIM} is not writable (not root)"
    return None


pytestmark = pytest.mark.gpio_sim


class SimChip:
    """A gpio-sim chip made through configfs, driven and observed through sysfs:
    ``num_lines`` lines labelled ``label``."""

    def __init__(self, name: str, num_lines: int = NUM_LINES, label: str = LABEL) -> None:
        self.config = os.path.join(GPIO_SIM, name)
        os.mkdir(self.config)
        bank = os.path.join(self.config, "bank0")
        os.mkdir(bank)
        self._put(os.path.join(bank, "num_lines"), str(num_lines))
        self._put(os.path.join(bank, "label"), label)
        self._put(os.path.join(self.config, "live"), "1")
        dev_name = self._get(os.path.join(self.config, "dev_name"))
        self.chip_name = self._get(os.path.join(bank, "chip_name"))
        self.dev = f"/dev/{self.chip_name}"
        self.sysfs = f"/sys/devices/platform/{dev_name}/{self.chip_name}"

    @staticmethod
    def _put(path: str, text: str) -> None:
        with open(path, "w") as f:
            f.write(text)

    @staticmethod
    def _get(path: str) -> str:
        with open(path) as f:
            return f.read().strip()

    def value(self, line: int) -> int:
        """The line's level as the chip has it (what a voltmeter would show)."""
        return int(self._get(f"{self.sysfs}/sim_gpio{line}/value"))

    def pull(self, line: int, level: int) -> None:
        """Pull the line up or down from outside (a button to 3V3 or to ground)."""
        self._put(f"{self.sysfs}/sim_gpio{line}/pull", "pull-up" if level else "pull-down")

    def line_info(self, line: int):
        import gpiod

        with gpiod.Chip(self.dev) as chip:
            return chip.get_line_info(line)

    def remove(self) -> None:
        self._put(os.path.join(self.config, "live"), "0")
        os.rmdir(os.path.join(self.config, "bank0"))
        os.rmdir(self.config)


def make_sim_chip(name: str, *args) -> SimChip:
    """A gpio-sim chip for a module's tests (``SimChip(name, *args)``); skips the
    module where none can be made, or fails it under ``GPIOSVR_REQUIRE_GPIO_SIM``."""
    why = _missing()
    if why is not None:
        if os.environ.get("GPIOSVR_REQUIRE_GPIO_SIM"):
            pytest.fail(f"GPIOSVR_REQUIRE_GPIO_SIM is set, but {why}")
        pytest.skip(why)
    return SimChip(name, *args)


@contextmanager
def gpiod_server_process(socket_path: str, *args: str) -> Iterator[subprocess.Popen]:
    """A server process on ``--backend gpiod`` (more options in ``args``), once it
    says it serves; terminated (killed if it will not stop) when the block ends. Its
    stderr goes to a file, not a pipe nobody reads: a server that logs a lot would
    block on a full pipe."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = spawn(
            [sys.executable, "-m", "gpiosvr.server", "--backend", "gpiod",
             "--socket", socket_path, *args],
            stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            line = proc.stdout.readline()
            if "serving gpiod" not in line:
                proc.wait(30)
                errors.seek(0)
                pytest.fail(f"the gpiod server did not start: {line}{errors.read()}")
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            proc.stdout.close()


@pytest.fixture(scope="module")
def sim_chip():
    chip = make_sim_chip(f"gpiosvr-test-{os.getpid()}")
    yield chip
    chip.remove()


@pytest.fixture(scope="module")
def gpiod_server(sim_chip, tmp_path_factory):
    """A server process on the gpio-sim chip, found by its label; every line may be
    changed (on a board that is not a Pi the default mask is GPIO 2-27)."""
    socket_path = str(tmp_path_factory.mktemp("gpiod") / "gpio.sock")
    with gpiod_server_process(socket_path, "--chip-label", LABEL, "--log-level",
                              "WARNING", "--permit", "-1") as proc:
        yield socket_path
    assert proc.returncode == 0


@pytest.fixture
def pi(gpiod_server):
    import gpiosvr.pigpio as pigpio

    pi = pigpio.pi(gpiod_server)
    assert pi.connected
    yield pi
    pi.stop()


def _held(sim_chip, line: int) -> bool:
    info = sim_chip.line_info(line)
    return info.used and info.consumer == "gpiosvr"


def test_outputs_drive_the_line(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.write(0, 1)
    assert sim_chip.value(0) == 1
    assert pi.get_mode(0) == pigpio.OUTPUT
    assert pi.read(0) == 1
    pi.write(0, 0)
    assert sim_chip.value(0) == 0
    pi.set_mode(1, pigpio.OUTPUT)
    pi.set_bank_1(1 << 1)
    assert sim_chip.value(1) == 1
    assert pi.read_bank_1() & 0b11 == 0b10
    assert not _held(sim_chip, 27)  # a bank read takes no line nobody asked for
    pi.clear_bank_1(1 << 1)
    assert sim_chip.value(1) == 0


def test_inputs_follow_outside_pulls_and_own_bias(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.set_mode(2, pigpio.INPUT)
    assert pi.get_mode(2) == pigpio.INPUT
    sim_chip.pull(2, 1)
    assert pi.read(2) == 1
    sim_chip.pull(2, 0)
    assert pi.read(2) == 0
    pi.set_pull_up_down(3, pigpio.PUD_UP)  # the line's own bias
    assert pi.read(3) == 1
    assert sim_chip.value(3) == 1
    pi.set_pull_up_down(3, pigpio.PUD_DOWN)
    assert pi.read(3) == 0
    assert sim_chip.value(3) == 0


def test_edges_arrive_in_order_with_kernel_ticks(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.set_mode(4, pigpio.INPUT)
    sim_chip.pull(4, 0)
    seen = []
    cb = pi.callback(4, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append((g, level, tick)))
    windows = []
    for i in range(6):
        before = pi.get_current_tick()
        sim_chip.pull(4, (i + 1) % 2)
        windows.append((before, pi.get_current_tick()))
    wait_until(lambda: len(seen) >= 6, timeout=30)
    cb.cancel()
    assert [level for _, level, _ in seen] == [1, 0, 1, 0, 1, 0]
    assert {g for g, _, _ in seen} == {4}
    for (_, _, tick), (before, after) in zip(seen, windows):
        # the kernel stamped the edge between the two ticks the server gave around it
        assert (tick - before) & 0xFFFFFFFF <= (after - before) & 0xFFFFFFFF
    ticks = [tick for _, _, tick in seen]
    assert all((b - a) & 0xFFFFFFFF < 1 << 31 for a, b in zip(ticks, ticks[1:]))


def test_a_burst_of_edges_arrives_whole_and_in_order(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.set_mode(9, pigpio.INPUT)
    sim_chip.pull(9, 0)
    seen = []
    cb = pi.callback(9, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append((level, tick)))
    count = 300
    for i in range(count):  # as fast as sysfs takes them
        sim_chip.pull(9, (i + 1) % 2)
    wait_until(lambda: len(seen) >= count, timeout=60)
    cb.cancel()
    assert [level for level, _ in seen] == [(i + 1) % 2 for i in range(count)]
    ticks = [tick for _, tick in seen]
    assert all((b - a) & 0xFFFFFFFF < 1 << 31 for a, b in zip(ticks, ticks[1:]))


def test_outputs_report_their_own_edges(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.write(5, 0)
    seen = []
    cb = pi.callback(5, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append(level))
    pi.write(5, 1)
    pi.write(5, 0)
    wait_until(lambda: len(seen) >= 2, timeout=30)
    cb.cancel()
    assert seen == [1, 0]


def test_two_processes_share_a_line(pi, sim_chip, gpiod_server):
    import gpiod

    pi.write(6, 1)
    assert _held(sim_chip, 6)
    script = textwrap.dedent("""
        import sys
        import gpiosvr.pigpio as pigpio
        pi = pigpio.pi(sys.argv[1])
        assert pi.connected
        print(pi.read(6), flush=True)
        pi.write(6, 0)
        print(pi.read(6), flush=True)
        pi.stop()
    """)
    socket_path = gpiod_server
    out = subprocess.run([sys.executable, "-c", script, socket_path], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0"]
    assert sim_chip.value(6) == 0
    assert pi.read(6) == 0
    # the kernel alone would refuse a second requester: the server holds the line
    with gpiod.Chip(sim_chip.dev) as chip, pytest.raises(OSError):
        chip.request_lines({6: None}, consumer="intruder")


def test_lines_are_released_when_no_client_needs_them(gpiod_server, sim_chip):
    import gpiosvr.pigpio as pigpio

    first = pigpio.pi(gpiod_server)
    second = pigpio.pi(gpiod_server)
    try:
        assert not _held(sim_chip, 7)
        first.write(7, 1)
        second.read(7)
        assert _held(sim_chip, 7)
        first.stop()
        time.sleep(0.5)
        assert _held(sim_chip, 7)  # the second client still uses it
        second.stop()
        wait_until(lambda: not _held(sim_chip, 7), timeout=30)
        # an edge subscription alone holds a line, as long as it lasts
        third = pigpio.pi(gpiod_server)
        cb = third.callback(8, pigpio.EITHER_EDGE)
        wait_until(lambda: _held(sim_chip, 8), timeout=30)
        sim_chip.pull(8, 1)
        wait_until(lambda: cb.tally() >= 1, timeout=30)
        cb.cancel()
        wait_until(lambda: not _held(sim_chip, 8), timeout=30)
        third.stop()
    finally:
        for client in (first, second):
            if client.connected:
                client.stop()


def test_what_the_chip_cannot_do_is_refused_clearly(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    with pytest.raises(pigpio.error) as alt:
        pi.set_mode(9, pigpio.ALT0)
    assert "ALT" in str(alt.value.__cause__)
    with pytest.raises(pigpio.error) as beyond:
        pi.write(NUM_LINES, 1)
    assert f"0-{NUM_LINES - 1}" in str(beyond.value.__cause__)
    with pytest.raises(pigpio.error) as fast:
        pi.hardware_PWM(13, 25000, 500000)
    assert "software PWM" in str(fast.value.__cause__)


def test_a_line_another_program_holds_is_refused(pi, sim_chip):
    import gpiod
    import gpiosvr.pigpio as pigpio

    with gpiod.Chip(sim_chip.dev) as chip:
        request = chip.request_lines({11: None}, consumer="someone-else")
        try:
            with pytest.raises(pigpio.error) as busy:
                pi.read(11)
            assert "someone-else" in str(busy.value.__cause__)
        finally:
            request.release()
    assert pi.read(11) in (0, 1)


def test_software_pwm_and_servo_toggle_the_line(pi, sim_chip):
    """The line toggles for PWM and servo pulses and rests at 0 when they stop.
    How close to their times the toggles come depends on the host's load (in an
    emulated guest edges come ms late), so it is printed here, never asserted:
    benchmarks/bench_gpiod_waveforms.py measures it."""
    import gpiosvr.pigpio as pigpio

    rises = []
    cb = pi.callback(12, pigpio.RISING_EDGE, lambda g, level, tick: rises.append(tick))
    pi.set_PWM_frequency(12, 50)
    pi.set_PWM_dutycycle(12, 128)
    assert pi.get_PWM_dutycycle(12) == 128
    wait_until(lambda: len(rises) >= 11, timeout=60)
    pi.set_PWM_dutycycle(12, 0)
    cb.cancel()
    periods = sorted((b - a) & 0xFFFFFFFF for a, b in zip(rises, rises[1:]))[:10]
    print(f"\nPWM 50 Hz: periods {periods[0]}-{periods[-1]} µs, "
          f"median {periods[len(periods) // 2]}")
    wait_until(lambda: sim_chip.value(12) == 0, timeout=10)
    assert pi.read(12) == 0

    widths, rises, start = [], [], {}

    def pulse(gpio, level, tick):
        if level == 1:
            start["rise"] = tick
            rises.append(tick)
        elif "rise" in start:
            widths.append((tick - start.pop("rise")) & 0xFFFFFFFF)

    cb = pi.callback(15, pigpio.EITHER_EDGE, pulse)
    pi.set_servo_pulsewidth(15, 1500)
    assert pi.get_servo_pulsewidth(15) == 1500
    wait_until(lambda: len(widths) >= 6, timeout=60)  # six pulses, each rise then fall
    pi.set_servo_pulsewidth(15, 0)
    cb.cancel()
    periods = sorted((b - a) & 0xFFFFFFFF for a, b in zip(rises, rises[1:]))
    print(f"\nservo 1500 µs: pulses {min(widths)}-{max(widths)} µs, "
          f"median {sorted(widths)[len(widths) // 2]}; periods {periods[0]}-{periods[-1]}")
    wait_until(lambda: sim_chip.value(15) == 0, timeout=10)


def test_the_glitch_filter_is_the_kernels_debounce(pi, sim_chip):
    import gpiosvr.pigpio as pigpio
    from datetime import timedelta

    steady = 200_000
    pi.set_mode(10, pigpio.INPUT)
    sim_chip.pull(10, 0)
    pi.set_glitch_filter(10, steady)
    info = sim_chip.line_info(10)
    assert info.debounced and info.debounce_period == timedelta(microseconds=steady)
    seen = []
    cb = pi.callback(10, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append((level, tick)))
    for _ in range(5):  # a bouncing button, then pressed for good
        started = time.monotonic()
        for level in (1, 0, 1, 0, 1):
            sim_chip.pull(10, level)
        last_bounce = pi.get_current_tick()
        if time.monotonic() - started < steady / 1e6 / 2:
            break
        # the guest stalled mid-bounce, so a level may have held for the debounce
        # time: this press proves nothing; let go and press again
        wait_until(lambda: seen and seen[-1][0] == 1, timeout=30)
        sim_chip.pull(10, 0)
        wait_until(lambda: seen[-1][0] == 0, timeout=30)
        seen.clear()
    else:
        pytest.fail("5 tries, each stalled: no bounce within half the debounce time")
    wait_until(lambda: seen, timeout=30)
    sim_chip.pull(10, 0)  # let go: its report follows the press's, and nothing between
    wait_until(lambda: len(seen) >= 2, timeout=30)
    pi.set_glitch_filter(10, 0)
    cb.cancel()
    assert [level for level, _ in seen] == [1, 0]
    assert (seen[0][1] - last_bounce) & 0xFFFFFFFF >= steady * 0.9  # reported once steady
    assert not sim_chip.line_info(10).debounced


def test_watchdog_works_on_the_edge_stream(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    pi.set_mode(14, pigpio.INPUT)
    levels = []
    cb = pi.callback(14, pigpio.EITHER_EDGE, lambda g, level, tick: levels.append(level))
    pi.set_watchdog(14, 100)
    wait_until(lambda: pigpio.TIMEOUT in levels, timeout=30)
    pi.set_watchdog(14, 0)
    cb.cancel()


def test_scripts_and_wait_for_edge_work_on_the_chip(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    script = pi.store_script(b"w 18 1 mils 100 w 18 0 mils 100 w 18 1")
    wait_until(lambda: pi.script_status(script)[0] != pigpio.PI_SCRIPT_INITING, timeout=30)
    pi.run_script(script)
    wait_until(lambda: pi.script_status(script)[0] == pigpio.PI_SCRIPT_HALTED, timeout=30)
    assert sim_chip.value(18) == 1
    pi.delete_script(script)
    pi.set_mode(19, pigpio.INPUT)
    sim_chip.pull(19, 0)
    presser = threading.Timer(0.5, sim_chip.pull, (19, 1))
    presser.start()
    try:
        assert pi.wait_for_edge(19, pigpio.RISING_EDGE, 30)
    finally:
        presser.join()
    assert pi.read(19) == 1


GPIOZERO_SCRIPT = r"""
import sys
import threading
from gpiozero import Button, Device, LED
from gpiozero.pins.pigpio import PiGPIOFactory

sysfs = sys.argv[1]


def pull(line, level):
    with open(f"{sysfs}/sim_gpio{line}/pull", "w") as f:
        f.write("pull-up" if level else "pull-down")


def value(line):
    with open(f"{sysfs}/sim_gpio{line}/value") as f:
        return int(f.read())


Device.pin_factory = PiGPIOFactory()
led = LED(17)
led.on()
print("led", led.is_lit, value(17))
led.off()
print("led", led.is_lit, value(17))
button = Button(16, bounce_time=None)             # its pull-up is the line's bias
pressed = threading.Event()
button.when_pressed = pressed.set
print("button", button.is_pressed, value(16))
pull(16, 0)                                       # press: a stronger pull to ground
assert pressed.wait(30), "no when_pressed"
print("button", button.is_pressed)
Device.pin_factory.close()
"""


def test_gpiozero_scripts_run_unchanged(gpiod_server, sim_chip, tmp_path):
    pytest.importorskip("gpiozero")
    script = tmp_path / "zero.py"
    script.write_text(GPIOZERO_SCRIPT)
    out = subprocess.run(
        [sys.executable, "-m", "gpiosvr.run", "--socket", gpiod_server, str(script),
         sim_chip.sysfs], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "led True 1", "led False 0", "button False 1", "button True"]


def test_an_unknown_chip_is_a_clear_error(tmp_path):
    pytest.importorskip("gpiod")
    out = spawn_run(
        [sys.executable, "-m", "gpiosvr.server", "--backend", "gpiod", "--chip-label",
         "no-such-chip", "--socket", str(tmp_path / "g.sock")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "no GPIO chip labelled 'no-such-chip'" in out.stderr
    assert "Traceback" not in out.stderr
    out = spawn_run(
        [sys.executable, "-m", "gpiosvr.server", "--backend", "gpiod", "--chip",
         str(tmp_path / "nochip"), "--socket", str(tmp_path / "g.sock")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "no GPIO chip at" in out.stderr


class Wire:
    """A jumper wire from one gpio-sim line to another: a thread of the test mirrors
    the first line's level onto the second's pull (gpio-sim lines are not wired)."""

    def __init__(self, sim_chip: SimChip, source: int, target: int) -> None:
        self.sim_chip, self.source, self.target = sim_chip, source, target
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        level = self.sim_chip.value(self.source)
        self.sim_chip.pull(self.target, level)
        while not self._stop.is_set():
            now = self.sim_chip.value(self.source)
            if now != level:
                level = now
                self.sim_chip.pull(self.target, level)

    def __enter__(self) -> "Wire":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_wave_reaches_a_wired_input(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    out, wired = 20, 21
    pi.write(out, 0)
    pi.set_mode(wired, pigpio.INPUT)
    sent, seen = [], []
    cb_out = pi.callback(out, pigpio.EITHER_EDGE, lambda g, level, tick: sent.append(level))
    cb_in = pi.callback(wired, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append(level))
    bit = 1 << out
    with Wire(sim_chip, out, wired):
        wait_until(lambda: pi.read(wired) == 0, timeout=30)
        pi.wave_clear()
        # pulses long enough for the wire (a polling thread, emulated) to see each one
        pi.wave_add_generic([pigpio.pulse(bit, 0, 40000), pigpio.pulse(0, bit, 40000),
                             pigpio.pulse(bit, 0, 80000), pigpio.pulse(0, bit, 40000)])
        wid = pi.wave_create()
        assert pi.wave_send_once(wid) > 0
        assert pi.wave_tx_busy() == 1
        assert pi.wave_tx_at() == wid
        wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
        wait_until(lambda: len(seen) >= 4 and len(sent) >= 4, timeout=30)
    cb_out.cancel()
    cb_in.cancel()
    assert sent == [1, 0, 1, 0]  # what the server set, as it reports it
    assert seen == [1, 0, 1, 0]  # what the kernel saw on the wired input
    assert sim_chip.value(out) == 0
    assert pi.wave_tx_at() == pigpio.NO_TX_WAVE
    pi.wave_delete(wid)


def test_chains_repeat_and_stop_on_gpiod(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    out = 23
    pi.write(out, 0)
    rises = []
    cb = pi.callback(out, pigpio.RISING_EDGE, lambda g, level, tick: rises.append(tick))
    bit = 1 << out
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(bit, 0, 2000), pigpio.pulse(0, bit, 2000)])
    wid = pi.wave_create()
    pi.wave_chain([255, 0, wid, 255, 1, 5, 0])  # the wave 5 times
    wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
    wait_until(lambda: len(rises) >= 5, timeout=30)
    time.sleep(0.2)
    assert len(rises) == 5
    assert all(0 < (b - a) & 0xFFFFFFFF < 1 << 31 for a, b in zip(rises, rises[1:]))
    pi.wave_send_repeat(wid)
    wait_until(lambda: len(rises) >= 10, timeout=60)
    assert pi.wave_tx_busy() == 1
    pi.wave_tx_stop()
    assert pi.wave_tx_busy() == 0
    after = pi.get_current_tick()
    level = sim_chip.value(out)
    time.sleep(0.2)
    cb.cancel()
    assert sim_chip.value(out) == level  # nothing set after the stop
    # the edges reported late (the loop is emulated) were all made before it
    assert all((after - tick) & 0xFFFFFFFF < 1 << 31 for tick in rises)
    pi.wave_delete(wid)


def test_a_trigger_pulse_is_seen_by_a_callback(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    out = 22
    pi.write(out, 0)
    seen = []
    cb = pi.callback(out, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append((level, tick)))
    assert pi.gpio_trigger(out, 50, 1) == 0
    wait_until(lambda: len(seen) >= 2, timeout=30)
    cb.cancel()
    assert [level for level, _ in seen] == [1, 0]
    width = (seen[1][1] - seen[0][1]) & 0xFFFFFFFF
    print(f"\ngpio_trigger 50 us: {width} us between the ticks reported")
    assert width < 1 << 31  # in order; the width is the benchmark's to measure
    assert sim_chip.value(out) == 0


def test_hardware_clocks_are_refused_on_gpiod(pi, sim_chip):
    import gpiosvr.pigpio as pigpio

    with pytest.raises(pigpio.error) as refused:
        pi.hardware_clock(4, 5000)
    assert refused.value.code == pigpio.PI_NOT_PERMITTED
    why = str(refused.value.__cause__)
    assert "gpiod backend has no hardware clock" in why and LABEL in why


#: The baud the serial read-back test uses: slow enough that the emulated wire (a
#: polling process) and the wave thread on QEMU's one emulated CPU place every edge
#: well inside half a bit (5 ms at 100 baud; the wire's longest stalls were 0.26-2.2
#: ms there): benchmarks/bench_bb_serial.py measures the rates (0 % up to 1200 baud).
SERIAL_BAUD = 100
WIRE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpio_sim_wire.py")


def test_a_serial_wave_is_read_back_by_bb_serial_read(pi, sim_chip):
    """wave_add_serial on line 24, wired to line 25 (a process mirroring the level),
    where bb_serial_read decodes the kernel-stamped edges: every byte back, exactly."""
    import random

    import gpiosvr.pigpio as pigpio

    tx, rx = 24, 25
    rng = random.Random(15)  # one generator: 29 random bytes, not one byte 29 times
    data = b"gpiosvr\x00\xff\x55\xaa" + bytes(rng.randrange(256) for _ in range(29))
    pi.write(tx, 1)  # the line idles high (a stop bit) before the wire is laid
    pi.set_mode(rx, pigpio.INPUT)
    wire = spawn([sys.executable, WIRE_SCRIPT, sim_chip.sysfs, str(tx), str(rx)],
                 stdout=subprocess.PIPE, text=True)
    try:
        how = wire.stdout.readline()
        assert how.startswith("wired"), how
        wait_until(lambda: pi.read(rx) == 1, timeout=30)
        edges = {tx: [], rx: []}
        cbs = [pi.callback(g, pigpio.EITHER_EDGE,
                           lambda g, level, tick: edges[g].append((level, tick)))
               for g in (tx, rx)]
        assert pi.bb_serial_read_open(rx, SERIAL_BAUD) == 0
        pi.wave_clear()
        assert pi.wave_add_serial(tx, SERIAL_BAUD, data) > 0
        wid = pi.wave_create()
        assert pi.wave_send_once(wid) > 0
        got = bytearray()

        def settled() -> bool:
            count, chunk = pi.bb_serial_read(rx)
            assert count >= 0, count
            got.extend(chunk if count else b"")
            return len(got) >= len(data) and not pi.wave_tx_busy()

        try:
            wait_until(settled, timeout=60)
        except AssertionError:
            pass  # the comparison below says what came
        for cb in cbs:
            cb.cancel()
        lag = sorted((b - a) & 0xFFFFFFFF for (_, a), (_, b) in zip(edges[tx], edges[rx]))
        print(f"\n{SERIAL_BAUD} baud, {how.strip()}: {len(edges[tx])} edges set, "
              f"{len(edges[rx])} seen on the wired line, the wire's lag "
              f"{lag[0] if lag else '-'}-{lag[-1] if lag else '-'} us")
        assert bytes(got) == data
        assert pi.bb_serial_read(rx) == (0, "")  # nothing made up after the last byte
        assert pi.bb_serial_read_close(rx) == 0
        pi.wave_delete(wid)
    finally:
        wire.terminate()
        print(f"wire: {wire.communicate(timeout=30)[0].strip()}")


def test_a_pulse_switches_the_lines_of_a_wave_at_one_instant(gpiod_server, pi, sim_chip):
    """pigpio switches all GPIOs of a pulse at one instant: the output lines of a
    wave are requested together, a pulse sets them in one ioctl, and each line's
    edge is reported at that one tick. The lines are still released when unused:
    those the wave's client used go when it does, the one another client uses stays
    held, an output with its level."""
    import gpiosvr.pigpio as pigpio

    a, b, c = 24, 25, 26
    mine = pigpio.pi(gpiod_server)
    pi.write(c, 1)  # another client's output, in the wave too
    mine.write(a, 0)
    mine.write(b, 0)
    edges: list[tuple[int, int, int]] = []
    cbs = [pi.callback(g, pigpio.EITHER_EDGE, lambda g, level, tick: edges.append(
        (g, level, tick))) for g in (a, b, c)]
    A, B, C = 1 << a, 1 << b, 1 << c
    mine.wave_clear()
    mine.wave_add_generic([pigpio.pulse(A | B, C, 20000), pigpio.pulse(C, A | B, 20000),
                           pigpio.pulse(A, 0, 20000), pigpio.pulse(B, A | C, 20000),
                           pigpio.pulse(0, B, 0)])
    wid = mine.wave_create()
    assert mine.wave_send_once(wid) > 0
    wait_until(lambda: not mine.wave_tx_busy() and len(edges) >= 11, timeout=60)
    for cb in cbs:
        cb.cancel()
    ticks: dict[int, list[int]] = {}
    for g, level, tick in edges:
        ticks.setdefault(tick, []).append((g, level))
    # one tick per pulse, with every line the pulse changed
    assert list(ticks.values()) == [[(a, 1), (b, 1), (c, 0)], [(a, 0), (b, 0), (c, 1)],
                                    [(a, 1)], [(a, 0), (b, 1), (c, 0)], [(b, 0)]]
    assert [sim_chip.value(g) for g in (a, b, c)] == [0, 0, 0]
    mine.wave_delete(wid)
    mine.stop()
    wait_until(lambda: not _held(sim_chip, a) and not _held(sim_chip, b), timeout=30)
    assert _held(sim_chip, c) and sim_chip.value(c) == 0
    pi.write(c, 1)  # requested again alone, and still ours to drive
    assert sim_chip.value(c) == 1 and pi.read(c) == 1
    pi.write(c, 0)


def test_a_wave_stops_software_hardware_pwm_as_on_the_sim(pi, sim_chip):
    """hardware_PWM is software PWM here, but waves and it stop each other as in
    pigpio, and its getters answer what pigpio's do."""
    import gpiosvr.pigpio as pigpio

    hw, out = 18, 27
    pi.write(hw, 0)
    pi.write(out, 0)
    seen: list[int] = []
    cb = pi.callback(hw, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append(level))
    assert pi.hardware_PWM(hw, 100, 500_000) == 0
    assert (pi.get_PWM_frequency(hw), pi.get_PWM_dutycycle(hw), pi.get_PWM_range(hw),
            pi.get_PWM_real_range(hw)) == (100, 500_000, 1_000_000, 2_500_000)
    wait_until(lambda: len(seen) >= 4, timeout=60)
    pi.wave_clear()
    pi.wave_add_generic([pigpio.pulse(1 << out, 0, 30000), pigpio.pulse(0, 1 << out, 0)])
    wid = pi.wave_create()
    pi.wave_send_once(wid)
    wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
    assert sim_chip.value(hw) == 0 and pi.get_PWM_frequency(hw) == 800
    with pytest.raises(pigpio.error) as info:
        pi.get_PWM_dutycycle(hw)
    assert info.value.code == pigpio.PI_NOT_PWM_GPIO
    count = len(seen)
    pi.wave_send_once(wid)  # 30 ms more: three PWM periods, and not an edge on 18
    wait_until(lambda: not pi.wave_tx_busy(), timeout=60)
    assert len(seen) == count and sim_chip.value(hw) == 0
    # and hardware PWM stops a wave being sent
    pi.wave_send_repeat(wid)
    assert pi.hardware_PWM(hw, 100, 250_000) == 0
    assert pi.wave_tx_busy() == 0 and pi.wave_tx_at() == pigpio.NO_TX_WAVE
    pi.hardware_PWM(hw, 0, 0)
    cb.cancel()
    pi.wave_delete(wid)


@pytest.mark.parametrize("baud", [9600, 19200])
def test_a_uart_is_read_back_by_bb_serial_read(pi, sim_chip, tmp_path, uart_source_program,
                                               baud):
    """A GPS stand-in (tests/uart_source.c: a UART writing line 26's pull at the
    exact times its bits begin, so the kernel stamps the edges as a real UART's)
    sends 1,000 random bytes back to back; bb_serial_read decodes the kernel's edge
    events and reads every byte back, exactly, and nothing more. At 19200 baud the
    emulated server falls behind the edges (its CPU per edge is about half a bit
    time): a read must first take the edges the kernel holds, or it completes a
    character too early."""
    import random

    import gpiosvr.pigpio as pigpio
    from uart_source import UartSource, read_serial

    rx = 26
    rng = random.Random(baud)
    data = bytes(rng.randrange(256) for _ in range(1000))
    pi.set_mode(rx, pigpio.INPUT)
    with UartSource(uart_source_program, sim_chip.sysfs, rx, baud, data,
                    str(tmp_path)) as source:
        how = source.start()
        wait_until(lambda: pi.read(rx) == 1, timeout=30)
        assert pi.bb_serial_read_open(rx, baud) == 0
        source.go()
        got = read_serial(pi, rx, len(data))
        figures = source.figures(timeout=120)
    print(f"\n{baud} baud source ({how}): {figures}; {len(got)} bytes read")
    assert bytes(got) == data
    assert pi.bb_serial_read(rx) == (0, "")  # nothing made up after the last byte
    assert pi.bb_serial_read_close(rx) == 0
