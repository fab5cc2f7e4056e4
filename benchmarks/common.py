"""What the benchmarks share: both servers, each in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: The last commit before the hardening work (issue #12): the "before" of the
#: benchmarks that compare against it.
BEFORE_HARDENING = "5d9da22"

_STANDIN_MAIN = """
import sys
sys.path.insert(0, %r)
from pigpiod_standin import PigpiodStandIn
standin = PigpiodStandIn()
print(standin.port, flush=True)
import time
for line in sys.stdin:  # "GPIO COUNT [now]": send a burst of COUNT edges; EOF: stop
    gpio, count, *now = line.split()
    # "now": the first edge's tick is this moment's CLOCK_MONOTONIC in µs (as the
    # simulated chip's), so that a client can tell how long the edge took to arrive
    start = time.monotonic_ns() // 1000 if now else 0
    standin.burst(int(gpio), int(count), start)
    print("sent", flush=True)
standin.close()
""" % HERE


class StandinProcess:
    """``pigpiod_standin.PigpiodStandIn`` serving from a process of its own."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _STANDIN_MAIN],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.port = int(self.proc.stdout.readline())

    def burst(self, gpio: int, count: int, now: bool = False) -> None:
        """Have the stand-in send ``count`` edges of ``gpio``; returns once sent. With
        ``now`` the first edge's tick is the stand-in's ``time.monotonic_ns() // 1000``
        as it sends (else 0)."""
        self.proc.stdin.write(f"{gpio} {count}{' now' if now else ''}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def export_tree(revision: str, *paths: str) -> str:
    """The tree of git ``revision`` of this repository (only ``paths`` if given) in a
    new temporary directory, to run the code as it was: ``PYTHONPATH=<it>``. The
    caller removes it."""
    where = tempfile.mkdtemp(prefix="bench-rev-")
    archive = subprocess.run(["git", "-C", ROOT, "archive", revision, *paths],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    return where


def quiet_pigpio_exit(args: threading.ExceptHookArgs) -> None:
    """pigpio's notification thread dies noisily when its stand-in goes away."""
    if not issubclass(args.exc_type, ConnectionError):
        threading.__excepthook__(args)


@contextmanager
def both_servers() -> Iterator[tuple[str, StandinProcess]]:
    """A gpiosvr server (its socket path) and a pigpiod stand-in (its port)."""
    threading.excepthook = quiet_pigpio_exit
    path = os.path.join(tempfile.mkdtemp(prefix="bench-"), "gpio.sock")
    ours = subprocess.Popen([sys.executable, "-m", "gpiosvr.server", "--socket", path,
                             "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    ours.stdout.readline()  # "gpiosvr: serving ..."
    standin = StandinProcess()
    try:
        yield path, standin
    finally:
        ours.terminate()
        standin.stop()
        ours.wait(10)
        ours.stdout.close()
