"""Arguments as pigpio 1.78 takes them: ``int()`` where pigpio calls it (a float
watchdog, dutycycle or pulsewidth), and anything ``struct.pack`` takes as an integer
(bools, IntEnums, numpy integers) everywhere; what pigpio refuses is refused."""

from __future__ import annotations

import enum

import pytest

import gpiosvr.pigpio as pigpio


class Pin(enum.IntEnum):
    LED = 4


def test_float_where_pigpio_calls_int(pi):
    assert pi.set_watchdog(4, 50.0) == 0  # a public data logger does this
    assert pi.set_watchdog(4, 0.0) == 0
    assert pi.set_PWM_dutycycle(5, 127.6) == 0
    assert pi.get_PWM_dutycycle(5) == 127
    assert pi.set_servo_pulsewidth(6, 1500.9) == 0
    assert pi.get_servo_pulsewidth(6) == 1500


def test_integer_like_values_everywhere(pi):
    np = pytest.importorskip("numpy")
    assert pi.set_mode(Pin.LED, pigpio.OUTPUT) == 0
    assert pi.write(np.int64(4), True) == 0
    assert pi.read(Pin.LED) == 1
    assert pi.write(4, np.uint8(0)) == 0
    assert pi.read(np.int32(4)) == 0
    assert pi.set_PWM_frequency(np.int16(5), np.int64(800)) == 800
    assert pi.set_glitch_filter(np.int8(7), np.int64(100)) == 0
    assert pi.set_noise_filter(Pin.LED, 0, np.int64(0)) == 0
    cb = pi.callback(np.int64(8), np.int64(pigpio.EITHER_EDGE))
    assert cb.tally() == 0
    cb.cancel()


def test_what_pigpio_refuses_is_refused(pi):
    with pytest.raises(pigpio.error, match="float"):
        pi.write(4, 1.5)  # pigpio: struct.error, not an integer
    with pytest.raises(pigpio.error, match="timeout not 0-60000"):
        pi.set_watchdog(4, "fifty")
