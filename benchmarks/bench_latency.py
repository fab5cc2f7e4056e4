"""Latency, side by side: single edges into a Python callback and single ``read()``
calls, our facade against the real pigpio 1.78 client, idle and while another
process floods the server (issue #18, targets 1 and 3).

    python benchmarks/bench_latency.py [--edges 600] [--calls 3000] [--text-frames]
                                       [--pin] [--with-text] [--mode turns|paced|both]
                                       [--rounds N] [--alert-cycle US]

* edges: one edge at a time, paced (every 2 ms; ``sim.inject`` on gpiosvr's
  simulated chip, one report sent by the pigpiod stand-in for pigpio), from the
  edge's tick to the moment its callback runs in this process (both servers' ticks
  are CLOCK_MONOTONIC in µs; our server's offset is measured with
  ``get_current_tick``), and apart ("asked") from the moment this process asks for
  the edge, which adds the hop to the server process.
* paced edges (``--mode paced``, or ``both`` beside the above): edges that come by
  themselves, with nothing to answer after them, as on a board. Ours: a wave on an
  output (GPIO 22: ``siminject`` with future ticks would not do, it hands them on
  at once), its edges handed on by the server's loop from its timer, each when
  due, 2 ms apart; the stand-in's: a thread that sends each report at its tick
  (``paced`` control line), half an interval after each of ours. From each edge's
  tick to its callback; each side's timer lateness is in its figures (the
  stand-in's is printed; ours, the simulated chip's timerfd, is not visible here).
* ``--alert-cycle US`` (context, not the target): the stand-in's paced thread
  sends as pigpiod does, once an alert cycle (pigpio.c ``pthAlertThread``: it
  emits the reports of the edges sampled since the last cycle, then sleeps 0.9 of
  it; 1000 µs by default, ``PI_CFG_ALERT_FREQ`` 0), so that the paced pigpio rows
  show what a pigpio client sees of pigpiod's timing. Without it (the target's
  comparison) the stand-in sends each report at its tick: an ideal pigpiod.
* calls: ``pi.read(4)`` round trips, one at a time.
* under flood: a process sends 100-command requests (``r 4`` x 100) to our server
  back to back (the "batch streaming" client of target 3), and another ``read``
  calls as fast as it can to the stand-in (pigpio has no batches), both at once.

The two sides take turns edge by edge (and call by call), so that both meet the
same moments of a machine whose load changes.

* ``--text-frames``: our client asks for no binary edge frames (``*e`` text, as
  before ``nfmt``; docs/protocol.md 7.2).
* ``--with-text``: a third side, a second facade client that reads text frames,
  and the sides take turns in a random order edge by edge (each meets each place
  alike): binary against text frames, fairly. Its ratios to pigpio are not the
  benchmark's: two of three edges then run our code, which runs warmer.
* ``--pin`` (a diagnostic): both servers on CPU 0, this process on CPU 1, so that
  an edge's reader never waits on the CPU of the server that woke it.

Prints p50, p99 and p99.9 in microseconds per case. ``--rounds N`` repeats the
idle and flood phases N times with the same servers and clients: the table pools
the rounds, each ratio is given per round and as the median of the rounds (on a
shared machine one run's ratio moves by ±30 %). The stand-in is a Python
server (a thread per connection), not pigpiod: its figures are pigpio's client plus
a server of similar cost, not the C daemon.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, both_servers, spawn  # noqa: E402

GPIO = 20
PACED_GPIO = 22

_FLOOD_OURS = """
import sys, time
from gpiosvr.blocking import BlockingClient
client = BlockingClient(sys.argv[1])
batch = [("r", 4)] * 100
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    client.request(batch)
    n += 1
print(n * 100, flush=True)
"""

_FLOOD_PIGPIO = """
import sys, time, pigpio
p = pigpio.pi("127.0.0.1", int(sys.argv[1]))
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    p.read(4)
    n += 1
print(n, flush=True)
"""


class Stamp:
    """A callback that notes how long after its tick (``tick_offset``: the edge
    source's tick minus ``time.monotonic_ns() // 1000``) each edge arrived, and the
    moment of its first call after :meth:`arm`."""

    def __init__(self, tick_offset: int = 0) -> None:
        self.event = threading.Event()
        self.at = 0.0
        self.tick_offset = tick_offset
        self.since_tick: list[float] = []
        self.ticks: list[int] = []

    def __call__(self, gpio: int, level: int, tick: int) -> None:
        now = time.monotonic_ns() // 1000
        self.at = time.perf_counter()
        self.since_tick.append(((now + self.tick_offset - tick) & 0xFFFFFFFF) / 1e6)
        self.ticks.append(tick)
        self.event.set()

    def arm(self) -> None:
        self.event.clear()


def tick_offset(get_tick) -> int:
    """The server's tick minus this process's ``time.monotonic_ns() // 1000``, from
    the quickest of 50 ``get_current_tick`` round trips (within half of it)."""
    best = None
    for _ in range(50):
        before = time.monotonic_ns() // 1000
        tick = get_tick()
        after = time.monotonic_ns() // 1000
        if best is None or after - before < best[0]:
            best = (after - before, (tick - (before + after) // 2) & 0xFFFFFFFF)
    offset = best[1]
    return offset - (1 << 32) if offset >= 1 << 31 else offset


def edge_latencies(sides, count: int, shuffle: bool = False) -> list[list[float]]:
    """Request-to-callback seconds of ``count`` single edges of each side, one edge
    of each in turn (so that both meet the same moments of a loaded machine; with
    ``shuffle``, in a random order each turn); ``sides`` are (stamp, send_one)
    pairs. The tick-to-callback figures are in each stamp's ``since_tick``."""
    import random

    results: list[list[float]] = [[] for _ in sides]
    for stamp, _ in sides:
        stamp.since_tick = []
    order = list(zip(sides, results))
    rng = random.Random(18)
    for _ in range(count):
        if shuffle:
            rng.shuffle(order)
        for (stamp, send_one), result in order:
            stamp.arm()
            t0 = time.perf_counter()
            send_one()
            if stamp.event.wait(2):
                result.append(stamp.at - t0)
            time.sleep(0.001)
    return results


#: Paced mode: edges 2 ms apart; the stand-in's half an interval after ours.
PACED_INTERVAL = 2000
#: Edges of ours before the stand-in's first (time for the control line to arrive).
PACED_LEAD = 25


def paced_latencies(ours: Stamp, start_ours, theirs: Stamp, standin, gpio: int,
                    count: int, cycle_us: int = 0
                    ) -> tuple[list[float], list[float], list[int]]:
    """Tick-to-callback seconds of ``count`` edges of each side that come by
    themselves, every :data:`PACED_INTERVAL` µs, interleaved: ours from a wave
    (``start_ours(n)``: n edges, played by the server's loop from its timer, each
    at its tick), the stand-in's from a thread that sends each report at its tick,
    half an interval after each of ours (with ``cycle_us``, once a cycle as
    pigpiod). Returns ours, theirs and the stand-in's lateness (µs from each tick
    to its sending)."""
    for stamp in (ours, theirs):
        stamp.since_tick, stamp.ticks = [], []
        stamp.arm()
    start_ours(count + PACED_LEAD + 2)
    if not ours.event.wait(5):
        raise RuntimeError("the wave's first edge never came")
    first = ours.ticks[0]
    # ours' first edge in the stand-in's clock (this process's monotonic µs, which
    # does not wrap at 2**32 as our server's ticks do)
    now = time.monotonic_ns() // 1000
    since = (now - (first - ours.tick_offset)) & 0xFFFFFFFF
    start = now - since + PACED_LEAD * PACED_INTERVAL + PACED_INTERVAL // 2
    standin.paced(gpio, count, PACED_INTERVAL, start, cycle_us)
    late = standin.paced_lateness()
    deadline = time.monotonic() + 5
    while len(ours.ticks) < count + PACED_LEAD + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    low = (first + PACED_LEAD * PACED_INTERVAL) & 0xFFFFFFFF
    mine = [lat for tick, lat in zip(ours.ticks, ours.since_tick)
            if ((tick - low) & 0xFFFFFFFF) < count * PACED_INTERVAL]
    return mine, list(theirs.since_tick), late


def call_latencies(reads, count: int) -> list[list[float]]:
    """Seconds of ``count`` ``read(4)`` calls of each of ``reads``, in turn."""
    results: list[list[float]] = [[] for _ in reads]
    clock = time.perf_counter
    for _ in range(count):
        for read, result in zip(reads, results):
            t0 = clock()
            read(4)
            result.append(clock() - t0)
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Flood:
    """A flooding client process for the duration of a ``with`` block."""

    def __init__(self, code: str, target: str, seconds: float = 120.0) -> None:
        anywhere = (["taskset", "-c", f"0-{os.cpu_count() - 1}"]  # not pinned with us
                    if os.environ.get("GPIOSVR_BENCH_PIN") else [])
        self.proc = spawn([*anywhere, sys.executable, "-c", code, target, str(seconds)],
                          stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))

    def __enter__(self) -> "Flood":
        assert self.proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=600)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--text-frames", action="store_true",
                        help="our client reads *e text frames, not binary ones")
    parser.add_argument("--with-text", action="store_true",
                        help="a third side reading text frames; sides in random order")
    parser.add_argument("--mode", choices=("turns", "paced", "both"), default="turns",
                        help="edges asked for in turns (siminject / a line to the "
                             "stand-in), paced edges that come by themselves, or both")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat idle and flood this many times; ratios per round "
                             "and their median (a run alone moves by ±30%% here)")
    parser.add_argument("--alert-cycle", type=int, default=0, metavar="US",
                        help="the stand-in's paced reports sent once a cycle of US µs, "
                             "as pigpiod's alert thread (1000 by default there); 0: "
                             "each at its tick, an ideal pigpiod (the target's)")
    parser.add_argument("--pin", action="store_true",
                        help="diagnostic: servers on CPU 0, this process on CPU 1")
    args = parser.parse_args()

    import pigpio as real_pigpio

    import gpiosvr.pigpio as facade
    from gpiosvr.dispatch import Dispatcher
    from gpiosvr.simulator import Simulator

    if args.pin:
        os.sched_setaffinity(0, {1})
        os.environ["GPIOSVR_BENCH_PIN"] = "0"  # both_servers starts them on CPU 0
    Dispatcher.binary_reports = not args.text_frames
    rows: list[list[tuple[str, list[float]]]] = []  # each round's
    with both_servers() as (path, standin):
        pi = facade.pi(path)
        sim = Simulator(path)
        ours = Stamp(tick_offset(pi.get_current_tick))
        pi.callback(GPIO, facade.EITHER_EDGE, ours)
        extra = []
        if args.with_text:
            Dispatcher.binary_reports = False
            pi_text = facade.pi(path)
            text = Stamp(ours.tick_offset)
            pi_text.callback(GPIO + 1, facade.EITHER_EDGE, text)
            Dispatcher.binary_reports = not args.text_frames
            extra = [(text, lambda: sim.inject(GPIO + 1, 1, 1))]
        real = real_pigpio.pi("127.0.0.1", standin.port)
        theirs = Stamp(0)  # the stand-in stamps "now" edges with its monotonic clock
        real.callback(GPIO, real_pigpio.EITHER_EDGE, theirs)
        paced = args.mode != "turns"
        if paced:  # a wave on an output of ours; the same GPIO's reports of the stand-in
            pi.set_mode(PACED_GPIO, facade.OUTPUT)
            pi.write(PACED_GPIO, 0)
            ours_paced = Stamp(ours.tick_offset)
            pi.callback(PACED_GPIO, facade.EITHER_EDGE, ours_paced)
            theirs_paced = Stamp(0)
            real.callback(PACED_GPIO, real_pigpio.EITHER_EDGE, theirs_paced)
            late_all: list[int] = []

            def start_wave(count: int) -> None:
                pi.wave_clear()
                bit = 1 << PACED_GPIO
                pi.wave_add_generic([facade.pulse(0, bit, PACED_INTERVAL) if i % 2 else
                                     facade.pulse(bit, 0, PACED_INTERVAL)
                                     for i in range(count)])
                pi.wave_send_once(pi.wave_create())
        time.sleep(0.2)

        def ours_one() -> None:
            sim.inject(GPIO, 1, 1)

        def theirs_one() -> None:
            standin.burst(GPIO, 1, now=True)

        for _ in range(args.rounds):
            rows.append([])
            for phase in ("idle", "flood"):
                floods = ([Flood(_FLOOD_OURS, path), Flood(_FLOOD_PIGPIO, str(standin.port))]
                          if phase == "flood" else [])
                for flood in floods:
                    flood.__enter__()
                try:
                    edges = (edge_latencies([(ours, ours_one), (theirs, theirs_one), *extra],
                                            args.edges, shuffle=bool(extra))
                             if args.mode != "paced" else [[], []])
                    if paced:
                        mine, yours, late = paced_latencies(ours_paced, start_wave, theirs_paced,
                                                            standin, PACED_GPIO, args.edges,
                                                            args.alert_cycle)
                        rows[-1].append((f"gpiosvr paced edge, {phase}", mine))
                        rows[-1].append((f"pigpio paced edge, {phase}", yours))
                        late_all += late
                    calls = call_latencies((pi.read, real.read), args.calls)
                finally:
                    for flood in floods:
                        flood.__exit__()
                for side, stamp, asked, called in zip(("gpiosvr", "pigpio"), (ours, theirs),
                                                      edges, calls):
                    if args.mode != "paced":
                        rows[-1].append((f"{side} edge, {phase}", stamp.since_tick))
                        rows[-1].append((f"{side} edge asked, {phase}", asked))
                    rows[-1].append((f"{side} read(), {phase}", called))
                if extra:
                    rows[-1].append((f"gpiosvr-text edge, {phase}", text.since_tick))
        if extra:
            pi_text.stop()
        pi.stop()
        sim.close()
        real.stop()

    print("edge: from the edge's tick to its callback; edge asked: from this process's "
          "request (siminject, or a line to the stand-in) to the callback; paced edge: "
          "edges that come by themselves every 2 ms (a wave on ours, a thread of the "
          "stand-in's), tick to callback\n")
    pooled: dict[str, list[float]] = {}
    for one in rows:
        for name, values in one:
            pooled.setdefault(name, []).extend(values)
    print(f"{'case':28}{'n':>6}{'p50 µs':>10}{'p99 µs':>10}{'p99.9 µs':>10}"
          + ("  (all rounds)" if args.rounds > 1 else ""))
    for name, values in sorted(pooled.items(), key=lambda r: (r[0].split()[1], r[0])):
        print(f"{name:28}{len(values):>6}{pct(values, .5) * 1e6:>10.0f}"
              f"{pct(values, .99) * 1e6:>10.0f}{pct(values, .999) * 1e6:>10.0f}")
    tables = [dict(one) for one in rows]

    def ratios(a_name: str, b_name: str, q: float) -> str:
        """The ratio of two cases' q-quantiles, each round's and (rounds) their median."""
        each = [pct(t[a_name], q) / pct(t[b_name], q) for t in tables]
        text = ", ".join(f"{r:.2f}" for r in each)
        return text if len(each) == 1 else f"{statistics.median(each):.2f} (rounds {text})"

    kinds = {"turns": ("edge",), "paced": ("paced edge",)}.get(args.mode,
                                                                ("edge", "paced edge"))
    for kind in (*kinds, "read()"):
        for phase in ("idle", "flood"):
            a, b = f"gpiosvr {kind}, {phase}", f"pigpio {kind}, {phase}"
            cycled = kind == "paced edge" and args.alert_cycle
            print(f"{kind} {phase}: gpiosvr / pigpio p50 {ratios(a, b, .5)}, "
                  f"p99 {ratios(a, b, .99)}  "
                  + (f"(the stand-in at pigpiod's {args.alert_cycle} µs alert cycle: "
                     "context, not the target)" if cycled else "(target <= 1)"))
    if args.with_text:
        for phase in ("idle", "flood"):
            a, b = f"gpiosvr edge, {phase}", f"gpiosvr-text edge, {phase}"
            print(f"edge {phase}: binary / text frames p50 {ratios(a, b, .5)}, "
                  f"p99 {ratios(a, b, .99)}")
    print("gpiosvr read() under a batch-streaming client / idle: p99 "
          f"{ratios('gpiosvr read(), flood', 'gpiosvr read(), idle', .99)}  (target <= 2)")
    if args.mode != "turns":
        late = [v / 1e6 for v in late_all]
        print(f"the stand-in's paced reports sent after their ticks: p50 "
              f"{pct(late, .5) * 1e6:.0f} µs, p99 {pct(late, .99) * 1e6:.0f} µs (in its "
              "edges' figures; our wave's timer lateness is in ours, unseen from here)")


if __name__ == "__main__":
    main()
