"""``gpiosvr-run``: what a newcomer sees around the script's own output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from children import spawn_run

ROOT = Path(__file__).resolve().parent.parent


def gpiosvr_run(tmp_path: Path, source: str, *options: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in ("GPIO_SOCKET_PATH", "PIGPIO_ADDR")}
    return spawn_run([sys.executable, "-m", "gpiosvr.run", *options, "script.py"],
                     cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def notice(proc: subprocess.CompletedProcess) -> str:
    """The line --sim says first, on stderr."""
    first = proc.stderr.splitlines()[0]
    assert first.startswith("gpiosvr-run: script.py runs on a simulated chip (GPIOs 0-53)")
    return first + "\n"


GPIOZERO = """
from gpiozero import LED
from gpiozero.pins.pigpio import PiGPIOFactory
led = LED(18, pin_factory=PiGPIOFactory())
led.on()
print("led", led.value)
"""


def test_a_gpiozero_program_ends_cleanly_the_server_outlives_its_exit_handlers(tmp_path):
    proc = gpiosvr_run(tmp_path, GPIOZERO, "--sim")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "led 1\n"
    assert proc.stderr == notice(proc)  # no Broken pipe, no lost connection


def test_exit_handlers_of_the_script_still_reach_the_server(tmp_path):
    source = ("import atexit, pigpio\npi = pigpio.pi()\n"
              "atexit.register(lambda: print('at exit GPIO 4 reads', pi.read(4)))\n")
    proc = gpiosvr_run(tmp_path, source, "--sim")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "at exit GPIO 4 reads 1\n"
    assert proc.stderr == notice(proc)


def test_an_uncaught_pigpio_error_is_the_scripts_frames_and_pigpios_text(tmp_path):
    proc = gpiosvr_run(tmp_path, "import pigpio\npi = pigpio.pi()\npi.write(60, 1)\n", "--sim")
    assert proc.returncode == 1
    assert proc.stderr == notice(proc) + (
        "Traceback (most recent call last):\n"
        '  File "script.py", line 3, in <module>\n'
        "    pi.write(60, 1)\n"
        "pigpio.error: 'GPIO not 0-53'\n")


def test_other_exceptions_keep_their_chain_without_gpiosvr_run_frames(tmp_path):
    source = "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    raise KeyError('k') from e\n"
    proc = gpiosvr_run(tmp_path, source)
    assert proc.returncode == 1
    assert "ZeroDivisionError: division by zero" in proc.stderr
    assert proc.stderr.endswith("KeyError: 'k'\n")
    assert "runpy" not in proc.stderr and "gpiosvr" not in proc.stderr


def test_a_server_that_cannot_start_is_one_line(tmp_path):
    proc = gpiosvr_run(tmp_path, "print('never')\n", "--sim", "--socket",
                       str(tmp_path / "missing" / "g.sock"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"gpiosvr-run: the socket directory {tmp_path / 'missing'} " \
                          f"does not exist\n"


def test_without_gpiosvr_run_the_cause_is_kept_without_its_frames(server):
    import gpiosvr.pigpio as pigpio
    from gpiosvr.errors import PigpioError

    pi = pigpio.pi(server.socket_path)
    try:
        try:
            pi.write(60, 1)
        except pigpio.error as e:
            assert isinstance(e.__cause__, PigpioError) and e.__cause__.code == -3
            assert e.__cause__.__traceback__ is None  # an uncaught one prints short
        else:
            raise AssertionError("no pigpio.error")
    finally:
        pi.stop()
