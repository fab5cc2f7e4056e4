"""Driving the simulated chip from outside: ``simdrive``, ``siminject``, ``simplay``,
wires."""

from __future__ import annotations

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands.table import PARAM_KINDS, Session, command
from gpiosvr.server.limits import SIM_MAX_INJECT_EDGES, SIM_MAX_PLAY_EDGES


def _sim(session: Session):
    backend = session.backend
    if not hasattr(backend, "inject"):
        raise PigpioError(errors.PI_NOT_PERMITTED,
                          f"only the sim backend can be driven; this is {backend.name}")
    return backend


@command("simdrive", "gpio", "level")
def _sim_drive(session: Session, gpio: int, level: int):
    """Drive an input from outside to ``level``, as a button or a sensor would."""
    _sim(session).drive(gpio, level)
    return 0


@command("simfloat", "gpio")
def _sim_float(session: Session, gpio: int):
    """Stop driving an input from outside: its pull decides its level again."""
    _sim(session).drive(gpio, None)
    return 0


@command("siminject", "gpio", "int", "int", "int?")
def _sim_inject(session: Session, gpio: int, count: int, interval: int,
                start_tick: int | None = None):
    """Play ``count`` alternating edges ``interval`` µs apart from ``start_tick``
    (handed on a bounded chunk per turn of the loop: see SimulatedChip.inject)."""
    if not 0 <= count <= SIM_MAX_INJECT_EDGES or not 0 <= interval <= 0xFFFFFFFF:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: count 0-{SIM_MAX_INJECT_EDGES}, "
                                               "interval 0-4294967295")
    if start_tick is not None and not 0 <= start_tick <= 0xFFFFFFFF:
        raise PigpioError(errors.PI_BAD_PARAM, "bad parameter: tick 0-4294967295")
    try:
        return _sim(session).inject(gpio, count, interval, start_tick)
    except ValueError as exc:
        raise PigpioError(errors.PI_NOT_PERMITTED, str(exc)) from None


def _edges(value) -> list[tuple[int, int]]:
    """``[[level, tick], ...]``: levels 0 or 1, ticks 0-4294967295."""
    if type(value) is not list or len(value) > SIM_MAX_PLAY_EDGES:
        raise PigpioError(errors.PI_BAD_PARAM, "bad parameter: edges must be a list of "
                          f"at most {SIM_MAX_PLAY_EDGES} [level, tick] pairs")
    edges = []
    for n, pair in enumerate(value):
        if (type(pair) is not list or len(pair) != 2 or pair[0] not in (0, 1)
                or type(pair[0]) is not int or type(pair[1]) is not int
                or not 0 <= pair[1] <= 0xFFFFFFFF):
            raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: edge {n} is "
                              f"{pair!r}, not [level 0-1, tick 0-4294967295]")
        edges.append((pair[0], pair[1]))
    return edges


PARAM_KINDS["edges"] = _edges


@command("simplay", "gpio", "edges")
def _sim_play(session: Session, gpio: int, edges: list[tuple[int, int]]):
    """Play ``edges``, [level, tick] pairs with exact ticks, on an input (handed on a
    bounded chunk per turn of the loop: see SimulatedChip.play); answers how many
    were changes of level, and so played."""
    try:
        return _sim(session).play(gpio, edges)
    except ValueError as exc:
        raise PigpioError(errors.PI_NOT_PERMITTED, str(exc)) from None


@command("simwire", "gpio", "gpio")
def _sim_wire(session: Session, output: int, input_: int):
    """Connect ``output`` to ``input_`` like a jumper wire."""
    _sim(session).wire(output, input_)
    return 0


@command("simunwire", "gpio")
def _sim_unwire(session: Session, input_: int):
    """Remove the wire into ``input_``."""
    _sim(session).unwire(input_)
    return 0


# -- the simulated board: its devices, driven from outside (docs/board.md) ---------


def _board(session: Session):
    return _sim(session).buses()


def _on_board(action):
    """Run ``action()``; what the board refuses (ValueError) answers PI_BAD_PARAM
    with the board's reason."""
    try:
        return action()
    except ValueError as exc:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {exc}") from None


def _register_device(session: Session, bus: int, address: int):
    model = _board(session).i2c_model(bus, address)
    if not hasattr(model, "set_bytes"):
        raise ValueError(f"the device at {address:#04x} of I2C bus {bus} is a "
                         f"{type(model).__name__}, not a register device")
    return model


@command("simboard")
def _sim_board(session: Session):
    """The simulated board: its buses, what is on them, serial ports (and their pty
    paths), wires."""
    return _board(session).describe()


@command("simi2cset", "int", "int", "int", "bvs")
def _sim_i2c_set(session: Session, bus: int, address: int, reg: int, data: bytes):
    """Set the (low) bytes of registers ``reg``... of the register device at
    ``address`` of I2C ``bus``."""
    return _on_board(lambda: _register_device(session, bus, address).set_bytes(reg, data)) or 0


@command("simi2cword", "int", "int", "int", "int")
def _sim_i2c_word(session: Session, bus: int, address: int, reg: int, word: int):
    """Set the whole 16-bit word of register ``reg`` of a register device."""
    return _on_board(lambda: _register_device(session, bus, address).set_word(reg, word)) or 0


@command("simi2cget", "int", "int", "int", "int")
def _sim_i2c_get(session: Session, bus: int, address: int, reg: int, count: int):
    """The (low) bytes of ``count`` registers from ``reg`` on, of a register device."""
    return _on_board(lambda: _register_device(session, bus, address).get_bytes(reg, count))


@command("simadc", "int", "int", "int", "int")
def _sim_adc(session: Session, bus: int, cs: int, channel: int, microvolts: int):
    """Put ``microvolts`` µV on input ``channel`` of the ADC on SPI ``bus`` CE``cs``."""
    def set_voltage():
        model = _board(session).spi_model(bus, cs)
        if not hasattr(model, "set_voltage"):
            raise ValueError(f"SPI {bus} CE{cs} holds a {type(model).__name__}, not an ADC")
        model.set_voltage(channel, microvolts / 1e6)

    return _on_board(set_voltage) or 0


@command("simserw", "text", "bvs")
def _sim_serial_write(session: Session, port: str, data: bytes):
    """Send bytes to the Pi from the far end of serial port ``port``."""
    from gpiosvr.server.backends.buses import BusError, code

    try:
        return _on_board(lambda: _board(session).serial_port(port).far_write(data)) or 0
    except BusError as exc:
        raise PigpioError(code("PI_SER_WRITE_FAILED"), f"ser write failed: {exc}") from None


@command("simserr", "text", "int?")
def _sim_serial_read(session: Session, port: str, count: int = 65536):
    """Take up to ``count`` bytes the Pi sent on serial port ``port`` (at its far
    end); answers them (maybe none)."""
    from gpiosvr.server.backends.buses import BusError, code
    from gpiosvr.server.limits import BUS_MAX_TRANSFER_BYTES

    if not 0 < count <= BUS_MAX_TRANSFER_BYTES:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: count 1-{BUS_MAX_TRANSFER_BYTES}")
    try:
        return _on_board(lambda: _board(session).serial_port(port).far_read(count))
    except BusError as exc:
        raise PigpioError(code("PI_SER_READ_FAILED"), f"ser read failed: {exc}") from None


@command("simserinfo", "text")
def _sim_serial_info(session: Session, port: str):
    """A serial port's names, far end and pty path (null unless the far end is one)."""
    return _on_board(lambda: _board(session).serial_port(port).describe())
