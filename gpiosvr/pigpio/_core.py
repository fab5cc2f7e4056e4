"""The plumbing every part of :class:`gpiosvr.pigpio.pi` shares: pigpio's
:class:`error`, how a failed call becomes one (or a negative code with
``pigpio.exceptions = False``), where ``pi(host)`` connects, and :class:`PiBase`,
which holds the connection and sends commands."""

from __future__ import annotations

import operator
import os
import sys
from typing import Any

from gpiosvr import config
from gpiosvr.blocking import BlockingClient, ThreadState
from gpiosvr.errors import GpioServerError, PigpioError
from gpiosvr.errors import error_text as _error_text

_except_a = "%" * 60 + "\n{}"
_except_z = "%" * 60
_except_hint = """
Did you start the gpiosvr server? E.g. gpiosvr-server

Is it serving the socket this script uses? pi() uses $GPIO_SOCKET_PATH
or {default}; pi(host) also accepts a socket path."""


def _exceptions() -> bool:
    """``pigpio.exceptions`` as the program set it on the package."""
    return sys.modules["gpiosvr.pigpio"].exceptions


class error(Exception):  # noqa: N801 - pigpio's name
    """pigpio module exception; ``value`` is the text, ``code`` the error code."""

    def __init__(self, value: Any, code: int | None = None) -> None:
        self.value = value
        self.code = code
        super().__init__(value)

    def __str__(self) -> str:
        return repr(self.value)


def error_text(errnum: int) -> str:
    """Returns a text description of a pigpio error."""
    return _error_text(errnum)


def u2i(uint32: int) -> int:
    """Converts a 32 bit unsigned number to signed."""
    mask = (2 ** 32) - 1
    if uint32 & (1 << 31):
        return uint32 | ~mask
    return uint32 & mask


def _failed(exc: GpioServerError) -> Any:
    """What a call that failed with ``exc`` gives: :class:`error` raised, or with
    ``exceptions = False`` the negative pigpio code (a lost connection always raises)."""
    if isinstance(exc, PigpioError):
        if _exceptions():
            # the server's answer: its frames in the client say nothing to a user,
            # so the cause is kept without them (an uncaught error prints short)
            raise error(error_text(exc.code), exc.code) from exc.with_traceback(None)
        return exc.code
    raise error(str(exc), getattr(exc, "code", None)) from exc


def _plain(value: Any) -> Any:
    """An argument as pigpio would send it: anything that is an integer to
    ``struct.pack`` (a bool, an IntEnum, a numpy integer: ``__index__``) becomes an
    int; a float stays a float (pigpio refuses it too, unless its method calls
    ``int()``, which the method here does as well)."""
    if type(value) is int or isinstance(value, (str, bytes, bytearray, list, tuple)):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


def _int(value: Any) -> Any:
    """``int(value)`` where pigpio calls it (a float is truncated, as there); what
    ``int()`` refuses goes on unchanged, for the server to name the problem."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _data(data: Any) -> Any:
    """Data bytes as pigpio sends them: a str as latin-1, bytes and bytearrays as
    they are, a list (or tuple) of 0-255 ints as those bytes; anything else goes on
    unchanged, for the server to name the problem."""
    if isinstance(data, str):
        return data.encode("latin-1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, (list, tuple)):
        try:
            return bytes(bytearray(data))
        except (TypeError, ValueError) as exc:
            raise error(f"bad data {data!r}: {exc}", None) from None
    return data


NO_THREADS = ThreadState()  # a pi that is not connected never has a channel


def _u2i(value: int) -> int:
    """pigpio's check of a result: a negative one is an error (raised or returned)."""
    if value < 0 and _exceptions():
        raise error(error_text(value), value)
    return value


class _socklock:  # noqa: N801 - gpiozero looks at pi.sl.s to see a live connection
    """Holds the connection (``s``) like pigpio's socket-and-lock pair."""

    def __init__(self) -> None:
        self.s: BlockingClient | None = None


def resolve_socket_path(host: Any) -> str | None:
    """The gpiosvr socket ``pi(host)`` means, or None for a host we cannot reach."""
    return config.pigpio_host_socket(host)


class PiBase:
    """The connection of a :class:`gpiosvr.pigpio.pi` and the plumbing its parts
    share: open it (never raising, as pigpio), send a command, stop."""

    def __init__(self,
                 host=os.getenv("PIGPIO_ADDR", 'localhost'),
                 port=os.getenv("PIGPIO_PORT", 8888),
                 show_errors=True):
        self.connected = True
        self.sl = _socklock()
        self._threads = NO_THREADS  # the client's per-thread state, for read()
        self._notify = None
        port = int(port)
        if host == '':
            host = "localhost"
        self._host = host
        self._port = port
        path = resolve_socket_path(host)
        problem = None
        if path is None:  # another machine: pigpiod's protocol (gpiosvr's front end, pigpiod)
            from gpiosvr.pigpiod_client import PigpiodClient
            client: Any = PigpiodClient(host, port, connect_timeout=_connect_timeout())
        else:
            client = BlockingClient(path, connect_timeout=_connect_timeout())
        try:
            client.connect()
        except GpioServerError as exc:
            client.close()
            problem = str(exc)
        else:
            self.sl.s = client
            self._threads = client.thread_state
        if problem is not None:
            self.connected = False
            if show_errors:
                where = f"{host}({port})" if path is None else path  # the socket tried
                print(_except_a.format(f"Can't connect to pigpio at {where}"))
                print(f"\n{problem}")
                print(_except_hint.format(default=config.DEFAULT_SOCKET_HELP))
                print(_except_z)

    def __repr__(self) -> str:
        return "<pipio.pi host={} port={}>".format(self._host, self._port)

    # -- plumbing -----------------------------------------------------------------

    def _cmd(self, name: str, *args: Any) -> Any:
        client = self.sl.s
        if client is None:
            raise error("not connected to a gpiosvr server", None)
        try:
            return client.command(name, *map(_plain, args))
        except GpioServerError as exc:
            return _failed(exc)

    def _cmd_code(self, name: str, *args: Any) -> Any:
        """The answer, or the negative pigpio code of a failure (never raised: for
        the calls pigpio answers with ``u2i``, not ``_u2i``)."""
        client = self.sl.s
        if client is None:
            raise error("not connected to a gpiosvr server", None)
        try:
            return client.command(name, *map(_plain, args))
        except PigpioError as exc:
            return exc.code
        except GpioServerError as exc:
            raise error(str(exc), getattr(exc, "code", None)) from exc

    def _ints(self, template: bytes, name: str, *args: Any) -> Any:
        """``_u2i(self._cmd(name, *args))``, the short way when all ``args`` are ints
        (``template`` is their frame template)."""
        client = self.sl.s
        if client is not None:
            for arg in args:
                if type(arg) is not int:
                    break
            else:
                try:
                    return _u2i(client.call_ints(template, args))
                except GpioServerError as exc:
                    return _failed(exc)
        return _u2i(self._cmd(name, *args))

    @property
    def _client(self) -> BlockingClient:
        if self.sl.s is None:
            raise error("not connected to a gpiosvr server", None)
        return self.sl.s

    def stop(self):
        """Release pigpio resources."""
        self.connected = False
        self._threads = NO_THREADS
        client, self.sl.s = self.sl.s, None
        if client is not None:
            client.close()

    def _async(self, func):
        client = self._client
        try:
            return client.call_async(func)
        except PigpioError as exc:
            raise error(error_text(exc.code), exc.code) from exc.with_traceback(None)
        except GpioServerError as exc:
            raise error(str(exc), getattr(exc, "code", None)) from exc


def _connect_timeout() -> float:
    """Seconds ``pi()`` waits for the server: ``$GPIOSVR_CONNECT_TIMEOUT`` or 3."""
    try:
        return float(os.environ.get("GPIOSVR_CONNECT_TIMEOUT", "3"))
    except ValueError:
        return 3.0

