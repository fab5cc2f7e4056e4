"""Pad drive strength and pigpio's custom functions, on a real server: kept by the
simulated chip, relayed to a pigpio daemon, refused by name on gpiod; custom_1 and
custom_2 answer as pigpio's daemon built without custom code."""

from __future__ import annotations

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.gpiod import GpiodChip

from test_backend_pigpiod import chip, daemon, on_chip, relay  # noqa: F401 - fixtures


def test_pads_on_the_sim_round_as_pigpio(pi):
    assert [pi.get_pad_strength(pad) for pad in range(3)] == [8, 8, 8]
    expected = {1: 2, 2: 2, 3: 4, 4: 4, 7: 8, 8: 8, 15: 16, 16: 16}
    for strength, got in expected.items():
        assert pi.set_pad_strength(2, strength) == 0
        assert pi.get_pad_strength(2) == got
    assert pi.get_pad_strength(0) == 8


def test_bad_pads_and_strengths(pi):
    for pad in (-1, 3):
        with pytest.raises(pigpio.error, match="bad pad number"):
            pi.get_pad_strength(pad)
        with pytest.raises(pigpio.error, match="bad pad number"):
            pi.set_pad_strength(pad, 8)
    for strength in (0, 17):
        with pytest.raises(pigpio.error, match="bad pad drive strength"):
            pi.set_pad_strength(0, strength)


def test_gpiod_refuses_pads_by_name():
    backend = GpiodChip.__new__(GpiodChip)  # the interface alone: no chip needed
    for call in (lambda: backend.get_pad(0), lambda: backend.set_pad(0, 8)):
        with pytest.raises(PigpioError) as err:
            call()
        assert err.value.code == pigpio.PI_NOT_PERMITTED
        assert "gpiod backend" in str(err.value) and "pad drive" in str(err.value)


def test_pads_are_relayed_to_the_pigpio_daemon(relay, on_chip):  # noqa: F811
    p = pigpio.pi(relay.socket_path)
    try:
        assert p.set_pad_strength(1, 12) == 0
        assert on_chip("padg", 1) == 12  # the daemon's chip has it
        assert p.get_pad_strength(1) == 12
        with pytest.raises(pigpio.error, match="bad pad number"):
            p.get_pad_strength(5)
    finally:
        p.stop()


def test_custom_1_answers_as_pigpio_without_custom_code(pi):
    assert pi.custom_1() == 0
    assert pi.custom_1(23) == 23
    assert pi.custom_1(0, 55) == 55
    assert pi.custom_1(23, 56, [1, 5, 7]) == 56
    assert pi.custom_1(1, 2, b"hello") == ord("o")
    assert pi.custom_1(1, 2, "hello") == ord("o")
    assert pi.custom_1(1, 2, bytearray([200])) == 200


def test_custom_2_answers_as_pigpio_without_custom_code(pi):
    assert pi.custom_2() == (0, "")
    assert pi.custom_2(23, [1, 5, 7]) == (3, bytearray([7, 5, 1]))
    assert pi.custom_2(23, b"hello") == (5, bytearray(b"olleh"))
    assert pi.custom_2(23, "hello", 3) == (3, bytearray(b"leh"))  # pigpio cuts, then reverses
    count, data = pi.custom_2(0, "abc")
    assert isinstance(data, bytearray) and count == 3
