"""Driving the simulated chip from outside: ``simdrive``, ``siminject``, wires."""

from __future__ import annotations

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands.table import Session, command
from gpiosvr.server.limits import SIM_MAX_INJECT_EDGES


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
