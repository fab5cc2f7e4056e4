"""The pigs command table: every command the server understands, in one place.

Each command names its parameters by kind; :func:`execute` checks the arguments
against those kinds (answering with pigpio's error code when one is bad) and calls
the handler with plain ints. ``docs/protocol.md`` lists the commands for users.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import gpiosvr
from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError, ProtocolError
from gpiosvr.protocol import Command
from gpiosvr.server import logsafe, ownership, permits
from gpiosvr.server.backends.base import NUM_GPIOS, Backend
from gpiosvr.server.limits import MAX_CLIENT_NAME_CHARS, SIM_MAX_INJECT_EDGES

log = logging.getLogger(__name__)

#: The pigpio daemon version ``pigpv`` reports (pigpio 79 pairs with pigpio.py 1.78).
PIGPIO_VERSION = 79

#: pigs mode letters (and their pigpio mode numbers).
MODE_LETTERS = {"r": 0, "w": 1, "0": 4, "1": 5, "2": 6, "3": 7, "4": 3, "5": 2}
#: pigs pull letters.
PUD_LETTERS = {"o": 0, "d": 1, "u": 2}


@dataclass
class Session:
    """What the server knows of one connected client."""

    server: Any
    backend: Backend
    connection: Any = None
    name: str = "?"
    pid: int | None = None
    uid: int | None = None  # from SO_PEERCRED: who owns what this session makes
    gid: int | None = None
    protocol_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _gpio(value: Any) -> int:
    if type(value) is not int or not 0 <= value < NUM_GPIOS:
        raise PigpioError(errors.PI_BAD_GPIO)
    return value


def _user_gpio(value: Any) -> int:
    if type(value) is not int or not 0 <= value < 32:
        raise PigpioError(errors.PI_BAD_USER_GPIO)
    return value


def _level(value: Any) -> int:
    if type(value) is not int or value not in (0, 1):
        raise PigpioError(errors.PI_BAD_LEVEL)
    return value


def _mode(value: Any) -> int:
    key = value.lower() if isinstance(value, str) else str(value) if type(value) is int else None
    mode = MODE_LETTERS.get(key) if key is not None else None
    if mode is None:
        raise PigpioError(errors.PI_BAD_MODE)
    return mode


def _pud(value: Any) -> int:
    pud = PUD_LETTERS.get(value.lower()) if isinstance(value, str) else None
    if pud is None:
        raise PigpioError(errors.PI_BAD_PUD)
    return pud


def _bits(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
        raise PigpioError(errors.PI_BAD_PARAM, "bad parameter: bits must be 0-0xFFFFFFFF")
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} is not an integer")
    return value


def _ranged(low: int, high: int, code: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise PigpioError(code)
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} is not text")
    return value


PARAM_KINDS: dict[str, Callable[[Any], Any]] = {
    "gpio": _gpio, "user_gpio": _user_gpio, "level": _level, "mode": _mode,
    "pud": _pud, "bits": _bits, "int": _int, "text": _text,
    "wdog_ms": _ranged(0, 60000, errors.PI_BAD_WDOG_TIMEOUT),
    "steady_us": _ranged(0, 300000, errors.PI_BAD_FILTER),
    "active_us": _ranged(0, 1000000, errors.PI_BAD_FILTER),
}


@dataclass(frozen=True)
class CommandSpec:
    """A command's name, parameter kinds (``"?"`` suffix: optional) and handler.

    ``updates`` says what of the chip it changes, for :mod:`~gpiosvr.server.permits`:
    ``"gpio"`` (its first argument), ``"bank1"`` or ``"bank2"`` (the GPIOs whose bits
    its first argument sets), or None.
    """

    name: str
    params: tuple[str, ...]
    handler: Callable[..., Any]
    doc: str
    required: int = 0
    converters: tuple[Callable[[Any], Any], ...] = ()
    updates: str | None = None

    @property
    def usage(self) -> str:
        return " ".join([self.name, *self.params])


COMMANDS: dict[str, CommandSpec] = {}


def command(name: str, *params: str, updates: str | None = None
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``handler(session, *args)`` as the pigs command ``name``; ``updates``:
    see :class:`CommandSpec`."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for p in params:
            assert p.rstrip("?") in PARAM_KINDS, p
        COMMANDS[name] = CommandSpec(
            name, params, handler, (handler.__doc__ or "").strip(),
            required=sum(1 for p in params if not p.endswith("?")),
            converters=tuple(PARAM_KINDS[p.rstrip("?")] for p in params),
            updates=updates)
        return handler

    return register


def execute(session: Session, cmd: Command) -> "str | asyncio.Future[str]":
    """Run one command and return its encoded answer, or a future of it when the
    backend answers later (see :attr:`Backend.native_commands`); never raises."""
    backend = session.backend
    backend.user = session
    try:
        spec = COMMANDS.get(cmd.name)
        if spec is None:
            raise PigpioError(errors.PI_UNKNOWN_COMMAND)
        if spec.updates == "gpio" and cmd.args:
            # as pigpio: a GPIO that may not change is refused before other arguments
            permits.of(session).check_argument(cmd.args[0])
        args = _convert(spec, cmd.args)
        if spec.name in backend.native_commands:
            result = _run_native(session, spec, args)
        else:
            result = spec.handler(session, *args)
        if isinstance(result, asyncio.Future):
            return _encode_later(result, cmd)
        return protocol.encode_answer(result)
    except Exception as exc:
        return _encode_error(exc, cmd)


def _run_native(session: Session, spec: CommandSpec, args: list[Any]) -> Any:
    """Have the backend carry out ``spec`` itself, on the permitted GPIOs of a bank
    command only (a single GPIO's permission was checked by :func:`execute`)."""
    backend = session.backend
    if spec.updates not in ("bank1", "bank2"):
        return backend.run_native(spec.name, args)
    bank, bits = int(spec.updates[-1]), args[0]
    allowed = permits.of(session).bank_bits(bank, bits)
    result = backend.run_native(spec.name, [allowed])
    if allowed == bits:
        return result
    refusal = permits.of(session).some_permitted(bank, bits)
    if not isinstance(result, asyncio.Future):
        raise refusal
    answer = result.get_loop().create_future()

    def done(result: asyncio.Future) -> None:
        if not answer.cancelled():
            if result.cancelled():
                answer.cancel()
            else:
                answer.set_exception(result.exception() or refusal)

    result.add_done_callback(done)
    return answer


def _encode_error(exc: BaseException, cmd: Command) -> str:
    if isinstance(exc, (PigpioError, ProtocolError)):
        return protocol.encode_answer(None, (exc,))
    # a bug in a handler or a backend must not reach the connection
    log.error("command %r failed", cmd, exc_info=exc)
    return protocol.encode_answer(None, (RuntimeError(f"internal error: {exc}"),))


def _encode_later(result: asyncio.Future, cmd: Command) -> "asyncio.Future[str]":
    """A future of the encoded answer ``result`` will give (it never fails)."""
    answer = result.get_loop().create_future()

    def done(result: asyncio.Future) -> None:
        if answer.cancelled():
            return
        if result.cancelled():
            answer.set_result(_encode_error(PigpioError(
                errors.PI_CMD_INTERRUPTED, "command interrupted"), cmd))
        elif result.exception() is not None:
            answer.set_result(_encode_error(result.exception(), cmd))
        else:
            value = result.result()
            answer.set_result(protocol.encode_answer(0 if value is None else value))

    result.add_done_callback(done)
    return answer


def _convert(spec: CommandSpec, args: tuple[Any, ...]) -> list[Any]:
    converters = spec.converters
    if len(args) == len(converters) == 1:
        return [converters[0](args[0])]
    required = spec.required
    if not required <= len(args) <= len(spec.params):
        raise PigpioError(
            errors.PI_BAD_PARAM,
            f"bad parameter count: {spec.usage!r} takes "
            f"{required if required == len(spec.params) else f'{required}-{len(spec.params)}'}"
            f" argument(s), got {len(args)}",
        )
    return [convert(a) for convert, a in zip(spec.converters, args)]


# ------------------------------------------------------------------ session


@command("hello", "int", "text?", "int?")
def _hello(session: Session, version: int, name: str = "?", pid: int | None = None):
    """Handshake: the client's protocol version, name and pid; answers server info.

    The name is kept (and logged, escaped) up to :data:`MAX_CLIENT_NAME_CHARS`.

    The pid a client claims is not trusted: the session keeps the kernel's (SO_PEERCRED).
    """
    if version != protocol.PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version} not supported; this server speaks "
            f"{protocol.PROTOCOL_VERSION}"
        )
    session.protocol_version = version
    session.name = logsafe.cut(name, MAX_CLIENT_NAME_CHARS)
    conn_log = getattr(session.server, "conn_log", None)
    (conn_log or log).info("client hello: name=%s pid=%s uid=%s",
                           logsafe.printable(session.name), session.pid, session.uid)
    return server_info(session)


@command("info")
def _info(session: Session):
    """What the server is: version, protocol, backend, hardware revision, clients."""
    return server_info(session)


def server_info(session: Session) -> dict[str, Any]:
    """The server-info answer shared by ``hello`` and ``info``."""
    return {
        "server": "gpiosvr",
        "version": gpiosvr.__version__,
        "protocol": protocol.PROTOCOL_VERSION,
        "backend": session.backend.name,
        "hardware_revision": session.backend.hardware_revision,
        "pigpio_version": PIGPIO_VERSION,
        "clients": session.server.client_count if session.server is not None else 0,
        "notify_handles": len(session.server.hub.subscriptions) if session.server else 0,
    }


# --------------------------------------------------------------- basic GPIO


@command("m", "gpio", "mode", updates="gpio")
def _set_mode(session: Session, gpio: int, mode: int):
    """Set mode: r (input), w (output), 0-5 (ALT0-ALT5)."""
    permits.of(session).check(gpio)  # also here: the short path skips execute()
    if mode != 1:  # as pigpio: PWM and servo pulses end when a GPIO stops being an output
        _stop_pulses(session, gpio)
    session.backend.set_mode(gpio, mode)
    return 0


def _stop_pulses(session: Session, gpio: int) -> None:
    pwm = session.server.pwm if session.server is not None else None
    if pwm is not None and gpio in pwm.states:
        pwm.stopped(gpio)
        session.backend.set_waveform(gpio, None)


@command("mg", "gpio")
def _get_mode(session: Session, gpio: int):
    """Get mode as a pigpio mode number 0-7."""
    return session.backend.get_mode(gpio)


@command("pud", "gpio", "pud", updates="gpio")
def _set_pull(session: Session, gpio: int, pud: int):
    """Set pull: u (up), d (down), o (off)."""
    session.backend.set_pull(gpio, pud)
    return 0


@command("r", "gpio")
def _read(session: Session, gpio: int):
    """Read a GPIO's level."""
    return session.backend.read(gpio)


@command("w", "gpio", "level", updates="gpio")
def _write(session: Session, gpio: int, level: int):
    """Write a level; the GPIO becomes an output (PWM and servo pulses on it end)."""
    permits.of(session).check(gpio)  # also here: the short path skips execute()
    _stop_pulses(session, gpio)
    session.backend.write(gpio, level)
    return 0


@command("t")
def _tick(session: Session):
    """Current tick: microseconds, wrapping at 2**32."""
    return session.backend.tick()


@command("hwver")
def _hwver(session: Session):
    """Hardware revision."""
    return session.backend.hardware_revision


@command("pigpv")
def _pigpv(session: Session):
    """pigpio version the server emulates."""
    return PIGPIO_VERSION


def _bank_commands(bank: int) -> None:
    @command(f"br{bank}")
    def _read_bank(session: Session):
        """Read the bank's levels as a bit mask (bank 1: GPIO 0-31, bank 2: 32-53)."""
        return session.backend.read_bank(bank)

    @command(f"bs{bank}", "bits", updates=f"bank{bank}")
    def _set_bank(session: Session, bits: int):
        """Set the output latch of the GPIOs whose bits are set (the permitted ones:
        naming others answers PI_SOME_PERMITTED)."""
        allowed = permits.of(session).bank_bits(bank, bits)
        session.backend.set_bank(bank, allowed)
        if allowed != bits:
            raise permits.of(session).some_permitted(bank, bits)
        return 0

    @command(f"bc{bank}", "bits", updates=f"bank{bank}")
    def _clear_bank(session: Session, bits: int):
        """Clear the output latch of the GPIOs whose bits are set (the permitted ones:
        naming others answers PI_SOME_PERMITTED)."""
        allowed = permits.of(session).bank_bits(bank, bits)
        session.backend.clear_bank(bank, allowed)
        if allowed != bits:
            raise permits.of(session).some_permitted(bank, bits)
        return 0


_bank_commands(1)
_bank_commands(2)


# ------------------------------------------------- watchdogs and edge filters


@command("wdog", "user_gpio", "wdog_ms")
def _watchdog(session: Session, gpio: int, timeout_ms: int):
    """Watchdog: report TIMEOUT after ``timeout_ms`` without an edge (0: off, for all)."""
    settings = session.server.edge_settings
    setters = settings.watchdog_setters[gpio]
    for owner in setters.values():
        ownership.check(session, owner, f"the watchdog of GPIO {gpio}")
    settings.watchdog[gpio] = timeout_ms
    if timeout_ms:
        setters[session.connection] = ownership.owner_of(session)
    else:
        setters.clear()
    session.server.hub.watchdog_changed(gpio)
    return 0


@command("fg", "user_gpio", "steady_us")
def _glitch_filter(session: Session, gpio: int, steady: int):
    """Glitch filter: ignore level changes shorter than ``steady`` µs (0: off)."""
    settings = session.server.edge_settings
    ownership.check(session, settings.glitch_owner[gpio], f"the glitch filter of GPIO {gpio}")
    settings.glitch_owner[gpio] = ownership.owner_of(session) if steady else None
    if session.backend.set_debounce(gpio, steady):
        steady = 0  # the kernel filters: the server's own filter stays off
    settings.glitch[gpio] = steady
    session.server.hub.glitch_changed(gpio)
    return 0


@command("fn", "user_gpio", "steady_us", "active_us")
def _noise_filter(session: Session, gpio: int, steady: int, active: int):
    """Noise filter: after ``steady`` µs stable, report edges for ``active`` µs."""
    settings = session.server.edge_settings
    ownership.check(session, settings.noise_owner[gpio], f"the noise filter of GPIO {gpio}")
    settings.noise_owner[gpio] = ownership.owner_of(session) if steady else None
    settings.noise[gpio] = (steady, active)
    session.server.hub.noise_changed(gpio)
    return 0


# ------------------------------------------------------------- notifications


@command("no")
def _notify_open(session: Session):
    """Open a notification handle; reports come on this connection as ``*e`` frames."""
    return session.server.hub.open(session.connection)


@command("nb", "int", "bits")
def _notify_begin(session: Session, handle: int, bits: int):
    """Report the GPIOs whose bits are set in ``bits`` on ``handle``."""
    return session.server.hub.begin(session.connection, handle, bits)


@command("np", "int")
def _notify_pause(session: Session, handle: int):
    """Pause the reports of ``handle``."""
    return session.server.hub.pause(session.connection, handle)


@command("nc", "int")
def _notify_close(session: Session, handle: int):
    """Close ``handle``."""
    return session.server.hub.close(session.connection, handle)


# ------------------------------------------------------- driving the simulator


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


# ------------------------------------------------------------- PWM and servos


@command("p", "user_gpio", "int", updates="gpio")
def _pwm(session: Session, gpio: int, dutycycle: int):
    """PWM: set the dutycycle (0-range) and start PWM."""
    session.server.pwm.set_dutycycle(gpio, dutycycle)
    return 0


@command("gdc", "user_gpio")
def _get_dutycycle(session: Session, gpio: int):
    """The PWM dutycycle (hardware PWM: out of 1000000)."""
    return session.server.pwm.get_dutycycle(gpio)


@command("prs", "user_gpio", "int", updates="gpio")
def _pwm_range(session: Session, gpio: int, range_: int):
    """Set the PWM dutycycle range (25-40000); answers the real range."""
    return session.server.pwm.set_range(gpio, range_)


@command("prg", "user_gpio")
def _get_pwm_range(session: Session, gpio: int):
    """The PWM dutycycle range."""
    return session.server.pwm.get_range(gpio)


@command("prrg", "user_gpio")
def _get_real_range(session: Session, gpio: int):
    """The real PWM range at the GPIO's frequency."""
    return session.server.pwm.get_real_range(gpio)


@command("pfs", "user_gpio", "int", updates="gpio")
def _pwm_frequency(session: Session, gpio: int, frequency: int):
    """Set the PWM frequency: the closest one pigpio offers, which is answered."""
    return session.server.pwm.set_frequency(gpio, frequency)


@command("pfg", "user_gpio")
def _get_pwm_frequency(session: Session, gpio: int):
    """The PWM frequency."""
    return session.server.pwm.get_frequency(gpio)


@command("s", "user_gpio", "int", updates="gpio")
def _servo(session: Session, gpio: int, pulsewidth: int):
    """Servo pulses of ``pulsewidth`` µs (500-2500) at 50 Hz; 0 stops them."""
    session.server.pwm.set_servo(gpio, pulsewidth)
    return 0


@command("gpw", "user_gpio")
def _get_servo(session: Session, gpio: int):
    """The servo pulsewidth."""
    return session.server.pwm.get_servo(gpio)


@command("hp", "gpio", "int", "int", updates="gpio")
def _hardware_pwm(session: Session, gpio: int, frequency: int, duty: int):
    """Hardware PWM on GPIO 12, 13, 18, 19 (40, 41, 45, 52, 53): frequency, duty of 1M."""
    session.server.pwm.set_hardware(gpio, frequency, duty)
    return 0


# -------------------------------------------------------------------- scripts


@command("proc", "text")
def _store_script(session: Session, text: str):
    """Store a pigpio script; answers its id (the lowest free, 0-31)."""
    return session.server.scripts.store(session, text)


@command("procr", "int", *["int?"] * 11)
def _run_script(session: Session, script_id: int, *params: int):
    """Run a stored script with up to 10 32-bit parameters (a running one goes on,
    with the new parameters)."""
    session.server.scripts.run(session, script_id, list(params))
    return 0


@command("procu", "int", *["int?"] * 11)
def _update_script(session: Session, script_id: int, *params: int):
    """Update the parameters of a script (up to 10, each 32-bit)."""
    session.server.scripts.update(session, script_id, list(params))
    return 0


@command("procp", "int")
def _script_status(session: Session, script_id: int):
    """A script's status and its 10 parameters: ``[status, p0, ..., p9]``."""
    return session.server.scripts.status(script_id)


@command("procs", "int")
def _stop_script(session: Session, script_id: int):
    """Stop a running script."""
    session.server.scripts.stop(session, script_id)
    return 0


@command("procd", "int")
def _delete_script(session: Session, script_id: int):
    """Delete a script."""
    session.server.scripts.delete(session, script_id)
    return 0
