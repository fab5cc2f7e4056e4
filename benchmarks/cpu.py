"""CPU per call for the benchmarks: this process's and a server process's user +
system time over a measurement, divided by the calls made (steadier than rates on a
busy machine), and the C ping-pong floor: two processes taking turns over a Unix
socket with ``read``/``write`` in C, the least a round trip costs here."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

from common import temporary_directory

_TICK = os.sysconf("SC_CLK_TCK")

_PINGPONG_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* N round trips of 8 bytes between a parent and a child over a Unix stream
   socket pair; prints round trips per second and CPU microseconds per round
   trip (both processes, user + system). */
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int sv[2];
    char buf[64];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (long i = 0; i < n; i++) {
            if (read(sv[1], buf, sizeof buf) <= 0) _exit(1);
            if (write(sv[1], "@1 1\n", 5) != 5) _exit(1);
        }
        _exit(0);
    }
    close(sv[1]);
    for (long i = 0; i < n; i++) {
        if (write(sv[0], "@1 r 4\n", 7) != 7) return 1;
        if (read(sv[0], buf, sizeof buf) <= 0) return 1;
    }
    waitpid(pid, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage self, child;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &child);
    double cpu = self.ru_utime.tv_sec + self.ru_stime.tv_sec + child.ru_utime.tv_sec
        + child.ru_stime.tv_sec + (self.ru_utime.tv_usec + self.ru_stime.tv_usec
        + child.ru_utime.tv_usec + child.ru_stime.tv_usec) / 1e6;
    double wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f %.2f\n", n / wall, cpu / n * 1e6);
    return 0;
}
"""


def process_cpu(pid: int) -> float:
    """User + system seconds of process ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_text(us: float, spec: str = ".1f") -> str:
    """A CPU figure as text: ``n/a`` where the process used no CPU over the
    measurement as the kernel counts it (whole clock ticks, 10 ms here): less than
    a tick is not measured, and 0 would be a wrong figure to divide by."""
    return "n/a" if us == 0 else format(us, spec)


def cpu_ratio(num: float, den: float, spec: str = ".2f") -> str:
    """``num / den`` of two CPU figures as text, ``n/a`` where either is 0 (not
    measured, see :func:`cpu_text`)."""
    return "n/a" if num == 0 or den == 0 else format(num / den, spec)


def own_cpu() -> float:
    """User + system seconds of this process so far (all its threads)."""
    t = os.times()
    return t.user + t.system


def peer_pid(sock: socket.socket) -> int:
    """The pid of the process at the other end of Unix socket ``sock``."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[0]


def measure(call, seconds: float, server_pid: int, per_call: int = 1
            ) -> tuple[float, float, float]:
    """Run ``call()`` for about ``seconds``; return (calls per second, client CPU µs
    per call, server CPU µs per call). ``per_call``: how many calls one ``call()``
    makes (a batch), for the per-call figures and the rate."""
    for _ in range(100):  # warm up
        call()
    n = 0
    start, mine, theirs = time.perf_counter(), own_cpu(), process_cpu(server_pid)
    deadline = start + seconds
    while True:
        for _ in range(100):
            call()
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            break
    calls = n * per_call
    return (calls / (now - start), (own_cpu() - mine) / calls * 1e6,
            (process_cpu(server_pid) - theirs) / calls * 1e6)


def c_pingpong(round_trips: int = 200_000) -> tuple[float, float] | None:
    """(round trips per second, CPU µs per round trip) of the C ping-pong, or None
    (with a message) where there is no C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        print("no C compiler here (cc, gcc, clang): the C ping-pong floor is skipped")
        return None
    where = temporary_directory("bench-pingpong-")
    try:
        source, binary = os.path.join(where, "pingpong.c"), os.path.join(where, "pingpong")
        with open(source, "w") as f:
            f.write(_PINGPONG_C)
        subprocess.run([compiler, "-O2", "-o", binary, source], check=True)
        out = subprocess.run([binary, str(round_trips)], check=True, capture_output=True,
                             text=True).stdout.split()
        return float(out[0]), float(out[1])
    finally:
        shutil.rmtree(where)
