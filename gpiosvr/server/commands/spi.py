"""SPI: ``spio``, ``spic``, ``spir``, ``spiw``, ``spix``, as pigpio's (command.c's
names and argument order; pigpio.c's checks and error codes)."""

from __future__ import annotations

from gpiosvr.server.backends.buses import code
from gpiosvr.server.commands import bus_handles
from gpiosvr.server.commands.bus_handles import check
from gpiosvr.server.commands.table import ANSWERS_LATER, Session, command
from gpiosvr.server.limits import BUS_MAX_TRANSFER_BYTES, SPI_HANDLES, SPI_HANDLES_PER_UID

#: On the pigpiod and gpiod backends these answer later (a worker thread does the I/O).
ANSWERS_LATER.update(("spio", "spir", "spiw", "spix"))


#: pigpio's PI_SPI_MIN_BAUD and PI_SPI_MAX_BAUD.
MIN_BAUD, MAX_BAUD = 32_000, 125_000_000
#: Chip selects of the main and the auxiliary SPI (PI_NUM_STD_SPI_CHANNEL, _AUX_).
CHANNELS = (2, 3)
XFER_FAILED = code("PI_SPI_XFER_FAILED")


def handles(session: Session):
    """The server's SPI handle table."""
    return bus_handles.table(session.server, "spi", SPI_HANDLES, SPI_HANDLES_PER_UID)


@command("spio", "int", "int", "int")
def _open(session: Session, channel: int, baud: int, flags: int):
    """Open SPI ``channel`` (chip select) at ``baud`` with pigpio's spi_flags (mode
    in bits 0-1, CE polarities in 2-4, the auxiliary SPI in bit 8, ...); answers the
    handle."""
    aux = flags >> 8 & 1 if flags >= 0 else 0
    if aux and session.backend.hardware_revision < 16:
        check(False, code("PI_NO_AUX_SPI"), "no auxiliary SPI on Pi A or B")
    check(0 <= channel < CHANNELS[aux], code("PI_BAD_SPI_CHANNEL"),
          f"bad spiChan ({channel})")
    check(MIN_BAUD <= baud <= MAX_BAUD, code("PI_BAD_SPI_SPEED"), f"bad baud ({baud})")
    check(0 <= flags <= 1 << 22, code("PI_BAD_FLAGS"), f"bad spiFlags ({flags:#x})")
    buses = session.backend.buses()
    return bus_handles.open_handle(session, handles(session),
                                   lambda: buses.open_spi(channel, baud, flags),
                                   code("PI_SPI_OPEN_FAILED"))


@command("spic", "int")
def _close(session: Session, handle: int):
    """Close an SPI handle."""
    handles(session).close(session, handle)
    return 0


def _xfer(session: Session, handle: int, data: bytes, then):
    device = handles(session).get(session, handle)
    check(len(data) <= BUS_MAX_TRANSFER_BYTES, code("PI_BAD_SPI_COUNT"),
          f"bad count ({len(data)})")
    return bus_handles.transfer(lambda: device.xfer(data), XFER_FAILED, then)


@command("spir", "int", "int")
def _read(session: Session, handle: int, count: int):
    """Read ``count`` bytes (zeros are clocked out); answers them."""
    handles(session).get(session, handle)
    check(0 <= count <= BUS_MAX_TRANSFER_BYTES, code("PI_BAD_SPI_COUNT"),
          f"bad count ({count})")
    return _xfer(session, handle, bytes(count), bytes)


@command("spiw", "int", "bvs")
def _write(session: Session, handle: int, data: bytes):
    """Write the bytes (what is clocked in is dropped); answers the count."""
    return _xfer(session, handle, data, len)


@command("spix", "int", "bvs")
def _transfer(session: Session, handle: int, data: bytes):
    """Write the bytes and answer as many read at the same time."""
    return _xfer(session, handle, data, bytes)
