"""Serial port calls of :class:`gpiosvr.pigpio.pi`, as pigpio 1.78's: the ``ser*``
commands."""

from __future__ import annotations

from gpiosvr.pigpio._core import _u2i
from gpiosvr.pigpio._data import as_bytes, count_and_data


class SerialPart:
    """pigpio's serial methods: open, close, read and write bytes, data available."""

    def serial_open(self, tty, baud, ser_flags=0):
        """Returns a handle for the serial tty device opened at baud bits per
        second; the name must start with /dev/tty or /dev/serial."""
        if isinstance(tty, (bytes, bytearray)):
            tty = bytes(tty).decode("latin-1")
        return _u2i(self._cmd("sero", tty, baud, ser_flags))

    def serial_close(self, handle):
        """Closes the serial device associated with handle."""
        return _u2i(self._cmd("serc", handle))

    def serial_read_byte(self, handle):
        """Returns a single byte from the device (an error if none is ready)."""
        return _u2i(self._cmd("serrb", handle))

    def serial_write_byte(self, handle, byte_val):
        """Writes a single byte to the device associated with handle."""
        return _u2i(self._cmd("serwb", handle, byte_val))

    def serial_read(self, handle, count=1000):
        """Reads up to count bytes: ``(count, bytearray)``; with no data ready,
        ``(PI_SER_READ_NO_DATA, "")`` as pigpiod answers."""
        return count_and_data(self, "serr", handle, count)

    def serial_write(self, handle, data):
        """Writes the data bytes to the device associated with handle."""
        return _u2i(self._cmd("serw", handle, as_bytes(data)))

    def serial_data_available(self, handle):
        """Returns the number of bytes available to be read from the device."""
        return _u2i(self._cmd("serda", handle))
