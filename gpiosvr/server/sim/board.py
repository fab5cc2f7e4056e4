"""The simulated board: its buses, the devices on them and its jumper wires.

A :class:`Board` is the :class:`~gpiosvr.server.backends.buses.Buses` of the simulated
chip. Without a board file it is a bare Raspberry Pi (:meth:`Board.bare`): I2C buses
0 and 1, the main SPI (bus 0, CE0 and CE1), the auxiliary SPI (bus 1, CE0-CE2) and
the primary serial port, with nothing attached. A board file (TOML, read with
``tomllib``; see ``docs/board.md`` and ``examples/board.toml``) says what is attached::

    [[i2c]]
    bus = 1
    address = 0x48
    model = "register"            # the kernel i2c-stub's semantics
    registers = [0x19, 0x80]      # or { "0x10" = 7 }

    [[spi]]
    bus = 0
    cs = 0
    model = "mcp3008"
    voltages = [1.65]

    [[serial]]
    names = ["/dev/serial0", "/dev/ttyS0"]
    far_end = "pty"               # or "buffer" (default), "loopback"

    [[wire]]
    from = 18
    to = 27

    [[bb_i2c]]                    # on a bit-banged I2C bus (bb_i2c_open(SDA, SCL))
    sda = 4
    scl = 5
    address = 0x50
    model = "register"

    [[bb_spi]]                    # on a bit-banged SPI bus (bb_spi_open(CS, ...))
    cs = 8
    miso = 9                      # miso, mosi, sclk: optional, the bus it is on
    mosi = 10
    sclk = 11
    model = "mcp3008"

    [[sensor]]                    # GPIO-level sensors: gpiosvr.server.sim.sensors
    model = "hc-sr04"
    trigger = 23
    echo = 24

A model of one's own is ``class = "module:Name"`` (the board file's directory is
searched first) with ``options = { ... }`` for its constructor.

An I2C transfer to an address where nothing is attached fails as on a real bus (no
acknowledge: pigpio's read or write failed); an SPI transfer with nothing on the
chip select reads zeros, as a Pi's MISO does (pulled down).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tomllib
from typing import Any

from gpiosvr.server.backends.buses import (BusError, Buses, I2CDevice, I2CMessage,
                                           SerialDevice, SPIDevice, code)
from gpiosvr.errors import PigpioError
from gpiosvr.server.sim.devices import MODELS, I2CModel, SPIConfig, SPIModel
from gpiosvr.server.sim.devices.serial_port import FAR_ENDS, SerialPort
from gpiosvr.server.sim import sensors
from gpiosvr.server.sim.devices.gpio_device import GpioDevice

log = logging.getLogger(__name__)

#: The Pi's I2C buses (0: GPIO 0/1, 1: GPIO 2/3).
PI_I2C_BUSES = (0, 1)
#: Chip selects per SPI bus: the main SPI (0) has CE0-CE1, the auxiliary (1) CE0-CE2.
PI_SPI_CHANNELS = {0: 2, 1: 3}
#: Names of the Pi's primary serial port.
PI_SERIAL_NAMES = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")


class BoardError(ValueError):
    """A board file that cannot be used; the message names the file and the entry."""


class Board(Buses):
    """The simulated board's buses and devices, driven at run time from outside."""

    def __init__(self, i2c_buses: tuple[int, ...] = PI_I2C_BUSES, name: str = "bare Pi",
                 path: str | None = None) -> None:
        self.name = name
        self.path = path
        self.i2c: dict[int, dict[int, I2CModel]] = {bus: {} for bus in i2c_buses}
        self.spi: dict[tuple[int, int], SPIModel] = {}
        self.serial: list[SerialPort] = []
        self.wires: list[tuple[int, int]] = []
        #: Devices on bit-banged I2C buses, by the bus's (SDA, SCL) GPIOs.
        self.bb_i2c: dict[tuple[int, int], dict[int, I2CModel]] = {}
        #: Devices on bit-banged SPI buses, by CS GPIO: the (MISO, MOSI, SCLK) GPIOs
        #: they are on (None: any), and the model.
        self.bb_spi: dict[int, tuple[tuple[int, int, int] | None, SPIModel]] = {}
        self.sensors: list[GpioDevice] = []

    @classmethod
    def bare(cls) -> "Board":
        """A bare Raspberry Pi: its buses, nothing attached, the primary serial port
        with its far end a buffer."""
        board = cls()
        board.serial.append(SerialPort(list(PI_SERIAL_NAMES)))
        return board

    def attach(self, chip: Any) -> "Board":
        """Be the buses of the simulated ``chip``, and lay the jumper wires."""
        chip.bus_provider = self
        for output, input_ in self.wires:
            chip.wire(output, input_)
        for sensor in self.sensors:
            sensor.attach(chip)
        return self

    def close(self) -> None:
        """Close the serial ports' ptys and the sensors' timers."""
        for port in self.serial:
            port.close()
        for sensor in self.sensors:
            sensor.close()

    def describe(self) -> dict:
        """What ``simboard`` answers: the buses and what is on them."""
        return {
            "name": self.name, "file": self.path,
            "i2c": {str(bus): {f"0x{addr:02x}": type(model).__name__
                               for addr, model in sorted(devices.items())}
                    for bus, devices in sorted(self.i2c.items())},
            "spi": {f"{bus}.{cs}": type(model).__name__
                    for (bus, cs), model in sorted(self.spi.items())},
            "serial": [port.describe() for port in self.serial],
            "wires": [list(w) for w in self.wires],
            "bb_i2c": {f"{sda}.{scl}": {f"0x{addr:02x}": type(model).__name__
                                        for addr, model in sorted(devices.items())}
                       for (sda, scl), devices in sorted(self.bb_i2c.items())},
            "bb_spi": {str(cs): type(model).__name__
                       for cs, (_, model) in sorted(self.bb_spi.items())},
            "sensors": [sensor.describe() for sensor in self.sensors],
        }

    # -- what is where (the sim commands, the Simulator, in-process tests) ------------

    def attach_i2c(self, bus: int, address: int, model: I2CModel) -> None:
        """Put ``model`` at ``address`` of I2C bus ``bus`` (replacing what was there)."""
        if bus not in self.i2c:
            raise ValueError(f"the board has no I2C bus {bus} (it has "
                             f"{', '.join(map(str, sorted(self.i2c)))})")
        if not 0 <= address <= 0x7F:
            raise ValueError(f"I2C address {address:#x} is not 0-0x7F")
        self.i2c[bus][address] = model

    def attach_spi(self, bus: int, cs: int, model: SPIModel) -> None:
        """Put ``model`` on chip select ``cs`` of SPI bus ``bus`` (0 main, 1 auxiliary)."""
        if bus not in PI_SPI_CHANNELS or not 0 <= cs < PI_SPI_CHANNELS[bus]:
            raise ValueError(f"SPI {bus} CE{cs} does not exist (SPI 0 has CE0-CE1, "
                             f"SPI 1 CE0-CE2)")
        self.spi[(bus, cs)] = model

    def attach_bb_i2c(self, sda: int, scl: int, address: int, model: I2CModel) -> None:
        """Put ``model`` at ``address`` of the bit-banged I2C bus on GPIOs ``sda`` and
        ``scl`` (what ``bb_i2c_zip`` on those GPIOs reaches)."""
        if not (0 <= sda <= 31 and 0 <= scl <= 31) or sda == scl:
            raise ValueError(f"a bit-banged I2C bus is on two different GPIOs 0-31, "
                             f"not SDA {sda} and SCL {scl}")
        if not 0 <= address <= 0x7F:
            raise ValueError(f"I2C address {address:#x} is not 0-0x7F")
        self.bb_i2c.setdefault((sda, scl), {})[address] = model

    def attach_bb_spi(self, cs: int, model: SPIModel, miso: int | None = None,
                      mosi: int | None = None, sclk: int | None = None) -> None:
        """Put ``model`` on the bit-banged SPI chip select ``cs`` (a GPIO), on the
        bus of GPIOs ``miso``, ``mosi`` and ``sclk`` (all three, or None: any)."""
        pins = (miso, mosi, sclk)
        if not 0 <= cs <= 31 or any(p is not None and not 0 <= p <= 31 for p in pins):
            raise ValueError("bit-banged SPI GPIOs are 0-31")
        if None in pins and pins != (None, None, None):
            raise ValueError("give all of miso, mosi and sclk, or none")
        self.bb_spi[cs] = (None if miso is None else pins, model)  # type: ignore[assignment]

    def open_bb_i2c(self, sda: int, scl: int) -> "SimBBI2CDevice":
        """The bit-banged I2C bus on GPIOs ``sda`` and ``scl``."""
        return SimBBI2CDevice(self, sda, scl)

    def open_bb_spi(self, cs: int, miso: int, mosi: int, sclk: int
                    ) -> SPIModel | None:
        """The model on bit-banged SPI chip select ``cs`` of the bus on ``miso``,
        ``mosi`` and ``sclk`` (None: nothing there)."""
        entry = self.bb_spi.get(cs)
        if entry is None or entry[0] not in (None, (miso, mosi, sclk)):
            return None
        return entry[1]

    def detach_i2c(self, bus: int, address: int) -> None:
        """Take the device off ``address`` of bus ``bus`` (if any)."""
        self.i2c.get(bus, {}).pop(address, None)

    def i2c_model(self, bus: int, address: int) -> I2CModel:
        model = self.i2c.get(bus, {}).get(address)
        if model is None:
            raise ValueError(f"nothing is attached at address {address:#04x} of I2C bus {bus}")
        return model

    def spi_model(self, bus: int, cs: int) -> SPIModel:
        model = self.spi.get((bus, cs))
        if model is None:
            raise ValueError(f"nothing is attached to SPI {bus} CE{cs}")
        return model

    def serial_port(self, name: str) -> SerialPort:
        for port in self.serial:
            if name in port.names:
                return port
        raise ValueError(f"the board has no serial port {name!r} (it has "
                         f"{', '.join(p.name for p in self.serial) or 'none'})")

    # -- Buses ------------------------------------------------------------------------

    def open_i2c(self, bus: int, address: int, flags: int) -> I2CDevice:
        if bus not in self.i2c:
            raise PigpioError(code("PI_BAD_I2C_BUS"),
                              f"bad I2C bus: the simulated board has no I2C bus {bus} "
                              f"(it has {', '.join(map(str, sorted(self.i2c)))})")
        return SimI2CDevice(self, bus, address)

    def open_spi(self, channel: int, baud: int, flags: int) -> SPIDevice:
        aux = flags >> 8 & 1
        if not channel < PI_SPI_CHANNELS[aux]:
            raise PigpioError(code("PI_BAD_SPI_CHANNEL"))
        config = SPIConfig(
            mode=flags & 3, cs_active_high=bool(flags >> (2 + channel) & 1),
            bits=(flags >> 16 & 63 or 8) if aux else 8,
            lsb_first=bool(flags >> 14 & 1) if aux else False, baud=baud, aux=bool(aux))
        return SimSPIDevice(self, aux, channel, config)

    def open_serial(self, tty: str, baud: int, flags: int) -> SerialDevice:
        try:
            port = self.serial_port(tty)
        except ValueError as exc:
            raise PigpioError(code("PI_SER_OPEN_FAILED"),
                              f"can't open serial device: {exc}") from None
        return SimSerialDevice(port)


class SimI2CDevice(I2CDevice):
    """An address of a simulated I2C bus: whatever is attached there when a
    transfer comes answers it; nothing attached is no acknowledge."""

    def __init__(self, board: Board, bus: int, address: int) -> None:
        self.board, self.bus, self.address = board, bus, address

    def _model(self, address: int) -> I2CModel:
        model = self.board.i2c.get(self.bus, {}).get(address)
        if model is None:
            raise BusError(f"no acknowledge: nothing is attached at address "
                           f"{address:#04x} of I2C bus {self.bus}")
        return model

    def smbus(self, op: str, reg: int = 0, value: Any = None) -> Any:
        model = self._model(self.address)
        return _guarded(model, lambda: model.smbus(op, reg, value))

    def transfer(self, messages: list[I2CMessage]) -> list[bytes]:
        out: list[bytes] = []
        run: list[I2CMessage] = []
        for message in messages + [None]:  # type: ignore[list-item]
            if run and (message is None or message.address != run[0].address):
                model = self._model(run[0].address)
                out += _guarded(model, lambda: model.transfer(run))
                run = []
            if message is not None:
                run.append(message)
        return out


class SimBBI2CDevice(SimI2CDevice):
    """A bit-banged I2C bus of the simulated board, named by its GPIOs."""

    def __init__(self, board: Board, sda: int, scl: int) -> None:
        super().__init__(board, -1, 0)
        self.sda, self.scl = sda, scl

    def _model(self, address: int) -> I2CModel:
        model = self.board.bb_i2c.get((self.sda, self.scl), {}).get(address)
        if model is None:
            raise BusError(f"no acknowledge: nothing is attached at address "
                           f"{address:#04x} of the bit-banged I2C bus on SDA {self.sda}, "
                           f"SCL {self.scl}")
        return model

    def present(self, address: int) -> bool:
        """Whether a device acknowledges ``address``."""
        return address in self.board.bb_i2c.get((self.sda, self.scl), {})


class SimSPIDevice(SPIDevice):
    """A chip select of a simulated SPI bus."""

    def __init__(self, board: Board, bus: int, cs: int, config: SPIConfig) -> None:
        self.board, self.bus, self.cs, self.config = board, bus, cs, config

    def xfer(self, data: bytes) -> bytes:
        model = self.board.spi.get((self.bus, self.cs))
        config = self.config
        if (model is None or config.mode not in model.modes
                or config.cs_active_high != model.cs_active_high
                or config.bits not in model.word_bits):
            return bytes(len(data))
        answer = bytes(_guarded(model, lambda: model.xfer(data, config)))
        return answer[:len(data)].ljust(len(data), b"\0")


class SimSerialDevice(SerialDevice):
    """An opened serial port of the simulated board."""

    def __init__(self, port: SerialPort) -> None:
        self.port = port

    def read(self, count: int) -> bytes:
        return self.port.pi_read(count)

    def write(self, data: bytes) -> None:
        self.port.pi_write(data)

    def available(self) -> int:
        return self.port.pi_available()


def _guarded(model: Any, call: Any) -> Any:
    """``call()``; a model's own bug (not a BusError) becomes a failed transfer,
    logged, so that a faulty user model never takes the server down."""
    try:
        return call()
    except BusError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's model: any bug at all
        log.warning("device model %s failed: %r", type(model).__name__, exc)
        raise BusError(f"the device model {type(model).__name__} failed: {exc!r}") from None


# -- the board file -----------------------------------------------------------------


def load(path: str) -> Board:
    """The board described by the TOML file ``path`` (see the module doc);
    :class:`BoardError` naming the file and entry for anything wrong in it."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise BoardError(f"{path}: cannot read the board file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(doc, path)


def from_dict(doc: dict, path: str = "<board>") -> Board:
    """The board a parsed board file describes."""
    where = path
    try:
        _known(doc, {"board", "i2c", "spi", "serial", "wire", "bb_i2c", "bb_spi",
                     "sensor"}, "the file")
        head = doc.get("board", {})
        _known(head, {"name", "i2c_buses"}, "[board]")
        buses = head.get("i2c_buses", list(PI_I2C_BUSES))
        if not (isinstance(buses, list) and all(_is_int(b) and b >= 0 for b in buses)):
            raise ValueError("[board] i2c_buses must be a list of bus numbers")
        board = Board(tuple(buses), str(head.get("name", os.path.basename(path))), path)
        for i, entry in enumerate(_list(doc, "i2c")):
            where = f"{path}: i2c[{i}]"
            _known(entry, {"bus", "address", "model", "class", "options", "registers",
                           "words"}, "this entry")
            model = _model(entry, "i2c", path)
            board.attach_i2c(_int(entry, "bus"), _int(entry, "address"), model)
        for i, entry in enumerate(_list(doc, "spi")):
            where = f"{path}: spi[{i}]"
            _known(entry, {"bus", "cs", "model", "class", "options", "vref", "voltages"},
                   "this entry")
            board.attach_spi(_int(entry, "bus", 0), _int(entry, "cs"), _model(entry, "spi", path))
        for i, entry in enumerate(_list(doc, "serial")):
            where = f"{path}: serial[{i}]"
            _known(entry, {"name", "names", "far_end"}, "this entry")
            names = entry.get("names", [entry["name"]] if "name" in entry else None)
            if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
                raise ValueError("give the port's name (name = \"/dev/serial0\") or names")
            far_end = entry.get("far_end", "buffer")
            if far_end not in FAR_ENDS:
                raise ValueError(f"far_end {far_end!r} is not one of {', '.join(FAR_ENDS)}")
            board.serial.append(SerialPort(names, far_end))
        if "serial" not in doc:
            board.serial.append(SerialPort(list(PI_SERIAL_NAMES)))
        for i, entry in enumerate(_list(doc, "wire")):
            where = f"{path}: wire[{i}]"
            _known(entry, {"from", "to"}, "this entry")
            output, input_ = _int(entry, "from"), _int(entry, "to")
            if not (0 <= output <= 53 and 0 <= input_ <= 53) or output == input_:
                raise ValueError(f"a wire joins two different GPIOs 0-53, not {output} "
                                 f"and {input_}")
            board.wires.append((output, input_))
        for i, entry in enumerate(_list(doc, "bb_i2c")):
            where = f"{path}: bb_i2c[{i}]"
            _known(entry, {"sda", "scl", "address", "model", "class", "options",
                           "registers", "words"}, "this entry")
            board.attach_bb_i2c(_int(entry, "sda"), _int(entry, "scl"),
                                _int(entry, "address"), _model(entry, "i2c", path))
        for i, entry in enumerate(_list(doc, "bb_spi")):
            where = f"{path}: bb_spi[{i}]"
            _known(entry, {"cs", "miso", "mosi", "sclk", "model", "class", "options",
                           "vref", "voltages"}, "this entry")
            pins = [_int(entry, k) if k in entry else None for k in ("miso", "mosi", "sclk")]
            board.attach_bb_spi(_int(entry, "cs"), _model(entry, "spi", path), *pins)
        for i, entry in enumerate(_list(doc, "sensor")):
            where = f"{path}: sensor[{i}]"
            sensor = sensors.from_entry(entry)
            sensors.check_free(board.sensors, sensor)
            board.sensors.append(sensor)
    except BoardError:
        raise
    except (ValueError, TypeError, KeyError, ImportError, AttributeError, OSError) as exc:
        text = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BoardError(f"{where}: {text}") from None
    return board


def _known(table: Any, keys: set[str], what: str) -> None:
    if not isinstance(table, dict):
        raise ValueError(f"{what} must be a table")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in {what} "
                         f"(known: {', '.join(sorted(keys))})")


def _list(doc: dict, key: str) -> list:
    entries = doc.get(key, [])
    if not isinstance(entries, list):
        raise ValueError(f"{key} must be an array of tables ([[{key}]])")
    return entries


def _is_int(value: Any) -> bool:
    return type(value) is int


def _int(entry: dict, key: str, default: int | None = None) -> int:
    value = entry.get(key, default)
    if value is None:
        raise ValueError(f"missing {key}")
    if not _is_int(value) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0, not {value!r}")
    return value


def _model(entry: dict, kind: str, path: str) -> Any:
    options = dict(entry.get("options", {}))
    if "class" in entry:
        return _user_model(entry["class"], kind, path)(**options)
    name = entry.get("model")
    if name not in MODELS or MODELS[name][0] != kind:
        known = ", ".join(n for n, (k, _) in MODELS.items() if k == kind)
        raise ValueError(f"model {name!r} is not a built-in {kind} model ({known}); "
                         f"or give class = \"module:Name\"")
    cls = MODELS[name][1]
    if kind == "i2c":
        registers = entry.get("registers")
        if isinstance(registers, dict):
            registers = {int(k, 0): v for k, v in registers.items()}
        words = {int(k, 0): v for k, v in entry.get("words", {}).items()}
        return cls(registers, words, **options)
    return cls(vref=entry.get("vref", 3.3), voltages=entry.get("voltages"), **options)


def _user_model(spec: Any, kind: str, path: str) -> type:
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(f"class {spec!r} must be \"module:Name\"")
    module_name, class_name = spec.split(":")
    here = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, here)
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    finally:
        sys.path.remove(here)
    base = I2CModel if kind == "i2c" else SPIModel
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{spec} is not a subclass of {base.__module__}.{base.__name__}")
    return cls
