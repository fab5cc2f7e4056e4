"""Where a paced edge's time goes, hop by hop, from its tick to its Python callback
(issue #18, target 1), for this tree and, alternated round by round, another
revision's.

    python benchmarks/bench_edge_path.py [--edges 300] [--rounds 6] [--revision REV]
                                         [--syscalls] [--glitch US]

Each round starts a server on the simulated chip whose code is stamped (the pulse
timer's expiry against the time it was armed for, ``play_due`` starting, the edge's
frame built; CLOCK_MONOTONIC ns, kept in memory and written at exit) and a client
process (the pigpio facade, one callback) that notes when each callback runs. A
wave on an output plays ``--edges`` edges 2 ms apart, edges that come by
themselves as on a board. Per stage, the p50 and p90 of each round, then the median
of the rounds:

* late: the pulse timer's expiry after its armed time (the kernel and the VM);
* woken→play: from the expiry seen by the timer's callback to ``play_due``;
* play→frame: the simulated chip and the hub, up to the frame built;
* frame→callback: the write, the client's wake-up, read, parse and call;
* tick→callback: all of it, as ``bench_latency.py --mode paced`` measures it.

``--glitch US`` puts a glitch filter on the GPIO: each edge is then reported by the
filter's own timer US µs after the edge (the tick it carries), handed on as a
kernel edge or a watchdog's report is (the hub's ``level_changed``), not as a
burst; its frame is still stamped, play→frame then spans the filter's wait.

``--revision REV`` runs REV's server and client (``git archive``) in the rounds
between this tree's. ``--syscalls`` runs one more round of each under ``strace -f
-c`` (client process only) and prints its counts per edge. Stamping costs a few µs
per edge on the server side; both trees pay it alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, export_tree, spawn, spawn_run, temporary_directory  # noqa: E402

GPIO = 22
INTERVAL_US = 2000
STAGES = ("late", "woken→play", "play→frame", "frame→callback", "tick→callback")
SYSCALLS = ("epoll_wait", "epoll_ctl", "recvfrom", "futex")

_SERVE = """
import atexit, os, signal, sys, time, runpy
stamps = []
note = stamps.append
clock = time.monotonic_ns
try:
    from gpiosvr.server.backends import precise_timer
    expired = precise_timer.TimerfdTimer._expired
    def _expired(self):
        note((0, self.when_ns or 0, clock()))
        expired(self)
    precise_timer.TimerfdTimer._expired = _expired
except (ImportError, AttributeError):
    pass  # a revision without the pulse timer: no "late" stage
from gpiosvr.server.backends import sim
play_due = sim.SimulatedChip.play_due
def _play_due(self):
    note((1, clock()))
    play_due(self)
sim.SimulatedChip.play_due = _play_due
from gpiosvr.server import notify
frame = notify.binary_edge_frame
ticks = notify.RECORD.iter_unpack
def _frame(seq, lost, records):
    note((2, clock(), *(tick for _, _, tick in ticks(records))))
    return frame(seq, lost, records)
notify.binary_edge_frame = _frame
def dump():
    with open(os.environ["GPIOSVR_STAMPS"], "w") as out:
        out.writelines(" ".join(map(str, s)) + "\\n" for s in stamps)
atexit.register(dump)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.argv = ["gpiosvr.server", *sys.argv[1:]]
runpy.run_module("gpiosvr.server", run_name="__main__")
"""

_PROBE = """
import sys, time
import gpiosvr.pigpio as pigpio
path, count, gpio, interval, glitch = sys.argv[1], *map(int, sys.argv[2:6])
pi = pigpio.pi(path)
seen = []
clock = time.monotonic_ns
def stamp(g, level, tick):
    seen.append((tick, clock()))
pi.set_mode(gpio, pigpio.OUTPUT)
pi.write(gpio, 0)
pi.callback(gpio, pigpio.EITHER_EDGE, stamp)
if glitch:
    pi.set_glitch_filter(gpio, glitch)
best = None  # the server's tick minus this clock's µs, from the quickest round trip
for _ in range(50):
    before = clock() // 1000
    tick = pi.get_current_tick()
    after = clock() // 1000
    if best is None or after - before < best[0]:
        best = (after - before, (tick - (before + after) // 2) & 0xFFFFFFFF)
bit = 1 << gpio
pi.wave_clear()
pi.wave_add_generic([pigpio.pulse(0, bit, interval) if i % 2 else pigpio.pulse(bit, 0, interval)
                     for i in range(count)])
pi.wave_send_once(pi.wave_create())
end = time.monotonic() + count * interval / 1e6 + 5
while len(seen) < count and time.monotonic() < end:
    time.sleep(0.01)
pi.stop()
print(best[1])
for tick, at in seen:
    print(tick, at)
"""


def one_round(tree: str, edges: int, strace: str | None = None,
              glitch: int = 0) -> dict[str, list[float]]:
    """Run a server and a client of ``tree`` for one wave; µs per stage per edge
    (with ``strace``: the client under ``strace -f -c -o strace``; ``glitch``: a
    glitch filter of that many µs on the GPIO)."""
    where = temporary_directory("bench-path-")
    path, stamps = os.path.join(where, "gpio.sock"), os.path.join(where, "stamps")
    env = dict(os.environ, PYTHONPATH=tree, GPIOSVR_STAMPS=stamps)
    # cwd: a ``-c`` program imports from its working directory first
    server = spawn([sys.executable, "-c", _SERVE, "--socket", path, "--log-level", "WARNING"],
                   stdout=subprocess.PIPE, text=True, env=env, cwd=where)
    try:
        server.stdout.readline()  # "gpiosvr: serving ..."
        probe = [sys.executable, "-c", _PROBE, path, str(edges), str(GPIO), str(INTERVAL_US),
                 str(glitch)]
        if strace:
            probe = ["strace", "-f", "-c", "-o", strace, *probe]
        out = spawn_run(probe, timeout=edges * INTERVAL_US / 1e6 + 60, check=True,
                        env=env, text=True, cwd=where).stdout.split("\n")
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
    offset = int(out[0])
    offset = offset - (1 << 32) if offset >= 1 << 31 else offset
    called = [tuple(map(int, line.split())) for line in out[1:] if line]
    return _stages(_read_stamps(stamps), called, offset)


def _read_stamps(path: str) -> dict[int, dict[str, int]]:
    """The server's stamps of each edge, by its tick: the frame that carried it, the
    ``play_due`` call that built that frame and the timer expiry that woke it (none
    when something else called ``play_due``)."""
    edges: dict[int, dict[str, int]] = {}
    turn: dict[str, int] = {}
    with open(path) as stamps:
        for line in stamps:
            kind, *values = map(int, line.split())
            if kind == 0:
                turn = {"armed": values[0], "woken": values[1]}
            elif kind == 1:  # the last call before a frame built it
                turn["play"] = values[0]
            elif "play" in turn:
                turn["frame"] = values[0]
                for tick in values[1:]:
                    edges[tick] = turn
                turn = {}
    return edges


def _stages(edges: dict[int, dict[str, int]], called: list[tuple[int, int]],
            offset: int) -> dict[str, list[float]]:
    """µs per stage of each edge whose callback ran, matched by tick; the first five
    are left out (warming up)."""
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for tick, at in called[5:]:
        turn = edges.get(tick)
        if turn is None:
            continue
        if turn.get("armed", 0) > 1:
            stages["late"].append((turn["woken"] - turn["armed"]) / 1e3)
        if "woken" in turn:
            stages["woken→play"].append((turn["play"] - turn["woken"]) / 1e3)
        stages["play→frame"].append((turn["frame"] - turn["play"]) / 1e3)
        stages["frame→callback"].append((at - turn["frame"]) / 1e3)
        stages["tick→callback"].append(((at // 1000 + offset - tick) & 0xFFFFFFFF) * 1.0)
    return stages


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def syscalls_per_edge(tree: str, edges: int) -> dict[str, float]:
    """The client process's system calls per edge, counted by ``strace -f -c``."""
    where = temporary_directory("bench-strace-")
    report = os.path.join(where, "strace.txt")
    one_round(tree, edges, strace=report)
    counts = {name: 0.0 for name in SYSCALLS}
    with open(report) as lines:
        for line in lines:
            words = line.split()
            if words and words[-1] in counts:
                counts[words[-1]] = int(words[3]) / edges
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--revision", help="also run this git revision, alternated")
    parser.add_argument("--glitch", type=int, default=0, metavar="US",
                        help="a glitch filter on the GPIO: each edge is reported by the "
                             "filter's timer, US µs after it, as a kernel edge is")
    parser.add_argument("--syscalls", action="store_true",
                        help="count the client's system calls per edge (strace)")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.revision:
        trees[args.revision] = export_tree(args.revision, "gpiosvr")
    results: dict[str, dict[str, list[tuple[float, float]]]] = {
        name: {stage: [] for stage in STAGES} for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            for stage, values in one_round(tree, args.edges, glitch=args.glitch).items():
                if values:
                    results[name][stage].append((pct(values, .5), pct(values, .9)))
    print(f"{args.rounds} rounds of {args.edges} edges, {INTERVAL_US} µs apart; "
          "µs, median over the rounds of each round's p50 (p90)\n")
    print(f"{'stage':18}" + "".join(f"{name:>26}" for name in trees))
    for stage in STAGES:
        cells = []
        for name in trees:
            rounds = results[name][stage]
            cells.append(f"{statistics.median(r[0] for r in rounds):>12.1f} "
                         f"({statistics.median(r[1] for r in rounds):>8.1f})"
                         if rounds else f"{'-':>22}")
        print(f"{stage:18}" + "".join(f"{cell:>26}" for cell in cells))
    if args.revision:
        new, old = (results[name]["tick→callback"] for name in trees)
        print(f"\ntick→callback p50, this tree / {args.revision}: "
              f"{statistics.median(r[0] for r in new) / statistics.median(r[0] for r in old):.2f}")
    if args.syscalls:
        if shutil.which("strace") is None:
            print("\n--syscalls: no strace here (apt install strace)")
            return
        print("\nthe client's system calls per edge (strace -f -c, one round)")
        for name, tree in trees.items():
            counts = syscalls_per_edge(tree, args.edges)
            print(f"{name:18}" + "  ".join(f"{call} {n:.2f}" for call, n in counts.items()))


if __name__ == "__main__":
    main()
