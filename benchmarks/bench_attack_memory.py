"""Server memory after the memory attacks of the hardening issue (#12 items 8 and 9),
for this tree and for the code before the hardening, in one run.

Run: ``python3 benchmarks/bench_attack_memory.py [--before REV] [--connections 200]
[--runs 200000]``. For each tree a server process on the simulated chip is attacked:

* hello names: ``--connections`` clients each send a ``hello`` whose name is almost
  1 MiB, and stay connected (before: every name was kept and logged whole);
* WAIT futures: a stored script ``wait 1`` (waits for an edge on GPIO 0) run and
  stopped ``--runs`` times, one round trip each (before: each stopped script's wait stayed
  until the next edge).

It prints the server's resident memory (VmRSS, KiB) at start and after each attack.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

from common import BEFORE_HARDENING, ROOT, export_tree, spawn, temporary_directory


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settle(pid: int) -> int:
    """The RSS once it stops changing (the server has caught up)."""
    last = -1
    for _ in range(50):
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    return last


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(120)
    sock.connect(path)
    return sock


def read_lines(sock: socket.socket, count: int) -> None:
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        data += chunk


def attack(tree: str, connections: int, runs: int) -> tuple[int, int, int]:
    where = temporary_directory("bench-mem-")
    path = os.path.join(where, "gpio.sock")
    server = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", path, "--log-level", "ERROR"],
        cwd=tree, env={**os.environ, "PYTHONPATH": tree},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()
        start = settle(server.pid)
        name = "n" * ((1 << 20) - 64)
        held = []
        for _ in range(connections):
            sock = connect(path)
            sock.sendall(f'@1 hello 1 "{name}"\n'.encode())
            read_lines(sock, 1)
            held.append(sock)
        names = settle(server.pid)
        for sock in held:
            sock.close()
        sock = connect(path)
        sock.sendall(b'@1 proc "wait 1"\n')
        read_lines(sock, 1)
        for i in range(runs):  # one round trip each, so the script reaches its WAIT
            sock.sendall(b"@%d procr 0\n" % i)
            read_lines(sock, 1)
            sock.sendall(b"@%d procs 0\n" % i)
            read_lines(sock, 1)
        waits = settle(server.pid)
        sock.close()
        return start, names, waits
    finally:
        server.terminate()
        server.wait(30)
        server.stdout.close()
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_HARDENING,
                        help=f"git revision of 'before' (default {BEFORE_HARDENING})")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--runs", type=int, default=200_000)
    args = parser.parse_args()
    old = export_tree(args.before)
    try:
        print(f"server VmRSS in KiB: at start; after {args.connections} 1 MiB hello "
              f"names; after {args.runs} run/stop of a WAIT script")
        for label, tree in ((f"before {args.before}", old), ("this tree", ROOT)):
            start, names, waits = attack(tree, args.connections, args.runs)
            print(f"{label:<16} {start:>9,} {names:>11,} {waits:>11,}", flush=True)
    finally:
        shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    main()
