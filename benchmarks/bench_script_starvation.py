"""How long a client waits behind scripts: a probe's read latency while 32 scripts
run flat out, with the code before the script scheduler and with this tree.

Run: ``python benchmarks/bench_script_starvation.py [--seconds 5] [--before REV]
[--in-process]``

In one run, one server after the other (each a ``python -m gpiosvr.server`` process
of its own, on the simulated chip), it measures:

* ``idle``    this tree, no script running: the floor;
* ``before``  the tree at ``REV`` (default: the commit before the scheduler), exported
              with ``git archive``, 32 scripts ``tag 0 w 4 1 w 4 0 inr p0 jmp 0``;
* ``after``   this tree, the same 32 scripts.

With ``--in-process`` each server is a thread of the probe's own process
(``ServerThread``, as ``gpiosvr-run --sim``, the examples and notebooks run it):
there the probe's thread also waits for the GIL, which the scripts' loop thread
holds but for the instants it polls I/O (``SCRIPT_GIL_PAUSE_SECONDS``).

The probe is a blocking Unix-socket round trip (``@n r 4``), one after the other for
``--seconds``; it prints p50, p99 and max of them in milliseconds, how many it made,
and how many loops the 32 scripts made per second meanwhile (their ``p0``, summed),
so that the price of fairness shows next to its gain.
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
import time

from common import BEFORE_HARDENING, export_tree, spawn, temporary_directory

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(HERE)
#: The last commit before the script scheduler (issue #12).
BEFORE = BEFORE_HARDENING
SCRIPT = "tag 0 w 4 1 w 4 0 inr p0 jmp 0"
SCRIPTS = 32


class Raw:
    """A blocking Unix-socket connection speaking raw request frames."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.buffer = b""
        self.n = 0

    def ask(self, command: str) -> str:
        """Send one command, return its answer (the text after the request id)."""
        self.n += 1
        self.sock.sendall(f"@{self.n} {command}\n".encode())
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        ident, _, answer = line.decode().partition(" ")
        assert ident == f"@{self.n}", line
        return answer

    def close(self) -> None:
        self.sock.close()


def serve(tree: str, path: str) -> subprocess.Popen:
    """A server of the code in ``tree`` on ``path``."""
    env = dict(os.environ, PYTHONPATH=tree)
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", path,
                  "--log-level", "WARNING"], cwd=tree, env=env,
                 stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "serving" in line, line
    return proc


def imported_from(tree: str) -> str:
    """Where a server started for ``tree`` imports its script engine from."""
    env = dict(os.environ, PYTHONPATH=tree)
    return subprocess.run([sys.executable, "-c", "import gpiosvr.server.scripts as s; "
                           "print(s.__file__)"], cwd=tree, env=env, text=True,
                          capture_output=True, check=True).stdout.strip()


def probe(path: str, scripts: int, seconds: float) -> dict[str, float]:
    """Probe latencies (ms) and script loops per second on the server at ``path``
    while ``scripts`` scripts run flat out."""
    control, prober = Raw(path), Raw(path)
    ids = [int(control.ask(f'proc "{SCRIPT}"')) for _ in range(scripts)]
    for sid in ids:
        assert control.ask(f"procr {sid}") == "0"

    def loops() -> int:
        return sum(int(control.ask(f"procp {sid}").strip("[]").split(",")[1])
                   for sid in ids)

    for _ in range(5):  # warm up
        prober.ask("r 4")
    start_loops, start = loops(), time.perf_counter()
    latencies = []
    deadline = start + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        prober.ask("r 4")
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    rate = (loops() - start_loops) / elapsed
    for sid in ids:
        control.ask(f"procs {sid}")
    control.close()
    prober.close()
    latencies.sort()
    return {"p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max": latencies[-1], "calls": len(latencies), "loops/s": rate}


#: ``--in-process``: a child of ``tree``'s code runs a ServerThread and the probe in
#: one process, as ``gpiosvr-run --sim``, the examples and notebooks do.
_IN_PROCESS = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import bench_script_starvation as bench
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread
with ServerThread(sys.argv[2], SimulatedChip()):
    print(json.dumps(bench.probe(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
"""


def measure(tree: str, scripts: int, seconds: float,
            in_process: bool = False) -> dict[str, float]:
    """:func:`probe` on a server of ``tree`` (a process of its own, or a thread of
    the probe's process)."""
    sock_dir = temporary_directory("bench-")
    path = os.path.join(sock_dir, "gpio.sock")
    try:
        if in_process:
            out = subprocess.run(
                [sys.executable, "-c", _IN_PROCESS, HERE, path, str(scripts), str(seconds)],
                cwd=tree, env=dict(os.environ, PYTHONPATH=tree), text=True,
                capture_output=True, check=True, timeout=seconds * 20 + 120).stdout
            return json.loads(out.strip().splitlines()[-1])
        proc = serve(tree, path)
        try:
            return probe(path, scripts, seconds)
        finally:
            proc.terminate()
            proc.wait(30)
            proc.stdout.close()
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--before", default=BEFORE, help="git revision of 'before'")
    parser.add_argument("--in-process", action="store_true",
                        help="the server a thread of the probe's process (ServerThread)")
    args = parser.parse_args()

    old = export_tree(args.before)
    try:
        rows = [("idle", TREE, 0), (f"before ({args.before[:7]})", old, SCRIPTS),
                ("after (this tree)", TREE, SCRIPTS)]
        for name, tree, _ in rows[1:]:
            print(f"{name}: {imported_from(tree)}")
        print(f"\nprobe 'r 4' round trips for {args.seconds:g} s each, "
              f"{SCRIPTS} scripts '{SCRIPT}'\n")
        print(f"{'server':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
              f"{'calls':>7} {'script loops/s':>15}")
        for name, tree, scripts in rows:
            r = measure(tree, scripts, args.seconds, args.in_process)
            print(f"{name:<20} {r['p50']:8.3f} {r['p99']:8.3f} {r['max']:8.3f} "
                  f"{r['calls']:7d} {r['loops/s']:15,.0f}", flush=True)
    finally:
        shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    main()
