"""pigpio constants and interfaces, checked against the real pigpio 1.78 package."""

from __future__ import annotations

import inspect

import pigpio as real_pigpio
import pytest

from gpiosvr import client_pigpio
from gpiosvr.client_pigpio import (PigpioCallbackApi, PigpioMinimalApi, PigpioPwmApi,
                                   PigpioScriptApi, pigpio)
from gpiosvr.errors import error_text


def real_constants() -> dict:
    return {k: v for k, v in vars(real_pigpio).items()
            if k.isupper() and not k.startswith("_") and isinstance(v, (int, str))
            and not isinstance(v, bool)}


def test_every_pigpio_constant_has_pigpios_value():
    expected = real_constants()
    assert len(expected) > 150
    for name, value in expected.items():
        assert getattr(pigpio, name) == value, name


def test_error_texts_equal_pigpios():
    for code in range(-160, 1):
        assert error_text(code) == real_pigpio.error_text(code), code


@pytest.mark.parametrize("t1,t2", [(0, 0), (4294967272, 12), (12, 4294967272), (5, 9)])
def test_tick_diff_matches_pigpio(t1, t2):
    assert pigpio.tickDiff(t1, t2) == real_pigpio.tickDiff(t1, t2)
    assert client_pigpio.tickDiff(t1, t2) == real_pigpio.tickDiff(t1, t2)


@pytest.mark.parametrize("api", [PigpioMinimalApi, PigpioCallbackApi, PigpioPwmApi,
                                 PigpioScriptApi])
def test_interface_methods_have_pigpios_argument_names(api):
    for name in api.__abstractmethods__:
        ours = list(inspect.signature(getattr(api, name)).parameters)
        theirs = list(inspect.signature(getattr(real_pigpio.pi, name)).parameters)
        assert ours == theirs, name
