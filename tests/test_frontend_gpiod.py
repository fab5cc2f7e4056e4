"""An unchanged pigpio program on the Pi 5's GPIO interface: the real pigpio package
-> gpiosvr's pigpiod front end -> the gpiod backend -> the kernel's gpio-sim chip.

Like ``test_backend_gpiod.py`` this needs gpio-sim (root, configfs): it runs in the
QEMU guest, ``python3 tools/kernel_tests.py -- tests/test_frontend_gpiod.py``, and
is skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pigpio  # the real package
import pytest

import test_backend_gpiod as gpiod_tests
from conftest import wait_until

pytestmark = pytest.mark.gpio_sim


@pytest.fixture(scope="module")
def sim_chip():
    chip = gpiod_tests.make_sim_chip(f"gpiosvr-fe-{os.getpid()}")
    if os.environ.get("GPIOSVR_GUEST") and shutil.which("ip"):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=False)  # a bare guest
    yield chip
    chip.remove()


@pytest.fixture(scope="module")
def port(sim_chip, tmp_path_factory):
    """A server process on the gpio-sim chip with the pigpiod front end."""
    socket_path = str(tmp_path_factory.mktemp("gpiod") / "gpio.sock")
    with gpiod_tests.gpiod_server_process(
            socket_path, "--chip-label", gpiod_tests.LABEL, "--permit", "all",
            "--pigpiod-port", "0", "--log-level", "WARNING") as proc:
        line = proc.stdout.readline()
        assert "pigpiod protocol" in line, proc.stderr.read()
        yield int(line.split()[-1])


def test_the_real_pigpio_package_drives_gpio_sim_lines(port, sim_chip):
    pi = pigpio.pi("127.0.0.1", port)
    assert pi.connected
    try:
        pi.write(5, 1)
        assert sim_chip.value(5) == 1
        pi.write(5, 0)
        assert sim_chip.value(5) == 0
        pi.set_mode(6, pigpio.INPUT)
        sim_chip.pull(6, 0)
        assert pi.read(6) == 0
        # pigpio.py takes the levels edges change from when pi() connects: a level
        # changed before a callback is registered shows at its first report (as
        # with pigpiod), so the callback comes first here
        seen = []
        cb = pi.callback(6, pigpio.EITHER_EDGE, lambda g, level, tick: seen.append(level))
        for level in (1, 0, 1):
            pi.get_current_tick()
            sim_chip.pull(6, level)
        wait_until(lambda: len(seen) >= 3, timeout=30)
        assert seen == [1, 0, 1]
        assert pi.read(6) == 1
        cb.cancel()
    finally:
        pi.stop()
