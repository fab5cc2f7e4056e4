"""The real pigpio client against gpiosvr's pigpiod front end and against the minimal
pigpiod stand-in, side by side, in one run.

Run: ``python benchmarks/bench_frontend.py [--seconds 1.5] [--rounds 3] [--edges 50000]``

Each server runs in a process of its own (``gpiosvr-server --pigpiod-port 0`` on the
simulated chip; ``minimal_pigpiod.py``, plain blocking sockets and a thread per
connection), and the same real pigpio 1.78 client measures, round by round:

* ``calls/s``      ``pi.read(4)`` round trips;
* ``server µs/call`` the server process's CPU (user + system, from
  ``/proc/PID/stat``) over those round trips, per call: the figure to judge the
  server's call path by on a shared, noisy machine;
* ``callbacks/s``  edges delivered to a ``pi.callback`` (a burst of ``--edges`` edges:
  ``siminject`` on gpiosvr's chip, :meth:`PigpiodStandIn.burst` on the stand-in),
  from the burst's start to its last callback;
* ``server µs/edge`` the server process's CPU over the burst, per edge (the
  stand-in's reports are made in advance, with none of the front end's work: the
  chip's edges, the hub, pigpio's report per edge).

It prints the median of the rounds for each and the ratio front end / stand-in
(target: >= 1.0 for calls; the stand-in sends ready-made reports, so its callback
rate is the client's ceiling), and, for calls, a third server beside them: the
uvloop floor, a bare uvloop protocol that answers every command with 0 (what any
event-loop server costs per call before it does any work).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import pigpio

from common import quiet_pigpio_exit, spawn, temporary_directory
from cpu import cpu_ratio, cpu_text, process_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STANDIN = """
import sys
sys.path.insert(0, %r)
from minimal_pigpiod import PigpiodStandIn
with PigpiodStandIn() as s:
    print(s.port, flush=True)
    for line in sys.stdin:
        gpio, count = map(int, line.split())
        s.burst(gpio, count)
        print("sent", flush=True)
""" % HERE

#: The least an event-loop server can do per call: uvloop, a protocol that answers
#: every 16-byte command with its words and result 0, nothing else. Not a pigpiod
#: (no notifications): only the call column has it.
FLOOR = """
import asyncio, struct, uvloop
WORDS = struct.Struct("<4I")
class Floor(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        out = []
        for i in range(0, len(data) - 15, 16):
            cmd, p1, p2, _ = WORDS.unpack_from(data, i)
            out.append(WORDS.pack(cmd, p1, p2, 0))
        self.transport.write(b"".join(out))
async def main():
    server = await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""



def call_rate(pi: "pigpio.pi", seconds: float, pid: int) -> tuple[float, float]:
    """``pi.read(4)`` calls per second, and the server's CPU microseconds per call."""
    for _ in range(500):
        pi.read(4)
    n, cpu, start = 0, process_cpu(pid), time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            pi.read(4)
        n += 100
    elapsed = time.perf_counter() - start
    return n / elapsed, (process_cpu(pid) - cpu) / n * 1e6


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


def main() -> None:
    threading.excepthook = quiet_pigpio_exit
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edges", type=int, default=50000)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": ROOT}
    sock = os.path.join(temporary_directory("gs-bench-"), "gpio.sock")
    ours = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock, "--permit", "all",
         "--pigpiod-port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True, env=env)
    standin = spawn([sys.executable, "-c", STANDIN], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True)
    floor = spawn([sys.executable, "-c", FLOOR], stdout=subprocess.PIPE, text=True)
    try:
        ours.stdout.readline()
        our_port = int(ours.stdout.readline().split()[-1])
        their_port = int(standin.stdout.readline())
        floor_port = int(floor.stdout.readline())
        sys.path.insert(0, ROOT)
        from gpiosvr.blocking import BlockingClient
        local = BlockingClient(sock)
        pi_ours = pigpio.pi("127.0.0.1", our_port)
        pi_theirs = pigpio.pi("127.0.0.1", their_port)
        pi_floor = pigpio.pi("127.0.0.1", floor_port)
        pi_ours.set_mode(17, pigpio.INPUT)

        def fire_ours():
            local.command("siminject", 17, args.edges, 1)

        def fire_theirs():
            standin.stdin.write(f"17 {args.edges}\n")
            standin.stdin.flush()

        results: dict[str, list[float]] = {k: [] for k in
                                           ("ours calls", "theirs calls", "floor calls",
                                            "ours cpu", "theirs cpu", "floor cpu",
                                            "ours cbs", "theirs cbs",
                                            "ours edge cpu", "theirs edge cpu")}
        for _ in range(args.rounds):
            for side, pi, pid in (("ours", pi_ours, ours.pid),
                                  ("theirs", pi_theirs, standin.pid),
                                  ("floor", pi_floor, floor.pid)):
                rate, cpu = call_rate(pi, args.seconds, pid)
                results[f"{side} calls"].append(rate)
                results[f"{side} cpu"].append(cpu)
            for side, pi, pid, fire in (("ours", pi_ours, ours.pid, fire_ours),
                                        ("theirs", pi_theirs, standin.pid, fire_theirs)):
                cpu = process_cpu(pid)
                results[f"{side} cbs"].append(callback_rate(pi, args.edges, fire))
                results[f"{side} edge cpu"].append((process_cpu(pid) - cpu)
                                                   / args.edges * 1e6)
            standin.stdout.readline()  # "sent"
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"{'real pigpio client':<22}{'gpiosvr front end':>19}{'stand-in':>10}"
              f"{'ratio':>7}{'uvloop floor':>14}")
        for label, key, form in (("calls/s (read)", "calls", ",.0f"),
                                 ("server CPU µs/call", "cpu", ".1f"),
                                 ("callbacks/s", "cbs", ",.0f"),
                                 ("server CPU µs/edge", "edge cpu", ".2f")):
            # a CPU figure is n/a where the process used no CPU tick (cpu.cpu_text)
            text = (lambda v: cpu_text(v, form)) if "cpu" in key else \
                (lambda v: format(v, form))
            ratio = cpu_ratio if "cpu" in key else (lambda a, b: f"{a / b:.2f}")
            floor_text = text(med[f"floor {key}"]) if f"floor {key}" in med else "-"
            print(f"{label:<22}{text(med[f'ours {key}']):>19}{text(med[f'theirs {key}']):>10}"
                  f"{ratio(med[f'ours {key}'], med[f'theirs {key}']):>7}{floor_text:>14}")
        pi_ours.stop()
        pi_theirs.stop()
        pi_floor.stop()
        local.close()
    finally:
        ours.terminate()
        ours.wait(10)
        standin.stdin.close()
        standin.terminate()
        standin.wait(10)
        floor.terminate()
        floor.wait(10)


if __name__ == "__main__":
    main()
