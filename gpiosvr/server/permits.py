"""Which GPIOs clients may change: pigpio's update mask, and the one check of it.

pigpio lets its clients read every GPIO but change only the user GPIOs of the board
it runs on, unless ``pigpiod -x MASK`` says otherwise, so that no client rewires the
SD card, the Wi-Fi chip or the UART the running system needs. gpiosvr does the same on
every backend. The mask (bit n: GPIO n) is ``gpiosvr-server --permit MASK`` when
given, else pigpio's default for the board (:func:`default_mask` of the backend's
hardware revision). The commands that change a GPIO ask :class:`Permits`, and answer
as pigpio does:

* a command on one GPIO outside the mask (set mode, pull, write, PWM, servo, PWM
  range and frequency, hardware PWM) changes nothing and answers
  ``PI_NOT_PERMITTED``; pigpio checks this before the other arguments;
* a bank set or clear changes the permitted GPIOs among its bits and answers
  ``PI_SOME_PERMITTED`` when it named any other.
"""

from __future__ import annotations

import functools

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server import limits
from gpiosvr.server.backends.base import NUM_GPIOS, Backend

#: Every GPIO: all 64 bits of the mask, as ``--permit -1`` (pigpio keeps all 64, so a
#: bank 2 command naming GPIO 54-63, which do not exist, is permitted only then).
ALL_GPIOS = (1 << 64) - 1

_MASKS_BY_MODEL = {  # the model field of a new-style revision code (pigpio 1.78)
    0: limits.PERMIT_MASK_A_B2, 1: limits.PERMIT_MASK_A_B2,
    2: limits.PERMIT_MASK_APLUS_BPLUS, 3: limits.PERMIT_MASK_APLUS_BPLUS,
    4: limits.PERMIT_MASK_PI2B,
    6: limits.PERMIT_MASK_COMPUTE, 10: limits.PERMIT_MASK_COMPUTE,
    16: limits.PERMIT_MASK_COMPUTE,
    8: limits.PERMIT_MASK_PI3B, 13: limits.PERMIT_MASK_PI3B, 14: limits.PERMIT_MASK_PI3B,
    9: limits.PERMIT_MASK_ZERO, 12: limits.PERMIT_MASK_ZERO,
    17: limits.PERMIT_MASK_PI4B,
}


@functools.lru_cache(maxsize=16)
def _default_mask(hardware_revision: int) -> int:
    return default_mask(hardware_revision)


def default_mask(hardware_revision: int) -> int:
    """The GPIOs pigpio 1.78 lets clients change on the board with this revision code
    (as ``/proc/cpuinfo`` gives it); a board it does not know gets GPIO 2-27."""
    rev = hardware_revision & 0xFFFFFF  # without the warranty bit
    if not rev & 0x800000:  # an old-style code: only 0x0002-0x0015 exist
        if not 0 < rev < 0x16:
            return limits.PERMIT_MASK_UNKNOWN
        if rev < 4:
            return limits.PERMIT_MASK_B1
        if rev < 16:
            return limits.PERMIT_MASK_A_B2
        if rev in (17, 20):
            return limits.PERMIT_MASK_COMPUTE
        return limits.PERMIT_MASK_APLUS_BPLUS
    return _MASKS_BY_MODEL.get(rev >> 4 & 0xFF, limits.PERMIT_MASK_UNKNOWN)


def parse_mask(text: str) -> int:
    """A ``--permit`` value as ``pigpiod -x`` takes it: a 64-bit number in C notation
    (``0x0FFFFFFC``, ``268435452``; negative numbers are two's complement, so ``-1``
    is every GPIO), or ``all``. Raises ValueError naming the problem."""
    word = text.strip().lower()
    if word == "all":
        return ALL_GPIOS
    digits = word.lstrip("+-")
    try:  # C's strtoll(text, NULL, 0): 0x... is hex, 0... octal
        value = int(word, 8 if digits[:1] == "0" and digits.isdigit() else 0)
    except ValueError:
        raise ValueError(f"{text!r} is not a GPIO mask: give a number such as "
                         f"0x0FFFFFFC (bit n: GPIO n), -1 or 'all'") from None
    if not -(1 << 63) <= value < (1 << 64):
        raise ValueError(f"GPIO mask {text!r} does not fit in 64 bits")
    return value & ALL_GPIOS


class Permits:
    """The GPIOs clients of one server may change, and the check of them.

    ``mask`` (bit n: GPIO n; 64 bits, as pigpio keeps) fixes them; None takes pigpio's
    default for the backend's hardware revision: once, for a backend that knows its
    board when it is built; at each check for one that relays to a daemon (its
    :attr:`~Backend.native_commands`), which learns the board only once it reaches it.
    """

    def __init__(self, backend: Backend, mask: int | None = None) -> None:
        self._backend = backend
        if mask is None and not backend.native_commands:
            mask = default_mask(backend.hardware_revision)
        self._fixed = None if mask is None else mask & ALL_GPIOS

    @property
    def mask(self) -> int:
        """The GPIOs that may be changed now, as a bit mask."""
        if self._fixed is not None:
            return self._fixed
        return _default_mask(self._backend.hardware_revision)

    def check(self, gpio: int) -> None:
        """Raise ``PI_NOT_PERMITTED`` if a command may not change GPIO ``gpio`` (0-53)."""
        mask = self._fixed
        if mask is None:
            mask = self.mask
        if not mask >> gpio & 1:
            raise PigpioError(errors.PI_NOT_PERMITTED,
                              f"no permission to update GPIO {gpio}: the permitted "
                              f"GPIOs are 0x{mask:X} (gpiosvr-server --permit)")

    def check_argument(self, value: object) -> None:
        """:meth:`check` a command's GPIO argument before it is converted, as pigpio
        checks permission first; a value that is no GPIO passes, as in pigpio (the
        command's own check refuses it)."""
        if type(value) is int and 0 <= value < NUM_GPIOS:
            self.check(value)

    def bank_bits(self, bank: int, bits: int) -> int:
        """The permitted GPIOs among ``bits`` of bank 1 (GPIO 0-31) or 2 (32-53)."""
        return bits & (self.mask >> (0 if bank == 1 else 32)) & 0xFFFFFFFF

    def some_permitted(self, bank: int, bits: int) -> PigpioError:
        """The error a bank command naming non-permitted GPIOs answers with, after it
        changed the permitted ones."""
        refused = bits & ~self.bank_bits(bank, bits)
        first = 0 if bank == 1 else 32
        gpios = [first + n for n in range(32) if refused >> n & 1]
        shown = ", ".join(map(str, gpios[:8])) + (", ..." if len(gpios) > 8 else "")
        return PigpioError(errors.PI_SOME_PERMITTED,
                           f"no permission to update one or more GPIO: GPIO {shown} "
                           f"left as they were; the permitted GPIOs are 0x{self.mask:X} "
                           f"(gpiosvr-server --permit)")


def of(session: object) -> Permits:
    """The :class:`Permits` of the server ``session`` is connected to (pigpio's
    default for its backend when it has no server)."""
    try:
        return session.server.permits  # type: ignore[attr-defined]
    except AttributeError:
        return Permits(session.backend)  # type: ignore[attr-defined]
