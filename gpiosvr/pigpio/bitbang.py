"""Bit-bang calls of :class:`gpiosvr.pigpio.pi`, as pigpio 1.78's (names, arguments,
defaults, answers): serial reading, I2C and SPI on any GPIOs, the server's
``slr*``, ``bi2c*`` and ``bspi*`` commands."""

from __future__ import annotations

from gpiosvr.pigpio._core import _u2i
from gpiosvr.pigpio._data import as_bytes, count_and_data


class BitBangPart:
    """pigpio's bit-bang methods: serial input, I2C and SPI on GPIOs of one's choice."""

    def bb_serial_read_open(self, user_gpio, baud, bb_bits=8):
        """Opens a GPIO for bit bang reading of serial data (baud 50-250000,
        bb_bits 1-32); the data is read with :meth:`bb_serial_read`."""
        return _u2i(self._cmd("slro", user_gpio, baud, bb_bits))

    def bb_serial_read(self, user_gpio):
        """Returns data from the bit bang serial cyclic buffer: ``(count, bytearray)``,
        count < 0 on error; one byte per character of 1-8 bits, two for 9-16, four
        for 17-32."""
        return count_and_data(self, "slr", user_gpio, 10000)

    def bb_serial_read_close(self, user_gpio):
        """Closes a GPIO for bit bang reading of serial data."""
        return _u2i(self._cmd("slrc", user_gpio))

    def bb_serial_invert(self, user_gpio, invert):
        """Invert serial logic (1 invert, 0 normal)."""
        return _u2i(self._cmd("slri", user_gpio, invert))

    def bb_i2c_open(self, SDA, SCL, baud=100000):  # noqa: N803 - pigpio's names
        """Selects a pair of GPIO for bit banging I2C at a specified baud rate
        (50-500000)."""
        return _u2i(self._cmd("bi2co", SDA, SCL, baud))

    def bb_i2c_close(self, SDA):  # noqa: N803
        """Stops bit banging I2C on a pair of GPIO opened with :meth:`bb_i2c_open`."""
        return _u2i(self._cmd("bi2cc", SDA))

    def bb_i2c_zip(self, SDA, data):  # noqa: N803
        """Executes a sequence of bit banged I2C operations (End 0, Escape 1, Start 2,
        Stop 3, Address 4 P, Flags 5 lsb msb, Read 6 P, Write 7 P ...); returns
        ``(count, bytearray)`` of the bytes read, count < 0 on error."""
        return count_and_data(self, "bi2cz", SDA, as_bytes(data))

    def bb_spi_open(self, CS, MISO, MOSI, SCLK, baud=100000, spi_flags=0):  # noqa: N803
        """Selects a set of GPIO for bit banging SPI at a specified baud rate
        (50-250000); spi_flags: mode (bits 0-1), CS active high (2), TX LSB first
        (14), RX LSB first (15)."""
        return _u2i(self._cmd("bspio", CS, MISO, MOSI, SCLK, baud, spi_flags))

    def bb_spi_close(self, CS):  # noqa: N803
        """Stops bit banging SPI on a set of GPIO opened with :meth:`bb_spi_open`."""
        return _u2i(self._cmd("bspic", CS))

    def bb_spi_xfer(self, CS, data):  # noqa: N803
        """Executes a bit banged SPI transfer: ``(count, bytearray)`` of the bytes
        read, count < 0 on error."""
        return count_and_data(self, "bspix", CS, as_bytes(data))
