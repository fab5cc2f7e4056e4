"""SPI calls of :class:`gpiosvr.pigpio.pi`, as pigpio 1.78's: the ``spi*`` commands."""

from __future__ import annotations

from gpiosvr.pigpio._core import _u2i
from gpiosvr.pigpio._data import as_bytes, count_and_data


class SPIPart:
    """pigpio's SPI methods: open, close, read, write, transfer."""

    def spi_open(self, spi_channel, baud, spi_flags=0):
        """Returns a handle for the SPI device on the channel; data is transferred
        at baud bits per second, spi_flags as pigpio's (mode, CE polarity, ...)."""
        return _u2i(self._cmd("spio", spi_channel, baud, spi_flags))

    def spi_close(self, handle):
        """Closes the SPI device associated with handle."""
        return _u2i(self._cmd("spic", handle))

    def spi_read(self, handle, count):
        """Reads count bytes from the SPI device: ``(count, bytearray)``."""
        return count_and_data(self, "spir", handle, count)

    def spi_write(self, handle, data):
        """Writes the data bytes to the SPI device; returns the count written."""
        return _u2i(self._cmd("spiw", handle, as_bytes(data)))

    def spi_xfer(self, handle, data):
        """Writes the data bytes to the SPI device, returning the bytes read at the
        same time: ``(count, bytearray)``."""
        return count_and_data(self, "spix", handle, as_bytes(data))
