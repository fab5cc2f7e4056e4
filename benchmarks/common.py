"""What the benchmarks share: both servers, each in a process of its own, and
:func:`spawn` for every process a benchmark starts that must not outlive it."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# last, so that a benchmark's own modules come first
sys.path.append(os.path.join(ROOT, "tests"))
import children  # noqa: E402 - tests/children.py, for the tests' processes too

#: The last commit before the hardening work (issue #12): the "before" of the
#: benchmarks that compare against it.
BEFORE_HARDENING = "5d9da22"

_STANDIN_MAIN = """
import sys
sys.path.insert(0, %r)
from minimal_pigpiod import PigpiodStandIn
standin = PigpiodStandIn()
print(standin.port, flush=True)
import time
paced = None
for line in sys.stdin:  # "GPIO COUNT [now]": send a burst of COUNT edges; EOF: stop
    if line.startswith("paced "):  # "paced GPIO COUNT INTERVAL START CYCLE": edges on their own
        paced = standin.paced(*map(int, line.split()[1:]))
        print("started", flush=True)
        continue
    if line.startswith("late"):  # wait for the paced edges: their lateness, µs
        paced.join()
        print(" ".join(map(str, paced.late)), flush=True)
        continue
    gpio, count, *now = line.split()
    # "now": the first edge's tick is this moment's CLOCK_MONOTONIC in µs (as the
    # simulated chip's), so that a client can tell how long the edge took to arrive
    start = time.monotonic_ns() // 1000 if now else 0
    standin.burst(int(gpio), int(count), start)
    print("sent", flush=True)
standin.close()
""" % HERE


def spawn(argv: list[str], preexec_fn: Callable[[], None] | None = None,
          **popen_kwargs) -> subprocess.Popen:
    """:func:`children.spawn` (``subprocess.Popen`` for a process that must not
    outlive the benchmark: ended at exit, or by the kernel when the benchmark is
    killed), SIGTERM first made to end the benchmark as Ctrl-C does
    (:func:`exit_on_sigterm`), so that its exit hooks end them."""
    exit_on_sigterm()
    return children.spawn(argv, preexec_fn, **popen_kwargs)


def spawn_run(argv: list[str], timeout: float | None = None, check: bool = False,
              **popen_kwargs) -> subprocess.CompletedProcess:
    """:func:`children.spawn_run` (``subprocess.run`` through :func:`spawn`, output
    captured): a benchmark run as a child (which spawns servers of its own) ends with
    this one."""
    exit_on_sigterm()
    return children.spawn_run(argv, timeout, check, **popen_kwargs)


def _pinned() -> list[str]:
    """``taskset -c CPU`` when ``GPIOSVR_BENCH_PIN`` names a CPU for the servers (a
    diagnostic of bench_latency.py), else nothing."""
    cpu = os.environ.get("GPIOSVR_BENCH_PIN")
    return ["taskset", "-c", cpu] if cpu else []


class StandinProcess:
    """``minimal_pigpiod.PigpiodStandIn`` serving from a process of its own."""

    def __init__(self) -> None:
        self.proc = spawn([*_pinned(), sys.executable, "-c", _STANDIN_MAIN],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def burst(self, gpio: int, count: int, now: bool = False) -> None:
        """Have the stand-in send ``count`` edges of ``gpio``; returns once sent. With
        ``now`` the first edge's tick is the stand-in's ``time.monotonic_ns() // 1000``
        as it sends (else 0)."""
        self.proc.stdin.write(f"{gpio} {count}{' now' if now else ''}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def paced(self, gpio: int, count: int, interval_us: int, start_tick: int,
              cycle_us: int = 0) -> None:
        """Have the stand-in send ``count`` edges of ``gpio`` by themselves, one every
        ``interval_us`` from its CLOCK_MONOTONIC ``start_tick`` (µs), each at its
        tick, or with ``cycle_us`` once a cycle as pigpiod (PigpiodStandIn.paced);
        returns once the thread has started."""
        self.proc.stdin.write(f"paced {gpio} {count} {interval_us} {start_tick} {cycle_us}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def paced_lateness(self) -> list[int]:
        """Once the paced edges are all sent: how many µs after its tick each went."""
        self.proc.stdin.write("late\n")
        self.proc.stdin.flush()
        return [int(v) for v in self.proc.stdout.readline().split()]

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def exit_on_sigterm() -> None:
    """Make SIGTERM end the benchmark as Ctrl-C does (a KeyboardInterrupt), so that
    its ``finally`` blocks and exit hooks run: its servers stop and its temporary
    directories go. A handler someone else installed is left alone."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupted)


def temporary_directory(prefix: str = "bench-") -> str:
    """A new temporary directory, removed when the benchmark ends, however it ends
    (done, an exception, Ctrl-C or SIGTERM; only SIGKILL leaves it: the processes
    :func:`spawn` started end then too). Removing it sooner is fine."""
    exit_on_sigterm()
    where = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, where, ignore_errors=True)
    return where


def export_tree(revision: str, *paths: str) -> str:
    """The tree of git ``revision`` of this repository (only ``paths`` if given) in a
    new temporary directory, to run the code as it was: ``PYTHONPATH=<it>``. It is
    removed when the benchmark ends (:func:`temporary_directory`)."""
    where = temporary_directory("bench-rev-")
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
    where = temporary_directory()
    path = os.path.join(where, "gpio.sock")
    ours = spawn([*_pinned(), sys.executable, "-m", "gpiosvr.server", "--socket", path,
                  "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    standin = None
    try:
        ours.stdout.readline()  # "gpiosvr: serving ..."
        standin = StandinProcess()
        yield path, standin
    finally:
        ours.terminate()
        if standin is not None:
            standin.stop()
        ours.wait(10)
        ours.stdout.close()
        shutil.rmtree(where, ignore_errors=True)


GPIO_SIM = "/sys/kernel/config/gpio-sim"


def make_gpio_sim_chip(name: str, label: str, num_lines: int = 28) -> tuple[str, str]:
    """A gpio-sim chip of ``num_lines`` lines labelled ``label`` (configfs entry
    ``name``; root and the gpio-sim module needed): its configfs and sysfs dirs."""
    config = os.path.join(GPIO_SIM, name)
    os.mkdir(config)
    os.mkdir(os.path.join(config, "bank0"))
    for path, text in (("bank0/num_lines", str(num_lines)), ("bank0/label", label),
                       ("live", "1")):
        with open(os.path.join(config, path), "w") as f:
            f.write(text)
    with open(os.path.join(config, "dev_name")) as f:
        dev_name = f.read().strip()
    with open(os.path.join(config, "bank0/chip_name")) as f:
        return config, f"/sys/devices/platform/{dev_name}/{f.read().strip()}"


def remove_gpio_sim_chip(config: str) -> None:
    """Take down a chip :func:`make_gpio_sim_chip` made."""
    with open(os.path.join(config, "live"), "w") as f:
        f.write("0")
    os.rmdir(os.path.join(config, "bank0"))
    os.rmdir(config)
