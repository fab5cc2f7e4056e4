"""Bit-banged serial input, I2C and SPI: ``slro``, ``slr``, ``slrc``, ``slri``,
``bi2co``, ``bi2cc``, ``bi2cz``, ``bspio``, ``bspic``, ``bspix``, as pigpio's
(command.c's names and argument order; pigpio.c's checks, in its order, and error
codes). The uses of the GPIOs are kept by :mod:`gpiosvr.server.bitbang`."""

from __future__ import annotations

from typing import Any

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership, permits
from gpiosvr.server.backends.buses import BusError, code
from gpiosvr.server.bitbang import (I2C_SCL, I2C_SDA, PI_NOT_I2C_GPIO, PI_NOT_SERIAL_GPIO,
                                    PI_NOT_SPI_GPIO, SERIAL, SPI_CS, SPI_MISO, SPI_MOSI,
                                    SPI_SCLK, BitBang, SerialReader, Use, reverse_bits,
                                    run_zip)
from gpiosvr.server.commands.bus_handles import check
from gpiosvr.server.commands.table import Session, command
from gpiosvr.server.handles import holder, may_use
from gpiosvr.server.limits import (BB_I2C_ZIP_BYTES, BB_MAX_TRANSFER_BYTES,
                                   BB_SERIAL_MAX_READ_BYTES)
from gpiosvr.server.sim.board import _guarded
from gpiosvr.server.sim.devices.base import SPIConfig

INPUT, OUTPUT = 0, 1
SER_MIN_BAUD, SER_MAX_BAUD = 50, 250000  # pigpio's PI_BB_SER_MIN_BAUD, _MAX_BAUD
I2C_MIN_BAUD, I2C_MAX_BAUD = 50, 500000  # PI_BB_I2C_*
SPI_MIN_BAUD, SPI_MAX_BAUD = 50, 250000  # PI_BB_SPI_*
MIN_DATABITS, MAX_DATABITS = 1, 32  # PI_MIN_WAVE_DATABITS, PI_MAX_WAVE_DATABITS
BAD_USER_GPIO = errors.PI_BAD_USER_GPIO


def _table(session: Session) -> BitBang:
    return BitBang.of(session.server)


def _user_gpio(gpio: int, what: str = "gpio") -> None:
    check(0 <= gpio <= 31, BAD_USER_GPIO, f"bad {what} ({gpio})")


def _use(session: Session, kind: str, gpio: int, gpios: dict[int, str], **extra: Any) -> Use:
    return Use(kind, gpio, holder(session), session.pid, gpios,
               owner=ownership.owner_of(session), **extra)


def _bus_of(session: Session, method: str, what: str) -> Any:
    """The backend's bit-bang ``method`` (``open_bb_i2c``, ``open_bb_spi``), or
    PI_NOT_PERMITTED naming the backend."""
    found = getattr(session.backend.buses(), method, None)
    if found is None:
        raise PigpioError(errors.PI_NOT_PERMITTED,
                          f"not permitted: the {session.backend.name} backend cannot "
                          f"bit-bang {what} (the simulated chip and pigpiod can)")
    return found


# -- serial input ------------------------------------------------------------------


@command("slro", "int", "int", "int")
def _serial_open(session: Session, gpio: int, baud: int, bits: int):
    """Open ``gpio`` for bit-banged serial reading at ``baud`` (50-250000) with
    ``bits`` data bits (1-32)."""
    _user_gpio(gpio)
    check(SER_MIN_BAUD <= baud <= SER_MAX_BAUD, code("PI_BAD_WAVE_BAUD"),
          f"gpio {gpio}, bad baud rate ({baud})")
    check(MIN_DATABITS <= bits <= MAX_DATABITS, code("PI_BAD_DATABITS"),
          f"gpio {gpio}, bad data bits ({bits})")
    table = _table(session)
    if table.mode(gpio) is not None:
        raise table.in_use(gpio)
    reader = SerialReader(gpio, baud, bits)
    table.claim(session, _use(session, SERIAL, gpio, {gpio: SERIAL}, reader=reader))
    return session.server.hub.tap(gpio, reader)


def _reader(session: Session, gpio: int) -> SerialReader:
    _user_gpio(gpio)
    use = _table(session).own(session, gpio, SERIAL, PI_NOT_SERIAL_GPIO, "serial read")
    assert use.reader is not None
    return use.reader


@command("slr", "int", "int")
def _serial_read(session: Session, gpio: int, count: int):
    """Up to ``count`` bytes of what ``gpio``'s serial reader has decoded."""
    _user_gpio(gpio)
    check(count != 0, code("PI_BAD_SERIAL_COUNT"), "buffer size can't be zero")
    check(count > 0, code("PI_BAD_SERIAL_COUNT"), f"bad count ({count})")
    reader = _reader(session, gpio)
    backend = session.backend
    tick = backend.tick()
    backend.edges_due(gpio)  # every edge made by then first, or settle cuts a byte short
    if type(tick) is int:  # a backend answering later (pigpiod) relays slr itself
        reader.settle(tick)
    return reader.read(min(count, BB_SERIAL_MAX_READ_BYTES))


@command("slrc", "int")
def _serial_close(session: Session, gpio: int):
    """Close ``gpio``'s serial reader."""
    _user_gpio(gpio)
    table = _table(session)
    mode = table.mode(gpio)
    if mode not in (None, SERIAL):
        return 0  # as pigpio, which closes nothing and reports no error then
    table.release(table.own(session, gpio, SERIAL, PI_NOT_SERIAL_GPIO, "serial read"))
    return 0


@command("slri", "int", "int")
def _serial_invert(session: Session, gpio: int, invert: int):
    """Invert (1) or not (0) the logic of ``gpio``'s serial reader."""
    reader = _reader(session, gpio)
    check(invert in (0, 1), code("PI_BAD_SER_INVERT"),
          f"bad invert level for gpio {gpio} ({invert})")
    reader.invert = invert
    return 0


# -- I2C -------------------------------------------------------------------------


@command("bi2co", "int", "int", "int")
def _i2c_open(session: Session, sda: int, scl: int, baud: int):
    """Bit-bang I2C on GPIOs ``sda`` and ``scl`` at ``baud`` (50-500000)."""
    _user_gpio(sda, "SDA")
    _user_gpio(scl, "SCL")
    check(I2C_MIN_BAUD <= baud <= I2C_MAX_BAUD, code("PI_BAD_I2C_BAUD"),
          f"SDA {sda}, bad baud rate ({baud})")
    table = _table(session)
    for gpio in (sda, scl):
        if table.mode(gpio) is not None:
            raise table.in_use(gpio)
    check(sda != scl, code("PI_GPIO_IN_USE"), f"gpio {scl} is already being used")
    rules = permits.of(session)
    rules.check(sda)  # both are driven low
    rules.check(scl)
    bus = _bus_of(session, "open_bb_i2c", "I2C")(sda, scl)
    backend = session.backend
    modes = {sda: backend.get_mode(sda), scl: backend.get_mode(scl)}
    table.claim(session, _use(session, I2C_SDA, sda, {sda: I2C_SDA, scl: I2C_SCL},
                              bus=bus, modes=modes, baud=baud))
    backend.set_mode(sda, INPUT)
    backend.set_mode(scl, INPUT)
    return 0


@command("bi2cc", "int")
def _i2c_close(session: Session, sda: int):
    """Stop bit-banging I2C on the bus whose SDA is ``sda``."""
    _user_gpio(sda)
    table = _table(session)
    table.release(table.own(session, sda, I2C_SDA, PI_NOT_I2C_GPIO, "I2C"))
    return 0


@command("bi2cz", "int", "bvs")
def _i2c_zip(session: Session, sda: int, data: bytes):
    """Run pigpio's bit-bang I2C commands (End, Escape, Start, Stop, Address,
    Flags, Read, Write) on the bus whose SDA is ``sda``; answers the bytes read."""
    _user_gpio(sda)
    use = _table(session).own(session, sda, I2C_SDA, PI_NOT_I2C_GPIO, "I2C")
    check(len(data) > 0, code("PI_BAD_POINTER"), "input buffer can't be NULL")
    return run_zip(use.bus, data[:BB_I2C_ZIP_BYTES])


# -- SPI -------------------------------------------------------------------------


@command("bspio", "int", "int", "int", "int", "int", "int")
def _spi_open(session: Session, cs: int, miso: int, mosi: int, sclk: int, baud: int,
              flags: int):
    """Bit-bang SPI with chip select ``cs`` on the bus of ``miso``, ``mosi`` and
    ``sclk``, at ``baud`` (50-250000), with pigpio's bb_spi flags."""
    rules = permits.of(session)
    for gpio in (cs, miso, mosi, sclk):  # as pigpiod: permission before all else
        rules.check_argument(gpio)
    for gpio, name in ((cs, "CS"), (miso, "MISO"), (mosi, "MOSI"), (sclk, "SCLK")):
        _user_gpio(gpio, name)
    check(SPI_MIN_BAUD <= baud <= SPI_MAX_BAUD, code("PI_BAD_SPI_BAUD"),
          f"CS {cs}, bad baud ({baud})")
    table = _table(session)
    if table.mode(cs) is not None:
        raise table.in_use(cs)
    pins = {miso: SPI_MISO, mosi: SPI_MOSI, sclk: SPI_SCLK}
    fresh = len({cs, miso, mosi, sclk}) == 4 and all(table.mode(g) is None for g in pins)
    shared = len({cs, miso, mosi, sclk}) == 4 and all(table.mode(g) == m
                                                      for g, m in pins.items())
    if shared and not may_use(session, table.uses[sclk].owner, table.uses[sclk].client):
        shared = False
    if not (fresh or shared):
        raise PigpioError(code("PI_GPIO_IN_USE"),
                          f"GPIO is already in use: CS {cs}, MISO {miso}, MOSI {mosi}, "
                          f"SCLK {sclk} must be four different GPIOs, free or the same "
                          f"bus of this client")
    open_spi = _bus_of(session, "open_bb_spi", "SPI")
    backend = session.backend
    use = _use(session, SPI_CS, cs, {cs: SPI_CS, **pins}, modes={cs: backend.get_mode(cs)},
               spi_flags=flags, baud=baud, bus=_SpiBus(open_spi, cs, miso, mosi, sclk))
    users, modes = table.spi_buses.get(sclk, (0, {}))
    if fresh:
        modes = {g: backend.get_mode(g) for g in pins}
    table.spi_buses[sclk] = (users + 1, modes)
    table.claim(session, use)
    backend.write(cs, 0 if flags >> 2 & 1 else 1)  # CS off
    if fresh:
        backend.set_mode(miso, INPUT)
        backend.set_mode(sclk, OUTPUT)
        backend.write(mosi, 0)
    return 0


@command("bspic", "int")
def _spi_close(session: Session, cs: int):
    """Stop bit-banging SPI on chip select ``cs`` (the bus with its last CS)."""
    _user_gpio(cs)
    table = _table(session)
    table.close_spi(table.own(session, cs, SPI_CS, PI_NOT_SPI_GPIO, "SPI"))
    return 0


@command("bspix", "int", "bvs")
def _spi_xfer(session: Session, cs: int, data: bytes):
    """Clock the bytes out on chip select ``cs``'s bus; answers the bytes clocked in."""
    _user_gpio(cs)
    use = _table(session).own(session, cs, SPI_CS, PI_NOT_SPI_GPIO, "SPI")
    check(len(data) > 0, code("PI_BAD_POINTER"), "input buffer can't be NULL")
    return use.bus.xfer(session, use, data[:BB_MAX_TRANSFER_BYTES])


class _SpiBus:
    """One chip select of a bit-banged SPI bus on the backend's board."""

    def __init__(self, open_spi: Any, cs: int, miso: int, mosi: int, sclk: int) -> None:
        self.open_spi = open_spi
        self.cs, self.miso, self.mosi, self.sclk = cs, miso, mosi, sclk

    def xfer(self, session: Session, use: Use, data: bytes) -> bytes:
        """The bytes a device on the chip select answers, bit order as the flags say;
        nothing there (or in another mode): MISO's level in every bit."""
        flags = use.spi_flags
        config = SPIConfig(mode=flags & 3, cs_active_high=bool(flags >> 2 & 1), bits=8,
                           baud=use.baud)
        model = self.open_spi(self.cs, self.miso, self.mosi, self.sclk)
        wire = reverse_bits(data) if flags >> 14 & 1 else data  # T: LSB first out
        if (model is None or config.mode not in model.modes
                or config.cs_active_high != model.cs_active_high
                or 8 not in model.word_bits):
            level = session.backend.read(self.miso)
            answer = bytes([0xFF if level == 1 else 0]) * len(data)
        else:
            try:
                answer = bytes(_guarded(model, lambda: model.xfer(wire, config)))
            except BusError as exc:
                raise PigpioError(code("PI_SPI_XFER_FAILED"),
                                  f"{errors.error_text(code('PI_SPI_XFER_FAILED'))}: "
                                  f"{exc}") from None
            answer = answer[:len(data)].ljust(len(data), b"\0")
        return reverse_bits(answer) if flags >> 15 & 1 else answer  # R: LSB first in
