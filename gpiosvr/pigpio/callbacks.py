"""Callbacks, edge waits, watchdogs and filters of :class:`gpiosvr.pigpio.pi`:
everything that goes over the client's callback connection."""

from __future__ import annotations

import threading

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.pigpio._core import _exceptions, _int, _plain, _u2i, error

RISING_EDGE = CONSTANTS["RISING_EDGE"]


class CallbacksPart:
    """pigpio's callback, wait_for_edge, watchdog and filter methods."""

    def callback(self, user_gpio, edge=RISING_EDGE, func=None):
        """Calls a user supplied function (a callback) whenever the specified GPIO
        edge is detected; without ``func`` the edges are only counted (``tally``).

        ``func(gpio, level, tick)`` runs on the client's callback thread, in edge
        order; it may call this ``pi`` again.
        """
        user_gpio, edge = _plain(user_gpio), _plain(edge)
        return _callback(self, self._async(lambda c: c.callback(user_gpio, edge, func)))

    def wait_for_edge(self, user_gpio, edge=RISING_EDGE, wait_timeout=60.0):
        """Wait up to ``wait_timeout`` seconds for ``edge`` on ``user_gpio``.

        Returns True if the edge was detected, otherwise False.
        """
        seen = threading.Event()
        user_gpio, edge = _plain(user_gpio), _plain(edge)
        cb = self._async(lambda c: c.callback(user_gpio, edge, lambda g, lvl, t: seen.set()))
        try:
            return seen.wait(max(0.0, float(wait_timeout)))
        finally:
            self._async(lambda c: c.cancel_callback(cb))

    @property
    def reconnects(self):
        """How many times this pi reconnected to a GPIO server that went away (a
        gpiosvr addition). Callbacks, watchdogs and filters come back by themselves,
        but the edges in between were not seen and levels may have changed: each
        time is also logged at WARNING ("reconnected to the GPIO server ...")."""
        client = self.sl.s
        return 0 if client is None else client.reconnects

    # -- filters and watchdogs ---------------------------------------------------

    # These go over the callback connection, which lives as long as this pi does (a
    # server drops a client's watchdogs when it disconnects) and restores them after
    # a reconnection.

    def set_watchdog(self, user_gpio, wdog_timeout):
        """Sets a watchdog timeout (0-60000 ms, 0 = off) for a GPIO."""
        user_gpio, wdog_timeout = _plain(user_gpio), _int(wdog_timeout)  # pigpio: int()
        return _u2i(self._setting(lambda c: c.set_watchdog(user_gpio, wdog_timeout)))

    def set_glitch_filter(self, user_gpio, steady):
        """Sets a glitch filter (0-300000 µs, 0 = off) on a GPIO."""
        user_gpio, steady = _plain(user_gpio), _plain(steady)
        return _u2i(self._setting(lambda c: c.set_glitch_filter(user_gpio, steady)))

    def set_noise_filter(self, user_gpio, steady, active):
        """Sets a noise filter (steady 0-300000 µs, active 0-1000000 µs) on a GPIO."""
        user_gpio, steady, active = _plain(user_gpio), _plain(steady), _plain(active)
        return _u2i(self._setting(lambda c: c.set_noise_filter(user_gpio, steady, active)))

    def _setting(self, func):
        try:
            return self._async(func)
        except error as exc:
            if exc.code is not None and not _exceptions():
                return exc.code
            raise


class _callback:  # noqa: N801 - pigpio's name
    """The object :meth:`pi.callback` returns: ``cancel``, ``tally``, ``reset_tally``."""

    def __init__(self, owner: "CallbacksPart", cb) -> None:
        self._owner = owner
        self._cb = cb
        self.gpio = cb.gpio
        self.edge = cb.edge
        self.func = cb.func

    def cancel(self):
        """Cancels a callback by removing it from the notification thread."""
        client = self._owner.sl.s
        if client is not None and not client.closed:
            self._owner._async(lambda c: c.cancel_callback(self._cb))

    def tally(self):
        """Provides a count of how many times the default tally callback has
        triggered."""
        return self._cb.tally()

    def reset_tally(self):
        """Resets the tally count to zero."""
        self._cb.reset_tally()
