"""Pads and custom functions: ``padg``, ``pads`` (pad drive strength, kept by the
backend) and ``cf1``, ``cf2`` (pigpio's custom functions, answering as a pigpio
daemon built without custom code does)."""

from __future__ import annotations

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands.table import Session, command

PI_BAD_PAD = int(CONSTANTS["PI_BAD_PAD"])
PI_BAD_STRENGTH = int(CONSTANTS["PI_BAD_STRENGTH"])
PI_BAD_PARAM = int(CONSTANTS["PI_BAD_PARAM"])


def _pad(pad: int) -> int:
    if not 0 <= pad <= 2:
        raise PigpioError(PI_BAD_PAD, f"bad pad number {pad} (pads: 0 GPIO 0-27, "
                                      f"1 GPIO 28-45, 2 GPIO 46-53)")
    return pad


@command("padg", "int")
def _get_pad(session: Session, pad: int):
    """Get pad 0-2's drive strength in mA."""
    return session.backend.get_pad(_pad(pad))


@command("pads", "int", "int")
def _set_pad(session: Session, pad: int, strength: int):
    """Set pad 0-2's drive strength, 1-16 mA (pigpio keeps even steps: 2, 4 ... 16)."""
    _pad(pad)
    if not 1 <= strength <= 16:
        raise PigpioError(PI_BAD_STRENGTH, f"bad pad drive strength {strength} (1-16 mA)")
    session.backend.set_pad(pad, strength)
    return 0


@command("cf1", "int?", "int?", "data?")
def _custom_1(session: Session, arg1: int = 0, arg2: int = 0, argx: bytes = b""):
    """Custom function 1: as pigpio's daemon without custom code, the largest of
    ``arg1``, ``arg2`` and the bytes of ``argx``."""
    return max(arg1 & 0xFFFFFFFF, arg2 & 0xFFFFFFFF, *argx) if argx else \
        max(arg1 & 0xFFFFFFFF, arg2 & 0xFFFFFFFF)


@command("cf2", "int?", "int?", "data?")
def _custom_2(session: Session, arg1: int = 0, retmax: int = 8192, argx: bytes = b""):
    """Custom function 2: as pigpio's daemon without custom code, ``argx`` reversed,
    at most ``retmax`` bytes (``argx`` is bounded by the request frame)."""
    if retmax < 0:
        raise PigpioError(PI_BAD_PARAM, f"bad parameter: retMax {retmax} is negative")
    return bytes(reversed(argx[:retmax]))
