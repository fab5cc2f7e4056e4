"""Edge notifications: from the backend's level changes to each subscribed client.

A client opens a notification handle (``no``), picks GPIOs with a bit mask
(``nb HANDLE BITS``), pauses (``np HANDLE``) and closes it (``nc HANDLE``), as with
pigpio. A connection, a uid and the server as a whole hold at most
:data:`MAX_HANDLES_PER_CONNECTION`, :data:`MAX_HANDLES_PER_UID` and :data:`MAX_HANDLES`
handles (past them ``no`` answers ``PI_NO_HANDLE``). Subscriptions are indexed by GPIO,
so an edge visits only the handles that want its GPIO.

Reports are sent on the client's connection as ``*e SEQ LOST %RECORDS`` frames:
``RECORDS`` are little-endian ``<BBI`` (gpio, level, tick) records, several per frame.
Each client's pending reports are bounded by :data:`MAX_QUEUED_REPORTS` and by its
socket's write buffer (:data:`MAX_WRITE_BUFFER`), and all clients' together by
:data:`MAX_QUEUED_NOTIFY_BYTES` (one uid's by :data:`MAX_QUEUED_NOTIFY_BYTES_PER_UID`);
reports that do not fit are dropped and counted, and the count goes out in the next
frame's ``LOST``, so loss is never silent and a slow client never makes the server grow
or wait.

Watchdogs (``wdog``) add level-2 (TIMEOUT) reports when a GPIO saw no edge for the
set time; glitch filters (``fg``) hold back a level change until it has been steady
for the set microseconds and drop it if it reverts sooner. Both are per GPIO, as in
pigpio; who set them is in :class:`gpiosvr.server.app.EdgeSettings`. Their timers
are :mod:`~gpiosvr.server.backends.precise_timer` timerfds, one per GPIO, and decide
only after the edges due by then (uvloop's ``call_later`` rounds to whole
milliseconds and may run early: a glitch, or a TIMEOUT, reported).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from binascii import hexlify
from typing import TYPE_CHECKING, Any

from gpiosvr import errors, protocol
from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.precise_timer import Timer, make_timer
from gpiosvr.server.limits import (
    MAX_HANDLES, MAX_HANDLES_PER_CONNECTION, MAX_HANDLES_PER_UID, MAX_QUEUED_NOTIFY_BYTES,
    MAX_QUEUED_NOTIFY_BYTES_PER_UID, MAX_QUEUED_REPORTS, MAX_REPORTS_PER_FRAME,
    MAX_WRITE_BUFFER)

if TYPE_CHECKING:
    from gpiosvr.server.app import ClientConnection

#: One report: gpio, level (0, 1 or 2 for a watchdog timeout), tick.
RECORD = protocol.EDGE_RECORD
TIMEOUT_LEVEL = 2
#: pigpio's events 0-31 (``PI_MAX_EVENT`` is 31).
NUM_EVENTS = 32
#: An event's report has this bit set in its gpio byte (pigpio's NTFY_FLAGS_EVENT),
#: the event number in the low 5 bits.
EVENT_FLAG = int(CONSTANTS["NTFY_FLAGS_EVENT"])
#: pigpio's answer when no notification handle is free.
PI_NO_HANDLE = errors.PI_NO_HANDLE

#: Seconds between re-reads of the write buffers counted against the budget.
_REFRESH_SECONDS = 0.02

_handles = itertools.count(1)


def edge_frame(seq: int, lost: int, records: "bytes | bytearray") -> bytes:
    """The ``*e`` frame of packed ``records``, as
    ``protocol.encode_notification("e", seq, lost, bytes(records))`` writes it,
    formatted at once: it is on the way of every edge report."""
    return b"*e %d %d %%%s\n" % (seq, lost, hexlify(records))


_BINARY_HEAD = protocol.BINARY_EDGE_HEAD.pack
_MARK = protocol.BINARY_EDGE_MARK


def binary_edge_frame(seq: int, lost: int, records: "bytes | bytearray") -> bytes:
    """The binary edge frame of packed ``records`` (for a connection that asked for
    them with ``nfmt 1``): the head, then the records as they are."""
    return _BINARY_HEAD(_MARK, seq, lost, len(records) // RECORD.size) + records


class Subscription:
    """One client's notification handle: which GPIOs, what is queued, what was lost."""

    __slots__ = ("client", "handle", "uid", "bits", "active", "queue", "queued", "lost",
                 "seq", "events")

    def __init__(self, client: "ClientConnection") -> None:
        self.client = client
        self.handle = next(_handles)
        self.uid = client.session.uid
        self.bits = 0
        self.active = False
        self.queue = bytearray()
        self.queued = 0
        self.lost = 0
        self.seq = 0
        self.events = 0  # the events (bit n: event n) reported on this handle (evm)


class EdgeHub:
    """Receives level changes and fans them out to the subscriptions that want them."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.subscriptions: dict[int, Subscription] = {}
        #: The active subscriptions wanting each user GPIO (dicts: ordered sets), so
        #: that an edge visits only those and ``nb``/``np``/``nc`` touch only the
        #: GPIOs of their own handle.
        self._by_gpio: list[dict[Subscription, None]] = [{} for _ in range(32)]
        self._wanted = 0  # bit g set: _by_gpio[g] is not empty
        self._told = 0  # the wanted bits the backend was last told
        self._handles_of_uid: dict[int | None, int] = {}
        self._dirty: set[Subscription] = set()
        self._queued_bytes = 0  # in the subscriptions' queues
        self._buffered: dict["ClientConnection", int] = {}  # write buffers, last seen
        self._buffered_bytes = 0
        self._uid_bytes: dict[int | None, int] = {}  # both, per uid
        self._refreshed_at = float("-inf")
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: gpio -> its watchdog's deadline (CLOCK_MONOTONIC ns) and the deadline's tick
        self._watchdogs: dict[int, tuple[int, int]] = {}
        #: One timer per GPIO with a watchdog, closed when it is turned off.
        self._watchdog_timers: dict[int, Timer] = {}
        self._glitch_pending: dict[int, tuple[int, int]] = {}  # gpio -> (level, tick)
        # gpio -> (the active window's end tick or None, pending (level, tick) or None)
        self._noise_state: dict[int, tuple] = {}
        #: The filters' wake-ups, one timer per filtered GPIO (made when first needed,
        #: closed with the filter): when the level pending is due to have been steady.
        self._filter_timers: dict[int, Timer] = {}
        self.last_level: dict[int, int] = {}
        self._backend = None
        self._waiters: dict[asyncio.Future, int] = {}  # scripts' WAITs: bits
        #: The subscriptions monitoring each event (``evm``), and scripts' EVTWTs.
        self._by_event: list[dict[Subscription, None]] = [{} for _ in range(NUM_EVENTS)]
        self._event_waiters: dict[asyncio.Future, int] = {}
        #: The server's own listeners of a GPIO's raw level changes (a bit-bang
        #: serial reader), each with ``edge(level, tick)`` and ``burst(packed)``.
        self._taps: dict[int, Any] = {}
        self._tapped = 0  # their GPIOs' bits

    def attach(self, loop: asyncio.AbstractEventLoop, backend) -> None:
        """Bind to the server's loop and backend (for ticks and current levels)."""
        self._loop = loop
        self._backend = backend

    def _tick(self) -> int:
        return self._backend.tick() if self._backend is not None else 0

    # -- handles ------------------------------------------------------------------

    def open(self, client: "ClientConnection") -> int:
        """A new handle of ``client``: ``PI_NO_HANDLE`` past the handle caps."""
        uid = client.session.uid
        if len(client.subscriptions) >= MAX_HANDLES_PER_CONNECTION:
            raise PigpioError(PI_NO_HANDLE, "no handle available: this connection "
                              f"holds {MAX_HANDLES_PER_CONNECTION} notification handles")
        held = self._handles_of_uid.get(uid, 0)
        if held >= MAX_HANDLES_PER_UID:
            raise PigpioError(PI_NO_HANDLE, f"no handle available: uid {uid} "
                              f"holds {MAX_HANDLES_PER_UID} notification handles")
        if len(self.subscriptions) >= MAX_HANDLES:
            raise PigpioError(PI_NO_HANDLE, "no handle available: the server "
                              f"holds {MAX_HANDLES} notification handles")
        sub = Subscription(client)
        self.subscriptions[sub.handle] = sub
        self._handles_of_uid[uid] = held + 1
        client.subscriptions.add(sub.handle)
        return sub.handle

    def _own(self, client: "ClientConnection", handle: int) -> Subscription:
        sub = self.subscriptions.get(handle)
        if sub is None or sub.client is not client:
            raise PigpioError(errors.PI_BAD_HANDLE)
        return sub

    # begin, pause and close answer 0, or a future of it while the backend is still
    # asking its hardware for the edges now wanted (the pigpiod relay).

    def begin(self, client: "ClientConnection", handle: int, bits: int) -> Any:
        sub = self._own(client, handle)
        self._unindex(sub)
        sub.bits, sub.active = bits, True
        self._index(sub)
        return self._monitor()

    def pause(self, client: "ClientConnection", handle: int) -> Any:
        sub = self._own(client, handle)
        self._unindex(sub)
        sub.active = False
        return self._monitor()

    def close(self, client: "ClientConnection", handle: int) -> Any:
        self._forget(self._own(client, handle))
        return self._monitor()

    def client_gone(self, client: "ClientConnection") -> None:
        """Forget every handle of a client that disconnected, in one pass (each handle
        costs the GPIOs it wanted, whatever the others hold), and the watchdogs only
        it kept on."""
        subscriptions = self.subscriptions
        for handle in client.subscriptions:
            sub = subscriptions.get(handle)
            if sub is not None:
                self._forget(sub, keep_handle=True)
        client.subscriptions.clear()
        self._note_buffered(client, 0)
        self._monitor()
        settings = self.settings
        for gpio, setters in enumerate(settings.watchdog_setters):
            if setters.pop(client, None) is not None and not setters:
                settings.watchdog[gpio] = 0  # the last one that set it is gone
                self._arm_watchdog(gpio)

    def _forget(self, sub: Subscription, keep_handle: bool = False) -> None:
        """Drop ``sub`` from every index (``keep_handle``: the caller clears the
        client's own set of handles)."""
        self._unindex(sub)
        self._index_events(sub, 0)
        self.subscriptions.pop(sub.handle, None)
        left = self._handles_of_uid.get(sub.uid, 1) - 1
        if left:
            self._handles_of_uid[sub.uid] = left
        else:
            self._handles_of_uid.pop(sub.uid, None)
        if not keep_handle:
            sub.client.subscriptions.discard(sub.handle)
        self._dirty.discard(sub)
        self._unqueue(sub)

    def _index(self, sub: Subscription) -> None:
        bits = sub.bits & 0xFFFFFFFF if sub.active else 0
        by_gpio = self._by_gpio
        while bits:
            low = bits & -bits
            by_gpio[low.bit_length() - 1][sub] = None
            self._wanted |= low
            bits ^= low

    def _unindex(self, sub: Subscription) -> None:
        bits = sub.bits & 0xFFFFFFFF if sub.active else 0
        by_gpio = self._by_gpio
        while bits:
            low = bits & -bits
            wanting = by_gpio[low.bit_length() - 1]
            wanting.pop(sub, None)
            if not wanting:
                self._wanted &= ~low
            bits ^= low

    def tap(self, gpio: int, listener: Any) -> Any:
        """Hand every level change of user GPIO ``gpio`` to ``listener`` as it comes
        from the backend (before watchdogs and filters): ``listener.edge(level,
        tick)``, ``listener.burst(packed)``; 0, or a future as :meth:`begin`."""
        self._taps[gpio] = listener
        self._tapped |= 1 << gpio
        return self._monitor()

    def untap(self, gpio: int) -> Any:
        """Stop handing ``gpio``'s level changes to its tap."""
        self._taps.pop(gpio, None)
        self._tapped &= ~(1 << gpio)
        return self._monitor()

    def _monitor(self) -> Any:
        """Tell the backend the GPIOs now wanted, if they changed; 0, or a future."""
        wanted = self._wanted | self._tapped
        pending = None
        if wanted != self._told and self._backend is not None:
            pending = self._backend.monitor(wanted)
        self._told = wanted
        return 0 if pending is None else pending

    # -- level changes in ---------------------------------------------------------

    def level_changed(self, gpio: int, level: int, tick: int) -> None:
        """One level change from the backend (the backend's listener); level 2 is a
        watchdog timeout from a backend with watchdogs of its own."""
        if gpio < 32:
            if self._tapped >> gpio & 1 and level != TIMEOUT_LEVEL:
                self._taps[gpio].edge(level, tick)
            if level == TIMEOUT_LEVEL:
                if self._wanted >> gpio & 1:
                    self._report(gpio, level, tick)
                return
            self._edge(gpio, level, tick)

    def burst(self, gpio: int, packed: bytes) -> None:
        """Many edges of one GPIO at once (an injected burst), packed, in order."""
        if gpio >= 32 or not packed:
            return
        if self._tapped >> gpio & 1:
            self._taps[gpio].burst(packed)
        if self._waiters:
            self._wake(gpio)
        settings = self.settings
        if settings.glitch[gpio] or settings.noise[gpio][0]:
            edge = self._edge  # filters look at every edge
            for g, level, tick in RECORD.iter_unpack(packed):
                edge(g, level, tick)
            return
        self.last_level[gpio] = packed[-5]
        if settings.watchdog[gpio]:
            self._arm_watchdog(gpio)
        if self._wanted >> gpio & 1:
            self._deliver(gpio, packed)

    def _deliver(self, gpio: int, packed: bytes) -> None:
        """Queue already packed reports of ``gpio`` for every subscription wanting it,
        a frame's worth at a time, so that only a client that is behind loses any,
        and send them at once: a burst is a batch already, and an edge's way to its
        callback should not wait for the end of the command or turn that made it."""
        size = RECORD.size
        step = MAX_REPORTS_PER_FRAME * size
        uid_bytes = self._uid_bytes
        for sub in tuple(self._by_gpio[gpio]):
            if not sub.queued and len(packed) <= step:
                # The everyday case, on the way of every edge: nothing queued for this
                # client and its write buffer empty: one frame, written at once (what
                # queueing and _flush_one would send, with less on the way).
                client = sub.client
                transport = client.transport
                if (transport is not None and not transport.get_write_buffer_size()
                        and not transport.is_closing()
                        and client.encode_reports is None):
                    sub.seq += 1
                    frame = binary_edge_frame if client.binary_reports else edge_frame
                    transport.write(frame(sub.seq, sub.lost, packed))
                    sub.lost = 0
                    after = transport.get_write_buffer_size()
                    if after or client in self._buffered:
                        self._note_buffered(client, after)
                    continue
            for start in range(0, len(packed), step):
                piece = packed[start:start + step]
                count = len(piece) // size
                room = max(0, MAX_QUEUED_REPORTS - sub.queued)
                if room and self._spent(sub.uid) and self._behind(sub.client):
                    room = 0
                if room < count:
                    sub.lost += count - room
                    piece, count = piece[:room * size], room
                if not count:
                    continue
                sub.queue += piece
                sub.queued += count
                self._queued_bytes += len(piece)
                uid_bytes[sub.uid] = uid_bytes.get(sub.uid, 0) + len(piece)
                if sub.queued >= MAX_REPORTS_PER_FRAME:
                    self._flush_one(sub)
            if sub.queued:
                self._flush_one(sub)

    def wait_for_change(self, bits: int) -> asyncio.Future:
        """A future of the bit of the first GPIO in ``bits`` that changes level.

        Whoever stops waiting calls :meth:`cancel_wait`, which drops it at once."""
        assert self._loop is not None
        future = self._loop.create_future()
        self._waiters[future] = bits
        # a future cancelled some other way is forgotten too, one iteration later
        future.add_done_callback(lambda done: self._waiters.pop(done, None))
        return future

    def cancel_wait(self, future: asyncio.Future) -> None:
        """Stop waiting: cancel ``future`` and forget it now, not at the next edge."""
        self._waiters.pop(future, None)
        self._event_waiters.pop(future, None)
        future.cancel()

    # -- events (pigpio's eventMonitor, eventTrigger, the scripts' EVTWT) -----------

    def monitor_events(self, client: "ClientConnection", handle: int, bits: int) -> int:
        """Report the events whose bits are set in ``bits`` on ``handle`` (``evm``)."""
        self._index_events(self._own(client, handle), bits & 0xFFFFFFFF)
        return 0

    def _index_events(self, sub: Subscription, bits: int) -> None:
        by_event = self._by_event
        for event in range(NUM_EVENTS):
            if sub.events >> event & 1:
                by_event[event].pop(sub, None)
            if bits >> event & 1:
                by_event[event][sub] = None
        sub.events = bits

    def trigger_event(self, event: int) -> None:
        """Event ``event`` happened: one report (gpio byte ``EVENT_FLAG | event``,
        level 0, the tick now) to every handle monitoring it, and the scripts waiting
        for it go on (their ``A``: the event's bit)."""
        if self._event_waiters:
            woken = [f for f, bits in self._event_waiters.items() if bits >> event & 1]
            for future in woken:
                del self._event_waiters[future]
                if not future.done():
                    future.set_result(1 << event)
        subs = self._by_event[event]
        if subs:
            tick = self._tick()
            self._queue_record(subs, RECORD.pack(EVENT_FLAG | event, 0,
                                                 tick if type(tick) is int else 0))

    def wait_for_event(self, bits: int) -> asyncio.Future:
        """A future of the bit of the first event in ``bits`` triggered (a script's
        EVTWT); whoever stops waiting calls :meth:`cancel_wait`."""
        assert self._loop is not None
        future = self._loop.create_future()
        self._event_waiters[future] = bits
        future.add_done_callback(lambda done: self._event_waiters.pop(done, None))
        return future

    def _wake(self, gpio: int) -> None:
        woken = [future for future, bits in self._waiters.items() if bits >> gpio & 1]
        for future in woken:
            del self._waiters[future]
            if not future.done():
                future.set_result(1 << gpio)

    def _edge(self, gpio: int, level: int, tick: int) -> None:
        if self._waiters:
            self._wake(gpio)
        settings = self.settings
        if settings.watchdog[gpio]:
            self._arm_watchdog(gpio)
        steady = settings.glitch[gpio]
        if steady:
            self._glitch(gpio, level, tick, steady)
            return
        steady, active = settings.noise[gpio]
        if steady:
            self._noise(gpio, level, tick, steady, active)
            return
        self.last_level[gpio] = level
        if self._wanted >> gpio & 1:
            self._report(gpio, level, tick)

    # -- glitch filter --------------------------------------------------------------
    #
    # Both filters decide in ticks: a pending level is confirmed when an edge comes
    # ``steady`` µs or more after it, or when its timer finds that none came. The
    # timer is a timerfd armed ``steady`` µs after the edge was handed on (edges
    # are handed on at or after their tick): uvloop's call_later rounds to whole
    # milliseconds and may run early, and a level confirmed early is a glitch
    # reported. When it expires, the edges the backend still holds come first.

    def _glitch(self, gpio: int, level: int, tick: int, steady: int) -> None:
        pending = self._glitch_pending.pop(gpio, None)
        if pending is not None and (tick - pending[1]) & 0xFFFFFFFF >= steady:
            self._confirm(gpio, pending[0], pending[1], steady)
        # else the pending change did not last: a glitch, never reported
        if level == self._reported_level(gpio):
            if pending is not None:
                self._filter_timers[gpio].disarm()
            return
        self._glitch_pending[gpio] = (level, tick)
        self._arm_filter(gpio, steady)

    def _reported_level(self, gpio: int) -> int:
        level = self.last_level.get(gpio)
        if level is None and self._backend is not None:
            level = self.last_level[gpio] = self._backend.read(gpio)
        return level if level is not None else -1

    def glitch_changed(self, gpio: int) -> None:
        """The glitch filter of ``gpio`` was set: start from the current level."""
        self._glitch_pending.pop(gpio, None)
        self._filter_changed(gpio)

    def _confirm(self, gpio: int, level: int, tick: int, steady: int) -> None:
        # pigpio stamps a filtered edge ``steady`` µs after it was first seen
        self.last_level[gpio] = level
        if self._wanted >> gpio & 1:
            self._report(gpio, level, (tick + steady) & 0xFFFFFFFF)

    def _arm_filter(self, gpio: int, steady: int) -> None:
        """Wake :meth:`_filter_due` ``steady`` µs from now."""
        timer = self._filter_timers.get(gpio)
        if timer is None:
            assert self._loop is not None
            timer = self._filter_timers[gpio] = make_timer(
                self._loop, functools.partial(self._filter_due, gpio))
        timer.arm(time.monotonic_ns() + steady * 1000)

    def _filter_due(self, gpio: int) -> None:
        """The pending level of ``gpio``'s filter has been steady for its time, unless
        an edge the backend still holds says otherwise: those are handed on first
        (and decide, in ticks); while some wait, the filter waits again."""
        settings = self.settings
        glitch, (noise, active) = settings.glitch[gpio], settings.noise[gpio]
        before = self._glitch_pending.get(gpio) if glitch else self._noise_state.get(gpio)
        backend = self._backend
        if backend is not None:
            backend.edges_due(gpio)
            after = self._glitch_pending.get(gpio) if glitch else self._noise_state.get(gpio)
            if after is not before:  # an edge came: it re-armed the timer, or no need
                return
            if backend.holds_edges(gpio):
                self._arm_filter(gpio, glitch or noise)
                return
        if glitch:
            pending = self._glitch_pending.pop(gpio, None)
            if pending is not None:
                self._confirm(gpio, pending[0], pending[1], glitch)
        elif noise:
            pending = self._noise_state.get(gpio, (None, None))[1]
            if pending is not None:
                self._noise_open(gpio, pending, noise, active)

    def _filter_changed(self, gpio: int) -> None:
        """A filter of ``gpio`` was set: nothing pending, its timer closed when no
        filter is left; the level reported is the current one."""
        timer = self._filter_timers.get(gpio)
        if timer is not None:
            if self.settings.glitch[gpio] or self.settings.noise[gpio][0]:
                timer.disarm()
            else:
                self._filter_timers.pop(gpio).close()
        self.last_level.pop(gpio, None)
        self._reported_level(gpio)

    # -- noise filter --------------------------------------------------------------------

    def _noise(self, gpio: int, level: int, tick: int, steady: int, active: int) -> None:
        window_end, pending = self._noise_state.get(gpio, (None, None))
        if window_end is not None and (window_end - tick) & 0xFFFFFFFF <= active + steady:
            self._confirm(gpio, level, tick, 0)  # inside the active window: report
            return
        if pending is not None and (tick - pending[1]) & 0xFFFFFFFF >= steady:
            self._noise_open(gpio, pending, steady, active)  # it had been steady
            self._noise(gpio, level, tick, steady, active)
            return
        self._noise_state[gpio] = (None, (level, tick))
        self._arm_filter(gpio, steady)

    def _noise_open(self, gpio: int, pending: tuple[int, int], steady: int,
                    active: int) -> None:
        """A level was steady for ``steady`` µs: report it, then edges for ``active`` µs."""
        level, tick = pending
        opened = (tick + steady) & 0xFFFFFFFF
        self._noise_state[gpio] = ((opened + active) & 0xFFFFFFFF, None)
        if level != self.last_level.get(gpio):
            self._confirm(gpio, level, tick, steady)

    def noise_changed(self, gpio: int) -> None:
        """The noise filter of ``gpio`` was set: start waiting for a steady level."""
        self._noise_state.pop(gpio, None)
        self._filter_changed(gpio)

    def close_timers(self) -> None:
        """Close the filters' and watchdogs' timers (the server is closing);
        idempotent."""
        timers = [*self._filter_timers.values(), *self._watchdog_timers.values()]
        self._filter_timers, self._watchdog_timers = {}, {}
        self._watchdogs.clear()
        for timer in timers:
            timer.close()

    # -- watchdogs ----------------------------------------------------------------------

    def watchdog_changed(self, gpio: int) -> None:
        """The watchdog time of ``gpio`` was set (0: off)."""
        self._arm_watchdog(gpio)

    def _arm_watchdog(self, gpio: int) -> None:
        """Start the watchdog of ``gpio`` afresh from now (set, or an edge came)."""
        timeout_ms = self.settings.watchdog[gpio]
        if not timeout_ms or self._loop is None:
            self._watchdogs.pop(gpio, None)
            timer = self._watchdog_timers.pop(gpio, None)
            if timer is not None:
                timer.close()
            return
        tick = self._tick()
        if type(tick) is not int:  # a backend whose ticks come later keeps its own
            tick = 0
        when = time.monotonic_ns() + timeout_ms * 1_000_000
        self._watchdogs[gpio] = (when, tick + timeout_ms * 1000)
        timer = self._watchdog_timers.get(gpio)
        if timer is None:
            timer = self._watchdog_timers[gpio] = make_timer(
                self._loop, functools.partial(self._watchdog_fired, gpio))
        if timer.when_ns is None or timer.when_ns > when:
            # else it expires sooner and finds the deadline moved: no syscall an edge
            timer.arm(when)

    def _watchdog_fired(self, gpio: int) -> None:
        # The report carries the deadline's tick and the next deadline follows from
        # this one, not from when the loop got round to it: no drift, exact periods.
        timeout_ms = self.settings.watchdog[gpio]
        timer = self._watchdog_timers.get(gpio)
        if not timeout_ms or timer is None or gpio not in self._watchdogs:
            return
        backend = self._backend
        if backend is not None:
            backend.edges_due(gpio)  # an edge due by now restarts the watchdog first
        when, tick = self._watchdogs[gpio]
        now = time.monotonic_ns()
        if when > now:  # edges came since it was armed
            timer.arm(when)
            return
        if backend is not None and backend.holds_edges(gpio):
            timer.arm(now + timeout_ms * 1_000_000)  # they come first, and restart it
            return
        if self._wanted >> gpio & 1:
            self._report(gpio, TIMEOUT_LEVEL, tick & 0xFFFFFFFF)
        # pigpio repeats the timeout while no edge comes; a loop late by several
        # periods catches up one report per turn
        when += timeout_ms * 1_000_000
        self._watchdogs[gpio] = (when, (tick + timeout_ms * 1000) & 0xFFFFFFFF)
        timer.arm(when)

    # -- reports out ----------------------------------------------------------------------
    #
    # The bytes of edge reports waiting in subscriptions' queues and in clients' write
    # buffers are counted, in all and per uid. While either count is over its budget,
    # a client that is behind (more in its write buffer than the transport's
    # high-water mark, where the server pauses it) gets no more: its reports are
    # dropped and counted, and the count goes out in the next frame's LOST. A client
    # that keeps up is never held back by others that do not.

    def _report(self, gpio: int, level: int, tick: int) -> None:
        self._queue_record(self._by_gpio[gpio], RECORD.pack(gpio, level, tick))

    def _queue_record(self, subs: "dict[Subscription, None]", record: bytes) -> None:
        size = len(record)
        uid_bytes = self._uid_bytes
        for sub in subs:
            if sub.queued >= MAX_QUEUED_REPORTS or (
                    self._spent(sub.uid) and self._behind(sub.client)):
                sub.lost += 1
                continue
            sub.queue += record
            sub.queued += 1
            self._queued_bytes += size
            uid_bytes[sub.uid] = uid_bytes.get(sub.uid, 0) + size
            if sub.queued >= MAX_REPORTS_PER_FRAME:
                self._flush_one(sub)  # a full frame goes out at once
            else:
                self._dirty.add(sub)
        self._schedule_flush()

    def _unqueue(self, sub: Subscription) -> None:
        """Empty ``sub``'s queue (sent or dropped) and uncount its bytes."""
        size = len(sub.queue)
        if size:
            self._queued_bytes -= size
            self._add_uid_bytes(sub.uid, -size)
        sub.queue = bytearray()
        sub.queued = 0

    def _add_uid_bytes(self, uid: int | None, delta: int) -> None:
        left = self._uid_bytes.get(uid, 0) + delta
        if left:
            self._uid_bytes[uid] = left
        else:
            self._uid_bytes.pop(uid, None)

    def _note_buffered(self, client: "ClientConnection", size: int) -> None:
        """Record how many bytes ``client``'s write buffer holds now."""
        old = self._buffered.get(client, 0)
        if size == old:
            return
        if size:
            self._buffered[client] = size
        else:
            del self._buffered[client]
        self._buffered_bytes += size - old
        self._add_uid_bytes(client.session.uid, size - old)

    def queued_bytes(self) -> int:
        """Bytes of reports queued and in write buffers, as last seen (all clients)."""
        return self._queued_bytes + self._buffered_bytes

    def _spent(self, uid: int | None) -> bool:
        """Whether the budget, in all or ``uid``'s share, is used up."""
        if (self._queued_bytes + self._buffered_bytes <= MAX_QUEUED_NOTIFY_BYTES
                and self._uid_bytes.get(uid, 0) <= MAX_QUEUED_NOTIFY_BYTES_PER_UID):
            return False
        if not self._refresh():
            return True
        return (self._queued_bytes + self._buffered_bytes > MAX_QUEUED_NOTIFY_BYTES
                or self._uid_bytes.get(uid, 0) > MAX_QUEUED_NOTIFY_BYTES_PER_UID)

    def _refresh(self) -> bool:
        """Read again the write buffers recorded as not empty (they drain unseen),
        at most every :data:`_REFRESH_SECONDS`; whether it did."""
        now = self._loop.time() if self._loop is not None else 0.0
        if now - self._refreshed_at < _REFRESH_SECONDS:
            return False
        self._refreshed_at = now
        for client in list(self._buffered):
            transport = client.transport
            closed = transport is None or transport.is_closing()
            self._note_buffered(client, 0 if closed else transport.get_write_buffer_size())
        return True

    @staticmethod
    def _behind(client: "ClientConnection") -> bool:
        transport = client.transport
        if transport is None or transport.is_closing():
            return True
        return transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]

    def _schedule_flush(self) -> None:
        """Flush what is dirty at the end of this turn of the loop (once)."""
        if self._dirty and not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def flush_first(self) -> None:
        """Send what is queued now, ahead of the answer about to be written: the
        edges a command made (``siminject``, ``w`` on a wired GPIO) reach their
        callbacks without waiting for the loop's next turn, and before that answer."""
        if self._dirty:
            self.flush()

    def flush(self) -> None:
        """Send what is queued, as few frames as the frame size allows."""
        self._flush_scheduled = False
        for sub in list(self._dirty):
            self._flush_one(sub)

    def client_drained(self, client: "ClientConnection") -> None:
        """A slow client reads again: tell it what it lost, even with nothing new."""
        if client.transport is not None:
            self._note_buffered(client, client.transport.get_write_buffer_size())
        for handle in client.subscriptions:
            sub = self.subscriptions.get(handle)
            if sub is not None and (sub.lost or sub.queued):
                self._dirty.add(sub)
        self._schedule_flush()

    def _flush_one(self, sub: Subscription) -> None:
        self._dirty.discard(sub)
        client = sub.client
        transport = client.transport
        if transport is None or transport.is_closing():
            self._unqueue(sub)  # the client is going: nobody to tell
            return
        buffered = transport.get_write_buffer_size()
        self._note_buffered(client, buffered)
        if buffered > MAX_WRITE_BUFFER or (
                buffered > transport.get_write_buffer_limits()[1] and self._spent(sub.uid)):
            # The client is not reading: drop what is queued and count it; the count
            # goes out with the next frame once it reads again.
            sub.lost += sub.queued
            self._unqueue(sub)
            return
        encode = client.encode_reports
        if encode is not None:  # a front end with a report format of its own (pigpiod's)
            data = encode(sub, bytes(sub.queue))
            sub.lost = 0
            self._unqueue(sub)
            transport.write(data)
            self._note_buffered(client, transport.get_write_buffer_size())
            return
        data, size = sub.queue, RECORD.size
        frame = binary_edge_frame if client.binary_reports else edge_frame
        frames = []
        for start in range(0, max(len(data), 1), MAX_REPORTS_PER_FRAME * size):
            sub.seq += 1
            frames.append(frame(sub.seq, sub.lost,
                                data[start:start + MAX_REPORTS_PER_FRAME * size]))
            sub.lost = 0
        self._unqueue(sub)
        transport.write(b"".join(frames))
        self._note_buffered(client, transport.get_write_buffer_size())
