"""Reading command payloads: what a publisher may send, and a clear error otherwise."""

from __future__ import annotations

_TRUE = {"on", "1", "true"}
_FALSE = {"off", "0", "false"}
#: How much of a bad payload an error message quotes.
QUOTE_CHARS = 64


class PayloadError(ValueError):
    """A command payload the bridge cannot use; the message says why."""


def text(raw: bytes) -> str:
    """``raw`` as text, or a :class:`PayloadError` for what is not UTF-8."""
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(f"payload is not UTF-8 text: {quote(raw)}") from None


def quote(raw: bytes | str) -> str:
    """A short printable rendering of a payload for messages and logs."""
    shown = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
    if len(shown) > QUOTE_CHARS:
        shown = shown[:QUOTE_CHARS] + "..."
    return repr(shown)


def switch(raw: bytes) -> bool:
    """ON/OFF (also on/off, 1/0, true/false)."""
    value = text(raw).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PayloadError(f"expected ON or OFF, got {quote(raw)}")


def number(raw: bytes, low: int, high: int, what: str, also: tuple[int, ...] = ()) -> int:
    """An integer ``low``-``high`` (or one of ``also``); Home Assistant may send
    ``"1500.0"``, so a number with a zero fraction is taken too."""
    value = text(raw)
    try:
        as_float = float(value)
    except ValueError:
        raise PayloadError(f"expected a {what} {low}-{high}, got {quote(raw)}") from None
    if as_float != as_float or as_float in (float("inf"), float("-inf")) \
            or as_float != int(as_float):
        raise PayloadError(f"expected a whole {what} {low}-{high}, got {quote(raw)}")
    result = int(as_float)
    if not (low <= result <= high or result in also):
        extra = "".join(f" or {a}" for a in also)
        raise PayloadError(f"{what} {result} is outside {low}-{high}{extra}")
    return result
