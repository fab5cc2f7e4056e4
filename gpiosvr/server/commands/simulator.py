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
