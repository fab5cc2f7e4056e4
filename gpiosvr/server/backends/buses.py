"""The buses a backend provides: I2C, SPI and serial, as small interfaces.

A backend gives its buses through :meth:`Backend.buses` (a :class:`Buses`); the bus
commands (``gpiosvr/server/commands/i2c.py``, ``spi.py``, ``serial.py``) check their
arguments as pigpio does, open a device through it and keep what it opens under a
numbered handle (:mod:`gpiosvr.server.handles`). A backend only does the transfers.

What each method may answer: its value, or (for a backend whose hardware answers
slowly, as the pigpiod relay) an :class:`asyncio.Future` of it. A device that does not
answer (an I2C address nobody acknowledges, a serial port that cannot be written)
raises :class:`BusError`; the command turns it into pigpio's code for the call (for
I2C: ``PI_I2C_READ_FAILED`` or ``PI_I2C_WRITE_FAILED``). What cannot be done at all
raises :class:`~gpiosvr.errors.PigpioError` with pigpio's code and a message that
names the backend and the reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError


#: pigpio.h codes the Python package has no constant for.
_C_ONLY = {"PI_BAD_POINTER": -90, "PI_BAD_I2C_SEG": -106}


def code(name: str) -> int:
    """pigpio's error code called ``name`` (e.g. ``"PI_I2C_READ_FAILED"``)."""
    return int(CONSTANTS[name]) if name in CONSTANTS else _C_ONLY[name]

#: The SMBus operations an :class:`I2CDevice` carries out (pigpio's i2c_* calls
#: without ``_data``), by name.
SMBUS_OPS = ("write_quick", "read_byte", "write_byte", "read_byte_data",
             "write_byte_data", "read_word_data", "write_word_data", "process_call",
             "read_block_data", "write_block_data", "block_process_call",
             "read_i2c_block_data", "write_i2c_block_data")


class BusError(Exception):
    """A transfer the device did not complete: nothing acknowledged the address, it
    refused the operation, or the port could not be read or written."""


@dataclass(frozen=True)
class I2CMessage:
    """One segment of a combined I2C transfer: a write of ``data`` or a read of
    ``count`` bytes (``read`` True), to ``address``."""

    address: int
    read: bool
    data: bytes = b""
    count: int = 0


class I2CDevice(ABC):
    """One I2C address on one bus, as an opened handle refers to it."""

    bus: int
    address: int

    @abstractmethod
    def smbus(self, op: str, reg: int = 0, value: Any = None) -> Any:
        """Carry out the SMBus operation ``op`` (one of :data:`SMBUS_OPS`) with the
        register ``reg`` and ``value`` (a bit, a byte, a word, bytes or a count, as
        the operation needs); answers what it reads (an int or bytes) or None."""

    @abstractmethod
    def transfer(self, messages: list[I2CMessage]) -> list[bytes]:
        """Carry out plain I2C messages as one combined transfer (a repeated start
        between them); answers the bytes of each read message, in order."""

    def close(self) -> None:
        """Let go of the device (its handle was closed)."""


class SPIDevice(ABC):
    """One chip select of one SPI bus, opened with a speed and pigpio's flags."""

    @abstractmethod
    def xfer(self, data: bytes) -> bytes:
        """Clock ``data`` out and answer the as many bytes clocked in."""

    def close(self) -> None:
        """Let go of the device."""


class SerialDevice(ABC):
    """An opened serial port."""

    @abstractmethod
    def read(self, count: int) -> bytes:
        """Up to ``count`` bytes that have arrived (b"" when none has)."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send ``data``; :class:`BusError` if it cannot all be sent now."""

    @abstractmethod
    def available(self) -> int:
        """How many bytes have arrived and wait to be read."""

    def close(self) -> None:
        """Let go of the port."""


class Buses(ABC):
    """The I2C buses, SPI buses and serial ports of a backend."""

    @abstractmethod
    def open_i2c(self, bus: int, address: int, flags: int) -> I2CDevice:
        """The device at ``address`` of I2C bus ``bus``; ``PI_BAD_I2C_BUS`` for a bus
        that does not exist. As on a Pi, nothing is sent: an address where nothing
        is attached opens, and its transfers fail."""

    @abstractmethod
    def open_spi(self, channel: int, baud: int, flags: int) -> SPIDevice:
        """Chip select ``channel`` of the main SPI bus, or of the auxiliary one when
        ``flags`` has pigpio's A bit (``PI_BAD_SPI_CHANNEL`` for one that does not
        exist)."""

    @abstractmethod
    def open_serial(self, tty: str, baud: int, flags: int) -> SerialDevice:
        """The serial port named ``tty`` (``PI_SER_OPEN_FAILED`` for none)."""


class NoBuses(Buses):
    """What a backend without buses gives: every open answers pigpio's code for a
    failed open, with ``reason`` (which names the backend)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def open_i2c(self, bus: int, address: int, flags: int) -> I2CDevice:
        raise PigpioError(code("PI_I2C_OPEN_FAILED"), f"can't open I2C device: {self.reason}")

    def open_spi(self, channel: int, baud: int, flags: int) -> SPIDevice:
        raise PigpioError(code("PI_SPI_OPEN_FAILED"), f"can't open SPI device: {self.reason}")

    def open_serial(self, tty: str, baud: int, flags: int) -> SerialDevice:
        raise PigpioError(code("PI_SER_OPEN_FAILED"),
                          f"can't open serial device: {self.reason}")
