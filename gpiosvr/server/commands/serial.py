"""Serial ports: ``sero``, ``serc``, ``serrb``, ``serwb``, ``serr``, ``serw``,
``serda``, as pigpio's (command.c's names and argument order, ``sero`` the device
name first; pigpio.c's checks and error codes)."""

from __future__ import annotations

from gpiosvr import errors
from gpiosvr.server.backends.buses import code
from gpiosvr.server.commands import bus_handles
from gpiosvr.server.commands.bus_handles import check
from gpiosvr.server.commands.table import ANSWERS_LATER, Session, command
from gpiosvr.server.limits import (BUS_MAX_TRANSFER_BYTES, SERIAL_HANDLES,
                                   SERIAL_HANDLES_PER_UID)

#: On the pigpiod and gpiod backends these answer later (a worker thread does the I/O).
ANSWERS_LATER.update(("sero", "serrb", "serwb", "serr", "serw", "serda"))


#: The baud rates pigpio's serOpen takes.
BAUDS = frozenset({50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600,
                   19200, 38400, 57600, 115200, 230400})
NO_DATA = code("PI_SER_READ_NO_DATA")
READ_FAILED = code("PI_SER_READ_FAILED")
WRITE_FAILED = code("PI_SER_WRITE_FAILED")


def handles(session: Session):
    """The server's serial handle table."""
    return bus_handles.table(session.server, "serial", SERIAL_HANDLES,
                             SERIAL_HANDLES_PER_UID)


def _device(session: Session, handle: int):
    return handles(session).get(session, handle)


@command("sero", "text", "int", "int")
def _open(session: Session, tty: str, baud: int, flags: int):
    """Open the serial device ``tty`` (/dev/tty* or /dev/serial*) at ``baud``; flags
    must be 0. Answers the handle."""
    check(tty.startswith(("/dev/tty", "/dev/serial")), code("PI_BAD_SER_DEVICE"),
          f"bad device ({tty})")
    check(baud in BAUDS, code("PI_BAD_SER_SPEED"), f"bad speed ({baud})")
    check(flags == 0, code("PI_BAD_FLAGS"), f"bad flags ({flags:#x})")
    buses = session.backend.buses()
    return bus_handles.open_handle(session, handles(session),
                                   lambda: buses.open_serial(tty, baud, flags),
                                   code("PI_SER_OPEN_FAILED"))


@command("serc", "int")
def _close(session: Session, handle: int):
    """Close a serial handle."""
    handles(session).close(session, handle)
    return 0


def _one_byte(data: bytes) -> int:
    if not data:
        check(False, NO_DATA, "no data available")
    return data[0]


@command("serrb", "int")
def _read_byte(session: Session, handle: int):
    """Read one byte (PI_SER_READ_NO_DATA when none has arrived)."""
    device = _device(session, handle)
    return bus_handles.transfer(lambda: device.read(1), READ_FAILED, _one_byte)


@command("serwb", "int", "int")
def _write_byte(session: Session, handle: int, value: int):
    """Write one byte."""
    device = _device(session, handle)
    check(0 <= value <= 0xFF, errors.PI_BAD_PARAM, f"bad parameter ({value})")
    return bus_handles.transfer(lambda: device.write(bytes([value])), WRITE_FAILED,
                                lambda _: 0)


def _some(data: bytes) -> bytes:
    # as pigpiod, whose non-blocking read of an empty tty fails with EAGAIN
    if not data:
        check(False, NO_DATA, "no data available")
    return bytes(data)


@command("serr", "int", "int")
def _read(session: Session, handle: int, count: int):
    """Read up to ``count`` bytes of what has arrived (PI_SER_READ_NO_DATA: none)."""
    device = _device(session, handle)
    check(count > 0, errors.PI_BAD_PARAM, f"bad count ({count})")
    count = min(count, BUS_MAX_TRANSFER_BYTES)
    return bus_handles.transfer(lambda: device.read(count), READ_FAILED, _some)


@command("serw", "int", "bvs")
def _write(session: Session, handle: int, data: bytes):
    """Write the bytes."""
    device = _device(session, handle)
    check(len(data) > 0, errors.PI_BAD_PARAM, "bad count (0)")
    return bus_handles.transfer(lambda: device.write(data), WRITE_FAILED, lambda _: 0)


@command("serda", "int")
def _data_available(session: Session, handle: int):
    """How many bytes have arrived and wait to be read."""
    device = _device(session, handle)
    return bus_handles.transfer(device.available, READ_FAILED)
