"""Exception types shared by the server, the clients and the wire codec.

Every error a server reports carries pigpio's numeric error code where one applies,
so the pigpio facade can raise ``pigpio.error`` with pigpio's own text, or return the
negative code when ``pigpio.exceptions`` is False.
"""

from __future__ import annotations

from gpiosvr._pigpio_tables import CONSTANTS, ERRORS

_ERROR_TEXTS: dict[int, str] = dict(ERRORS)

PI_BAD_USER_GPIO = int(CONSTANTS["PI_BAD_USER_GPIO"])
PI_BAD_GPIO = int(CONSTANTS["PI_BAD_GPIO"])
PI_BAD_MODE = int(CONSTANTS["PI_BAD_MODE"])
PI_BAD_LEVEL = int(CONSTANTS["PI_BAD_LEVEL"])
PI_BAD_PUD = int(CONSTANTS["PI_BAD_PUD"])
PI_BAD_PARAM = int(CONSTANTS["PI_BAD_PARAM"])
PI_NOT_PERMITTED = int(CONSTANTS["PI_NOT_PERMITTED"])
PI_SOME_PERMITTED = int(CONSTANTS["PI_SOME_PERMITTED"])
PI_UNKNOWN_COMMAND = int(CONSTANTS["PI_UNKNOWN_COMMAND"])
PI_BAD_WDOG_TIMEOUT = int(CONSTANTS["PI_BAD_WDOG_TIMEOUT"])
PI_BAD_FILTER = int(CONSTANTS["PI_BAD_FILTER"])
PI_BAD_EDGE = -122  # pigpio's "bad ISR edge value, not 0-2" (no constant in pigpio.py)
PI_BAD_HANDLE = int(CONSTANTS["PI_BAD_HANDLE"])
PI_NO_HANDLE = int(CONSTANTS["PI_NO_HANDLE"])
PI_CMD_INTERRUPTED = int(CONSTANTS["PI_CMD_INTERRUPTED"])
PI_SOCK_READ_FAILED = int(CONSTANTS["PI_SOCK_READ_FAILED"])


def error_text(errnum: int) -> str:
    """Return pigpio's text for error code ``errnum`` (as ``pigpio.error_text``)."""
    return _ERROR_TEXTS.get(errnum, f"unknown error ({errnum})")


class GpioServerError(Exception):
    """Base class of every error gpiosvr raises."""


class PigpioError(GpioServerError):
    """A command failed with a pigpio error code (``code`` is negative)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = int(code)
        super().__init__(message if message is not None else error_text(self.code))

    def __reduce__(self):  # keep code and message when pickled across processes
        return (type(self), (self.code, str(self)))


class ProtocolError(GpioServerError):
    """Malformed data on the wire: a frame, token or value that cannot be decoded."""


class RemoteError(GpioServerError):
    """An error of a kind this side does not know, decoded from the wire.

    ``kind`` keeps the original kind name and ``code`` the pigpio code, if any; the
    decoder never imports or instantiates a class named by the peer.
    """

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        self.kind = kind
        self.code = code
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.kind, str(self), self.code))


class ConnectionFailed(GpioServerError, ConnectionError):
    """The server could not be reached, or the connection to it was lost."""


class ResponseTimeout(GpioServerError, TimeoutError):
    """The server did not answer a request within the response timeout."""
