"""A wake-up at an exact CLOCK_MONOTONIC time, its callback run on an asyncio loop.

The simulated chip hands wave pulses on when they fall due, its sensors play their
edges at their ticks, filters and watchdogs wait a set time, scripts ``MICS``.
``loop.call_later`` is too coarse for that on uvloop, the server's loop: it rounds the delay to whole
milliseconds against a millisecond loop clock, so a callback runs up to 1 ms late,
or early. :class:`TimerfdTimer` arms a Linux timerfd at an absolute time of
CLOCK_MONOTONIC (``time.monotonic_ns``'s clock) and watches it with
``loop.add_reader``, on uvloop and the stdlib loop alike: the loop wakes when the
kernel's timer expires, microseconds after the time asked. Python 3.13 has
``os.timerfd_create``; before it libc's functions are called through ctypes.
Where no timerfd can be made (not Linux, no libc, no fd left) :func:`make_timer`
returns a :class:`LoopTimer` on ``call_later`` instead.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import time
from typing import Callable, Protocol

log = logging.getLogger(__name__)

#: The fallback's shortest wait, in seconds: uvloop's ``call_later`` rounds its
#: delay to whole milliseconds (0.5 ms to 0: the next turn) and may run its callback
#: up to a millisecond early; a shorter wait asked again after an early wake-up
#: (nothing due yet) would keep the loop spinning until the time.
LOOP_TIMER_MIN_WAIT = 0.001

_TFD_TIMER_ABSTIME = 1
_NS = 1_000_000_000


class Timer(Protocol):
    """What both timers offer: one wake-up at a time, re-armed at will."""

    #: The CLOCK_MONOTONIC ns the timer is armed for (None: not armed).
    when_ns: int | None
    #: The loop the callback runs on.
    loop: asyncio.AbstractEventLoop

    def arm(self, when_ns: int) -> None:
        """Call the callback once, on the loop, at ``when_ns`` (CLOCK_MONOTONIC ns;
        a time passed: at once); replaces the time armed before."""

    def disarm(self) -> None:
        """Do not call the callback (until armed again)."""

    def close(self) -> None:
        """Disarm for good and free what the timer holds; idempotent."""


class _Itimerspec(ctypes.Structure):
    # struct itimerspec: it_interval then it_value, each a struct timespec
    _fields_ = [("interval_sec", ctypes.c_long), ("interval_nsec", ctypes.c_long),
                ("value_sec", ctypes.c_long), ("value_nsec", ctypes.c_long)]


class _LibcTimerfd:
    """libc's ``timerfd_create``/``timerfd_settime``/``timerfd_gettime`` through ctypes
    (Python before 3.13 has no ``os.timerfd_*``)."""

    def __init__(self) -> None:
        # the process's own symbols, libc's among them: find_library would run
        # ldconfig in a subprocess, a stall of the loop where the first timer is made
        libc = ctypes.CDLL(None, use_errno=True)
        self._create = libc.timerfd_create  # AttributeError: no timerfd (not Linux)
        self._settime = libc.timerfd_settime
        self._gettime = libc.timerfd_gettime
        self._create.argtypes = [ctypes.c_int, ctypes.c_int]
        self._settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec),
                                  ctypes.POINTER(_Itimerspec)]
        self._gettime.argtypes = [ctypes.c_int, ctypes.POINTER(_Itimerspec)]

    @staticmethod
    def _check(result: int, what: str) -> int:
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what} failed: {os.strerror(errno)}")
        return result

    def create(self) -> int:
        # TFD_NONBLOCK and TFD_CLOEXEC are O_NONBLOCK and O_CLOEXEC (linux/timerfd.h)
        return self._check(self._create(time.CLOCK_MONOTONIC,
                                        os.O_NONBLOCK | os.O_CLOEXEC), "timerfd_create")

    def set_absolute(self, fd: int, when_ns: int) -> None:
        spec = _Itimerspec(0, 0, *divmod(when_ns, _NS))
        self._check(self._settime(fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None),
                    "timerfd_settime")

    def remaining_ns(self, fd: int) -> int:
        spec = _Itimerspec()
        self._check(self._gettime(fd, ctypes.byref(spec)), "timerfd_gettime")
        return spec.value_sec * _NS + spec.value_nsec


class _OsTimerfd:
    """Python 3.13's ``os.timerfd_*``."""

    @staticmethod
    def create() -> int:
        return os.timerfd_create(time.CLOCK_MONOTONIC,
                                 flags=os.TFD_NONBLOCK | os.TFD_CLOEXEC)

    @staticmethod
    def set_absolute(fd: int, when_ns: int) -> None:
        os.timerfd_settime_ns(fd, flags=os.TFD_TIMER_ABSTIME, initial=when_ns)

    @staticmethod
    def remaining_ns(fd: int) -> int:
        return os.timerfd_gettime_ns(fd)[0]


_api: _LibcTimerfd | _OsTimerfd | None = None


def _timerfd_api() -> _LibcTimerfd | _OsTimerfd:
    """The timerfd functions of this Python or of libc (loaded once); OSError or
    AttributeError where there are none."""
    global _api
    if _api is None:
        _api = _OsTimerfd() if hasattr(os, "timerfd_create") else _LibcTimerfd()
    return _api


class TimerfdTimer:
    """A timerfd (CLOCK_MONOTONIC, absolute times) watched by ``loop.add_reader``:
    ``callback()`` runs on the loop when it expires. Raises OSError when the timerfd
    cannot be made, AttributeError where the system has none."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._api = _timerfd_api()
        self._fd = self._api.create()
        try:
            loop.add_reader(self._fd, self._expired)
        except BaseException:
            os.close(self._fd)
            raise
        self.loop = loop
        self._callback = callback
        self.when_ns: int | None = None

    @property
    def fd(self) -> int:
        """The timerfd (-1 once closed)."""
        return self._fd

    def arm(self, when_ns: int) -> None:
        if when_ns == self.when_ns or self._fd < 0:
            return
        # an it_value of 0 would disarm: a time passed stays a time, expiring at once
        self._api.set_absolute(self._fd, max(when_ns, 1))
        self.when_ns = when_ns

    def disarm(self) -> None:
        if self.when_ns is not None and self._fd >= 0:
            self._api.set_absolute(self._fd, 0)
        self.when_ns = None

    def remaining_ns(self) -> int:
        """The kernel's ns to go before the timer expires (0: not armed)."""
        return self._api.remaining_ns(self._fd)

    def _expired(self) -> None:
        # Whether it is due is told by the clock, not by reading the fd first: that
        # read is a system call on the way of every wave edge and filter report.
        # Re-armed or disarmed since it expired (the fd's readiness seen before
        # that): not now; timerfd_settime reset its count, so nothing is to read.
        when_ns = self.when_ns
        if when_ns is None or time.monotonic_ns() < when_ns:
            self._clear()
            return
        self.when_ns = None
        try:
            self._callback()
        finally:
            if self.when_ns is None:  # re-arming reset the count: only then no read
                self._clear()

    def _clear(self) -> None:
        """Read the timerfd's expiry count, if any, so the loop stops seeing it ready."""
        if self._fd >= 0:
            try:
                os.read(self._fd, 8)
            except BlockingIOError:
                pass

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        self.when_ns = None
        if fd < 0:
            return
        try:
            self.loop.remove_reader(fd)
        finally:
            os.close(fd)


class LoopTimer:
    """The fallback where there is no timerfd: ``loop.call_later``, waiting at least
    :data:`LOOP_TIMER_MIN_WAIT` (so up to a millisecond or two late on uvloop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self.loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.when_ns: int | None = None

    def arm(self, when_ns: int) -> None:
        if when_ns == self.when_ns or self._closed:
            return
        self.disarm()
        wait = (when_ns - time.monotonic_ns()) / _NS
        self._handle = self.loop.call_later(max(wait, LOOP_TIMER_MIN_WAIT), self._expired)
        self.when_ns = when_ns

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.when_ns = None

    def _expired(self) -> None:
        self._handle = None
        self.when_ns = None
        self._callback()

    def close(self) -> None:
        self._closed = True
        self.disarm()


def make_timer(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Timer:
    """A :class:`TimerfdTimer` calling ``callback`` on ``loop``, or where none can be
    made a :class:`LoopTimer`."""
    try:
        return TimerfdTimer(loop, callback)
    except (OSError, AttributeError, NotImplementedError) as exc:
        # debug only: the fallback works, less precisely, and there is nothing to do
        log.debug("no timerfd (%s): a timer on loop.call_later instead", exc)
        return LoopTimer(loop, callback)
