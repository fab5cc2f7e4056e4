"""What the bus parts of :class:`gpiosvr.pigpio.pi` share: data arguments as pigpio
takes them, and pigpio's ``(count, data)`` answers."""

from __future__ import annotations

from typing import Any

from gpiosvr.errors import GpioServerError, PigpioError
from gpiosvr.pigpio._core import error


def as_bytes(data: Any) -> bytes:
    """``data`` as pigpio sends it: bytes and bytearrays as they are, a str encoded
    latin-1, a list (or other iterable) of ints 0-255."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("latin-1")
    return bytes(bytearray(data))


def count_and_data(pi: Any, name: str, *args: Any) -> tuple[int, Any]:
    """Run ``name`` and answer as pigpio's reading calls do: ``(count, bytearray)``,
    or ``(negative error code, "")`` when it failed (pigpio raises nothing there,
    whatever ``pigpio.exceptions`` says); ``(0, "")`` when nothing was read."""
    client = pi._client
    try:
        data = client.command(name, *args)
    except PigpioError as exc:
        return exc.code, ""
    except GpioServerError as exc:
        raise error(str(exc), getattr(exc, "code", None)) from exc
    if not data:
        return 0, ""
    return len(data), bytearray(data)
