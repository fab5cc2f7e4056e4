"""Benchmarks leave nothing behind in the temporary directory: not when they end,
not when they are interrupted (Ctrl-C, SIGTERM) while their servers run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_CALLS = os.path.join(ROOT, "benchmarks", "bench_calls.py")


def start(tmp_path, *args: str) -> subprocess.Popen:
    """bench_calls.py (both servers, each in a process of its own), its temporary
    directories in ``tmp_path`` (TMPDIR)."""
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, BENCH_CALLS, *args], env=env, cwd=ROOT,
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
