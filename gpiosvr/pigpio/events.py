"""Events of :class:`gpiosvr.pigpio.pi`: trigger one, call back on one, wait for one.

An event (0-31) is a signal any client of the server may raise (``event_trigger``);
every client monitoring it is called back with ``(event, tick)``, as in pigpio.
Event callbacks go over the client's callback connection, like edge callbacks.
"""

from __future__ import annotations

import threading

from gpiosvr.pigpio._core import _plain, _u2i


class EventsPart:
    """pigpio's event_trigger, event_callback and wait_for_event."""

    def event_trigger(self, event):
        """Signals the occurrence of an event (0-31) to every client monitoring it."""
        return _u2i(self._cmd("evt", event))

    def event_callback(self, event, func=None):
        """Calls a user supplied function ``func(event, tick)`` whenever the event
        (0-31) is signalled; without ``func`` the events are only counted
        (``tally``). ``cancel()`` stops it."""
        event = _plain(event)
        return _event(self, self._async(lambda c: c.event_callback(event, func)))

    def wait_for_event(self, event, wait_timeout=60.0):
        """Wait up to ``wait_timeout`` seconds for the event (0-31).

        Returns True if the event was signalled, otherwise False.
        """
        seen = threading.Event()
        event = _plain(event)
        cb = self._async(lambda c: c.event_callback(event, lambda e, t: seen.set()))
        try:
            return seen.wait(max(0.0, float(wait_timeout)))
        finally:
            self._async(lambda c: c.cancel_callback(cb))


class _event:  # noqa: N801 - pigpio's name
    """The object :meth:`pi.event_callback` returns: ``cancel``, ``tally``,
    ``reset_tally``."""

    def __init__(self, owner, cb) -> None:
        self._owner = owner
        self._cb = cb
        self.event = cb.event

    def cancel(self):
        """Cancels an event callback by removing it from the notification thread."""
        client = self._owner.sl.s
        if client is not None and not client.closed:
            self._owner._async(lambda c: c.cancel_callback(self._cb))

    def tally(self):
        """How many times the default tally callback has triggered (0 with a
        function of the user's own)."""
        return self._cb.tally()

    def reset_tally(self):
        """Resets the tally count to zero."""
        self._cb.reset_tally()
