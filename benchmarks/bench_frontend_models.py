"""Which way of serving pigpiod connections can beat the stand-in: the event loop,
or a thread per connection, and what the hand-off to the loop costs a write.

Run: ``python benchmarks/bench_frontend_models.py [--rounds 5] [--calls 20000]``

Three bare servers (no gpiosvr code: a list of levels), each in a process of its
own, and the same real pigpio 1.78 client making ``pi.read(4)`` and
``pi.write(4, 1)`` round trips against each, rounds interleaved, medians, with the
server process's CPU per call (``/proc/PID/stat``):

* ``loop``      a uvloop protocol answering everything (as the front end does
  today: ``epoll_pwait``, ``read``, ``write`` per call);
* ``thread``    a thread per connection with blocking ``recv``/``send`` (as the
  stand-in: two system calls), reads answered on the thread, writes handed to the
  uvloop loop (``call_soon_threadsafe``), the thread waiting for the answer;
* ``thread+``   as ``thread``, but the loop sends a write's answer itself and the
  thread goes straight back to ``recv`` (the cheapest hand-off that keeps the
  loop the only one to change the state).

The front end's design keeps the backend and the hub on the loop, so a thread per
connection can only answer reads itself; this says what that would win for reads
and lose for writes (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import pigpio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import quiet_pigpio_exit, spawn  # noqa: E402
from cpu import cpu_text, process_cpu  # noqa: E402

SERVER = r'''
import asyncio, queue, socket, struct, sys, threading, uvloop
W = struct.Struct("<4I")
WRITE = 4
levels = [0] * 64

class Loop(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        cmd, p1, p2, _ = W.unpack_from(data)
        if cmd == WRITE:
            levels[p1 & 63] = p2
            result = 0
        else:
            result = levels[p1 & 63]
        self.transport.write(W.pack(cmd, p1, p2, result))

def serve(conn, loop, loop_sends):
    answers = queue.SimpleQueue()
    def write_waited(cmd, p1, p2):
        levels[p1 & 63] = p2
        answers.put(W.pack(cmd, p1, p2, 0))
    def write_sent(cmd, p1, p2):
        levels[p1 & 63] = p2
        conn.send(W.pack(cmd, p1, p2, 0), socket.MSG_DONTWAIT)
    try:
        while True:
            data = conn.recv(16)
            if len(data) < 16:
                return
            cmd, p1, p2, _ = W.unpack(data)
            if cmd != WRITE:
                conn.sendall(W.pack(cmd, p1, p2, levels[p1 & 63]))
            elif loop_sends:
                loop.call_soon_threadsafe(write_sent, cmd, p1, p2)
            else:
                loop.call_soon_threadsafe(write_waited, cmd, p1, p2)
                conn.sendall(answers.get())
    except OSError:
        pass

async def main(kind):
    loop = asyncio.get_running_loop()
    if kind == "loop":
        server = await loop.create_server(Loop, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        print(listener.getsockname()[1], flush=True)
        def accept():
            while True:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=serve, args=(conn, loop, kind == "thread+"),
                                 daemon=True).start()
        threading.Thread(target=accept, daemon=True).start()
    await asyncio.Event().wait()

uvloop.run(main(sys.argv[1]))
'''


def main() -> None:
    threading.excepthook = quiet_pigpio_exit
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    servers = {}
    for kind in ("loop", "thread", "thread+"):
        proc = spawn([sys.executable, "-c", SERVER, kind],
                     stdout=subprocess.PIPE, text=True)
        servers[kind] = (proc, pigpio.pi("127.0.0.1", int(proc.stdout.readline())))
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for kind, (proc, pi) in servers.items():
                for op, call in (("read", lambda: pi.read(4)),
                                 ("write", lambda: pi.write(4, 1))):
                    for _ in range(300):
                        call()
                    cpu, start = process_cpu(proc.pid), time.perf_counter()
                    for _ in range(args.calls):
                        call()
                    elapsed = time.perf_counter() - start
                    results.setdefault((kind, op), []).append(
                        (args.calls / elapsed, (process_cpu(proc.pid) - cpu)
                         / args.calls * 1e6))
    finally:
        for proc, pi in servers.values():
            pi.stop()
            proc.terminate()
            proc.wait(10)
    print(f"{'server':<10}{'read/s':>9}{'µs/read':>9}{'write/s':>9}{'µs/write':>10}")
    for kind in servers:
        med = {op: (statistics.median(r for r, _ in results[kind, op]),
                    statistics.median(c for _, c in results[kind, op]))
               for op in ("read", "write")}
        print(f"{kind:<10}{med['read'][0]:>9,.0f}{cpu_text(med['read'][1]):>9}"
              f"{med['write'][0]:>9,.0f}{cpu_text(med['write'][1]):>10}")


if __name__ == "__main__":
    main()
