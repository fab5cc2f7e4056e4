"""pigpio's BSC slave (``bscx``) and the simulated board's BSC master (``simbscw``,
``simbscr``); see :mod:`gpiosvr.server.bsc`."""

from __future__ import annotations

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server import bsc, permits
from gpiosvr.server.commands.table import Session, command

PI_NOT_PERMITTED = int(CONSTANTS["PI_NOT_PERMITTED"])
PI_BAD_PARAM = int(CONSTANTS["PI_BAD_PARAM"])
EVENT_BSC = int(CONSTANTS["EVENT_BSC"])

_REASONS = {
    "gpiod": "the Linux GPIO character device gives no access to the BSC peripheral",
    "pigpiod": "bsc_xfer is not relayed to the pigpio daemon yet",
}


def _slave(session: Session) -> bsc.BscSlave:
    name = session.backend.name
    if name != "sim":
        raise PigpioError(PI_NOT_PERMITTED, f"the {name} backend has no BSC slave: "
                                            + _REASONS.get(name, "it has no BSC peripheral"))
    return bsc.slave(session.server)


@command("bscx", "int", "data?")
def _bsc_xfer(session: Session, control: int, data: bytes = b""):
    """BSC I2C/SPI slave: set the control word, queue ``data`` to transmit; answers
    the status word (4 bytes, little-endian) and the bytes received (pigpio's
    bscXfer, as on its wire)."""
    if not 0 <= control <= 0xFFFFFFFF:
        raise PigpioError(PI_BAD_PARAM, f"bad BSC control word {control}")
    slave = _slave(session)
    if control != slave.control:  # the BSC GPIOs change function
        for gpio in slave.gpios:
            permits.of(session).check(gpio)
    return slave.xfer(control, data)


@command("simbscw", "int", "data")
def _sim_bsc_write(session: Session, address: int, data: bytes):
    """Simulator: the board's I2C master writes ``data`` to the BSC slave at
    ``address``; answers how many bytes it took (0: no slave there, or not
    receiving). Triggers the BSC event (31)."""
    taken = _slave(session).master_write(address, data)
    if taken:
        session.server.hub.trigger_event(EVENT_BSC)
    return taken


@command("simbscr", "int")
def _sim_bsc_read(session: Session, count: int):
    """Simulator: the board's master reads up to ``count`` bytes the BSC slave
    queued to transmit."""
    return _slave(session).master_read(max(0, count))
