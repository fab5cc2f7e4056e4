"""Logging what clients tell the server without letting them write the log.

A client chooses its ``hello`` name: logged raw, a newline in it would forge a log
line and a megabyte name would be a megabyte of log per connection. :func:`printable`
cuts and escapes such text; :class:`RateLimitedLog` bounds how many lines a burst of
connections writes, and says how many it left out.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gpiosvr.server.limits import MAX_CLIENT_NAME_CHARS, MAX_LOG_LINES_PER_SECOND


def cut(text: str, limit: int) -> str:
    """``text``, at most ``limit`` characters of it; a longer one ends in ``...``."""
    return text if len(text) <= limit else text[:max(0, limit - 3)] + "..."


def printable(text: str, limit: int | None = None) -> str:
    """``text`` cut to ``limit`` characters (default: :data:`MAX_CLIENT_NAME_CHARS`),
    then with every character that is not printable (newlines, escapes, bidi
    controls, ...) and the backslash escaped as in a Python literal (``\\n``,
    ``\\x1b``, ``\\u202e``), so that it stays on one line and reads as what it is."""
    text = cut(text, MAX_CLIENT_NAME_CHARS if limit is None else limit)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else _escape(c) for c in text)


def _escape(char: str) -> str:
    return "\\\\" if char == "\\" else repr(char)[1:-1]


class RateLimitedLog:
    """At most :data:`MAX_LOG_LINES_PER_SECOND` lines per second of one kind
    (``what``, e.g. "connection"); lines past it are counted and summed up in one
    line, ``"N connection messages suppressed"``, once the second is over (from a
    loop timer, so that the summary comes even when the burst has ended)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        #: Lines left out since the last summary.
        self.suppressed = 0
        self._window = 0.0  # start of the current second
        self._lines = 0  # lines logged in it
        self._flush: asyncio.TimerHandle | None = None

    def log(self, level: int, message: str, *args: object) -> None:
        """Log ``message % args`` at ``level`` unless this second's lines are used up."""
        self._log(level, message, args)

    def info(self, message: str, *args: object) -> None:
        """:meth:`log` at INFO."""
        self._log(logging.INFO, message, args)

    def warning(self, message: str, *args: object) -> None:
        """:meth:`log` at WARNING."""
        self._log(logging.WARNING, message, args)

    def _log(self, level: int, message: str, args: tuple) -> None:
        if not self.logger.isEnabledFor(level):
            return
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._summarize()
            self._window, self._lines = now, 0
        if self._lines < MAX_LOG_LINES_PER_SECOND:
            self._lines += 1
            self.logger.log(level, message, *args, stacklevel=3)  # the caller's line
            return
        self.suppressed += 1
        if self._flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop: the next line past the second sums up
            self._flush = loop.call_later(max(0.0, self._window + 1.0 - now), self._summarize)

    def _summarize(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self.suppressed:
            count, self.suppressed = self.suppressed, 0
            self.logger.warning("%d %s messages suppressed", count, self.what)

    def close(self) -> None:
        """Sum up what was left out so far and stop the timer."""
        self._summarize()
