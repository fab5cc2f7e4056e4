"""Benchmarks leave nothing behind in the temporary directory: not when they end,
not when they are interrupted (Ctrl-C, SIGTERM) while their servers run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from children import spawn
from conftest import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_CALLS = os.path.join(ROOT, "benchmarks", "bench_calls.py")


def start(tmp_path, *args: str) -> subprocess.Popen:
    """bench_calls.py (both servers, each in a process of its own), its temporary
    directories in ``tmp_path`` (TMPDIR)."""
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=ROOT)
    return spawn([sys.executable, BENCH_CALLS, *args], env=env, cwd=ROOT,
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def serving(tmp_path) -> bool:
    """Whether the benchmark's gpiosvr server has made its socket."""
    return any(os.path.exists(os.path.join(tmp_path, d, "gpio.sock"))
               for d in os.listdir(tmp_path))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_benchmark_removes_its_temporary_directories(tmp_path, signum):
    bench = start(tmp_path, "--seconds", "5", "--rounds", "5")
    try:
        wait_until(lambda: serving(tmp_path), timeout=30)
        bench.send_signal(signum)
        bench.wait(30)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert os.listdir(tmp_path) == [], bench.stderr.read()


def test_a_benchmark_run_to_its_end_removes_its_temporary_directories(tmp_path):
    bench = start(tmp_path, "--seconds", "0.05", "--rounds", "1")
    assert bench.wait(120) == 0, bench.stderr.read()
    assert os.listdir(tmp_path) == []


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes (of all its threads)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_benchmark_killed_outright_takes_its_servers_with_it(tmp_path):
    """SIGKILL leaves the benchmark no way to clean up: its server processes must
    end by themselves when their parent dies, not run on as orphans."""
    bench = start(tmp_path, "--seconds", "5", "--rounds", "5")
    servers: list[int] = []
    try:
        wait_until(lambda: serving(tmp_path), timeout=30)
        # both servers: gpiosvr and the pigpiod stand-in (the C ping-pong has ended)
        servers = wait_until(lambda: len(children(bench.pid)) >= 2 and children(bench.pid),
                             timeout=30)
        bench.kill()
        bench.wait(30)
        wait_until(lambda: all(gone(pid) for pid in servers), timeout=15)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for pid in servers:  # what the old code left behind
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
