"""Capture the edges of some GPIOs, then look at them: arrays, a summary, a timing
diagram, a VCD file for GTKWave, PulseView or sigrok-cli (a gpiosvr addition, not
part of pigpio).

A capture is a client of the server like any other: it takes its exact edge ticks
from the same notification stream as edge callbacks do, through a
:class:`~gpiosvr.blocking.BlockingClient` of its own (standalone) or a pigpio
``pi``'s (:meth:`gpiosvr.pigpio.pi.capture`)::

    from gpiosvr.capture import Capture
    cap = Capture([17, 18]).run(seconds=2)   # $GPIO_SOCKET_PATH or the default
    print(cap.summary())                     # edges, frequency, duty per GPIO
    cap.plot()                               # timing diagram (matplotlib)
    cap.to_vcd("out.vcd")

Times are microseconds from the capture's start, monotonic across the 2**32 wrap of
pigpio's tick. Memory is bounded by ``max_edges``: past it further edges are counted
in :attr:`Capture.dropped`, unless ``path`` is given, where the capture streams to
a VCD file as it goes and keeps only its summary. What the server or the client had
to drop is in :attr:`Capture.lost`. ``docs/capture.md`` has the whole story.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from gpiosvr.blocking import BlockingClient
from gpiosvr.client_pigs import EITHER_EDGE

try:
    import numpy as np
except ImportError:  # plain lists then
    np = None

log = logging.getLogger(__name__)

#: Edges kept in memory by default (8 bytes each while capturing).
MAX_EDGES = 2_000_000
#: Edges decoded and written at a time when streaming to a file.
CHUNK_EDGES = 65_536
#: Streaming to a file: edges are written once they are this many µs older than the
#: newest, so that edges of different GPIOs reported out of order come out in order.
REORDER_US = 1_000_000
#: Seconds between two reads of the server's tick while capturing: a reference that
#: keeps the 2**32 µs wrap unambiguous (half of it is 35 minutes) when no edge comes.
HEARTBEAT_SECONDS = 60.0
#: Seconds a stopping capture waits for reports of edges before the stop that are
#: still on their way (the simulated chip hands waveform edges on every 5 ms).
SETTLE_SECONDS = 0.05

_MASK = 0xFFFFFFFF
_MARK = 3  # a packed record's level for a tick reference, not an edge
_TIMEOUT = 2  # a watchdog report: not an edge either
_VCD_SCOPE = "gpiosvr"
_COMMENT_RE = re.compile(r"gpiosvr capture start_tick=(\d+) start_time=(\d+)")


class CaptureError(RuntimeError):
    """A capture used the wrong way (not started, stopped twice, bad GPIO list...)."""


@dataclass(frozen=True)
class GpioSummary:
    """What a capture saw on one GPIO.

    ``frequency`` (Hz), ``period_us`` and ``duty`` (0-1) are measured from the first
    to the last rising edge, over whole periods; None with fewer than two rising
    edges. ``high_us`` / ``low_us`` are the mean high and low pulse widths."""

    gpio: int
    edges: int
    rising: int
    falling: int
    frequency: float | None
    period_us: float | None
    duty: float | None
    high_us: float | None
    low_us: float | None


class Summary(dict):
    """GPIO -> :class:`GpioSummary`; ``str()`` is a table."""

    HEADER = ("GPIO", "edges", "rising", "falling", "freq_Hz", "period_us", "duty_%",
              "high_us", "low_us")

    def rows(self) -> list[tuple[str, ...]]:
        def num(value: float | None, digits: int) -> str:
            return "-" if value is None else f"{value:.{digits}f}"

        return [(str(s.gpio), str(s.edges), str(s.rising), str(s.falling),
                 num(s.frequency, 3), num(s.period_us, 2),
                 num(None if s.duty is None else s.duty * 100, 3),
                 num(s.high_us, 2), num(s.low_us, 2)) for s in self.values()]

    def __str__(self) -> str:
        rows = [self.HEADER, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


class _Stats:
    """Running counts and pulse sums of one GPIO, fed its edges in time order."""

    __slots__ = ("gpio", "level", "edges", "rising", "falling", "first_rise", "last_rise",
                 "last_edge", "high_sum", "high_n", "low_sum", "low_n", "rise_high")

    def __init__(self, gpio: int, level: int) -> None:
        self.gpio, self.level = gpio, level
        self.edges = self.rising = self.falling = 0
        self.first_rise: int | None = None
        self.last_rise: int | None = None
        self.last_edge: int | None = None
        self.high_sum = self.high_n = self.low_sum = self.low_n = 0
        self.rise_high = 0  # high time within whole periods (from the first rise)

    def add(self, level: int, t: int) -> None:
        if level == self.level:
            return  # no change (a report of the level it had)
        previous = self.last_edge
        if level:
            self.rising += 1
            if previous is not None:
                self.low_sum += t - previous
                self.low_n += 1
            if self.first_rise is None:
                self.first_rise = t
            self.last_rise = t
        else:
            self.falling += 1
            if previous is not None:
                self.high_sum += t - previous
                self.high_n += 1
                if self.first_rise is not None:
                    self.rise_high += t - previous
        self.edges += 1
        self.level, self.last_edge = level, t

    def summary(self) -> GpioSummary:
        frequency = period = duty = None
        if self.rising >= 2:
            span = self.last_rise - self.first_rise
            high = self.rise_high
            if self.level == 0 and self.last_edge is not None and self.last_edge > self.last_rise:
                high -= self.last_edge - self.last_rise  # the pulse after the last rise
            period = span / (self.rising - 1)
            frequency = 1e6 / period if period else None
            duty = high / span if span else None
        return GpioSummary(
            self.gpio, self.edges, self.rising, self.falling, frequency, period, duty,
            self.high_sum / self.high_n if self.high_n else None,
            self.low_sum / self.low_n if self.low_n else None)


def _decode(packed: "array[int]", ref_tick: int, ref_time: int):
    """Unpack records ``tick << 8 | gpio << 2 | level`` (in arrival order) into
    columns (gpio, level, tick, time): each tick's time is the previous one's plus
    their difference taken as a signed 32-bit number, so the wrap at 2**32 and edges
    of different GPIOs reported out of order both come out right. Tick references
    (``_MARK``) and watchdog reports are left out. Returns the columns and the last
    (tick, time) for the next chunk."""
    if np is not None:
        if not packed:
            empty = (np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.uint32),
                     np.zeros(0, np.int64))
            return empty, ref_tick, ref_time
        v = np.frombuffer(packed, dtype=np.uint64)
        ticks = (v >> np.uint64(8)).astype(np.uint32)
        deltas = np.diff(ticks, prepend=np.uint32(ref_tick)).view(np.int32)
        times = np.cumsum(deltas, dtype=np.int64) + ref_time
        levels = (v & np.uint64(3)).astype(np.uint8)
        gpios = ((v >> np.uint64(2)) & np.uint64(63)).astype(np.uint8)
        last = (int(ticks[-1]), int(times[-1]))
        keep = levels < _TIMEOUT
        return (gpios[keep], levels[keep], ticks[keep], times[keep]), *last
    gpios, levels, ticks, times = [], [], [], []
    tick0, t = ref_tick, ref_time
    for value in packed:
        tick = value >> 8
        t += _signed(tick - tick0)
        tick0 = tick
        level = value & 3
        if level < _TIMEOUT:
            gpios.append(value >> 2 & 63)
            levels.append(level)
            ticks.append(tick)
            times.append(t)
    return (gpios, levels, ticks, times), tick0, t


def _concat(parts: list, dtype: str):
    if np is not None:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    out: list[int] = []
    for part in parts:
        out.extend(part)
    return out


def _order(times) -> Any:
    """Indices that sort ``times`` stably (edges of one GPIO keep their order)."""
    if np is not None:
        return np.argsort(times, kind="stable")
    return sorted(range(len(times)), key=times.__getitem__)


def _take(column, order) -> Any:
    if np is not None:
        return column[order]
    return [column[i] for i in order]


class Capture:
    """The edges of ``gpios`` (user GPIOs 0-31) between :meth:`start` and
    :meth:`stop`, or :meth:`run` for a duration or a number of edges.

    * ``client``: a :class:`~gpiosvr.blocking.BlockingClient` to capture through (a
      pigpio ``pi``'s, say); without one the capture opens its own on ``socket_path``
      (None: ``$GPIO_SOCKET_PATH`` or the default) and closes it when it stops.
    * ``max_edges``: edges kept in memory; later ones are counted in :attr:`dropped`.
    * ``path``: stream to this VCD file instead of keeping the edges (a long capture);
      :meth:`summary` still works, :func:`read_vcd` reads the edges back.

    After :meth:`stop`: :attr:`gpio`, :attr:`level`, :attr:`tick` (the server's
    tick, wrapping at 2**32) and :attr:`time` (µs from the start, monotonic) are the
    edges in time order, NumPy arrays when NumPy is installed and lists otherwise;
    :attr:`initial` the level of each GPIO at the start, :attr:`duration` the µs
    captured, :attr:`lost` the edge reports the server or the client dropped for
    this client meanwhile (not seen, so not here), :attr:`dropped` the edges past
    ``max_edges``.
    """

    def __init__(self, gpios: Iterable[int], *, client: BlockingClient | None = None,
                 socket_path: str | None = None, max_edges: int = MAX_EDGES,
                 path: str | os.PathLike | None = None, settle: float = SETTLE_SECONDS
                 ) -> None:
        gpios = list(gpios)
        if not gpios:
            raise CaptureError("no GPIOs to capture: name at least one")
        for g in gpios:
            if type(g) is not int or not 0 <= g < 32:
                raise CaptureError(f"cannot capture GPIO {g!r}: edges are reported for "
                                   "user GPIOs 0-31 only (as pigpio's notifications)")
        if len(set(gpios)) != len(gpios):
            raise CaptureError(f"a GPIO is named twice in {gpios}")
        if type(max_edges) is not int or max_edges < 1:
            raise CaptureError(f"max_edges must be a positive int, not {max_edges!r}")
        self.gpios: list[int] = gpios
        self.max_edges = max_edges
        self.path = os.fspath(path) if path is not None else None
        self.settle = settle
        self._client = client
        self._own_client = client is None
        self._socket_path = socket_path
        self._state = "new"
        self._buf: "array[int]" = array("Q")
        self._callbacks: list = []
        self._lock = threading.Lock()  # one drain at a time
        self._ref = (0, 0)  # (tick, time) of the last record decoded
        self._parts: list[tuple] = []
        self._kept = 0
        self._stats: dict[int, _Stats] = {}
        self._stream: _VcdStream | None = None
        self._heartbeat: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lost_at_start = 0
        self._stop_time: int | None = None
        self._until: int | None = None  # edges after it are left out (None: keep all)
        self._counting = False
        self.start_tick = 0
        self.stop_tick = 0
        self.duration = 0
        self.initial: dict[int, int] = {}
        self.names: dict[int, str] = {g: f"GPIO{g}" for g in gpios}
        self.lost = 0
        self.dropped = 0
        self.late = 0  # streaming: edges that came too late to be written in order
        self.gpio: Any = []
        self.level: Any = []
        self.tick: Any = []
        self.time: Any = []

    @classmethod
    def from_edges(cls, gpio, level, time_us, *, initial: dict[int, int],
                   names: dict[int, str] | None = None, start_tick: int = 0,
                   duration: int | None = None) -> "Capture":
        """A stopped capture made of edges (columns in time order) rather than
        captured: what :func:`read_vcd` returns, and a way to plot or write any
        signal. ``initial`` gives each GPIO's level at time 0 (and so the GPIOs)."""
        cap = cls.__new__(cls)
        cls.__init__(cap, [0])
        cap.gpios = sorted(initial)
        cap.names = {g: (names or {}).get(g, f"GPIO{g}") for g in cap.gpios}
        cap.initial = dict(initial)
        cap.start_tick = start_tick
        cap._state = "stopped"
        times = list(_ints(time_us))
        ticks = [(start_tick + t) & _MASK for t in times]
        if np is not None:
            cap._set_columns(np.asarray(gpio, dtype=np.uint16), np.asarray(level, dtype=np.uint8),
                             np.array(ticks, dtype=np.uint32), np.asarray(times, dtype=np.int64))
        else:
            cap._set_columns(list(gpio), list(level), ticks, times)
        last = times[-1] if times else 0
        cap.duration = max(last, 0) if duration is None else max(duration, last)
        return cap

    # -- life cycle ------------------------------------------------------------

    def start(self) -> "Capture":
        """Subscribe to the GPIOs' edges and note their levels and the tick: the
        capture runs from here."""
        if self._state != "new":
            raise CaptureError(f"this capture is {self._state}: make a new one")
        if self._client is None:
            self._client = BlockingClient(self._socket_path, name="gpiosvr-capture")
        client = self._client
        self._lost_at_start = client.lost_reports
        try:
            for g in self.gpios:
                self._callbacks.append(client.callback(g, EITHER_EDGE, self._on_edge))
            tick, bank = client.command("t"), client.command("br1")
        except BaseException:
            self._unsubscribe()
            if self._own_client:
                client.close()
            raise
        self.start_tick = tick
        self._ref = (tick, 0)
        self.initial = {g: bank >> g & 1 for g in self.gpios}
        self._stats = {g: _Stats(g, level) for g, level in self.initial.items()}
        if self.path is not None:
            self._stream = _VcdStream(self.path, self.gpios, self.names, self.initial,
                                      tick)
        self._state = "running"
        self._heartbeat = threading.Thread(target=self._beat, daemon=True,
                                           name="gpiosvr-capture-heartbeat")
        self._heartbeat.start()
        return self

    def stop(self) -> "Capture":
        """End the capture: wait :attr:`settle` seconds for the reports of edges made
        before now, take every report received, unsubscribe (and close the capture's
        own client)."""
        if self._state != "running":
            raise CaptureError(f"this capture is {self._state}, not running")
        client = self._client
        try:
            self.stop_tick = client.command("t")
            ref_tick, ref_time = self._ref
            self._stop_time = ref_time + _signed(self.stop_tick - ref_tick)
            if not self._counting:
                self._until = self._stop_time
            if self.settle > 0:
                time.sleep(self.settle)
            client.wait_callbacks()
        finally:
            self._stopping.set()
            self._state = "stopped"
            self._unsubscribe()
            self._drain(final=True)
            self._heartbeat.join(5)
            self.lost = client.lost_reports - self._lost_at_start
            if self._own_client:
                client.close()
        self.duration = max(self._stop_time or 0, 0)
        if self._stream is not None:
            self.late = self._stream.close(self.duration)
        if self.lost:
            log.warning("capture: %d edge reports were lost (not captured)", self.lost)
        if self.dropped:
            log.warning("capture: %d edges past max_edges=%d were not kept",
                        self.dropped, self.max_edges)
        return self

    def run(self, seconds: float | None = None, edges: int | None = None,
            timeout: float | None = None, progress=None) -> "Capture":
        """:meth:`start`, wait ``seconds``, or until ``edges`` edges came (at most
        ``timeout`` seconds), then :meth:`stop`. ``progress(seconds_so_far, edges)``,
        if given, is called about ten times a second while waiting."""
        if seconds is None and edges is None:
            raise CaptureError("run() needs seconds, edges or both")
        # Counting edges: the first ones, even those reported before they happen
        # (the simulator's injected edges with ticks ahead).
        self._counting = edges is not None
        self.start()
        began = time.monotonic()
        limit = min(x for x in (seconds, timeout) if x is not None) if (
            seconds is not None or timeout is not None) else None
        try:
            while True:
                now = time.monotonic() - began
                if progress is not None:
                    progress(now, self.edges_so_far)
                if limit is not None and now >= limit:
                    break
                if edges is not None and self.edges_so_far >= edges:
                    break
                wait = 0.1 if limit is None else min(0.1, limit - now)
                if edges is not None:
                    wait = min(wait, 0.005)
                self._stopping.wait(max(0.0, wait))
        finally:
            self.stop()
        if edges is not None and self._stream is None and self.edges > edges:
            self._keep_first(edges)
        return self

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self._state == "running":
            self.stop()

    @property
    def edges_so_far(self) -> int:
        """Edges received so far (while running: reports not yet decoded included)."""
        return self._kept + self.dropped + len(self._buf)

    @property
    def edges(self) -> int:
        """How many edges the capture holds (streamed ones included)."""
        return sum(s.edges for s in self._stats.values())

    # -- receiving ---------------------------------------------------------------

    def _on_edge(self, gpio: int, level: int, tick: int) -> None:
        """The edge callback, on the client's dispatcher thread: as little as can be."""
        buf = self._buf
        buf.append(tick << 8 | gpio << 2 | level)
        if len(buf) >= CHUNK_EDGES:
            self._drain()

    def _beat(self) -> None:
        client = self._client
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            try:
                tick = client.command("t")
            except Exception as exc:  # noqa: BLE001 - the capture goes on without it
                log.debug("capture heartbeat: %s", exc)
                continue
            # A reference lost to a concurrent drain costs nothing: the next comes.
            self._buf.append(tick << 8 | _MARK)

    def _drain(self, final: bool = False) -> None:
        """Decode what was received (and stream it, or keep it in memory)."""
        with self._lock:
            buf, self._buf = self._buf, array("Q")
            if final:
                self._buf = _Closed()
            (gpios, levels, ticks, times), *ref = _decode(buf, *self._ref)
            self._ref = tuple(ref)
            gpios, levels, ticks, times = _window(
                (gpios, levels, ticks, times), times, self._until if final else None)
            if self._stream is not None:
                self._stream.add(gpios, levels, times, self._stats, final)
                self._kept += len(gpios)
                return
            room = self.max_edges - self._kept
            n = len(gpios)
            if n > room:
                self.dropped += n - room
                gpios, levels, ticks, times = (c[:room] for c in (gpios, levels, ticks, times))
                n = room
            if n:
                self._parts.append((gpios, levels, ticks, times))
                self._kept += n
            if final:
                self._finish_memory()

    def _finish_memory(self) -> None:
        parts = self._parts
        self._parts = []
        gpio = _concat([p[0] for p in parts], "uint8")
        level = _concat([p[1] for p in parts], "uint8")
        tick = _concat([p[2] for p in parts], "uint32")
        times = _concat([p[3] for p in parts], "int64")
        gpio, level, tick, times = _window((gpio, level, tick, times), times, self._until)
        order = _order(times)
        self._initial_from_edges(_ints(_take(gpio, order)), _ints(_take(level, order)))
        self._set_columns(_take(gpio, order), _take(level, order), _take(tick, order),
                          _take(times, order))

    def _initial_from_edges(self, gpios: Iterable[int], levels: Iterable[int]) -> None:
        """A GPIO's level at the start is the one before its first edge: what ``br1``
        read at the start is only for those without (the reports of edges made just
        before it may come after it)."""
        seen = set()
        for g, lv in zip(gpios, levels):
            if g not in seen:
                seen.add(g)
                self.initial[g] = lv ^ 1
                if len(seen) == len(self.gpios):
                    break

    def _set_columns(self, gpio, level, tick, times) -> None:
        self.gpio, self.level, self.tick, self.time = gpio, level, tick, times
        stats = {g: _Stats(g, self.initial.get(g, 0)) for g in self.gpios}
        for g, lv, t in zip(_ints(gpio), _ints(level), _ints(times)):
            stats[g].add(lv, t)
        self._stats = stats

    def _keep_first(self, n: int) -> None:
        self._set_columns(self.gpio[:n], self.level[:n], self.tick[:n], self.time[:n])
        self.duration = int(self.time[n - 1]) if n else 0

    def _unsubscribe(self) -> None:
        client = self._client
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                client.cancel_callback(cb)
            except Exception as exc:  # noqa: BLE001 - the client may be gone
                log.debug("capture: cancelling a callback: %s", exc)

    # -- looking at it -------------------------------------------------------------

    def _edges_of(self) -> dict[int, tuple[list[int], list[int]]]:
        """GPIO -> (times, levels) of its edges, in time order."""
        self._need_edges()
        out: dict[int, tuple[list[int], list[int]]] = {g: ([], []) for g in self.gpios}
        for g, lv, t in zip(_ints(self.gpio), _ints(self.level), _ints(self.time)):
            out[g][0].append(t)
            out[g][1].append(lv)
        return out

    def _need_edges(self) -> None:
        if self._state == "running":
            raise CaptureError("the capture is still running: stop() it first")
        if self._stream is not None:
            raise CaptureError(f"this capture streamed to {self.path}: "
                               "read it back with gpiosvr.capture.read_vcd(path)")

    def summary(self) -> Summary:
        """Per GPIO: edge counts, measured frequency, period and duty cycle, mean
        high and low widths (:class:`GpioSummary`)."""
        if self._state == "running":
            raise CaptureError("the capture is still running: stop() it first")
        return Summary((g, self._stats[g].summary()) for g in self.gpios)

    def plot(self, path: str | os.PathLike | None = None, *, ax=None, start: float = 0,
             end: float | None = None, title: str | None = None):
        """Draw a timing diagram with matplotlib: one row per GPIO, time in µs, ms or s
        as fits, each edge where it was. Returns the figure (shown inline in
        Jupyter); ``path`` saves it there too (PNG, SVG, PDF...); ``start``/``end``
        (µs) show part of it; ``ax`` draws on an existing Axes."""
        return _plot(self, path, ax, start, end, title)

    def to_vcd(self, path: str | os.PathLike) -> None:
        """Write the capture as a standard VCD file (timescale 1 µs, one 1-bit wire
        per GPIO named ``GPIO17`` ...), readable by GTKWave, PulseView, sigrok-cli and
        :func:`read_vcd`."""
        self._need_edges()
        times = _ints(self.time)
        first = min(times, default=0)
        origin = 1 + max(0, -first)  # #0 holds the initial levels, every edge is later
        with open(path, "w") as f:
            writer = _vcd_writer(f, self.gpios, self.names, self.initial,
                                 self.start_tick, origin)
            variables = writer.vars
            for g, lv, t in zip(_ints(self.gpio), _ints(self.level), times):
                writer.change(variables[g], t + origin, lv)
            writer.close(max(self.duration, times[-1] if times else 0) + origin)

    def edges_of(self, gpio: int) -> list[tuple[int, int]]:
        """The (level, time) of each edge of ``gpio``, in order."""
        times, levels = self._edges_of()[gpio]
        return list(zip(levels, times))

    def __repr__(self) -> str:
        return (f"<Capture gpios={self.gpios} {self._state} edges={self.edges} "
                f"duration={self.duration} µs lost={self.lost}>")


class _Closed(array):
    """The buffer of a stopped capture: a late report goes nowhere."""

    def __new__(cls):
        return super().__new__(cls, "Q")

    def append(self, value: int) -> None:
        pass


def _window(columns: tuple, times, stop: int | None) -> tuple:
    """The rows of ``columns`` whose time is from 0 (the start) to ``stop``: reports
    of edges made before the start or after the stop come too, late or early."""
    if np is not None:
        keep = times >= 0 if stop is None else (times >= 0) & (times <= stop)
        return tuple(c[keep] for c in columns)
    stop = float("inf") if stop is None else stop
    rows = [i for i, t in enumerate(times) if 0 <= t <= stop]
    if len(rows) == len(times):
        return columns
    return tuple([c[i] for i in rows] for c in columns)


def _signed(d: int) -> int:
    """A tick difference as a signed 32-bit number."""
    d &= _MASK
    return d - (1 << 32) if d >= 1 << 31 else d


def _ints(column) -> Iterator[int]:
    return column.tolist() if np is not None and hasattr(column, "tolist") else column


# -- VCD ---------------------------------------------------------------------------


class _VcdWriter:
    def __init__(self, writer, variables) -> None:
        self.writer = writer
        self.vars = variables

    def change(self, var, t: int, value: int) -> None:
        self.writer.change(var, t, value)

    def close(self, t: int) -> None:
        self.writer.close(t)


def _vcd():
    try:
        import vcd
    except ImportError:
        raise CaptureError("VCD needs pyvcd: python3 -m pip install '<the gpiosvr clone>[capture]'") from None
    return vcd


def _vcd_writer(f, gpios, names, initial, start_tick: int, origin: int) -> _VcdWriter:
    vcd = _vcd()
    writer = vcd.VCDWriter(f, timescale="1 us", version="gpiosvr",
                           comment=f"gpiosvr capture start_tick={start_tick} "
                                   f"start_time={origin}")
    variables = {g: writer.register_var(_VCD_SCOPE, names[g], "wire", size=1,
                                        init=initial.get(g, 0)) for g in gpios}
    return _VcdWriter(writer, variables)


class _VcdStream:
    """A VCD file written while capturing: edges wait :data:`REORDER_US` of signal
    time, so that those of different GPIOs reported out of order are put in order."""

    def __init__(self, path: str, gpios, names, initial, start_tick: int) -> None:
        self.file = open(path, "w")
        self.header = (gpios, names, initial, start_tick)
        self.writer: _VcdWriter | None = None
        self.origin = 1
        self.pending: list[tuple[int, int, int]] = []  # (time, gpio, level)
        self.written = 0  # the time of the last edge written
        self.late = 0

    def add(self, gpios, levels, times, stats, final: bool) -> None:
        pending = self.pending
        pending.extend(zip(_ints(times), _ints(gpios), _ints(levels)))
        if not pending:
            return
        pending.sort(key=lambda e: e[0])  # stable: a GPIO's own edges keep their order
        horizon = pending[-1][0] - REORDER_US
        cut = len(pending) if final else next(
            (i for i, e in enumerate(pending) if e[0] > horizon), len(pending))
        if not final and len(pending) - cut > MAX_EDGES:
            cut = len(pending) - MAX_EDGES
        if not cut:
            return
        if self.writer is None:
            self._begin(pending)
            for g, level in self.header[2].items():
                stats[g].level = level
        writer, variables, origin = self.writer, self.writer.vars, self.origin
        for t, g, lv in pending[:cut]:
            if t < self.written:
                self.late += 1
                t = self.written
            writer.change(variables[g], t + origin, lv)
            stats[g].add(lv, t)
            self.written = t
        del pending[:cut]

    def _begin(self, pending: list[tuple[int, int, int]]) -> None:
        """The header, once the first edges are known: a GPIO's initial level is the
        one before its first edge, and time 0 (the capture's start) goes as far after
        the file's start as the first edge is before it."""
        gpios, names, initial, start_tick = self.header
        for t, g, lv in reversed(pending):
            initial[g] = lv ^ 1
        self.written = pending[0][0] if pending else 0
        self.origin = 1 + max(0, -self.written)
        self.writer = _vcd_writer(self.file, gpios, names, initial, start_tick, self.origin)

    def close(self, duration: int) -> int:
        if self.writer is None:
            self._begin([])
        self.writer.close(max(duration, self.written) + self.origin)
        self.file.close()
        return self.late


def read_vcd(path: str | os.PathLike) -> Capture:
    """Read a VCD file (ours, or GTKWave's, PulseView's...) into a stopped
    :class:`Capture`: 1-bit variables become GPIOs (``GPIO17``, ``gpio17`` or ``17``
    keep their number; others get free numbers, their names in
    :attr:`Capture.names`); times are rounded to µs. Our own files give back the
    same edges, ticks and start tick."""
    _vcd()
    from vcd.reader import TokenKind, tokenize

    scale_us = 1.0
    start_tick, origin = 0, 0
    ids: dict[str, int] = {}
    names: dict[int, str] = {}
    declared: list[tuple[str, str]] = []
    initial: dict[int, int] = {}
    gpios_col: list[int] = []
    levels_col: list[int] = []
    times_col: list[int] = []
    now, end = 0, 0
    current: dict[int, int] = {}
    with open(path, "rb") as f:
        for token in tokenize(f):
            kind = token.kind
            if kind is TokenKind.CHANGE_SCALAR:
                code, value = token.data.id_code, token.data.value
                g = ids.get(code)
                if g is None or value not in ("0", "1"):
                    continue
                lv = int(value)
                t = round(now * scale_us)
                if g not in current:  # its first value: the level at the start
                    initial[g] = lv
                    current[g] = lv
                elif current[g] != lv:
                    gpios_col.append(g)
                    levels_col.append(lv)
                    times_col.append(t)
                    current[g] = lv
            elif kind is TokenKind.CHANGE_TIME:
                now = token.data
                end = max(end, now)
            elif kind is TokenKind.VAR:
                if token.data.size == 1:
                    declared.append((token.data.id_code, token.data.reference))
            elif kind is TokenKind.TIMESCALE:
                ts = token.data
                scale_us = ts.magnitude * _UNIT_US[ts.unit.value]
            elif kind is TokenKind.COMMENT:
                m = _COMMENT_RE.search(token.data)
                if m:
                    start_tick, origin = int(m[1]), int(m[2])
            elif kind is TokenKind.ENDDEFINITIONS:
                ids, names = _number_vars(declared)
    times = [t - origin for t in times_col]
    return Capture.from_edges(gpios_col, levels_col, times,
                              initial={g: initial.get(g, 0) for g in names}, names=names,
                              start_tick=start_tick,
                              duration=round(end * scale_us) - origin)


_UNIT_US = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3, "ps": 1e-6, "fs": 1e-9,
            "as": 1e-12, "zs": 1e-15}
_GPIO_NAME_RE = re.compile(r"(?:gpio)?(\d+)\Z", re.IGNORECASE)


def _number_vars(declared: list[tuple[str, str]]) -> tuple[dict[str, int], dict[int, str]]:
    """id code -> GPIO number, and number -> name, for the 1-bit variables."""
    ids: dict[str, int] = {}
    names: dict[int, str] = {}
    others = []
    for code, name in declared:
        if code in ids:
            continue
        m = _GPIO_NAME_RE.match(name)
        if m and int(m[1]) < 54 and int(m[1]) not in names:
            ids[code] = int(m[1])
            names[int(m[1])] = name
        else:
            others.append((code, name))
    free = (n for n in range(1 << 16) if n not in names)
    for code, name in others:
        n = next(free)
        ids[code] = n
        names[n] = name
    return ids, names


# -- plots -------------------------------------------------------------------------


def _time_unit(span_us: float) -> tuple[str, float]:
    if span_us < 5_000:
        return "µs", 1.0
    if span_us < 5_000_000:
        return "ms", 1e3
    return "s", 1e6


def _plot(cap: Capture, path, ax, start: float, end: float | None, title: str | None):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise CaptureError("plots need matplotlib: python3 -m pip install '<the gpiosvr clone>[capture]'") from None
    edges = cap._edges_of()
    end = cap.duration if end is None else end
    if end <= start:
        end = start + 1
    unit, scale = _time_unit(end - start)
    gpios = cap.gpios
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 0.8 + 0.7 * len(gpios)))
    else:
        fig = ax.figure
    for row, g in enumerate(reversed(gpios)):
        times, levels = edges[g]
        level = cap.initial.get(g, 0)
        xs, ys = [start], [level]
        for t, lv in zip(times, levels):
            if t < start:
                level = lv
                ys[0] = lv
                continue
            if t > end:
                break
            xs.append(t)
            ys.append(lv)
        xs.append(end)
        ys.append(ys[-1])
        base = row * 1.5
        ax.step([x / scale for x in xs], [base + y for y in ys], where="post",
                linewidth=1.0)
    ax.set_yticks([row * 1.5 + 0.5 for row in range(len(gpios))])
    ax.set_yticklabels([cap.names.get(g, f"GPIO{g}") for g in reversed(gpios)])
    ax.set_xlim(start / scale, end / scale)
    ax.set_ylim(-0.5, len(gpios) * 1.5)
    ax.set_xlabel(f"time ({unit})")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
