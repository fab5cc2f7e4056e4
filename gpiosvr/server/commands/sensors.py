"""The simulated board's GPIO-level sensors, driven from outside: ``simsonar``
(an HC-SR04's distance), ``simdht`` (a DHT22's temperature and humidity), ``simir``
(an IR receiver receives a code) and ``simirsent`` (what an IR LED sent it).
See ``docs/board.md``."""

from __future__ import annotations

from typing import Any

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands.simulator import _board, _on_board
from gpiosvr.server.commands.table import PARAM_KINDS, Session, command
from gpiosvr.server.sim import sensors
from gpiosvr.server.sim.devices.dht22 import DHT22
from gpiosvr.server.sim.devices.hcsr04 import HCSR04
from gpiosvr.server.sim.devices.ir_receiver import IRReceiver, check_code


def _durations(values: Any) -> list[int]:
    """Mark/space lengths in µs: the rest of the arguments (pigs) or one list."""
    if type(values) in (list, tuple) and len(values) == 1 and type(values[0]) is list:
        values = values[0]
    try:
        return check_code(list(values) if type(values) in (list, tuple) else values)
    except ValueError as exc:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {exc}") from None


PARAM_KINDS["durations"] = _durations


def _sensor(session: Session, gpio: int, kind: type) -> Any:
    return sensors.find(_board(session).sensors, gpio, kind)


@command("simsonar", "gpio", "int")
def _sim_sonar(session: Session, gpio: int, micrometres: int):
    """Set the distance (µm; negative: nothing in range) of the object in front of
    the HC-SR04 wired to ``gpio`` (its trigger or echo)."""
    return _on_board(lambda: _sensor(session, gpio, HCSR04).set_distance(
        None if micrometres < 0 else micrometres / 1e6)) or 0


@command("simdht", "gpio", "int", "int")
def _sim_dht(session: Session, gpio: int, millidegrees: int, millipercent: int):
    """Set what the DHT22 on ``gpio`` answers next: m°C and thousandths of a % RH."""
    return _on_board(lambda: _sensor(session, gpio, DHT22).set_climate(
        millidegrees / 1000, millipercent / 1000)) or 0


@command("simir", "gpio", "durations*")
def _sim_ir(session: Session, gpio: int, code: list[int]):
    """The IR receiver whose output is ``gpio`` receives ``code`` (marks and spaces,
    µs, mark first) from 1 ms from now; answers the first mark's tick."""
    return _on_board(lambda: _sensor(session, gpio, IRReceiver).send(code))


@command("simirsent", "gpio")
def _sim_ir_sent(session: Session, gpio: int):
    """The marks and spaces (µs) of the last code the IR LED sent to the receiver
    wired to ``gpio`` (its output or its LED); empty if none yet."""
    return _on_board(lambda: list(_sensor(session, gpio, IRReceiver).sent))
