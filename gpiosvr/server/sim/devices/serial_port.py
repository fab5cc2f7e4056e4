"""A serial port of the simulated board, and its far end.

What the Pi sends goes to the far end; what the far end sends waits for the Pi to
read it. The far end is one of:

* ``"buffer"`` (the default): a test or a person reads and writes it with the
  ``simserr``/``simserw`` commands (``Simulator.serial_read``/``serial_write``);
* ``"loopback"``: a wire from TX to RX, the Pi reads back what it sends;
* ``"pty"``: a pseudo-terminal whose path (``/dev/pts/N``) the server prints at
  start and ``simboard``/``simserinfo`` answer, for ``picocom``, ``screen`` or
  pyserial; the sim commands reach it too. The pty is non-blocking and only ever
  read or written when asked, so the event loop never waits on it.

Each direction holds at most :data:`~gpiosvr.server.limits.SIM_SERIAL_BUFFER_BYTES`
(a pty: what the kernel's pty buffer takes); a write that does not fit fails with
pigpio's ``PI_SER_WRITE_FAILED`` (into a buffer: none of it is sent; into a pty: the
part the pty took is).
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import tty

from gpiosvr.server.backends.buses import BusError
from gpiosvr.server.limits import SIM_SERIAL_BUFFER_BYTES

FAR_ENDS = ("buffer", "loopback", "pty")


class SerialPort:
    """One UART of the board: its names (``/dev/serial0``...) and its far end."""

    def __init__(self, names: list[str], far_end: str = "buffer") -> None:
        if far_end not in FAR_ENDS:
            raise ValueError(f"far end {far_end!r} is not one of {', '.join(FAR_ENDS)}")
        if not names:
            raise ValueError("a serial port needs a name (e.g. /dev/serial0)")
        self.names = list(names)
        self.far_end = far_end
        self._to_pi = bytearray()  # buffer and loopback: what the Pi will read
        self._from_pi = bytearray()  # buffer: what the Pi sent
        self._master: int | None = None
        self._slave: int | None = None
        self.pty_path: str | None = None
        if far_end == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            tty.setraw(self._master)
            for fd in (self._master, self._slave):
                os.set_blocking(fd, False)
            self.pty_path = os.ttyname(self._slave)

    @property
    def name(self) -> str:
        return self.names[0]

    def describe(self) -> dict:
        """What ``simserinfo`` answers."""
        return {"names": self.names, "far_end": self.far_end, "pty": self.pty_path}

    # -- the Pi's side --------------------------------------------------------------

    def pi_write(self, data: bytes) -> None:
        if self._master is not None:
            _write_all(self._master, data, "the pty")
            return
        target = self._to_pi if self.far_end == "loopback" else self._from_pi
        _append(target, data)

    def pi_read(self, count: int) -> bytes:
        if self._master is not None:
            return _read(self._master, count)
        return _take(self._to_pi, count)

    def pi_available(self) -> int:
        if self._master is not None:
            return _waiting(self._master)
        return len(self._to_pi)

    # -- the far end ------------------------------------------------------------------

    def far_write(self, data: bytes) -> None:
        """Send ``data`` to the Pi from the far end."""
        if self._slave is not None:
            _write_all(self._slave, data, "the pty")
            return
        _append(self._to_pi, data)

    def far_read(self, count: int) -> bytes:
        """Take up to ``count`` bytes the Pi sent (for a loopback: none, they went
        back to the Pi)."""
        if self._slave is not None:
            return _read(self._slave, count)
        return _take(self._from_pi, count)

    def close(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None


def _append(buffer: bytearray, data: bytes) -> None:
    if len(buffer) + len(data) > SIM_SERIAL_BUFFER_BYTES:
        raise BusError(f"{len(buffer)} bytes wait unread; {len(data)} more would pass "
                       f"the {SIM_SERIAL_BUFFER_BYTES} a simulated port holds "
                       f"(SIM_SERIAL_BUFFER_BYTES)")
    buffer += data


def _take(buffer: bytearray, count: int) -> bytes:
    data = bytes(buffer[:count])
    del buffer[:count]
    return data


def _waiting(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def _read(fd: int, count: int) -> bytes:
    try:
        return os.read(fd, count)
    except (BlockingIOError, InterruptedError):
        return b""
    except OSError as exc:
        raise BusError(f"reading the pty failed: {exc.strerror}") from None


def _write_all(fd: int, data: bytes, what: str) -> None:
    # Never waits: a pty nobody reads takes a few kB, then refuses the rest.
    if not data:
        return
    try:
        written = os.write(fd, data)
    except (BlockingIOError, InterruptedError):
        written = 0
    except OSError as exc:
        raise BusError(f"writing {what} failed: {exc.strerror}") from None
    if written != len(data):
        raise BusError(f"{what} took {written} of {len(data)} bytes: nobody reads "
                       f"the far end")
