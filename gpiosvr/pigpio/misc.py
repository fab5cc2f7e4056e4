"""Pads, shell, BSC and custom functions of :class:`gpiosvr.pigpio.pi`: pad drive
strength, ``shell``, ``bsc_xfer``/``bsc_i2c``, ``custom_1`` and ``custom_2``."""

from __future__ import annotations

from gpiosvr.errors import GpioServerError
from gpiosvr.pigpio._core import _data, _failed, _plain, _u2i, u2i
from gpiosvr.server.limits import SHELL_SECONDS

#: Seconds ``shell`` waits for its answer: the server kills the program before.
_SHELL_WAIT = SHELL_SECONDS + 10


class MiscPart:
    """pigpio's get/set_pad_strength, shell, bsc_xfer, bsc_i2c, custom_1, custom_2."""

    def bsc_xfer(self, bsc_control, data):
        """BSC I2C/SPI slave transfer: sets the mode, queues data to transmit and
        returns ``(status, count, bytearray)`` of what was received; on error
        ``(negative code, 0, bytearray())``, as pigpio."""
        result = self._cmd_code("bscx", bsc_control, _data(data))
        if isinstance(result, int):
            return result, 0, bytearray(b"")
        status = int.from_bytes(result[:4], "little")
        return status, len(result) - 4, bytearray(result[4:])

    def bsc_i2c(self, i2c_address, data=[]):  # noqa: B006 - pigpio's default
        """The BSC peripheral as an I2C slave at i2c_address (0: off); see
        :meth:`bsc_xfer`."""
        if i2c_address:
            control = (i2c_address << 16) | 0x305
        else:
            control = 0
        return self.bsc_xfer(control, data)

    def shell(self, shellscr, pstring=""):
        """Runs program shellscr of the server's shell directory (``gpiosvr-server
        --shell-dir``; pigpio's /opt/pigpio/cgi) with the words of pstring (quotes
        group them; nothing else is interpreted). Returns its exit status x 256, as
        pigpio (32512: no such program)."""
        client = self._client
        try:
            return _u2i(client.command("shell", _plain(shellscr), _plain(pstring),
                                       timeout=_SHELL_WAIT))
        except GpioServerError as exc:
            return _failed(exc)

    def get_pad_strength(self, pad):
        """Returns the pad drive strength in mA (pad 0: GPIO 0-27, 1: 28-45, 2: 46-53)."""
        return _u2i(self._cmd("padg", pad))

    def set_pad_strength(self, pad, pad_strength):
        """Sets the pad drive strength (1-16 mA) of a pad (0-2)."""
        return _u2i(self._cmd("pads", pad, pad_strength))

    def custom_1(self, arg1=0, arg2=0, argx=[]):  # noqa: B006 - pigpio's default
        """Calls a pigpio function customised by the user; without custom code (as
        here) it returns the largest of arg1, arg2 and the bytes of argx. As pigpio,
        an error is returned (a negative value), not raised."""
        return u2i(self._cmd_code("cf1", arg1, arg2, _data(argx)))

    def custom_2(self, arg1=0, argx=[], retMax=8192):  # noqa: B006,N803 - pigpio's
        """Calls a pigpio function customised by the user; without custom code (as
        here) it returns ``(count, data)``: argx reversed, at most retMax bytes. On
        error ``(negative code, "")``, as pigpio."""
        result = self._cmd_code("cf2", arg1, retMax, _data(argx))
        if isinstance(result, int) or not result:
            return (result if isinstance(result, int) else 0), ""
        return len(result), bytearray(result)
