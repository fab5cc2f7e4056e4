"""What connections cost the server: memory per idle connection, round trips with
many idle connections, and what a client that never reads its answers costs.

Run: ``PYTHONPATH=. python benchmarks/bench_connections.py [--idle 1000] [--requests 50000]``

In one run, against a server in a process of its own (``python -m gpiosvr.server``
on the simulated chip), it prints side by side:

* the server's resident memory at start, with ``--idle`` idle connections (each
  did a ``hello``), and the difference per connection;
* the median and 99th percentile of a ``@1 br1`` round trip on one connection, with
  no other connection open and with the idle ones open;
* a client that pipelines ``--requests`` ``info`` requests and never reads: how much
  the server grew while it was blocked, and how long reading every answer then took
  (the answers are made while it reads: before back-pressure held the requests,
  they were made, and buffered, at once);
* requests per second of a client that pipelines ``br1`` or ``info`` and reads the
  answers as they come.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from common import spawn, temporary_directory


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    return sock


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def round_trips(path: str, count: int) -> tuple[float, float]:
    """Median and 99th percentile of ``count`` ``br1`` round trips, in microseconds."""
    sock = connect(path)
    times = []
    for i in range(count + 200):
        start = time.perf_counter()
        sock.sendall(b"@1 br1\n")
        read_line(sock)
        if i >= 200:  # after a warm-up
            times.append((time.perf_counter() - start) * 1e6)
    sock.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def settle(pid: int) -> int:
    """The server's RSS once it stops changing (the loop has caught up)."""
    last = rss_kib(pid)
    for _ in range(50):
        time.sleep(0.1)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def non_reader(path: str, pid: int, requests: int) -> tuple[int, float]:
    """RSS growth (KiB) while a client that does not read is blocked, and the seconds
    it then takes to read every answer."""
    before = settle(pid)
    sock = connect(path)
    frames = b"".join(b"@%d info\n" % i for i in range(1, requests + 1))
    sender = threading.Thread(target=sock.sendall, args=(frames,), daemon=True)
    sender.start()
    time.sleep(1.0)  # let it fill every buffer on the way
    grown = settle(pid) - before
    start = time.perf_counter()
    got = 0
    while got < requests:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        got += chunk.count(b"\n")
    sender.join(30)
    sock.close()
    return grown, time.perf_counter() - start


def pipelined(path: str, command: bytes, requests: int) -> float:
    """Requests per second of ``requests`` pipelined ``command`` requests, sent by
    one thread while the main one reads the answers."""
    sock = connect(path)
    frames = b"".join(b"@%d %s\n" % (i, command) for i in range(1, requests + 1))
    start = time.perf_counter()
    sender = threading.Thread(target=sock.sendall, args=(frames,), daemon=True)
    sender.start()
    got = 0
    while got < requests:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        got += chunk.count(b"\n")
    elapsed = time.perf_counter() - start
    sender.join(30)
    sock.close()
    return requests / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--trips", type=int, default=5000)
    args = parser.parse_args()
    path = os.path.join(temporary_directory("bench-"), "gpio.sock")
    server = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", path,
                    "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()  # "gpiosvr: serving ..."
    try:
        quiet = round_trips(path, args.trips)
        start_rss = settle(server.pid)
        idle = []
        for _ in range(args.idle):
            sock = connect(path)
            sock.sendall(b'@1 hello 1 "idle"\n')
            read_line(sock)
            idle.append(sock)
        idle_rss = settle(server.pid)
        busy = round_trips(path, args.trips)
        for sock in idle:
            sock.close()
        grown, drain = non_reader(path, server.pid, args.requests)
        rates = {c: statistics.median(pipelined(path, c, args.requests) for _ in range(3))
                 for c in (b"br1", b"info")}
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
    per = (idle_rss - start_rss) / max(1, args.idle)
    print(f"server RSS: {start_rss} KiB at start, {idle_rss} KiB with {args.idle} idle "
          f"connections: {per:.1f} KiB per connection")
    print("br1 round trip, us      median     p99")
    print(f"  no other connection  {quiet[0]:7.1f} {quiet[1]:7.1f}")
    print(f"  {args.idle:5d} idle ones      {busy[0]:7.1f} {busy[1]:7.1f}")
    print(f"a client that does not read, {args.requests} pipelined 'info': the server "
          f"grew {grown} KiB while it was blocked; reading every answer took {drain:.2f} s")
    for command, value in rates.items():
        print(f"{args.requests} pipelined {command.decode()!r}, read as they come: "
              f"{value:,.0f} requests/s (median of 3)")


if __name__ == "__main__":
    main()
