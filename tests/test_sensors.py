"""The simulated board's GPIO-level sensors (HC-SR04, DHT22, IR receiver), on a
real server: exact ticks, the values the test sets, clear errors; and pigpio's own
programs for them, unchanged, through all three ways in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.sim.board import BoardError, from_dict, load
from gpiosvr.server.sim.devices.dht22 import frame
from gpiosvr.server.sim.devices.hcsr04 import ECHO_DELAY_US, NO_ECHO_US
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from conftest import RunningProgram, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(ROOT, "examples", "sensors.toml")
IR_SCRIPT = os.path.join(ROOT, "examples", "ir_record_playback.py")
#: pigpio's repository (a bare git mirror): its EXAMPLES are run unchanged from it.
PIGPIO_REPO = os.environ.get("GPIOSVR_PIGPIO_REPO", "/work/.mirror/joan2937+pigpio/repo")
SONAR = "EXAMPLES/Python/SONAR_RANGER/sonar_trigger_echo.py"
DHT22_PY = "EXAMPLES/Python/DHT22_AM2302_SENSOR/DHT22.py"

#: An NEC code (address 0x00, command 0x45 as a remote sends it), marks and spaces in µs.
NEC = [9000, 4500] + [v for bit in f"{0x00FF45BA:032b}"
                      for v in ((560, 1690) if bit == "1" else (560, 560))] + [560]

SENSORS = {"sensor": [
    {"model": "hc-sr04", "trigger": 23, "echo": 24, "distance": 0.5},
    {"model": "dht22", "gpio": 4, "temperature": -3.4, "humidity": 61.2},
    {"model": "ir-receiver", "gpio": 17, "led": 18},
]}


@pytest.fixture
def board_server(sock_path):
    chip = SimulatedChip()
    from_dict(SENSORS).attach(chip)
    with ServerThread(sock_path, chip) as server:
        pi = pigpio.pi(sock_path)
        sim = Simulator(sock_path)
        yield server, pi, sim
        sim.close()
        pi.stop()


def edges_of(pi, gpio):
    events: list[tuple[int, int]] = []
    cb = pi.callback(gpio, pigpio.EITHER_EDGE, lambda g, level, tick: events.append((level, tick)))
    return events, cb


def widths(events):
    return [(events[i + 1][1] - events[i][1]) & 0xFFFFFFFF for i in range(len(events) - 1)]


# -- HC-SR04 -------------------------------------------------------------------------


def test_a_trigger_pulse_gives_an_echo_as_wide_as_the_distance(board_server):
    _, pi, sim = board_server
    trig_events, trig_cb = edges_of(pi, 23)
    echo, cb = edges_of(pi, 24)
    pi.set_mode(23, pigpio.OUTPUT)
    for metres, width in ((0.5, 2913), (0.25, 1457), (2.0, 11653), (None, NO_ECHO_US)):
        if metres != 0.5:
            sim.set_distance(24, metres)
        echo.clear()
        trig_events.clear()
        assert pi.gpio_trigger(23, 10, 1) == 0
        wait_until(lambda: len(echo) >= 2 and len(trig_events) >= 2, timeout=5)
        assert echo[0][0] == 1 and echo[1][0] == 0
        assert widths(echo) == [width]                   # round(2 d / 343.26 m/s)
        assert (echo[0][1] - trig_events[1][1]) & 0xFFFFFFFF == ECHO_DELAY_US
    cb.cancel()
    trig_cb.cancel()


def test_a_trigger_written_high_then_low_works_and_a_short_one_is_ignored(board_server):
    _, pi, sim = board_server
    trig, trig_cb = edges_of(pi, 23)
    echo, cb = edges_of(pi, 24)
    pi.write(23, 1)
    pi.write(23, 0)
    wait_until(lambda: len(echo) >= 2, timeout=5)
    assert widths(echo) == [2913]
    echo.clear()
    trig.clear()
    pi.gpio_trigger(23, 5, 1)                            # the module needs 10 µs
    pi.gpio_trigger(23, 10, 1)
    wait_until(lambda: len(echo) >= 2 and len(trig) >= 4, timeout=5)
    assert widths(trig)[0] == 5 and widths(trig)[2] == 10
    assert (echo[0][1] - trig[3][1]) & 0xFFFFFFFF == ECHO_DELAY_US   # the 10 µs one's
    assert len(echo) == 2 and sim.board()["sensors"][0]["pings"] == 2
    cb.cancel()
    trig_cb.cancel()


def test_gpiozero_distance_sensor_reads_the_distance_set(sock_path, tmp_path):
    pytest.importorskip("gpiozero")
    script = tmp_path / "distance.py"
    script.write_text(
        "import time\n"
        "from gpiozero import Device, DistanceSensor\n"
        "from gpiozero.pins.pigpio import PiGPIOFactory\n"
        "from gpiosvr.simulator import Simulator\n"
        "Device.pin_factory = PiGPIOFactory()\n"
        "sensor = DistanceSensor(echo=24, trigger=23, max_distance=2)\n"
        "print('distance', round(sensor.distance, 4))\n"
        "Simulator().set_distance(24, 1.234)\n"
        "deadline = time.monotonic() + 20\n"  # until its queue holds new readings only
        "while round(sensor.distance, 4) != 1.234 and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('distance', round(sensor.distance, 4))\n"
        "sensor.close()\n")
    chip = SimulatedChip()
    from_dict(SENSORS).attach(chip)
    with ServerThread(sock_path, chip):
        proc = subprocess.run([sys.executable, "-m", "gpiosvr.run", str(script)],
                              capture_output=True, text=True, timeout=60, cwd=ROOT,
                              env=dict(os.environ, GPIO_SOCKET_PATH=sock_path))
    assert proc.returncode == 0, proc.stderr
    # the echoes are 2913 µs and 7190 µs wide: 0.49996 m and 1.23402 m at 343.26 m/s
    assert proc.stdout.split() == ["distance", "0.5", "distance", "1.234"], proc.stdout


# -- DHT22 ---------------------------------------------------------------------------


def decode_dht22(events):
    """The five bytes in the DHT22's answer, from its edges' ticks."""
    highs = [events[i + 1][1] - events[i][1] for i in range(len(events) - 1)
             if events[i][0] == 1]
    bits = [1 if h >= 50 else 0 for h in highs[2:42]]     # skip the release and response
    return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, 40, 8))


def test_the_start_pulse_gets_the_40_bit_answer(board_server):
    _, pi, sim = board_server
    events, cb = edges_of(pi, 4)
    pi.set_pull_up_down(4, pigpio.PUD_OFF)
    pi.write(4, 0)
    time.sleep(0.002)
    pi.set_mode(4, pigpio.INPUT)
    wait_until(lambda: len(events) >= 86, timeout=5)
    assert [level for level, _ in events[:4]] == [0, 1, 0, 1]
    w = widths(events)
    assert w[1:4] == [30, 80, 80]                         # response: 30, 80 low, 80 high
    assert set(w[4:84:2]) == {50} and set(w[5:84:2]) == {27, 70}
    assert w[84] == 50 and events[-1][0] == 1 and pi.read(4) == 1
    assert decode_dht22(events) == frame(-3.4, 61.2) == bytes([2, 100, 0x80, 34, 8])
    sim.set_climate(4, 21.5, 45.0)
    events.clear()
    pi.write(4, 0)
    time.sleep(0.002)
    pi.set_mode(4, pigpio.INPUT)
    wait_until(lambda: len(events) >= 86, timeout=5)
    assert decode_dht22(events) == frame(21.5, 45.0)
    cb.cancel()


def test_a_start_pulse_shorter_than_1_ms_gets_no_answer():
    chip = SimulatedChip()  # no loop: answers are played at once; time moved by hand
    board = from_dict(SENSORS)
    board.attach(chip)
    dht = board.sensors[1]
    for low_us, answered in ((200, 0), (1500, 1)):
        chip.write(4, 0)
        chip._tick_offset += low_us
        chip.set_mode(4, 0)
        assert dht.readings == answered
    assert chip.read(4) == 1


# -- IR receiver ---------------------------------------------------------------------


def test_the_receiver_replays_a_code_with_exact_marks_and_spaces(board_server):
    _, pi, sim = board_server
    events, cb = edges_of(pi, 17)
    assert pi.read(17) == 1                                # idle high
    first = sim.ir_send(17, NEC)
    wait_until(lambda: len(events) >= len(NEC) + 1, timeout=5)
    assert events[0] == (0, first) and events[-1][0] == 1
    assert widths(events) == NEC
    cb.cancel()


def test_what_an_ir_led_sends_is_received_again(board_server):
    _, pi, sim = board_server
    events, cb = edges_of(pi, 17)
    pi.set_mode(18, pigpio.OUTPUT)
    pi.wave_clear()
    code = [2000, 1000, 600, 1700, 600]
    chain = []
    for i, length in enumerate(code):
        if i & 1:
            pi.wave_add_generic([pigpio.pulse(0, 0, length)])
        else:
            pi.wave_add_generic([pigpio.pulse(1 << 18, 0, 13), pigpio.pulse(0, 1 << 18, 12)]
                                * (length // 25))
        chain.append(pi.wave_create())
    pi.wave_chain(chain)
    wait_until(lambda: sim.ir_sent(17), timeout=5)
    assert sim.ir_sent(18) == code                         # whole carrier cycles of 25 µs
    assert widths(events) == code
    cb.cancel()


def carrier(gpio: int, cycles: int) -> list[tuple[int, int, int]]:
    """Wave pulses (on, off, delay) of a 38 kHz-ish carrier: 26 µs cycles."""
    return [(1 << gpio, 0, 13), (0, 1 << gpio, 13)] * cycles


def test_a_mark_whose_edges_are_handed_on_late_is_still_one_mark(board_server):
    """The receiver ends a mark after a quiet time counted up to the LED edges
    handed on to it, not by the clock: when the loop was held up (a loaded machine)
    and the wave's edges come late, in turns of SIM_WAVE_PULSES_PER_TURN, a long
    mark is not cut where one turn's edges end."""
    server, pi, sim = board_server
    pi.set_mode(18, pigpio.OUTPUT)
    # a 1040 µs mark, 8000 µs of space, a 208 ms mark (16000 pulses: four turns)
    pulses = carrier(18, 40) + [(0, 0, 8000)] + carrier(18, 8000)

    def held_up() -> None:
        # on the loop, as a loaded machine would: the first mark's edges handed on
        # (the quiet timer armed in the space), then the loop held up past the end
        # of the wave, so that the quiet timer is the first to run after it
        chip = server.backend
        chip.play_pulses(iter(pulses))
        time.sleep(0.002)
        chip.play_due()
        time.sleep(0.3)

    server.call(held_up)
    wait_until(lambda: sim.ir_sent(18), timeout=10)
    assert sim.ir_sent(18) == [1040, 8000, 208000]


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("entry, message", [
    ({"model": "sonar"}, "sensor[0]: model 'sonar' is not a sensor model (hc-sr04, dht22, "
                         "am2302, ir-receiver)"),
    ({"model": "hc-sr04", "trigger": 23}, "sensor[0]: missing echo"),
    ({"model": "hc-sr04", "trigger": 23, "echo": 23}, "sensor[0]: trigger and echo must be "
                                                     "two GPIOs, not both 23"),
    ({"model": "hc-sr04", "trigger": 23, "echo": 40}, "sensor[0]: echo must be a GPIO 0-31"),
    ({"model": "hc-sr04", "trigger": 23, "echo": 24, "distance": -1},
     "sensor[0]: distance must be a number of metres >= 0"),
    ({"model": "dht22", "gpio": 4, "humidity": 101}, "sensor[0]: humidity must be 0 to 100"),
    ({"model": "dht22", "gpio": 4, "colour": 1}, "sensor[0]: unknown key(s) colour for a dht22"),
    ({"model": "ir-receiver", "gpio": 4, "led": 4}, "sensor[0]: the receiver and the LED "
                                                    "must be two GPIOs"),
])
def test_bad_sensor_entries_name_the_entry(entry, message):
    with pytest.raises(BoardError) as err:
        from_dict({"sensor": [entry]}, "b.toml")
    assert f"b.toml: {message}" in str(err.value)


def test_two_sensors_on_one_gpio_are_refused():
    with pytest.raises(BoardError, match=r"b.toml: sensor\[1\]: GPIO 4 is already the dht22's"):
        from_dict({"sensor": [{"model": "dht22", "gpio": 4},
                              {"model": "ir-receiver", "gpio": 4}]}, "b.toml")


def test_bad_sim_sensor_commands_say_why_and_the_server_goes_on(board_server):
    _, pi, sim = board_server
    cases = [
        (lambda: sim.set_distance(5, 1), "no hc-sr04 is wired to GPIO 5"),
        (lambda: sim.set_distance(4, 1), "GPIO 4 is wired to a dht22, not a hc-sr04"),
        (lambda: sim.set_climate(4, 99, 50), "temperature must be -40 to 80"),
        (lambda: sim.ir_send(17, []), "code must be a list of 1-2048"),
        (lambda: sim.ir_send(17, [500, -3]), "code[1] is -3"),
        (lambda: sim.ir_send(17, [1] * 2049), "code must be a list of 1-2048"),
        (lambda: sim.ir_sent(23), "GPIO 23 is wired to a hc-sr04, not a ir-receiver"),
    ]
    for call, message in cases:
        with pytest.raises(Exception) as err:
            call()
        assert getattr(err.value, "code", None) == pigpio.PI_BAD_PARAM, err.value
        assert message in str(err.value)
    assert pi.read(17) == 1 and sim.board()["sensors"][0]["distance_um"] == 500000


def test_the_example_board_is_valid():
    board = load(BOARD)
    assert [s.model for s in board.sensors] == ["hc-sr04", "dht22", "ir-receiver"]


# -- pigpio's own programs, unchanged, three ways in ------------------------------------


def pigpio_example(path: str) -> str:
    """The text of one of pigpio's example programs, from its repository."""
    try:
        return subprocess.run(["git", "-C", PIGPIO_REPO, "show", f"HEAD:{path}"], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"pigpio's repository is not at {PIGPIO_REPO} (GPIOSVR_PIGPIO_REPO)")


class Running(RunningProgram):
    """A program started one of the three ways against examples/sensors.toml,
    its output lines read as they come; stopped with SIGINT."""

    def __init__(self, way: str, script: str, args: list[str], sock_path: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"}
        env["PYTHONUNBUFFERED"] = "1"
        self.server = None
        if way == "gpiosvr-run":
            cmd = [sys.executable, "-m", "gpiosvr.run", "--sim", "--board", BOARD,
                   "--socket", sock_path, script, *args]
        else:
            if way == "PYTHONPATH=compat":
                env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "compat"),
                                                     env.get("PYTHONPATH", "")])
            chip = SimulatedChip()
            load(BOARD).attach(chip)
            self.server = ServerThread(sock_path, chip).start()
            env["GPIO_SOCKET_PATH"] = sock_path
            cmd = [sys.executable, script, *args]
        super().__init__(cmd, env, os.path.dirname(script))
        wait_until(lambda: os.path.exists(sock_path), timeout=30)
        self.sim = Simulator(sock_path)

    def finish(self, timeout: float = 30) -> int:
        """Wait for the program to end by itself; its exit status."""
        code = self.proc.wait(timeout)
        return code

    def stop(self) -> None:
        try:
            self.sim.close()
        except Exception:  # noqa: BLE001 - the server went with the program
            pass
        super().stop()
        if self.server is not None:
            self.server.stop()


WAYS = ["one-line import", "PYTHONPATH=compat", "gpiosvr-run"]


def place(text: str, name: str, way: str, tmp_path) -> str:
    """Write a program into tmp_path, its ``import pigpio`` lines changed for the
    one-line-import way (pigpio's examples import it once at the top and once more
    in their ``__main__`` part)."""
    if way == "one-line import":
        assert re.search(r"^import pigpio$", text, re.M)
        text = re.sub(r"^(\s*)import pigpio\b.*$", r"\1import gpiosvr.pigpio as pigpio",
                      text, flags=re.M)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("way", WAYS)
def test_pigpio_sonar_example_unchanged(way, sock_path, tmp_path):
    script = place(pigpio_example(SONAR), "sonar_trigger_echo.py", way, tmp_path)
    run = Running(way, script, [], sock_path)
    try:
        run.wait_for(r"\d+ 2913")                 # 0.5 m on the board: round trip 2913 µs
        run.sim.set_distance(18, 1.0)
        run.wait_for(r"\d+ 5826")
        run.sim.set_distance(18, None)            # nothing in range: the 38 ms time-out
        run.wait_for(r"\d+ 38000")
    finally:
        run.stop()


@pytest.mark.parametrize("way", WAYS)
def test_pigpio_dht22_example_unchanged(way, sock_path, tmp_path):
    script = place(pigpio_example(DHT22_PY), "DHT22.py", way, tmp_path)
    run = Running(way, script, [], sock_path)
    try:
        line = run.wait_for(r"1 .*", timeout=30)  # after its 2 s power-up, 0.2 s reading
        r, humidity, temperature, stale, *counts = line.group(0).split()
        assert (float(humidity), float(temperature)) == (45.0, 21.5), line.group(0)
        assert float(stale) < 1 and counts == ["0", "0", "0", "0"]
        if way == "PYTHONPATH=compat":            # and a value set while it runs
            run.sim.set_climate(22, -3.4, 61.2)
            line = run.wait_for(r"2 .*", timeout=30)
            humidity, temperature = map(float, line.group(0).split()[1:3])
            assert (humidity, temperature) == pytest.approx((61.2, -3.4))
    finally:
        run.stop()


@pytest.mark.parametrize("way", WAYS)
def test_ir_record_and_playback_unchanged(way, sock_path, tmp_path):
    with open(IR_SCRIPT) as f:
        script = place(f.read(), "ir_record_playback.py", way, tmp_path)
    codes = str(tmp_path / "codes.json")
    record = Running(way, script, ["-r", "-g", "4", "-f", codes, "power"], sock_path)
    try:
        for _ in range(2):                         # the key, then again to confirm
            record.wait_for(r"Press key for 'power'( to confirm)?")
            record.sim.ir_send(4, NEC)
            record.wait_for("Okay")
        assert record.finish() == 0, "".join(record.errors)
    finally:
        record.stop()
    with open(codes) as f:
        assert json.load(f) == {"power": NEC}
    play_sock = os.path.join(os.path.dirname(sock_path), "play.sock")
    play = Running(way, script, ["-p", "-g", "17", "-f", codes, "power", "power"], play_sock)
    try:
        sent = wait_until(lambda: play.sim.ir_sent(4), timeout=30)
        play.wait_for("key power")
        # irrp-style carrier: whole 26.3 µs cycles, 560 µs -> 21 cycles (552 µs)
        assert len(sent) == len(NEC)
        assert all(abs(s - n) <= 0.03 * n for s, n in zip(sent, NEC)), sent
    finally:
        play.stop()
