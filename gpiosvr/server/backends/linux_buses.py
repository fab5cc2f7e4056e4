"""Linux's own buses for the gpiod backend (a Pi 5 or any Linux board): I2C through
``/dev/i2c-N``, SPI through ``/dev/spidevB.C``, serial through the tty named.

Libraries, each well kept and the usual one for its job:

* I2C: ``smbus2`` (pure Python, the i2c-dev ioctls: every SMBus transaction and
  ``I2C_RDWR`` for combined messages). As pigpio's ``i2cOpen``, the address is set
  with ``I2C_SLAVE`` at open (a kernel driver that holds it makes the open fail) and
  the adapter's functionality (``I2C_FUNCS``) is read then: an SMBus call the driver
  cannot do answers ``PI_BAD_SMBUS_CMD`` instead of being tried. Plain reads and
  writes are ``read()``/``write()`` on the device, as pigpio's.
* SPI: ``spidev``. pigpio's main SPI is ``/dev/spidev0.C``, the auxiliary one (the A
  flag) ``/dev/spidev1.C``; the mode, each CE's polarity, LSB first and the word size
  of ``spi_flags`` become the spidev settings; what spidev cannot do (3-wire with a
  write count, different bit orders for MOSI and MISO) is refused at open.
* Serial: ``pyserial`` (raw 8N1 at the baud, non-blocking, as pigpio's ``serOpen``;
  it knows every Linux baud rate and the termios details, which a hand-written
  ``termios`` setup would repeat).

Blocking I/O never runs on the server's loop: each device file has one worker thread
(its *lane*) shared by the handles open on it, so one client's transfers keep their
order, a slow bus holds up only itself, and the thread ends when the last handle on
that file closes. Every call answers a future. A device that is missing, busy or
refused gets pigpio's code for the open and a message naming the path and why.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.buses import (Buses, BusError, I2CDevice, I2CMessage,
                                           SerialDevice, SPIDevice, code)

#: The SMBus functionality bit (linux/i2c.h) each operation needs, by operation.
_FUNCS = {"write_quick": 0x0001_0000, "read_byte": 0x0002_0000, "write_byte": 0x0004_0000,
          "read_byte_data": 0x0008_0000, "write_byte_data": 0x0010_0000,
          "read_word_data": 0x0020_0000, "write_word_data": 0x0040_0000,
          "process_call": 0x0080_0000, "read_block_data": 0x0100_0000,
          "write_block_data": 0x0200_0000, "block_process_call": 0x0000_8000,
          "read_i2c_block_data": 0x0400_0000, "write_i2c_block_data": 0x0800_0000}
_I2C_SLAVE = 0x0703
#: pigpio's spi_flags fields.
_SPI_AUX, _SPI_3WIRE, _SPI_TX_LSB, _SPI_RX_LSB = 1 << 8, 1 << 9, 1 << 14, 1 << 15


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "it does not exist"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EBUSY:
        return "it is busy"
    return exc.strerror or type(exc).__name__


def _need(module: str, what: str, package: str | None = None) -> Any:
    """``module``, imported; missing, a PigpioError for the open saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        failed = {"I2C": "PI_I2C_OPEN_FAILED", "SPI": "PI_SPI_OPEN_FAILED"}
        raise PigpioError(code(failed.get(what, "PI_SER_OPEN_FAILED")),
                          f"the gpiod backend's {what} needs the {package or module} "
                          f"package: pip install {package or module} (in gpiosvr's clone: "
                          "pip install '.[buses]')") from None


class _Lane:
    """One worker thread for one device file, shared by the handles open on it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.users = 0
        name = f"gpiosvr-{os.path.basename(path)}"
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=name)


class LinuxBuses(Buses):
    """The machine's I2C, SPI and serial device files (see the module's text);
    ``backend`` names the backend in messages."""

    def __init__(self, backend: str = "gpiod", dev: str = "/dev") -> None:
        self.backend = backend
        self.dev = dev
        self._lanes: dict[str, _Lane] = {}

    # -- lanes --------------------------------------------------------------------------

    def run(self, path: str, func: Callable[[], Any]) -> asyncio.Future:
        """``func()`` on the lane of ``path`` (which a device holds open); a future."""
        return asyncio.get_running_loop().run_in_executor(self._lanes[path].executor, func)

    def _open(self, path: str, func: Callable[[], Any]) -> asyncio.Future:
        lane = self._lanes.get(path) or self._lanes.setdefault(path, _Lane(path))
        lane.users += 1
        future = self.run(path, func)
        future.add_done_callback(lambda f: f.cancelled() or f.exception() is None
                                 or self.release(path))
        return future

    def release(self, path: str, last: Callable[[], Any] | None = None) -> None:
        """A device on ``path`` is done with its lane; ``last`` runs on it first."""
        lane = self._lanes[path]
        if last is not None:
            lane.executor.submit(last)
        lane.users -= 1
        if lane.users == 0:
            del self._lanes[path]
            lane.executor.shutdown(wait=False)

    def close(self) -> None:
        """Stop every lane (the server is closing)."""
        for lane in self._lanes.values():
            lane.executor.shutdown(wait=False)
        self._lanes.clear()

    # -- Buses ----------------------------------------------------------------------------

    def open_i2c(self, bus: int, address: int, flags: int) -> asyncio.Future:
        path = os.path.join(self.dev, f"i2c-{bus}")
        return self._open(path, lambda: LinuxI2C(self, path, bus, address))

    def open_spi(self, channel: int, baud: int, flags: int) -> asyncio.Future:
        path = os.path.join(self.dev, f"spidev{1 if flags & _SPI_AUX else 0}.{channel}")
        return self._open(path, lambda: LinuxSPI(self, path, channel, baud, flags))

    def open_serial(self, tty: str, baud: int, flags: int) -> asyncio.Future:
        return self._open(tty, lambda: LinuxSerial(self, tty, baud))


class LinuxI2C(I2CDevice):
    """An address on ``/dev/i2c-N``, opened on its lane."""

    def __init__(self, buses: LinuxBuses, path: str, bus: int, address: int) -> None:
        SMBus = _need("smbus2", "I2C").SMBus
        self.buses, self.path, self.bus, self.address = buses, path, bus, address
        self.smbus2 = SMBus()
        try:
            self.smbus2.open(path)  # and reads the adapter's functionality
        except OSError as exc:
            self.smbus2.close()
            raise PigpioError(code("PI_BAD_I2C_BUS"),
                              f"no I2C bus {bus}: can't open {path} ({_why(exc)})") from None
        try:
            fcntl.ioctl(self.smbus2.fd, _I2C_SLAVE, address)
        except OSError as exc:
            self.smbus2.close()
            raise PigpioError(code("PI_I2C_OPEN_FAILED"),
                              f"can't open I2C device: address {address:#04x} on {path}: "
                              f"{_why(exc)}") from None
        self.funcs = int(self.smbus2.funcs)

    def smbus(self, op: str, reg: int = 0, value: Any = None) -> asyncio.Future:
        if not self.funcs & _FUNCS[op]:
            raise PigpioError(code("PI_BAD_SMBUS_CMD"),
                              f"SMBus command not supported by driver: {op.replace('_', ' ')}"
                              f" on {self.path}")
        return self.buses.run(self.path, lambda: self._smbus(op, reg, value))

    def _smbus(self, op: str, reg: int, value: Any) -> Any:
        from smbus2.smbus2 import I2C_SMBUS, I2C_SMBUS_QUICK, i2c_smbus_ioctl_data

        bus, address = self.smbus2, self.address
        try:
            if op == "write_quick":  # smbus2's write_quick only sends a write bit
                msg = i2c_smbus_ioctl_data.create(read_write=value, command=0,
                                                  size=I2C_SMBUS_QUICK)
                fcntl.ioctl(bus.fd, I2C_SMBUS, msg)
                return None
            if op == "read_byte":
                return bus.read_byte(address)
            if op == "write_byte":
                return bus.write_byte(address, value)
            if op == "read_block_data":
                return bytes(bus.read_block_data(address, reg))
            if op in ("write_block_data", "write_i2c_block_data"):
                return getattr(bus, op)(address, reg, list(value))
            if op == "block_process_call":
                return bytes(bus.block_process_call(address, reg, list(value)))
            if op == "read_i2c_block_data":
                return bytes(bus.read_i2c_block_data(address, reg, value))
            if value is None:
                return getattr(bus, op)(address, reg)
            return getattr(bus, op)(address, reg, value)
        except OSError as exc:
            raise BusError(f"{self.path} address {self.address:#04x}: {_why(exc)}") from None

    def transfer(self, messages: list[I2CMessage]) -> asyncio.Future:
        return self.buses.run(self.path, lambda: self._transfer(messages))

    def _transfer(self, messages: list[I2CMessage]) -> list[bytes]:
        from smbus2 import i2c_msg

        fd = self.smbus2.fd
        try:
            if len(messages) == 1 and messages[0].address == self.address:
                m = messages[0]  # as pigpio: read()/write() at the open's address
                if m.read:
                    data = os.read(fd, m.count)
                    if len(data) != m.count:
                        raise BusError(f"{self.path}: {len(data)} of {m.count} bytes read")
                    return [data]
                if os.write(fd, m.data) != len(m.data):
                    raise BusError(f"{self.path}: not all of {len(m.data)} bytes written")
                return [b""]
            msgs = [i2c_msg.read(m.address, m.count) if m.read
                    else i2c_msg.write(m.address, m.data) for m in messages]
            self.smbus2.i2c_rdwr(*msgs)
            return [bytes(msg) for msg, m in zip(msgs, messages) if m.read]
        except OSError as exc:
            raise BusError(f"{self.path} address {self.address:#04x}: {_why(exc)}") from None

    def zip(self, data: bytes) -> asyncio.Future:
        """pigpio's i2c_zip, parsed and run on the lane (each combined run as one
        ``I2C_RDWR``): the bytes read."""
        from types import SimpleNamespace

        from gpiosvr.server.commands.i2c import _run_zip

        here = SimpleNamespace(address=self.address, transfer=self._transfer)
        return self.buses.run(self.path, lambda: _run_zip(here, data))

    def close(self) -> None:
        self.buses.release(self.path, self.smbus2.close)


class LinuxSPI(SPIDevice):
    """A chip select through spidev, set up from pigpio's spi_flags."""

    def __init__(self, buses: LinuxBuses, path: str, channel: int, baud: int,
                 flags: int) -> None:
        spidev = _need("spidev", "SPI")
        self.buses, self.path = buses, path
        failed = code("PI_SPI_OPEN_FAILED")
        if flags & _SPI_3WIRE:
            raise PigpioError(failed, f"can't open SPI device: {path}: spidev has no "
                                      "3-wire mode with a write count (the W flag)")
        if bool(flags & _SPI_TX_LSB) != bool(flags & _SPI_RX_LSB):
            raise PigpioError(failed, f"can't open SPI device: {path}: spidev sends and "
                                      "receives in one bit order (the T and R flags differ)")
        self.spi = spidev.SpiDev()
        try:
            self.spi.open_path(path)
        except OSError as exc:
            raise PigpioError(failed, f"can't open SPI device: {path} ({_why(exc)})") from None
        try:
            self.spi.mode = flags & 3
            self.spi.cshigh = bool(flags >> (2 + channel) & 1)
            self.spi.lsbfirst = bool(flags & _SPI_TX_LSB)
            self.spi.bits_per_word = (flags >> 16 & 0x3F) or 8
            self.spi.max_speed_hz = baud
        except OSError as exc:
            self.spi.close()
            raise PigpioError(failed, f"can't open SPI device: {path} refuses the settings "
                                      f"of spi_flags {flags:#x} ({_why(exc)})") from None

    def xfer(self, data: bytes) -> asyncio.Future:
        return self.buses.run(self.path, lambda: self._xfer(data))

    def _xfer(self, data: bytes) -> bytes:
        if not data:
            return b""
        try:
            return bytes(self.spi.xfer3(list(data)))
        except OSError as exc:
            raise BusError(f"{self.path}: {_why(exc)}") from None

    def close(self) -> None:
        self.buses.release(self.path, self.spi.close)


class LinuxSerial(SerialDevice):
    """A tty opened raw, 8N1, non-blocking."""

    def __init__(self, buses: LinuxBuses, path: str, baud: int) -> None:
        serial = _need("serial", "serial", "pyserial")
        self.buses, self.path = buses, path
        try:
            self.port = serial.Serial(path, baud, timeout=0, write_timeout=0)
        except (OSError, serial.SerialException, ValueError) as exc:
            reason = _why(exc) if isinstance(exc, OSError) else str(exc)
            raise PigpioError(code("PI_SER_OPEN_FAILED"),
                              f"can't open serial device: {path} ({reason})") from None

    def read(self, count: int) -> asyncio.Future:
        return self.buses.run(self.path, lambda: self._io(self.port.read, count))

    def write(self, data: bytes) -> asyncio.Future:
        return self.buses.run(self.path, lambda: self._io(self.port.write, data))

    def available(self) -> asyncio.Future:
        return self.buses.run(self.path, lambda: self._io(lambda: self.port.in_waiting))

    def _io(self, func: Callable[..., Any], *args: Any) -> Any:
        import serial

        try:
            return func(*args)
        except serial.SerialTimeoutException:
            raise BusError(f"{self.path}: the port takes no more now") from None
        except (OSError, serial.SerialException) as exc:
            raise BusError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        self.buses.release(self.path, self.port.close)
