"""The command table itself: :data:`COMMANDS`, how a command is registered
(:func:`command`) and run (:func:`execute`), and the parameter kinds.

Each command names its parameters by kind; :func:`execute` checks the arguments
against those kinds (answering with pigpio's error code when one is bad) and calls
the handler with plain ints. The commands themselves live in the
other modules of this package, one per concern.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError, ProtocolError
from gpiosvr.protocol import Command
from gpiosvr.server import permits
from gpiosvr.server.backends.base import NUM_GPIOS, Backend

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
    #: The handles, pipes and watchdogs it makes outlive it, owned by its uid, as
    #: pigpio's do (``persist``; every pigpiod front-end session).
    persist: bool = False
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


def _data(value: Any) -> bytes:
    """Data for a device or a file: bytes on the wire (``%00ff``), or text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} is not data "
                                           f"(bytes, e.g. %00ff, or text)")


def _byte_values(value: Any) -> bytes:
    """pigs' ``bvs``, bytes for a device: bytes (``%00ff``), text (as pigpio sends a
    str: latin-1), or a list of ints 0-255 (``pigs i2cwd 0 1 2 3``)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} has "
                                                   f"characters past latin-1") from None
    if isinstance(value, list) and all(type(v) is int and 0 <= v <= 255 for v in value):
        return bytes(value)
    raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} is not byte values "
                                           f"(bytes, e.g. %00ff, text, or ints 0-255)")


def _uint32s(values: Any, what: str) -> list[int]:
    """Ints 0-0xFFFFFFFF: a list of ints, or bytes packed as little-endian uint32s."""
    if isinstance(values, (bytes, bytearray)):
        if len(values) % 4:
            raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {what} as bytes must "
                                                   f"be whole 4-byte words, got {len(values)}")
        return list(struct.unpack(f"<{len(values) // 4}I", values))
    for value in values:
        if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
            raise PigpioError(errors.PI_BAD_PARAM,
                              f"bad parameter: {value!r} in {what} is not 0-0xFFFFFFFF")
    return list(values)


def _pulses(values: Any) -> list[tuple[int, int, int]]:
    """Wave pulses: (gpio_on, gpio_off, delay) triplets, as flat ints (pigs) or
    packed as pigpiod's ``<III`` per pulse (bytes)."""
    words = _uint32s(values, "pulses")
    if len(words) % 3:
        raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: pulses come in triplets "
                                               f"(on, off, delay), got {len(words)} values")
    return list(zip(words[0::3], words[1::3], words[2::3]))


def _byte_list(values: Any) -> bytes:
    """Bytes: ints 0-255 (pigs), or bytes, or text."""
    if isinstance(values, (bytes, bytearray, str)):
        return _data(values)
    for value in values:
        if type(value) is not int or not 0 <= value <= 255:
            raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: {value!r} is not a "
                                                   f"byte (0-255)")
    return bytes(values)


PARAM_KINDS: dict[str, Callable[[Any], Any]] = {
    "gpio": _gpio, "user_gpio": _user_gpio, "level": _level, "mode": _mode,
    "pud": _pud, "bits": _bits, "int": _int, "text": _text, "data": _data,
    "bvs": _byte_values,
    "wdog_ms": _ranged(0, 60000, errors.PI_BAD_WDOG_TIMEOUT),
    "steady_us": _ranged(0, 300000, errors.PI_BAD_FILTER),
    "active_us": _ranged(0, 1000000, errors.PI_BAD_FILTER),
    # variadic kinds (``kind*``, last): the rest of the arguments, or one list/bytes
    "pulses": _pulses, "bytes": _byte_list,
}


@dataclass(frozen=True)
class CommandSpec:
    """A command's name, parameter kinds (``"?"`` suffix: optional; ``"*"`` suffix,
    last only: all the remaining arguments, or one list or bytes value, as one
    argument) and handler.

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
    variadic: bool = False

    @property
    def usage(self) -> str:
        return " ".join([self.name, *self.params])


COMMANDS: dict[str, CommandSpec] = {}
#: Commands whose handler may answer with a future on every backend (file I/O on a
#: worker thread, a shell command): the server's short path leaves them to the
#: general way, which waits for the answer.
ANSWERS_LATER: set[str] = set()


def command(name: str, *params: str, updates: str | None = None
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``handler(session, *args)`` as the pigs command ``name``; ``updates``:
    see :class:`CommandSpec`."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for p in params:
            assert p.rstrip("?*") in PARAM_KINDS, p
            assert not p.endswith("*") or p is params[-1], p
        COMMANDS[name] = CommandSpec(
            name, params, handler, (handler.__doc__ or "").strip(),
            required=sum(1 for p in params if not p.endswith(("?", "*"))),
            converters=tuple(PARAM_KINDS[p.rstrip("?*")] for p in params),
            updates=updates, variadic=bool(params) and params[-1].endswith("*"))
        return handler

    return register


def run(session: Session, cmd: Command) -> Any:
    """Run one command and return its value, or a future of it when the backend
    answers later (see :attr:`Backend.native_commands`); a failure raises (a
    :class:`PigpioError` with pigpio's code for a bad command or argument).

    Every front end runs commands through here: :func:`execute` for the gpiosvr
    protocol, :mod:`gpiosvr.server.frontends.pigpiod` for pigpiod's."""
    backend = session.backend
    backend.user = session
    spec = COMMANDS.get(cmd.name)
    if spec is None:
        raise PigpioError(errors.PI_UNKNOWN_COMMAND)
    if spec.updates == "gpio" and cmd.args:
        # as pigpio: a GPIO that may not change is refused before other arguments
        permits.of(session).check_argument(cmd.args[0])
    args = _convert(spec, cmd.args)
    if spec.name in backend.native_commands:
        return _run_native(session, spec, args)
    return spec.handler(session, *args)


def execute(session: Session, cmd: Command) -> "str | asyncio.Future[str]":
    """Run one command and return its encoded answer, or a future of it when the
    backend answers later (see :attr:`Backend.native_commands`); never raises."""
    try:
        result = run(session, cmd)
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
    if spec.variadic:
        fixed = len(converters) - 1
        if len(args) < fixed:
            raise PigpioError(errors.PI_BAD_PARAM,
                              f"bad parameter count: {spec.usage!r} takes at least "
                              f"{fixed} argument(s), got {len(args)}")
        rest = args[fixed:]
        if len(rest) == 1 and isinstance(rest[0], (list, bytes, bytearray, str)):
            rest = rest[0]
        return [convert(a) for convert, a in zip(converters, args[:fixed])] + \
            [converters[-1](rest)]
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
