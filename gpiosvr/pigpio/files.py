"""Files of :class:`gpiosvr.pigpio.pi`: open, read, write, seek, close and list the
files the server's permits file allows (pigpio's ``/opt/pigpio/access`` model; see
:mod:`gpiosvr.server.files`)."""

from __future__ import annotations

from gpiosvr.pigpio._core import _data, _u2i


class FilesPart:
    """pigpio's file_open, file_read, file_write, file_seek, file_close, file_list."""

    def file_open(self, file_name, file_mode):
        """Opens a file the permits file allows (FILE_READ, FILE_WRITE, FILE_RW, or'd
        with FILE_APPEND, FILE_CREATE, FILE_TRUNC); returns its handle."""
        return _u2i(self._cmd("fo", file_name, file_mode))

    def file_close(self, handle):
        """Closes the file associated with handle."""
        return _u2i(self._cmd("fc", handle))

    def file_read(self, handle, count):
        """Reads up to count bytes; returns ``(count, bytearray)``, on error
        ``(negative code, "")`` (returned, not raised, as pigpio)."""
        data = self._cmd_code("fr", handle, count)
        if isinstance(data, int) or not data:
            return (data if isinstance(data, int) else 0), ""
        return len(data), bytearray(data)

    def file_write(self, handle, data):
        """Writes the data bytes (bytes, bytearray, str or a list of ints)."""
        return _u2i(self._cmd("fw", handle, _data(data)))

    def file_seek(self, handle, seek_offset, seek_from):
        """Seeks to a position (FROM_START, FROM_CURRENT, FROM_END); returns it."""
        return _u2i(self._cmd("fs", handle, seek_offset, seek_from))

    def file_list(self, fpattern):
        """Returns ``(count, bytearray)`` of the files matching fpattern, one per
        line; on error ``(negative code, "")`` (returned, not raised, as pigpio)."""
        data = self._cmd_code("fl", fpattern, 60000)
        if isinstance(data, int) or not data:
            return (data if isinstance(data, int) else 0), ""
        return len(data), bytearray(data)
