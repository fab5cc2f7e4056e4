"""Essential GPIO calls of :class:`gpiosvr.pigpio.pi`: modes, pulls, levels, banks
and the board's information."""

from __future__ import annotations

from gpiosvr.channel import frame_template
from gpiosvr.pigs_args import mode_arg, pud_arg
from gpiosvr.errors import GpioServerError
from gpiosvr.pigpio._core import _failed, _u2i

_READ = frame_template("r", 1)
_WRITE = frame_template("w", 2)


class GpioPart:
    """pigpio's essential, bank and information methods."""

    def set_mode(self, gpio, mode):
        """Sets the GPIO mode (INPUT, OUTPUT, ALT0-ALT5)."""
        return _u2i(self._cmd("m", gpio, mode_arg(mode)))

    def get_mode(self, gpio):
        """Returns the GPIO mode."""
        return _u2i(self._cmd("mg", gpio))

    def set_pull_up_down(self, gpio, pud):
        """Sets or clears the internal GPIO pull-up/down resistor."""
        return _u2i(self._cmd("pud", gpio, pud_arg(pud)))

    def read(self, gpio):
        """Returns the GPIO level."""
        channel = self._threads.channel  # this thread's connection, once it has one
        if channel is not None and channel.ready and type(gpio) is int:  # the short way
            try:
                value = channel.call_ints(_READ, (gpio,))
            except GpioServerError as exc:
                return _failed(exc)
            return value if value >= 0 else _u2i(value)
        return _u2i(self._cmd("r", gpio))

    def write(self, gpio, level):
        """Sets the GPIO level."""
        return self._ints(_WRITE, "w", gpio, level)

    # -- banks ---------------------------------------------------------------------

    def read_bank_1(self):
        """Returns the levels of the bank 1 GPIO (GPIO 0-31)."""
        return self._cmd("br1")

    def read_bank_2(self):
        """Returns the levels of the bank 2 GPIO (GPIO 32-53)."""
        return self._cmd("br2")

    def clear_bank_1(self, bits):
        """Clears GPIO 0-31 if the corresponding bit in bits is set."""
        return _u2i(self._cmd("bc1", bits))

    def clear_bank_2(self, bits):
        """Clears GPIO 32-53 if the corresponding bit (0-21) in bits is set."""
        return _u2i(self._cmd("bc2", bits))

    def set_bank_1(self, bits):
        """Sets GPIO 0-31 if the corresponding bit in bits is set."""
        return _u2i(self._cmd("bs1", bits))

    def set_bank_2(self, bits):
        """Sets GPIO 32-53 if the corresponding bit (0-21) in bits is set."""
        return _u2i(self._cmd("bs2", bits))

    # -- information -------------------------------------------------------------

    def get_current_tick(self):
        """Returns the current system tick (microseconds, wrapping at 2**32)."""
        return self._cmd("t")

    def get_hardware_revision(self):
        """Returns the Pi's hardware revision number."""
        return self._cmd("hwver")

    def get_pigpio_version(self):
        """Returns the pigpio software version."""
        return self._cmd("pigpv")
