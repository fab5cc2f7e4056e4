"""Edges per second into a Python callback: our facade against the real pigpio client.

Run: ``python benchmarks/bench_edges.py [--edges 100000] [--rounds 3]``

In one run it measures, for each client, a burst of ``--edges`` edges on one GPIO
delivered to a ``func(gpio, level, tick)`` callback:

* ``gpiosvr``  a gpiosvr server (own process) injects the burst on its simulated
               chip (``siminject``); the facade ``pi.callback`` receives it;
* ``pigpio``   a pigpiod-protocol stand-in (own process, ``minimal_pigpiod.py``)
               sends the same burst as pigpio notification reports; the real pigpio
               1.78 client's ``pi.callback`` receives it.

Rate is edges / (last callback - burst start). Lost counts reports the client was
told it lost plus edges that never arrived. Latency (injection to callback) is
measured apart, with small paced bursts (50 edges every 5 ms, 4000 edges in all) so
that it is not the queueing of one huge burst: p50 and p99 per edge.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

from common import both_servers
from cpu import cpu_text, own_cpu, peer_pid, process_cpu

GPIO = 20


class Counter:
    """A callback that counts and stamps arrivals, and checks each report: the GPIO,
    levels alternating, each tick ``interval`` µs after the one before (a burst's
    ticks are exact on both sides); ``bad`` counts the reports that are not so."""

    def __init__(self, expected: int, interval: int = 1) -> None:
        self.expected = expected
        self.interval = interval
        self.count = 0
        self.bad = 0
        self.last = 0.0
        self.done = threading.Event()
        self.arrivals: list[float] | None = None
        self._previous: tuple[int, int] | None = None

    def __call__(self, gpio: int, level: int, tick: int) -> None:
        previous = self._previous
        if gpio != GPIO or (previous is not None and (
                level == previous[0] or tick != (previous[1] + self.interval) & 0xFFFFFFFF)):
            self.bad += 1
        self._previous = (level, tick)
        self.count += 1
        now = time.perf_counter()
        self.last = now
        if self.arrivals is not None:
            self.arrivals.append(now)
        if self.count >= self.expected:
            self.done.set()

    def reset(self, expected: int, stamps: bool = False) -> None:
        self.expected, self.count = expected, 0
        self._previous = None  # a new burst: its first tick is its own
        self.done.clear()
        self.arrivals = [] if stamps else None


def burst_rate(counter: Counter, start_burst, edges: int, server_pid: int
               ) -> tuple[float, int, float, float]:
    """Edges per second of one burst, edges missing, and CPU µs per edge of this
    process and of the server process."""
    counter.reset(edges)
    mine, theirs = own_cpu(), process_cpu(server_pid)
    t0 = time.perf_counter()
    start_burst(edges)
    counter.done.wait(60)
    rate = edges / (counter.last - t0)
    client_us = (own_cpu() - mine) / edges * 1e6
    server_us = (process_cpu(server_pid) - theirs) / edges * 1e6
    time.sleep(0.2)  # let any stragglers in, to count extras or losses exactly
    return rate, edges - counter.count, client_us, server_us


def latencies(counter: Counter, start_burst, bursts: int = 80, size: int = 50) -> list[float]:
    result = []
    for _ in range(bursts):
        counter.reset(size, stamps=True)
        t0 = time.perf_counter()
        start_burst(size)
        counter.done.wait(10)
        result.extend(a - t0 for a in counter.arrivals)
        time.sleep(0.005)
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import pigpio as real_pigpio

    import gpiosvr.pigpio as facade
    from gpiosvr.simulator import Simulator

    with both_servers() as (path, standin):
        pi = facade.pi(path)
        sim = Simulator(path)
        ours_cb = Counter(args.edges)
        pi.callback(GPIO, facade.EITHER_EDGE, ours_cb)

        def ours_burst(n: int) -> None:
            sim.inject(GPIO, n, 1)

        real = real_pigpio.pi("127.0.0.1", standin.port)
        real_cb = Counter(args.edges)
        real.callback(GPIO, real_pigpio.EITHER_EDGE, real_cb)
        time.sleep(0.2)

        def real_burst(n: int) -> None:
            standin.burst(GPIO, n)

        probe = socket.socket(socket.AF_UNIX)
        probe.connect(path)
        pids = {"gpiosvr": peer_pid(probe), "pigpio": standin.proc.pid}
        probe.close()
        rates: dict[str, list[float]] = {"gpiosvr": [], "pigpio": []}
        cpu: dict[str, list[tuple[float, float]]] = {"gpiosvr": [], "pigpio": []}
        lost = {"gpiosvr": 0, "pigpio": 0}
        for r in range(args.rounds):
            for name, cb, burst in (("gpiosvr", ours_cb, ours_burst),
                                    ("pigpio", real_cb, real_burst)):
                rate, missing, client_us, server_us = burst_rate(cb, burst, args.edges,
                                                                 pids[name])
                rates[name].append(rate)
                cpu[name].append((client_us, server_us))
                lost[name] += missing
            print(f"round {r + 1}: gpiosvr {rates['gpiosvr'][-1]:,.0f} edges/s, "
                  f"pigpio {rates['pigpio'][-1]:,.0f} edges/s", flush=True)
        lost["gpiosvr"] += pi.sl.s.lost_reports
        lat = {"gpiosvr": latencies(ours_cb, ours_burst),
               "pigpio": latencies(real_cb, real_burst)}
        print()
        print(f"{'client':<9}{'edges/s (median)':>18}{'lost':>7}{'bad':>6}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'client µs':>11}{'server µs':>11}")
        bad = {"gpiosvr": ours_cb.bad, "pigpio": real_cb.bad}
        for name in rates:
            client_us = statistics.median(c for c, _ in cpu[name])
            server_us = statistics.median(s for _, s in cpu[name])
            print(f"{name:<9}{statistics.median(rates[name]):>18,.0f}{lost[name]:>7}"
                  f"{bad[name]:>6}{pct(lat[name], 0.5) * 1000:>9.2f}"
                  f"{pct(lat[name], 0.99) * 1000:>9.2f}{cpu_text(client_us, '.2f'):>11}"
                  f"{cpu_text(server_us, '.2f'):>11}")
        print("bad: reports of another GPIO, a repeated level or a tick not 1 µs after "
              "the one before; CPU per edge of each process during the bursts (the "
              "pigpio row's server is the Python stand-in)")
        ratio = statistics.median(rates["gpiosvr"]) / statistics.median(rates["pigpio"])
        print(f"\ngpiosvr / pigpio = {ratio:.2f}  (target >= 1.0, none lost, p99 < 5 ms)")
        pi.stop()
        sim.close()
        real.stop()


if __name__ == "__main__":
    main()
