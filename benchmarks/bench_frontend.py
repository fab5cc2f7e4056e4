"""The real pigpio client against gpiosvr's pigpiod front end and against the minimal
pigpiod stand-in, side by side, in one run.

Run: ``python benchmarks/bench_frontend.py [--seconds 1.5] [--rounds 3] [--edges 50000]``

Each server runs in a process of its own (``gpiosvr-server --pigpiod-port 0`` on the
simulated chip; ``pigpiod_standin.py``, plain blocking sockets and a thread per
connection), and the same real pigpio 1.78 client measures, round by round:

* ``calls/s``      ``pi.read(4)`` round trips;
* ``callbacks/s``  edges delivered to a ``pi.callback`` (a burst of ``--edges`` edges:
  ``siminject`` on gpiosvr's chip, :meth:`PigpiodStandIn.burst` on the stand-in),
  from the burst's start to its last callback.

It prints the median of the rounds for each and the ratio front end / stand-in
(target: >= 1.0 for calls; the stand-in sends ready-made reports, so its callback
rate is the client's ceiling).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pigpio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STANDIN = """
import sys
sys.path.insert(0, %r)
from pigpiod_standin import PigpiodStandIn
with PigpiodStandIn() as s:
    print(s.port, flush=True)
    for line in sys.stdin:
        gpio, count = map(int, line.split())
        s.burst(gpio, count)
        print("sent", flush=True)
""" % HERE


def call_rate(pi: "pigpio.pi", seconds: float) -> float:
    for _ in range(500):
        pi.read(4)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            pi.read(4)
        n += 100
    return n / (time.perf_counter() - start)


def callback_rate(pi: "pigpio.pi", edges: int, fire) -> float:
    """Edges per second reaching a callback; ``fire()`` starts the burst."""
    count = [0]
    done = threading.Event()

    def cb(gpio, level, tick):
        count[0] += 1
        if count[0] == edges:
            done.set()

    callback = pi.callback(17, pigpio.EITHER_EDGE, cb)
    pi.get_current_tick()  # the NB is through
    start = time.perf_counter()
    fire()
    done.wait(60)
    elapsed = time.perf_counter() - start
    callback.cancel()
    if count[0] != edges:
        print(f"  (only {count[0]} of {edges} edges came)")
    return count[0] / elapsed


def _quiet_resets(args: "threading.ExceptHookArgs") -> None:
    # pigpio's notification thread, reading as a server goes away at the end
    if not issubclass(args.exc_type, ConnectionResetError):
        sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)


def main() -> None:
    threading.excepthook = _quiet_resets
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edges", type=int, default=50000)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": ROOT}
    sock = os.path.join(tempfile.mkdtemp(prefix="gs-bench-"), "gpio.sock")
    ours = subprocess.Popen(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock, "--permit", "all",
         "--pigpiod-port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True, env=env)
    standin = subprocess.Popen([sys.executable, "-c", STANDIN], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        ours.stdout.readline()
        our_port = int(ours.stdout.readline().split()[-1])
        their_port = int(standin.stdout.readline())
        sys.path.insert(0, ROOT)
        from gpiosvr.blocking import BlockingClient
        local = BlockingClient(sock)
        pi_ours = pigpio.pi("127.0.0.1", our_port)
        pi_theirs = pigpio.pi("127.0.0.1", their_port)
        pi_ours.set_mode(17, pigpio.INPUT)

        def fire_ours():
            local.command("siminject", 17, args.edges, 1)

        def fire_theirs():
            standin.stdin.write(f"17 {args.edges}\n")
            standin.stdin.flush()

        results: dict[str, list[float]] = {k: [] for k in
                                           ("ours calls", "theirs calls", "ours cbs",
                                            "theirs cbs")}
        for _ in range(args.rounds):
            results["ours calls"].append(call_rate(pi_ours, args.seconds))
            results["theirs calls"].append(call_rate(pi_theirs, args.seconds))
            results["ours cbs"].append(callback_rate(pi_ours, args.edges, fire_ours))
            results["theirs cbs"].append(callback_rate(pi_theirs, args.edges, fire_theirs))
            standin.stdout.readline()  # "sent"
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"{'real pigpio client':<22}{'gpiosvr front end':>20}{'stand-in':>14}{'ratio':>8}")
        print(f"{'calls/s (read)':<22}{med['ours calls']:>20,.0f}{med['theirs calls']:>14,.0f}"
              f"{med['ours calls'] / med['theirs calls']:>8.2f}")
        print(f"{'callbacks/s':<22}{med['ours cbs']:>20,.0f}{med['theirs cbs']:>14,.0f}"
              f"{med['ours cbs'] / med['theirs cbs']:>8.2f}")
        pi_ours.stop()
        pi_theirs.stop()
        local.close()
    finally:
        ours.terminate()
        ours.wait(10)
        standin.stdin.close()
        standin.terminate()
        standin.wait(10)


if __name__ == "__main__":
    main()
