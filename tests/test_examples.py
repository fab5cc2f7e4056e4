"""Every example runs, as a newcomer would run it, against a simulated chip."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from children import spawn_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name: str, *args: str) -> str:
    proc = spawn_run(
        [sys.executable, "-m", "gpiosvr.run", "--sim", os.path.join("examples", name), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_blink():
    out = run_example("blink.py", "2")
    assert out.count("(reads 1)") == 2 and "pigpio.error: 'GPIO not 0-53'" in out


def test_button_with_a_callback():
    out = run_example("button.py")
    assert out.count("button pressed at tick") == 3 and "3 presses counted" in out


def test_pwm_fade():
    out = run_example("pwm_fade.py")
    assert "frequency 1000 Hz" in out and "real range 200" in out
    assert "dutycycle 100% -> get_PWM_dutycycle 100" in out
    count = int(out.split("edges in 0.5 s at 1000 Hz: ")[1].split()[0])
    assert 800 <= count <= 1300


def test_stored_script():
    out = run_example("stored_script.py")
    assert "status 1 (halted is 1), blinks counted by the script: 5" in out
    assert "edges seen by a callback: 10" in out


def test_wave_serial():
    out = run_example("wave_serial.py")
    assert "wave 0: 81 pulses, 13650 us" in out
    assert "80 edges, decoded: b'Hello, waves!'" in out


def test_async_quickstart():
    proc = spawn_run([sys.executable, os.path.join("examples", "async_quickstart.py")],
                     cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "GPIO 18 -> 1, reads back 1" in proc.stdout


#: The bus examples and what each prints on examples/board.toml.
BUS_EXAMPLES = {
    "i2c_sensor.py": ["TMP102: 21.50 C", "ADXL345 device id: 0xE5",
                      "ADXL345 x=10 y=-20 z=256", "nothing at 0x77: 'I2C read failed'"],
    "spi_adc.py": ["channel 0:    0 = 0.00 V", "channel 1:  512 = 1.65 V",
                   "channel 2: 1023 = 3.30 V"],
    "serial_echo.py": ["sent 'hello', read back 'hello\\n'",
                       "sent 'pigpio on gpiosvr', read back 'pigpio on gpiosvr\\n'"],
}


@pytest.mark.parametrize("way", ["one-line import", "PYTHONPATH=compat", "gpiosvr-run"])
@pytest.mark.parametrize("name", sorted(BUS_EXAMPLES))
def test_bus_examples_unchanged_three_ways(name, way, sock_path, tmp_path):
    from gpiosvr.server.backends.sim import SimulatedChip
    from gpiosvr.server.sim.board import load
    from gpiosvr.server.thread import ServerThread

    script = os.path.join(ROOT, "examples", name)
    board = os.path.join(ROOT, "examples", "board.toml")
    env = {k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"}
    if way == "gpiosvr-run":
        proc = spawn_run([sys.executable, "-m", "gpiosvr.run", "--sim", "--board", board,
                          script], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    else:
        if way == "one-line import":
            with open(script) as f:
                text = f.read()
            assert text.count("\nimport pigpio\n") == 1
            script = str(tmp_path / name)
            with open(script, "w") as f:
                f.write(text.replace("\nimport pigpio\n", "\nimport gpiosvr.pigpio as pigpio\n"))
        else:
            env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "compat"),
                                                 env.get("PYTHONPATH", "")])
        chip = SimulatedChip()
        load(board).attach(chip)
        with ServerThread(sock_path, chip):
            env["GPIO_SOCKET_PATH"] = sock_path
            proc = subprocess.run([sys.executable, script], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == BUS_EXAMPLES[name]


def test_gpiosvr_run_prints_the_board_pty(tmp_path):
    proc = spawn_run([sys.executable, "-m", "gpiosvr.run", "--sim", "--board",
                      os.path.join("examples", "board.toml"),
                      os.path.join("examples", "spi_adc.py")],
                     cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "serial port /dev/ttyUSB0: far end /dev/pts/" in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[[i2c]]\nbus = 1\naddress = 0x80\nmodel = \"register\"\n")
    proc = spawn_run([sys.executable, "-m", "gpiosvr.run", "--sim", "--board", str(bad),
                      os.path.join("examples", "spi_adc.py")],
                     cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"{bad}: i2c[0]: I2C address 0x80 is not 0-0x7F" in proc.stderr


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "examples"))))
def test_every_example_has_a_test(name):
    tested = {"blink.py", "button.py", "pwm_fade.py", "stored_script.py",
              "async_quickstart.py", "pigpio_notebook.ipynb",  # the notebook: test_notebook
              "board.toml", "wave_serial.py", *BUS_EXAMPLES,
              "mqtt.toml",  # test_mqtt.test_the_example_config_is_valid
              "capture_signals.py",  # test_capture
              "sensors.toml", "ir_record_playback.py"}  # test_sensors
    assert name in tested, f"examples/{name} has no test"


def test_button_after_pigs_simdrive_left_it_pressed(server):
    from gpiosvr.blocking import BlockingClient

    with BlockingClient(server.socket_path) as client:
        client.command("simdrive", 4, 0)  # as `pigs simdrive 4 0` in the README
    proc = subprocess.run(
        [sys.executable, "-m", "gpiosvr.run", os.path.join("examples", "button.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GPIO_SOCKET_PATH": server.socket_path})
    assert proc.returncode == 0, proc.stderr
    assert "3 presses counted" in proc.stdout
