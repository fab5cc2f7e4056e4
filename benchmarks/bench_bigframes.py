"""What one big frame costs the other clients: how long it holds the server's loop,
and another client's ``read()`` latency while a client sends big frames back to back
(issue #18, target 3: "one big request holds the loop for at most ~0.2 ms at a
time").

    python benchmarks/bench_bigframes.py [--calls 600] [--rounds 3] [--revision main]
        [--floods json1048576,wvagjson3000,...] [--rt] [--phases]

One server process of this tree's code (``--revision REV`` adds one of git revision
REV's, in the same rounds: a "before"), each with the loop callbacks that run a
client's requests timed (``bench_batches.Server``: ``data_received`` and the turns
after it, CPU from ``time.thread_time_ns`` and wall time). Round by round, for each
server: this process's ``pi.read(4)``, ``--calls // --rounds`` a round, one at a
time, idle and then while a flooding process sends big frames of one kind back to
back (each waits for its answer):

* ``jsonN``: ``r [0,1,...]``, a JSON list of ints N bytes long (the command refuses
  it at once: decoding is all of it); ``pigsN``: the same ints as bare words;
* ``wvagjsonN``, ``wvagpigsN``, ``wvagbytesN``: ``wvnew`` and a ``wvag`` of N pulses
  as a JSON list, as bare ints (pigs), as ``%`` bytes (the facade's packing);
* ``i2cwdN``, ``i2cwdjsonN``: an I2C write of N bytes as ``%`` bytes, as a JSON list;
* ``procN``: a script of N bytes of text stored (a JSON string), then deleted;
* ``spirN``, ``spixN``: an SPI read of N bytes (a big answer), a transfer of N.

Printed per case: the reads' p50/p90/p99 and p99 / idle p99, the loop callbacks'
CPU and wall p99/max, and the flood's frames/s meanwhile. ``--rt``: this process and
the servers SCHED_FIFO (root), the floods below them: what is left of the reads'
delay is the server's loop holding, not the scheduler's choices.

``--phases``: only where a big frame's time goes, in this process, per kind (best
of 5): the reads before its last (``data_received`` of 256 KiB chunks, as uvloop
reads), its last read (finding the frame, decoding, executing, answering), and of
that the decoding (``protocol.decode_request``), the executing
(``commands.execute``) and the answer's encoding, each alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_batches import Flood, Server, measure_case, read_latencies  # noqa: E402
from bench_latency import pct  # noqa: E402
from common import ROOT, export_tree, temporary_directory  # noqa: E402

#: The frames of each kind of flood (``kind``, ``size``), and how many answers they
#: get; the flooding process and ``--phases`` share it (exec'd by both).
_FRAMES = r'''
import json, os, random, struct

def big_frames(kind, size, handle=0):
    """(frames to send in one write, answers they get): the big frame last."""
    rng = random.Random(size)
    if kind in ("json", "pigs"):
        values, length = [], 0
        while length < size:
            values.append(rng.randrange(1 << 20))
            length += len(str(values[-1])) + 1
        if kind == "json":
            return b"@1 r " + json.dumps(values, separators=(",", ":")).encode() + b"\n", 1
        return b"@1 r " + " ".join(map(str, values)).encode() + b"\n", 1
    if kind.startswith("wvag"):
        pulses = []
        for _ in range(size):
            pulses += [1 << rng.randrange(2, 28), 1 << rng.randrange(2, 28),
                       rng.randrange(1, 1000)]
        if kind == "wvagjson":
            body = json.dumps(pulses, separators=(",", ":")).encode()
        elif kind == "wvagpigs":
            body = " ".join(map(str, pulses)).encode()
        else:
            body = b"%" + struct.pack(f"<{len(pulses)}I", *pulses).hex().encode()
        return b"@1 wvnew\n@2 wvag " + body + b"\n", 2
    data = bytes(rng.randrange(256) for _ in range(size))
    if kind == "i2cwd":
        return b"@1 i2cwd %d %%%s\n" % (handle, data.hex().encode()), 1
    if kind == "i2cwdjson":
        return b"@1 i2cwd %d %s\n" % (handle, json.dumps(list(data)).replace(" ", "").encode()), 1
    if kind == "proc":
        text = ("w 4 1 w 4 0 " * (size // 12 + 1))[:size]
        return b"@1 proc " + json.dumps(text).encode() + b"\n", 1
    if kind == "spir":
        return b"@1 spir %d %d\n" % (handle, size), 1
    if kind == "spix":
        return b"@1 spix %d %%%s\n" % (handle, data.hex().encode()), 1
    raise SystemExit(f"unknown kind {kind}")

def open_handle(kind, request):
    """The handle a kind's frames use, opened with ``request(frame) -> answer``."""
    if kind.startswith("i2c"):
        return int(request(b"i2co 1 72 0\n"))
    if kind.startswith("spi"):
        return int(request(b"spio 0 1000000 0\n"))
    return 0
'''

#: A flooding client: ``path kind size counter-file nice``; it counts the big frames
#: answered in the counter file (8 bytes, mapped), as it goes.
_FLOOD = _FRAMES + r'''
import mmap, socket, sys, time
path, kind, size, counter, nice = sys.argv[1:6]
if int(nice):
    os.nice(int(nice))
with open(counter, "r+b") as f:
    count = mmap.mmap(f.fileno(), 8)
with open(counter + ".go", "w+b") as f:  # [go, idle]: BigFlood.go and pause
    f.write(bytes(2))
    f.flush()
    control = mmap.mmap(f.fileno(), 2)
pack = struct.Struct("<Q").pack_into
sock = socket.socket(socket.AF_UNIX)
sock.connect(path)
rest = b""

def answers(n):
    global rest
    got = []
    while len(got) < n:
        while b"\n" not in rest:
            rest += sock.recv(1 << 20)
        line, _, rest = rest.partition(b"\n")
        got.append(line)
    return got

def request(frame):
    sock.sendall(frame)
    return answers(1)[0]

frames, expected = big_frames(kind, int(size), open_handle(kind, request))
n = 0
print("ready", flush=True)
while True:
    if not control[0]:
        control[1] = 1
        while not control[0]:
            time.sleep(0.001)
        control[1] = 0
    sock.sendall(frames)
    last = answers(expected)[-1]
    if kind == "proc" and last[3:].isdigit():
        request(b"procd " + last[3:] + b"\n")
    n += 1
    pack(count, 0, n)
'''

class BigFlood(Flood):
    """A :class:`Flood` paused between two frames, never within one: stopped in the
    middle of a big frame it would leave the server an unfinished frame, and be
    closed after PARTIAL_FRAME_SECONDS."""

    def _control(self) -> mmap.mmap:
        if not hasattr(self, "control"):
            with open(self.counter_path + ".go", "r+b") as f:
                self.control = mmap.mmap(f.fileno(), 2)
        return self.control

    def go(self) -> None:
        control = self._control()
        control[1] = 0
        control[0] = 1
        super().go()

    def pause(self) -> None:
        control = self._control()
        control[0] = 0
        deadline = time.monotonic() + 30
        while not control[1] and time.monotonic() < deadline:
            time.sleep(0.001)
        super().pause()


DEFAULT_FLOODS = ("json1000000,pigs1000000,json65536,wvagjson3000,wvagpigs3000,"
                  "wvagbytes3000,i2cwd65536,i2cwdjson16384,proc65535,spir65535,spix65535")


def phases(names: list[str]) -> None:
    """Print where each kind's frame spends its time, in this process."""
    from gpiosvr import protocol
    from gpiosvr.server import GpioServer, app, commands

    namespace: dict = {}
    exec(_FRAMES, namespace)

    class Transport:  # what a connection needs of one
        def write(self, data: bytes) -> None:
            self.written = len(data)

        def is_closing(self) -> bool:
            return False

        def pause_reading(self) -> None:
            pass

        resume_reading = pause_reading

    async def measure() -> None:
        loop = asyncio.get_running_loop()
        server = GpioServer("/nonexistent/phases")
        server.hub.attach(loop, server.backend)
        server.backend.attach(loop)
        connection = app.ClientConnection(server)
        connection.transport = Transport()
        connection._loop = loop
        turn_times: list[float] = []
        for method in ("_run_batch", "_run_turn"):
            def timed(run=getattr(connection, method)) -> None:
                t = time.thread_time()
                run()
                turn_times.append(time.thread_time() - t)
            setattr(connection, method, timed)

        async def request(frame: bytes) -> str:
            answer = connection.handle_frame(frame.rstrip(b"\n"))
            return answer if type(answer) is str else await answer

        print("ms, best of 5: the reads before the last (256 KiB each, all and the "
              "longest), the last read's callback, the turns after it (how many, the "
              "longest); then decoding, executing, encoding the answer, each alone")
        print(f"{'frame':<18}{'bytes':>8}{'reads':>7}{'max':>6}{'last':>6}{'turns':>6}"
              f"{'max':>6}{'decode':>8}{'exec':>7}{'encode':>7}{'answer':>8}")
        for name in names:
            kind = name.rstrip("0123456789")
            handle = 0
            if kind.startswith(("i2c", "spi")):
                frame = b"i2co 1 72 0" if kind.startswith("i2c") else b"spio 0 1000000 0"
                handle = int((await request(frame)).strip())
            frames, _ = namespace["big_frames"](kind, int(name[len(kind):]), handle)
            head, _, big = frames.rpartition(b"\n@")
            big = (b"@" + big) if head else frames
            best = [float("inf")] * 8
            for _ in range(5):
                if head:
                    await request(head)
                text = protocol.frame_text(big[:-1])
                t0 = time.thread_time()
                request_ = protocol.decode_request(text)
                t1 = time.thread_time()
                server.backend.user = connection.session
                answer = commands.execute(connection.session, request_.commands[0])
                t2 = time.thread_time()
                if type(answer) is not str:
                    answer = await answer
                t3 = time.thread_time()
                response = protocol.encode_response([answer], 1).encode("ascii")
                t4 = time.thread_time()
                if head:
                    await request(head)
                reads, longest, chunk = 0.0, 0.0, 1 << 18
                for start in range(0, len(big) - chunk, chunk):
                    t = time.thread_time()
                    connection.data_received(big[start:start + chunk])
                    t = time.thread_time() - t
                    reads, longest = reads + t, max(longest, t)
                t = time.thread_time()
                connection.data_received(big[(len(big) - 1) // chunk * chunk:])
                last = time.thread_time() - t
                turn_times.clear()
                while connection._batch is not None or connection._turn_pending:
                    await asyncio.sleep(0)
                if type(answer) is not str:
                    await asyncio.sleep(0.01)
                for i, value in enumerate((reads, longest, last, len(turn_times),
                                           max(turn_times, default=0), t1 - t0, t2 - t1,
                                           t4 - t3)):
                    best[i] = min(best[i], value)
            reads, longest, last, turns, turn, decode, execute, encode = best
            print(f"{name:<18}{len(big):>8}{reads * 1e3:>7.2f}{longest * 1e3:>6.2f}"
                  f"{last * 1e3:>6.2f}{turns:>6}{turn * 1e3:>6.2f}{decode * 1e3:>8.2f}"
                  f"{execute * 1e3:>7.2f}{encode * 1e3:>7.2f}{len(response):>8}")

    asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=600,
                        help="reads per case, all rounds together")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floods", default=DEFAULT_FLOODS)
    parser.add_argument("--rt", action="store_true",
                        help="this process and the servers SCHED_FIFO (root)")
    parser.add_argument("--revision", help="also a server of this git revision's code, "
                        "in the same rounds: a 'before'")
    parser.add_argument("--phases", action="store_true",
                        help="only where each kind's time goes, in this process")
    args = parser.parse_args()
    names = args.floods.split(",")
    if args.phases:
        return phases(names)

    import gpiosvr.pigpio as facade

    env = dict(os.environ, PYTHONPATH=ROOT)
    where = temporary_directory("bench-")
    servers = [Server(where, 0, env, "tree")]
    if args.revision:
        tree = export_tree(args.revision)
        servers.insert(0, Server(where, 0, dict(env, PYTHONPATH=tree), args.revision[:8]))
    floods: dict[tuple[str, str], Flood] = {}
    pis = {}
    cases = ["idle"] + names
    reads: dict[tuple[str, str], list[list[float]]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    per_round = max(1, args.calls // args.rounds)
    try:
        for server in servers:
            if args.rt:
                os.sched_setscheduler(server.proc.pid, os.SCHED_FIFO, os.sched_param(10))
            pis[server.turn] = facade.pi(server.path)
            for name in names:
                floods[server.turn, name] = BigFlood(server, name, 0, where, env, False,
                                                     _FLOOD)
        if args.rt:  # after the floods are started: they would inherit it
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        for server in servers:  # warm up: first calls, imports, caches
            read_latencies(pis[server.turn].read, 300, 0)
            for name in names:
                flood = floods[server.turn, name]
                flood.go()
                time.sleep(0.05)
                flood.pause()
        for r in range(args.rounds):
            for server in servers:
                read = pis[server.turn].read
                for case in cases:
                    flood = floods.get((server.turn, case))
                    latencies, rate = measure_case(server, case, read, flood, per_round, 0)
                    reads.setdefault((server.turn, case), []).append(latencies)
                    if flood:
                        rates.setdefault((server.turn, case), []).append(rate)
            print(f"round {r + 1} of {args.rounds} done", flush=True)
        loop_figures = {server.turn: server.figures() for server in servers}
    finally:
        for flood in floods.values():
            flood.stop()
        for pi in pis.values():
            pi.stop()
        for server in servers:
            server.stop()

    print(f"\n{time.strftime('%H:%M UTC', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.1f}{', SCHED_FIFO' if args.rt else ''}; µs")
    print("read p50/p90/p99 of all rounds; /idle: p99 / the idle p99 (all rounds), and "
          "the median of the rounds' own ratios; loop callbacks' CPU and wall, p99 and max")
    print(f"{'server':>8} {'case':<18}{'read p50':>9}{'p90':>7}{'p99':>8}{'/idle':>7}"
          f"{'rounds':>7}{'loop CPU p99':>13}{'max':>8}{'wall p99':>9}{'max':>8}"
          f"{'frames/s':>10}")
    for server in servers:
        idle_rounds = reads[server.turn, "idle"]
        idle = pct([v for r in idle_rounds for v in r], .99)
        for case in cases:
            ratio = statistics.median(pct(a, .99) / pct(b, .99) for a, b in
                                      zip(reads[server.turn, case], idle_rounds))
            values = [v for r in reads[server.turn, case] for v in r]
            _, cpu99, cpumax, wall99, wallmax = loop_figures[server.turn].get(case, [0] * 5)
            rate = rates.get((server.turn, case))
            print(f"{server.turn:>8} {case:<18}{pct(values, .5) * 1e6:>9.0f}"
                  f"{pct(values, .9) * 1e6:>7.0f}{pct(values, .99) * 1e6:>8.0f}"
                  f"{pct(values, .99) / idle:>7.2f}{ratio:>7.2f}{cpu99 / 1e3:>13.0f}"
                  f"{cpumax / 1e3:>8.0f}{wall99 / 1e3:>9.0f}{wallmax / 1e3:>8.0f}"
                  f"{(sum(rate) / len(rate)) if rate else 0:>10,.0f}")
    if len(servers) == 2:
        before, after = (s.turn for s in servers)
        print(f"\n{after} / {before}: the other client's read p99, and the loop "
              "callbacks' CPU max")
        for case in names:
            b = pct([v for r in reads[before, case] for v in r], .99)
            a = pct([v for r in reads[after, case] for v in r], .99)
            bmax = loop_figures[before].get(case, [0] * 5)[2]
            amax = loop_figures[after].get(case, [0] * 5)[2]
            print(f"  {case:<18} p99 {a / b:5.2f}   CPU max {amax / 1e3:7.0f} / "
                  f"{bmax / 1e3:7.0f} µs = {amax / max(bmax, 1):.2f}")


if __name__ == "__main__":
    main()
