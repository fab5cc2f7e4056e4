"""The user-space instructions each pigpiod server spends per call, counted by
callgrind: a noise-free comparison of the front end's call path with the stand-in's
and the uvloop floor's (the kernel's share, most of the CPU per call, is not counted).

Run: ``python benchmarks/bench_frontend_instructions.py [--calls 2000] [--root DIR]``

Each server (``gpiosvr-server --pigpiod-port 0`` from ``--root``, default this tree;
the stand-in and the uvloop floor of ``bench_frontend.py``) runs under
``valgrind --tool=callgrind``; the real pigpio client makes 300 calls, the counters
are zeroed (``callgrind_control -z``), then ``--calls`` ``pi.read(4)`` (and as many
``pi.write(4, 1)``) calls, and the instructions counted over them are divided by the
calls. Compare trees with ``--root``: ``git archive REV | tar -x -C DIR``.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import pigpio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_frontend import FLOOR, STANDIN, _quiet_resets  # noqa: E402
from common import spawn  # noqa: E402


def _start(kind: str, root: str, out_dir: str) -> tuple[subprocess.Popen, int]:
    valgrind = ["valgrind", "--tool=callgrind", "--separate-threads=no",
                f"--callgrind-out-file={out_dir}/{kind}.%p"]
    if kind == "front end":
        sock = os.path.join(tempfile.mkdtemp(prefix="gs-bench-"), "gpio.sock")
        proc = spawn(
            valgrind + [sys.executable, "-m", "gpiosvr.server", "--socket", sock,
                        "--permit", "all", "--pigpiod-port", "0", "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=root,
            env={**os.environ, "PYTHONPATH": root})
        proc.stdout.readline()
        return proc, int(proc.stdout.readline().split()[-1])
    proc = spawn(valgrind + [sys.executable, "-c", FLOOR if kind == "floor" else STANDIN],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL, text=True)
    return proc, int(proc.stdout.readline())


def _counted(pid: int, out_dir: str) -> int:
    """Instructions since the last zeroing, from a fresh dump."""
    before = set(glob.glob(f"{out_dir}/*.{pid}*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
    for _ in range(200):  # the dump is written by the server's own thread
        new = set(glob.glob(f"{out_dir}/*.{pid}*")) - before
        if new:
            break
        time.sleep(0.05)
    (path,) = new
    for _ in range(200):
        match = re.search(r"^(?:summary|totals): (\d+)", open(path).read(), re.M)
        if match:
            return int(match.group(1))
        time.sleep(0.05)
    raise RuntimeError(f"no totals in {path}")


def main() -> None:
    threading.excepthook = _quiet_resets
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--root", default=os.path.dirname(HERE))
    args = parser.parse_args()
    out_dir = tempfile.mkdtemp(prefix="gs-callgrind-")
    print(f"{'server':<12}{'instructions/read':>19}{'instructions/write':>20}")
    for kind in ("front end", "stand-in", "floor"):
        proc, port = _start(kind, os.path.abspath(args.root), out_dir)
        pi = pigpio.pi("127.0.0.1", port)
        counts = []
        try:
            for call in (lambda: pi.read(4), lambda: pi.write(4, 1)):
                for _ in range(300):
                    call()
                subprocess.run(["callgrind_control", "-z", str(proc.pid)],
                               capture_output=True, check=True)
                for _ in range(args.calls):
                    call()
                counts.append(_counted(proc.pid, out_dir) // args.calls)
        finally:
            pi.stop()
            proc.terminate()
            proc.wait(30)
        print(f"{kind:<12}{counts[0]:>19,}{counts[1]:>20,}")


if __name__ == "__main__":
    main()
