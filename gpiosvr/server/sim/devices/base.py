"""The base classes of a simulated device: subclass one to fake any sensor.

An I2C model answers plain I2C transfers (:meth:`I2CModel.write`,
:meth:`I2CModel.read`): every pigpio I2C call reaches it as the messages a real bus
would carry (``i2c_read_byte_data(h, reg)`` is a write of ``[reg]`` then a read of one
byte). Override :meth:`I2CModel.smbus` as well to answer SMBus operations directly.
A model refuses a transfer (a NACK: pigpio's read or write failed) by raising
:class:`~gpiosvr.server.backends.buses.BusError`.

An SPI model answers :meth:`SPIModel.xfer`: one call per chip-select period, with
the bytes clocked out and the bus settings it was opened with.

Hooks run on the server's event loop: keep them quick and never block in them.
Example, a temperature sensor whose register 0 reads a word set by a test::

    class Thermo(I2CModel):
        def __init__(self):
            self.pointer, self.celsius = 0, 21.5

        def write(self, data):
            if data:
                self.pointer = data[0]

        def read(self, count):
            raw = round(self.celsius * 16) << 4
            return bytes([raw >> 8, raw & 0xFF])[:count].ljust(count, b"\\0")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpiosvr.server.backends.buses import BusError, I2CMessage


class I2CModel:
    """An I2C device on the simulated board; subclass it and override the hooks."""

    def write(self, data: bytes) -> None:
        """A write transfer of ``data`` (possibly empty: a quick write) to this
        device. The default refuses it (NACK)."""
        raise BusError(f"{type(self).__name__} does not take writes")

    def read(self, count: int) -> bytes:
        """A read transfer of ``count`` bytes; answer exactly ``count`` bytes. The
        default refuses it (NACK)."""
        raise BusError(f"{type(self).__name__} does not answer reads")

    def transfer(self, messages: list[I2CMessage]) -> list[bytes]:
        """A combined transfer (repeated starts between the messages): by default
        each message in turn to :meth:`write` or :meth:`read`; the reads' bytes."""
        out = []
        for message in messages:
            if message.read:
                out.append(_exact(self.read(message.count), message.count))
            else:
                self.write(message.data)
        return out

    def smbus(self, op: str, reg: int = 0, value: Any = None) -> Any:
        """An SMBus operation (see :data:`~gpiosvr.server.backends.buses.SMBUS_OPS`),
        by default made of the plain transfers a real adapter sends."""
        return smbus_as_transfers(self, op, reg, value)


def _exact(data: bytes, count: int) -> bytes:
    data = bytes(data)
    if len(data) != count:
        raise BusError(f"the model answered {len(data)} bytes for a read of {count}")
    return data


def smbus_as_transfers(model: I2CModel, op: str, reg: int, value: Any) -> Any:
    """Carry out SMBus operation ``op`` as the plain I2C messages it is made of."""
    def xfer(*messages: I2CMessage) -> list[bytes]:
        return model.transfer(list(messages))

    w = lambda data: I2CMessage(0, False, bytes(data))  # noqa: E731
    r = lambda count: I2CMessage(0, True, count=count)  # noqa: E731
    if op == "write_quick":
        return xfer(r(0) if value else w(b""))
    if op == "read_byte":
        return xfer(r(1))[0][0]
    if op == "write_byte":
        return xfer(w([value]))
    if op == "read_byte_data":
        return xfer(w([reg]), r(1))[0][0]
    if op == "write_byte_data":
        return xfer(w([reg, value]))
    if op == "read_word_data":
        return int.from_bytes(xfer(w([reg]), r(2))[0], "little")
    if op == "write_word_data":
        return xfer(w([reg, value & 0xFF, value >> 8]))
    if op == "process_call":
        return int.from_bytes(xfer(w([reg, value & 0xFF, value >> 8]), r(2))[0], "little")
    if op in ("read_block_data", "block_process_call"):
        first = [w([reg])] if op == "read_block_data" else [w([reg, len(value), *value])]
        count = xfer(*first, r(1))[0][0]
        if not 1 <= count <= 32:
            raise BusError(f"block count {count} is not 1-32")
        return xfer(r(count))[0]
    if op == "write_block_data":
        return xfer(w([reg, len(value), *value]))
    if op == "read_i2c_block_data":
        return xfer(w([reg]), r(value))[0]
    if op == "write_i2c_block_data":
        return xfer(w([reg, *value]))
    raise BusError(f"unknown SMBus operation {op!r}")


@dataclass(frozen=True)
class SPIConfig:
    """How an SPI device was opened: pigpio's ``spi_flags`` decoded, and the speed.

    ``mode`` 0-3 (CPOL, CPHA); ``cs_active_high`` pigpio's px bit for this chip
    select; ``bits`` per word (8 unless the auxiliary SPI was given another);
    ``lsb_first`` the T bit (auxiliary SPI only); ``baud`` bits per second.
    """

    mode: int = 0
    cs_active_high: bool = False
    bits: int = 8
    lsb_first: bool = False
    baud: int = 1_000_000
    aux: bool = False


class SPIModel:
    """An SPI device on the simulated board; subclass it and override :meth:`xfer`.

    ``modes`` are the SPI modes the device works in and ``cs_active_high`` the
    polarity of its chip select: a transfer in another mode, or with the other
    polarity (the device never sees itself selected), reads zeros, as a Pi whose
    MISO line (pulled down) nobody drives."""

    modes: frozenset[int] = frozenset({0, 1, 2, 3})
    cs_active_high: bool = False
    #: Word sizes the device can take (the auxiliary SPI's bbbbbb field).
    word_bits: frozenset[int] = frozenset({8})

    def xfer(self, data: bytes, config: SPIConfig) -> bytes:
        """One chip-select period: ``data`` clocked out; answer as many bytes,
        clocked in. The default answers zeros."""
        return bytes(len(data))
