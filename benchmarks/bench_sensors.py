"""How the simulated sensors answer pigpio's calls: readings per second and how late
their edges reach a client's callback (the edge's exact tick against the tick when
the callback runs), on an in-process server.

Run: ``PYTHONPATH=. python3 benchmarks/bench_sensors.py [--readings 200]``. It prints,
side by side, for the HC-SR04 (``gpio_trigger`` then the echo's falling edge) and the
DHT22 (start signal, then the 40th bit's edge): readings per second, and the callback
lateness p50/p99/max in µs. The ticks in the answers are exact whatever the lateness
(``tests/test_sensors.py`` asserts them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

from common import temporary_directory

import gpiosvr.pigpio as pigpio
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.sim.board import from_dict
from gpiosvr.server.thread import ServerThread


def measure(pi, readings: int, start, gpio: int, last_edge: int):
    """Run ``readings`` readings started by ``start()``; the lateness of edge number
    ``last_edge`` of each on ``gpio``, and the readings per second."""
    late: list[int] = []
    seen: list[int] = []
    done = threading.Event()

    def on_edge(g, level, tick):
        seen.append(tick)
        if len(seen) == last_edge:
            late.append((pi.get_current_tick() - tick) & 0xFFFFFFFF)
            done.set()

    cb = pi.callback(gpio, pigpio.EITHER_EDGE, on_edge)
    t0 = time.perf_counter()
    for _ in range(readings):
        seen.clear()
        done.clear()
        start()
        if not done.wait(5):
            raise RuntimeError("no answer")
    elapsed = time.perf_counter() - t0
    cb.cancel()
    return readings / elapsed, late


def row(name, rate, late):
    q = statistics.quantiles(late, n=100)
    print(f"{name:<8} {rate:>10.0f} {q[49]:>8.0f} {q[98]:>8.0f} {max(late):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200)
    args = parser.parse_args()
    chip = SimulatedChip()
    from_dict({"sensor": [{"model": "hc-sr04", "trigger": 23, "echo": 24, "distance": 0.5},
                          {"model": "dht22", "gpio": 4}]}).attach(chip)
    sock = os.path.join(temporary_directory("bench-sensors-"), "gpio.sock")
    with ServerThread(sock, chip):
        pi = pigpio.pi(sock)
        pi.set_mode(23, pigpio.OUTPUT)
        print(f"{'sensor':<8} {'reads/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8}")
        row("hc-sr04", *measure(pi, args.readings, lambda: pi.gpio_trigger(23, 10, 1), 24, 2))

        def dht_start():
            pi.write(4, 0)
            time.sleep(0.0012)
            pi.set_mode(4, pigpio.INPUT)

        # edges: the Pi's low, its release, the response (2), 40 bits (80), the end (2)
        row("dht22", *measure(pi, args.readings, dht_start, 4, 85))
        pi.stop()


if __name__ == "__main__":
    main()
