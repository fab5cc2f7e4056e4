"""Notification pipes of :class:`gpiosvr.pigpio.pi`: ``notify_open`` and friends.

As in pigpio, ``notify_open`` returns a handle N whose reports a program reads, 12
bytes each (``struct.unpack('HHII', ...)``: seq, flags, tick, levels), from a pipe:
here the FIFO ``pigpioN`` in the server's runtime directory, next to its socket
(pigpio's ``/dev/pigpioN``); ``gpiosvr.pigpio.notify_path(pi, handle)`` gives its path. The
handle belongs to this process and closes when it disconnects.
"""

from __future__ import annotations

from gpiosvr.pigpio._core import _u2i


class NotifyPart:
    """pigpio's notify_open, notify_begin, notify_pause, notify_close."""

    def notify_open(self):
        """Returns a notification handle (0-31): reports go to the FIFO
        ``pigpioN`` next to the server's socket (pigpio's /dev/pigpioN)."""
        return _u2i(self._cmd("pno"))

    def notify_begin(self, handle, bits):
        """Starts notifications on a handle for the GPIOs whose bits are set."""
        return _u2i(self._cmd("pnb", handle, bits))

    def notify_pause(self, handle):
        """Pauses notifications on a handle (pigpio: begin with no GPIOs)."""
        return _u2i(self._cmd("pnb", handle, 0))

    def notify_close(self, handle):
        """Stops notifications on a handle and releases it (the FIFO is removed)."""
        return _u2i(self._cmd("pnc", handle))


def notify_path(pi, handle):
    """The FIFO the reports of notification ``handle`` of ``pi`` are read from (a
    gpiosvr addition, not a method, so that ``pi`` stays pigpio's: pigpio's path is
    always /dev/pigpioN)."""
    return pi._cmd("pnpath", handle)
