"""The plumbing every part of :class:`gpiosvr.pigpio.pi` shares: pigpio's
:class:`error`, how a failed call becomes one (or a negative code with
``pigpio.exceptions = False``), where ``pi(host)`` connects, and :class:`PiBase`,
which holds the connection and sends commands."""

from __future__ import annotations

import os
import sys
from typing import Any

from gpiosvr import config
from gpiosvr.blocking import BlockingClient, ThreadState
from gpiosvr.errors import GpioServerError, PigpioError
from gpiosvr.errors import error_text as _error_text

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}

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
            raise error(error_text(exc.code), exc.code) from exc
        return exc.code
    raise error(str(exc), getattr(exc, "code", None)) from exc


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
    host = "" if host is None else str(host)
    if "/" in host:
        return host
    if host in _LOCAL_HOSTS:
        return config.socket_path()
    return None


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
                print(_except_a.format(f"Can't connect to pigpio at {host}({port})"))
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
            return client.command(name, *args)
        except GpioServerError as exc:
            return _failed(exc)

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
            raise error(error_text(exc.code), exc.code) from exc
        except GpioServerError as exc:
            raise error(str(exc), getattr(exc, "code", None)) from exc


def _connect_timeout() -> float:
    """Seconds ``pi()`` waits for the server: ``$GPIOSVR_CONNECT_TIMEOUT`` or 3."""
    try:
        return float(os.environ.get("GPIOSVR_CONNECT_TIMEOUT", "3"))
    except ValueError:
        return 3.0

