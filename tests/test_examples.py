"""Every example runs, as a newcomer would run it, against a simulated chip."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name: str, *args: str) -> str:
    proc = subprocess.run(
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


def test_async_quickstart():
    proc = subprocess.run([sys.executable, os.path.join("examples", "async_quickstart.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "GPIO 18 -> 1, reads back 1" in proc.stdout


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "examples"))))
def test_every_example_has_a_test(name):
    tested = {"blink.py", "button.py", "pwm_fade.py", "stored_script.py",
              "async_quickstart.py", "pigpio_notebook.ipynb"}  # the notebook: test_notebook
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
