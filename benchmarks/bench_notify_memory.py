"""Server memory with stalled subscribers, and the time to drop many handles.

Run: ``python benchmarks/bench_notify_memory.py [--before REV] [--clients 200,1000]
[--rounds 30] [--handles 20000]``

For the code of this tree, and with ``--before REV`` also for the code of git revision
``REV`` (exported to a temporary directory), side by side in one run, it starts a
server process on the simulated chip and measures:

* ``rss``: the server's resident memory (``VmRSS``, and its peak ``VmHWM``) after
  ``N`` subscribers to GPIO 7 that never read their socket, while a driver injects
  ``rounds`` bursts of 20,000 edges on GPIO 7 (a flood); ``died`` if the server did
  not survive it (it runs with its address space limited to ``--as-limit-mib``, so a
  runaway ends in ``MemoryError`` rather than taking the machine);
* ``close``: seconds from closing one connection that holds ``--handles``
  notification handles until the server reports none left (the handle caps are
  raised for this measurement, so both codes hold the same number).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import time

from common import export_tree, spawn, temporary_directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs the server with the notification handle caps raised (harmless for code that
# has none), so that --handles handles fit on one connection.
_SERVER_MAIN = """
import sys
import gpiosvr.server.notify as notify
notify.MAX_HANDLES_PER_CONNECTION = notify.MAX_HANDLES_PER_UID = notify.MAX_HANDLES = %d
from gpiosvr.server.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Server:
    """A server process running the code in ``tree``."""

    def __init__(self, tree: str, handles: int, as_limit_mib: int) -> None:
        self.dir = temporary_directory("bench-")
        self.path = os.path.join(self.dir, "gpio.sock")

        def limit() -> None:
            limit_bytes = as_limit_mib << 20
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

        self.proc = spawn(
            [sys.executable, "-c", _SERVER_MAIN % handles, "--socket", self.path,
             "--log-level", "ERROR"],
            cwd=tree, env={**os.environ, "PYTHONPATH": tree}, preexec_fn=limit,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "serving" not in self.proc.stdout.readline():
            raise RuntimeError(f"the server in {tree} did not start")

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server."""
        values = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(600)
    sock.connect(path)
    return sock


def ask(sock: socket.socket, frames: list[str]) -> list[str]:
    """Send the frames at once and return their answer lines (notifications left out)."""
    sock.sendall("".join(f + "\n" for f in frames).encode())
    answers: list[str] = []
    data = b""
    while len(answers) < len(frames):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
        *lines, data = data.split(b"\n")
        answers += [line.decode() for line in lines if not line.startswith(b"*")]
    return answers


def rss_after_flood(tree: str, clients: int, rounds: int, as_limit_mib: int) -> str:
    server = Server(tree, 32, as_limit_mib)
    stalled = []
    try:
        for _ in range(clients):
            sock = connect(server.path)
            handle = ask(sock, ["@1 no"])[0].split()[1]
            ask(sock, [f"@2 nb {handle} {1 << 7}"])
            stalled.append(sock)  # and never read again
        driver = connect(server.path)
        try:
            for n in range(rounds):
                ask(driver, [f"@{n} siminject 7 20000 1"])
            ask(driver, ["@0 r 4"])  # every flush of the last burst is done
        except (ConnectionError, OSError):
            pass
        if not server.alive():
            return "died"
        rss, peak = server.memory_kib()
        return f"{rss / 1024:7.1f} MiB (peak {peak / 1024:.1f})"
    finally:
        for sock in stalled:
            sock.close()
        server.stop()


def close_seconds(tree: str, handles: int, as_limit_mib: int) -> str:
    server = Server(tree, handles, as_limit_mib)
    try:
        many, probe = connect(server.path), connect(server.path)
        for start in range(0, handles, 1000):
            batch = min(1000, handles - start)
            ask(many, ["@1 " + ";".join(["no"] * batch)])
        count = int(ask(probe, ['@1 info'])[0].split('"notify_handles":')[1].split("}")[0])
        assert count == handles, count
        start = time.perf_counter()
        many.close()
        while True:
            info = ask(probe, ["@1 info"])[0]
            if '"notify_handles":0' in info:
                return f"{time.perf_counter() - start:8.3f} s"
    finally:
        server.stop()



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="git revision to compare with (e.g. main)")
    parser.add_argument("--clients", default="200,1000",
                        help="numbers of stalled subscribers, comma-separated")
    parser.add_argument("--rounds", type=int, default=30,
                        help="bursts of 20,000 edges in the flood")
    parser.add_argument("--handles", type=int, default=20000,
                        help="handles on the connection that closes")
    parser.add_argument("--as-limit-mib", type=int, default=4096,
                        help="address-space limit of each server process")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    trees = {"after": ROOT}
    if args.before:
        trees = {"before": export_tree(args.before), **trees}
    counts = [int(c) for c in args.clients.split(",")]
    names = list(trees)
    print(f"{'':32}" + "".join(f"{name:>30}" for name in names))
    try:
        for clients in counts:
            row = [rss_after_flood(trees[n], clients, args.rounds, args.as_limit_mib)
                   for n in names]
            print(f"{f'rss, {clients} stalled subscribers':32}"
                  + "".join(f"{cell:>30}" for cell in row), flush=True)
        row = [close_seconds(trees[n], args.handles, args.as_limit_mib) for n in names]
        print(f"{f'close, {args.handles} handles':32}" + "".join(f"{c:>30}" for c in row))
    finally:
        if args.before:
            shutil.rmtree(trees["before"], ignore_errors=True)


if __name__ == "__main__":
    main()
