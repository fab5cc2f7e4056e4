"""I2C calls of :class:`gpiosvr.pigpio.pi`, as pigpio 1.78's (names, arguments,
defaults, answers): the ``i2c*`` commands of the server."""

from __future__ import annotations

from gpiosvr.pigpio._core import _u2i
from gpiosvr.pigpio._data import as_bytes, count_and_data


class I2CPart:
    """pigpio's I2C methods: open and close a device, SMBus and plain transfers, zip."""

    def i2c_open(self, i2c_bus, i2c_address, i2c_flags=0):
        """Returns a handle (>=0) for the device at the I2C bus address."""
        return _u2i(self._cmd("i2co", i2c_bus, i2c_address, i2c_flags))

    def i2c_close(self, handle):
        """Closes the I2C device associated with handle."""
        return _u2i(self._cmd("i2cc", handle))

    def i2c_write_quick(self, handle, bit):
        """Sends a single bit to the device associated with handle."""
        return _u2i(self._cmd("i2cwq", handle, bit))

    def i2c_write_byte(self, handle, byte_val):
        """Sends a single byte to the device associated with handle."""
        return _u2i(self._cmd("i2cws", handle, byte_val))

    def i2c_read_byte(self, handle):
        """Reads a single byte from the device associated with handle."""
        return _u2i(self._cmd("i2crs", handle))

    def i2c_write_byte_data(self, handle, reg, byte_val):
        """Writes a single byte to the specified register of the device."""
        return _u2i(self._cmd("i2cwb", handle, reg, byte_val))

    def i2c_write_word_data(self, handle, reg, word_val):
        """Writes a single 16 bit word to the specified register of the device."""
        return _u2i(self._cmd("i2cww", handle, reg, word_val))

    def i2c_read_byte_data(self, handle, reg):
        """Reads a single byte from the specified register of the device."""
        return _u2i(self._cmd("i2crb", handle, reg))

    def i2c_read_word_data(self, handle, reg):
        """Reads a single 16 bit word from the specified register of the device."""
        return _u2i(self._cmd("i2crw", handle, reg))

    def i2c_process_call(self, handle, reg, word_val):
        """Writes 16 bits of data to the specified register of the device and reads
        16 bits of data in return."""
        return _u2i(self._cmd("i2cpc", handle, reg, word_val))

    def i2c_write_block_data(self, handle, reg, data):
        """Writes up to 32 bytes to the specified register of the device."""
        if len(data):
            return _u2i(self._cmd("i2cwk", handle, reg, as_bytes(data)))
        return 0

    def i2c_read_block_data(self, handle, reg):
        """Reads a block of up to 32 bytes from the specified register of the
        device; returns ``(count, bytearray)``, count < 0 on error."""
        return count_and_data(self, "i2crk", handle, reg)

    def i2c_block_process_call(self, handle, reg, data):
        """Writes data bytes to the specified register of the device and reads a
        device specified number of bytes of data in return: ``(count, bytearray)``."""
        return count_and_data(self, "i2cpk", handle, reg, as_bytes(data))

    def i2c_write_i2c_block_data(self, handle, reg, data):
        """Writes data bytes (1-32) to the specified register of the device."""
        if len(data):
            return _u2i(self._cmd("i2cwi", handle, reg, as_bytes(data)))
        return 0

    def i2c_read_i2c_block_data(self, handle, reg, count):
        """Reads count bytes (1-32) from the specified register of the device:
        ``(count, bytearray)``."""
        return count_and_data(self, "i2cri", handle, reg, count)

    def i2c_read_device(self, handle, count):
        """Returns ``(count, bytearray)`` read from the raw device."""
        return count_and_data(self, "i2crd", handle, count)

    def i2c_write_device(self, handle, data):
        """Writes the data bytes to the raw device associated with handle."""
        if len(data):
            return _u2i(self._cmd("i2cwd", handle, as_bytes(data)))
        return 0

    def i2c_zip(self, handle, data):
        """Executes a sequence of I2C operations (pigpio's zip command codes);
        returns ``(count, bytearray)`` of the bytes read."""
        return count_and_data(self, "i2cz", handle, as_bytes(data))
