"""Processes that must not outlive the program that starts them: the servers, peers
and clients the tests and the benchmarks (``benchmarks/common.py``) start.

:func:`spawn` is ``subprocess.Popen`` for them: at exit the ones still running are
ended, and the kernel sends each SIGTERM when its parent dies without an exit (SIGKILL,
the OOM killer, a crash), so a killed ``pytest`` or benchmark leaves no server behind.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
from typing import Any, Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_prctl: Callable[..., int] | None = None
#: What spawn() started and may still run, ended at exit.
_children: list[subprocess.Popen] = []


def _end_children() -> None:
    """At exit (done, an exception, Ctrl-C, SIGTERM): end every process spawn()
    started that still runs: SIGTERM, and SIGKILL for one still there 5 s later."""
    running = [proc for proc in _children if proc.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def spawn(argv: list[str], preexec_fn: Callable[[], None] | None = None,
          **popen_kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(argv, **popen_kwargs)`` for a process that must not outlive
    this one (a server, a peer, a flooding client), however this one ends: at exit
    it is ended if it still runs, and the kernel sends it SIGTERM when this process
    dies without an exit (SIGKILL, a crash): ``prctl(PR_SET_PDEATHSIG)`` in the child
    before it executes ``argv``. The kernel sends that when the *thread* that spawned
    it ends: spawn from the main thread (or one that lives as long as the child)."""
    global _prctl
    if _prctl is None:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
        atexit.register(_end_children)
    prctl, parent = _prctl, os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nothing would come
            os._exit(1)
        if preexec_fn is not None:
            preexec_fn()

    proc = subprocess.Popen(argv, preexec_fn=die_with_parent, **popen_kwargs)
    _children[:] = [child for child in _children if child.poll() is None]
    _children.append(proc)
    return proc


def spawn_run(argv: list[str], timeout: float | None = None, check: bool = False,
              input: Any = None, capture_output: bool = True,
              **popen_kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, ...)`` through :func:`spawn`, capturing its output
    unless told not to: a server run to its end, or a benchmark run as a child that
    spawns servers of its own, ends with this process. As ``subprocess.run``, on
    ``timeout`` it is killed and ``TimeoutExpired`` raised."""
    if capture_output:
        popen_kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        popen_kwargs.setdefault("stdin", subprocess.PIPE)
    with spawn(argv, **popen_kwargs) as proc:  # the exit closes its pipes, waits
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        except BaseException:
            proc.kill()
            raise
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv, stdout, stderr)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
