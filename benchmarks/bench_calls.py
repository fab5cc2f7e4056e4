"""Calls per second: our pigpio facade against the real pigpio client, side by side.

Run: ``python benchmarks/bench_calls.py [--seconds 1.0] [--rounds 5]``

In one run, interleaved round by round, it measures ``read()`` calls per second of:

* ``raw``      a blocking Unix-socket round trip (``@1 r 4``) to our server: the floor;
* ``facade``   ``gpiosvr.pigpio.pi().read(4)`` on one thread;
* ``pigpio``   the real pigpio 1.78 client's ``pi.read(4)`` against a minimal
               pigpiod-protocol stand-in (``pigpiod_standin.py``) on loopback TCP;
* ``8threads`` eight threads sharing one facade ``pi``.

Each server runs in a process of its own, as in real use. It prints the median of
the rounds for each, and the ratios the targets are about: facade / pigpio (target
>= 1.0) and 8threads / facade (target >= 2.0).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

from common import both_servers

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
    args = parser.parse_args()

    import pigpio as real_pigpio

    import gpiosvr.pigpio as facade

    with both_servers() as (path, standin):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(path)

        def raw_call() -> None:
            raw.sendall(b"@1 r 4\n")
            raw.recv(64)

        pi = facade.pi(path)
        real = real_pigpio.pi("127.0.0.1", standin.port)
        assert pi.connected and real.connected
        assert pi.read(4) == 1
        results: dict[str, list[float]] = {k: [] for k in
                                           ("raw", "facade", "pigpio", "8threads", "batch100")}
        batch = [("r", 4)] * 100
        client = pi._client
        for r in range(args.rounds):
            results["raw"].append(rate(raw_call, args.seconds))
            results["facade"].append(rate(lambda: pi.read(4), args.seconds))
            results["pigpio"].append(rate(lambda: real.read(4), args.seconds))
            results["8threads"].append(threaded_rate(lambda: pi.read(4), 8, args.seconds))
            # commands per second in 100-command requests
            results["batch100"].append(100 * rate(lambda: client.request(batch), args.seconds))
            print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:,.0f}/s"
                                                 for k, v in results.items()), flush=True)
        med = {k: statistics.median(v) for k, v in results.items()}
        print()
        print(f"{'client':<10}{'median calls/s':>16}")
        for k, v in med.items():
            print(f"{k:<10}{v:>16,.0f}")
        print()
        print(f"facade / pigpio    = {med['facade'] / med['pigpio']:.2f}  (target >= 1.0)")
        print(f"8threads / facade  = {med['8threads'] / med['facade']:.2f}  (target >= 2.0)")
        print(f"facade / raw floor = {med['facade'] / med['raw']:.2f}")
        print(f"batch100 / facade  = {med['batch100'] / med['facade']:.2f}  (commands/s in "
              "100-command requests against single calls; target >= 10)")
        pi.stop()
        real.stop()
        raw.close()


if __name__ == "__main__":
    main()
