"""Calls per second: our pigpio facade against the real pigpio client, side by side.

Run: ``python benchmarks/bench_calls.py [--seconds 1.0] [--rounds 5] [--revision main]``

In one run, interleaved round by round, it measures ``read()`` calls per second of:

* ``raw``      a blocking Unix-socket round trip (``@1 r 4``) to our server: the floor;
* ``facade``   ``gpiosvr.pigpio.pi().read(4)`` on one thread;
* ``pigpio``   the real pigpio 1.78 client's ``pi.read(4)`` against a minimal
               pigpiod-protocol stand-in (``minimal_pigpiod.py``) on loopback TCP;
* ``8threads`` eight threads sharing one facade ``pi``;
* ``batch100`` ``read`` commands in 100-command requests (``BlockingClient.request``).

Beside each rate: CPU per call of the client (this process) and of the server
process, and the C ping-pong floor measured in the same run (see ``cpu.py``).

Each server runs in a process of its own, as in real use. It prints the median of
the rounds for each, and the ratios the targets are about: facade / pigpio (target
>= 1.0) and 8threads / facade (target >= 2.0).

``--revision REV`` measures the code of git revision REV (its tree exported, client
and server) against the work tree's, round by round in one run: each round runs
this script once for each, in a process of its own (a "before" and "after").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from common import ROOT, both_servers, export_tree, spawn_run
from cpu import c_pingpong, cpu_ratio, cpu_text, measure, own_cpu, peer_pid, process_cpu

def rate(call, seconds: float) -> float:
    """Calls per second of ``call()`` over about ``seconds``."""
    for _ in range(200):  # warm up
        call()
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            call()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def threaded_rate(call, threads: int, seconds: float) -> float:
    """Total calls per second of ``threads`` threads each calling ``call()``."""
    counts = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        barrier.wait()
        n = 0
        while not stop.is_set():
            for _ in range(50):
                call()
            n += 50
        counts[i] = n

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)  # the measurement window
    stop.set()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--revision", help="also measure the code of this git revision, "
                        "round by round (e.g. main, for a 'before')")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.revision:
        return compare(args)
    results, floor = run_rounds(args.seconds, args.rounds, floor=not args.json)
    if args.json:
        print("JSON " + json.dumps(results))
        return
    report(results, floor)


def run_rounds(seconds: float, rounds: int, floor: bool = True
               ) -> tuple[dict[str, list[tuple[float, float, float]]], tuple | None]:
    """Every case ``rounds`` times, interleaved: (calls/s, client µs, server µs) of
    each round by case, and the C floor (None without it)."""
    import pigpio as real_pigpio

    import gpiosvr.pigpio as facade

    floor = c_pingpong() if floor else None
    with both_servers() as (path, standin):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(path)
        ours_pid = peer_pid(raw)

        def raw_call() -> None:
            raw.sendall(b"@1 r 4\n")
            raw.recv(64)

        pi = facade.pi(path)
        real = real_pigpio.pi("127.0.0.1", standin.port)
        assert pi.connected and real.connected
        assert pi.read(4) == 1
        batch = [("r", 4)] * 100
        client = pi._client

        def eight_threads(seconds: float) -> tuple[float, float, float]:
            mine, theirs = own_cpu(), process_cpu(ours_pid)
            start = time.perf_counter()
            calls_per_s = threaded_rate(lambda: pi.read(4), 8, seconds)
            calls = calls_per_s * (time.perf_counter() - start)
            return (calls_per_s, (own_cpu() - mine) / calls * 1e6,
                    (process_cpu(ours_pid) - theirs) / calls * 1e6)

        cases = {
            "raw": lambda: measure(raw_call, seconds, ours_pid),
            "facade": lambda: measure(lambda: pi.read(4), seconds, ours_pid),
            "pigpio": lambda: measure(lambda: real.read(4), seconds, standin.proc.pid),
            "8threads": lambda: eight_threads(seconds),
            # commands in 100-command requests, counted one by one
            "batch100": lambda: measure(lambda: client.request(batch), seconds,
                                        ours_pid, per_call=100),
        }
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for r in range(rounds):
            for name, run in cases.items():
                results[name].append(run())
            print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1][0]:,.0f}/s"
                                                 for k, v in results.items()), flush=True)
        pi.stop()
        real.stop()
        raw.close()
    return results, floor


def report(results: dict[str, list[tuple[float, float, float]]], floor: tuple | None) -> None:
    """Print the medians of the rounds and the ratios of the targets."""

    def med(name: str, index: int = 0) -> float:
        return statistics.median(r[index] for r in results[name])

    print()
    print("CPU per call: user + system time of each process over the measurement / calls "
          "(the pigpio row's server is the Python stand-in, not pigpiod)")
    print(f"{'client':<10}{'calls/s':>12}{'client µs':>11}{'server µs':>11}{'both µs':>9}")
    # both sides' CPU: not measured (0) where either side's is not
    both = {name: med(name, 1) + med(name, 2) if med(name, 1) and med(name, 2) else 0
            for name in results}
    for name in results:
        print(f"{name:<10}{med(name):>12,.0f}{cpu_text(med(name, 1)):>11}"
              f"{cpu_text(med(name, 2)):>11}{cpu_text(both[name]):>9}")
    if floor is not None:
        print(f"{'C floor':<10}{floor[0]:>12,.0f}{'':>11}{'':>11}{floor[1]:>9.1f}"
              "   (C ping-pong, two processes)")
    print()
    print(f"facade / pigpio    = {med('facade') / med('pigpio'):.2f}  (rate; target >= 1.0)")
    print(f"facade / pigpio    = {cpu_ratio(both['facade'], both['pigpio'])}  (CPU per call, both "
          "sides; target <= 0.8)")
    print(f"8threads / facade  = {med('8threads') / med('facade'):.2f}  (target >= 2.0)")
    print(f"facade / raw floor = {med('facade') / med('raw'):.2f}")
    print(f"batch100 / facade  = {med('batch100') / med('facade'):.2f}  (commands/s in "
          "100-command requests against single calls; target >= 10)")


def compare(args: argparse.Namespace) -> None:
    """``--revision``: each round, this script once on the revision's tree and once on
    the work tree's, each in a process of its own; medians side by side."""
    tree = export_tree(args.revision)
    runs = {args.revision: tree, "work tree": ROOT}
    results: dict[str, dict[str, list]] = {label: {} for label in runs}
    try:
        for r in range(args.rounds):
            for label, where in runs.items():
                env = dict(os.environ, PYTHONPATH=where)
                out = spawn_run([sys.executable, os.path.abspath(__file__), "--json",
                                 "--rounds", "1", "--seconds", str(args.seconds)],
                                env=env, cwd=where, check=True, text=True).stdout
                line = next(x for x in out.splitlines() if x.startswith("JSON "))
                for case, values in json.loads(line[5:]).items():
                    results[label].setdefault(case, []).extend(values)
            print(f"round {r + 1} done", flush=True)
    finally:
        shutil.rmtree(tree)
    floor = c_pingpong()
    for label in runs:
        print(f"\n== {label}")
        report(results[label], floor)
    before, after = results[args.revision], results["work tree"]

    def both(res: dict, case: str) -> float:
        """The median of both sides' CPU per call over the rounds that measured
        both (0: none did)."""
        rounds = [r[1] + r[2] for r in res[case] if r[1] and r[2]]
        return statistics.median(rounds) if rounds else 0

    print(f"\n== work tree / {args.revision} (CPU per call, both sides; medians)")
    for case in after:
        if case in before:
            print(f"{case:<10}{cpu_text(both(before, case)):>8} -> "
                  f"{cpu_text(both(after, case)):>5} µs"
                  f"  ({cpu_ratio(both(after, case), both(before, case))})")


if __name__ == "__main__":
    main()
