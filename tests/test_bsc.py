"""pigpio's BSC slave on the simulated board: the board's master writes and reads
(``simbscw``, ``simbscr``), bsc_xfer/bsc_i2c answer pigpio's status word, the BSC
event fires, the GPIOs change function; other backends refuse by name."""

from __future__ import annotations

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands import COMMANDS, Session

from conftest import wait_until


def _status(copied=0, rx=0, tx=0):
    flags = (16 if not tx else 0) | (2 if not rx else 0)  # TE, RE
    return copied << 16 | rx << 11 | tx << 6 | flags


def test_i2c_slave_talks_to_the_boards_master(pi):
    events = pi.event_callback(pigpio.EVENT_BSC)
    assert pi.bsc_i2c(0x13) == (_status(), 0, bytearray())
    assert pi.get_mode(18) == pigpio.ALT3 and pi.get_mode(19) == pigpio.ALT3
    assert pi._cmd("simbscw", 0x13, b"hello") == 5
    assert pi._cmd("simbscw", 0x14, b"other") == 0  # nobody at 0x14
    wait_until(lambda: events.tally() == 1)
    status, count, data = pi.bsc_i2c(0x13, b"reply")
    assert (count, data) == (5, bytearray(b"hello"))
    assert status == _status(copied=5, tx=5)
    assert pi._cmd("simbscr", 3) == b"rep"
    assert pi._cmd("simbscr", 10) == b"ly"
    assert pi.bsc_i2c(0x13, "x" * 20)[0] >> 16 == 16  # the FIFO holds 16
    assert pi.bsc_i2c(0) == (_status(), 0, bytearray())  # off: FIFOs cleared
    assert pi.get_mode(18) == pigpio.INPUT
    assert pi._cmd("simbscw", 0x13, b"x") == 0
    events.cancel()


def test_bsc_xfer_control_word(pi):
    status, count, data = pi.bsc_xfer(0x330305, "Hello!")  # pigpio's example
    assert status >> 16 == 6 and count == 0
    assert pi._cmd("simbscr", 6) == b"Hello!"
    pi.bsc_xfer(0, [])


def test_other_backends_refuse_by_name():
    for name in ("gpiod", "pigpiod"):
        backend = type("B", (), {"name": name, "user": None})()
        with pytest.raises(PigpioError) as err:
            COMMANDS["bscx"].handler(Session(server=None, backend=backend), 0x305, b"")
        assert err.value.code == pigpio.PI_NOT_PERMITTED
        assert f"the {name} backend has no BSC slave" in str(err.value)


@pytest.mark.permit(0x0000FFFC)  # GPIO 2-15: not 18-21
def test_the_bsc_gpios_must_be_permitted(pi):
    assert pi.bsc_i2c(0x13) == (pigpio.PI_NOT_PERMITTED, 0, bytearray())  # not raised
    assert pi.get_mode(18) == pigpio.INPUT
