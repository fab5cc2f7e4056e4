"""The pigpiod backend's buses: I2C, SPI and serial handles opened on the daemon.

Each open asks the daemon for a handle of its own (``pigpio.pi.i2c_open`` and the
rest, through the backend's worker thread, so the calls keep the order the server
received them in and the loop never waits on the socket); gpiosvr's own handle,
owned by the client process (:mod:`gpiosvr.server.commands.bus_handles`), stands in
front of it. When the client goes, gpiosvr closes the daemon's handle: pigpiod itself
would keep it until it ran out of handles.

Every transfer answers a future; the daemon's refusals come back as
:class:`~gpiosvr.errors.PigpioError` with the daemon's own code and text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.buses import (Buses, I2CDevice, I2CMessage, SerialDevice,
                                           SPIDevice, code)

log = logging.getLogger("gpiosvr.pigpiod")

#: SMBus operation -> the ``pigpio.pi`` method; the ones that answer ``(count, data)``.
_SMBUS = {"write_quick": "i2c_write_quick", "read_byte": "i2c_read_byte",
          "write_byte": "i2c_write_byte", "read_byte_data": "i2c_read_byte_data",
          "write_byte_data": "i2c_write_byte_data", "read_word_data": "i2c_read_word_data",
          "write_word_data": "i2c_write_word_data", "process_call": "i2c_process_call",
          "read_block_data": "i2c_read_block_data",
          "write_block_data": "i2c_write_block_data",
          "block_process_call": "i2c_block_process_call",
          "read_i2c_block_data": "i2c_read_i2c_block_data",
          "write_i2c_block_data": "i2c_write_i2c_block_data"}
#: Operations without a register argument.
_NO_REG = {"write_quick", "read_byte", "write_byte"}
_NO_DATA = code("PI_SER_READ_NO_DATA")


def _then(future: asyncio.Future, func: Callable[[Any], Any]) -> asyncio.Future:
    """A future of ``func(future's result)``, failing as ``future`` or ``func`` does."""
    answer = future.get_loop().create_future()

    def done(result: asyncio.Future) -> None:
        if answer.cancelled():
            return
        if result.cancelled():
            answer.cancel()
        elif result.exception() is not None:
            answer.set_exception(result.exception())
        else:
            try:
                answer.set_result(func(result.result()))
            except Exception as exc:  # noqa: BLE001 - handed to the client
                answer.set_exception(exc)

    future.add_done_callback(done)
    return answer


def _data(answer: Any) -> bytes:
    """The bytes of pigpio's ``(count, data)``; a negative count is the daemon's error
    (pigpio.py hands those back instead of raising)."""
    count, data = answer
    if count < 0:
        raise PigpioError(count, errors.error_text(count))
    return bytes(data)


class PigpiodBuses(Buses):
    """The buses of the Pi a pigpio daemon runs on, opened through ``backend``."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def call(self, name: str, method: str, *args: Any) -> asyncio.Future:
        """``pigpio.pi.<method>(*args)`` on the backend's worker; a future of it."""
        return self.backend._relay(name, method, list(args))

    def open_i2c(self, bus: int, address: int, flags: int) -> asyncio.Future:
        return _then(self.call("i2co", "i2c_open", bus, address, flags),
                     lambda handle: PigpiodI2C(self, bus, address, handle))

    def open_spi(self, channel: int, baud: int, flags: int) -> asyncio.Future:
        return _then(self.call("spio", "spi_open", channel, baud, flags),
                     lambda handle: PigpiodSPI(self, handle))

    def open_serial(self, tty: str, baud: int, flags: int) -> asyncio.Future:
        return _then(self.call("sero", "serial_open", tty, baud, flags),
                     lambda handle: PigpiodSerial(self, handle))


class _DaemonHandle:
    """A handle on the daemon, closed (without waiting) when gpiosvr's closes."""

    close_method = ""

    def __init__(self, buses: PigpiodBuses, handle: int) -> None:
        self.buses = buses
        self.handle = handle

    def call(self, method: str, *args: Any) -> asyncio.Future:
        return self.buses.call(method, method, self.handle, *args)

    def close(self) -> None:
        def closed(future: asyncio.Future) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.warning("pigpiod: %s(%d) failed: %s", self.close_method, self.handle,
                            future.exception())

        self.call(self.close_method).add_done_callback(closed)


class PigpiodI2C(_DaemonHandle, I2CDevice):
    """An I2C handle of the daemon."""

    close_method = "i2c_close"

    def __init__(self, buses: PigpiodBuses, bus: int, address: int, handle: int) -> None:
        super().__init__(buses, handle)
        self.bus, self.address = bus, address

    def smbus(self, op: str, reg: int = 0, value: Any = None) -> asyncio.Future:
        method = _SMBUS[op]
        args = [] if op in _NO_REG else [reg]
        if value is not None:
            args.append(value)
        answer = self.call(method, *args)
        if op in ("read_block_data", "block_process_call", "read_i2c_block_data"):
            return _then(answer, _data)
        return answer

    def transfer(self, messages: list[I2CMessage]) -> asyncio.Future:
        if len(messages) == 1 and messages[0].address == self.address:
            message = messages[0]
            if message.read:
                return _then(self.call("i2c_read_device", message.count),
                             lambda answer: [_data(answer)])
            return _then(self.call("i2c_write_device", message.data), lambda _: [b""])
        return _then(self.zip(_zip_codes(messages)), lambda out: _split(messages, out))

    def zip(self, data: bytes) -> asyncio.Future:
        """pigpio's i2c_zip, run by the daemon: the bytes read."""
        return _then(self.call("i2c_zip", data), _data)


def _zip_codes(messages: list[I2CMessage]) -> bytes:
    """pigpio's i2c_zip codes for ``messages`` as one combined transfer."""
    out = bytearray([2])  # combined on: a repeated start between the messages
    for m in messages:
        out += bytes([1, 4]) + m.address.to_bytes(2, "little")  # escaped: 16-bit address
        size = m.count if m.read else len(m.data)
        out += bytes([1, 6 if m.read else 7]) + size.to_bytes(2, "little")
        if not m.read:
            out += m.data
    out += bytes([3, 0])  # combined off, end
    return bytes(out)


def _split(messages: list[I2CMessage], out: bytes) -> list[bytes]:
    reads, pos = [], 0
    for m in messages:
        if m.read:
            reads.append(out[pos:pos + m.count])
            pos += m.count
    return reads


class PigpiodSPI(_DaemonHandle, SPIDevice):
    """An SPI handle of the daemon."""

    close_method = "spi_close"

    def xfer(self, data: bytes) -> asyncio.Future:
        return _then(self.call("spi_xfer", data), _data)


class PigpiodSerial(_DaemonHandle, SerialDevice):
    """A serial handle of the daemon."""

    close_method = "serial_close"

    def read(self, count: int) -> asyncio.Future:
        def data(answer: Any) -> bytes:
            return b"" if answer[0] == _NO_DATA else _data(answer)

        return _then(self.call("serial_read", count), data)

    def write(self, data: bytes) -> asyncio.Future:
        return self.call("serial_write", data)

    def available(self) -> asyncio.Future:
        return self.call("serial_data_available")
