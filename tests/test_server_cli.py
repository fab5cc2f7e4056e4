"""``gpiosvr-server``'s command line as a newcomer meets it: one line per problem,
one line when it serves."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from gpiosvr.blocking import BlockingClient

from children import spawn


def cli(*args: str) -> subprocess.Popen:
    return spawn([sys.executable, "-m", "gpiosvr.server", *args],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("value,problem", [
    ("zz", "argument --hwrev: 'zz' is not a number: give a hardware revision such as "
           "0xa02082 (hex with 0x, or decimal)"),
    ("0x1ffffffff", "argument --hwrev: '0x1ffffffff' is not a 32-bit hardware revision"),
])
def test_a_bad_hardware_revision_is_named(value, problem):
    out, err = cli("--hwrev", value).communicate(timeout=30)
    assert err.splitlines()[-1] == f"gpiosvr-server: error: {problem}"
    assert "Traceback" not in err and "lambda" not in err


def test_the_server_says_once_that_it_serves(sock_path):
    proc = cli("--socket", sock_path, "--hwrev", "41000")
    try:
        assert proc.stdout.readline() == f"gpiosvr: serving sim on {sock_path} (uvloop loop)\n"
        with BlockingClient(sock_path) as client:
            assert client.command("hwver") == 41000  # decimal is taken too
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "" and "serving" not in err
