"""What one client's requests cost the others: how long they hold the server's loop,
another client's ``read()`` latency meanwhile, and the flooding client's own rate
(issue #18, target 3).

    python benchmarks/bench_batches.py [--calls 1000] [--rounds 4] [--turns 32]
        [--floods single,batch100,batch1000,pipelined100,general100] [--pin]

One server process per ``--turns`` value (its ``SHORT_COMMANDS_PER_TURN`` set to it;
``--revision REV`` adds one running git revision REV's code, as it is),
each with the loop callbacks that run a client's requests timed
(``ClientConnection.data_received`` and the turns after it: CPU, from
``time.thread_time_ns``, and wall time). For each server, in the same run, round by
round so that all cases meet the same moments of a loaded machine:

* ``idle``: this process's ``pi.read(4)``, ``--calls // --rounds`` calls a round,
  one at a time, nobody else on the server;
* each flood, with a flooding process at nice 0 and then another at nice 19
  (``os.nice``: it gets the CPU only when this process and the server leave it):
  ``single`` facade ``pi.read(4)`` calls back to back; ``batchN`` requests of N
  ``r 4`` (``BlockingClient.request``); ``pipelinedN`` N single ``@1 r 4`` frames in
  one write, then their N answers; ``generalN`` N/2 x (``r 4``, ``pud 4 u``), a
  request the short way does not take (a non-int argument).

The flooding processes are started once and stopped (SIGSTOP) between their cases.
Printed per case: the reads' p50/p99 and p99 / idle p99, the loop callbacks' CPU and
wall p99/max, and the flood's commands/s meanwhile. Then, with nobody measuring, each
flood alone for ``--rate-seconds``: its commands/s and the server's CPU per command
(``/proc``), and the batch speed-up (batch commands/s / single calls/s). Last, what a
yielded turn costs: one ``call_soon`` round of an event loop (uvloop, the server's,
and asyncio's) with connections registered (an ``epoll_wait`` and the loop's own
work), against a plain call.

``--pin``: this process on CPU 0, the servers and the floods on CPU 1, so that the
measuring client never waits for the flood's CPU (other processes of the machine
still run anywhere). ``--rt``: this process and the servers run SCHED_FIFO (root
needed), the floods and everything else on the machine below them: what is left of
the reads' delay is the server's loop holding, not the scheduler's choices (the
kernel still keeps 5% of each second for the others). ``--server-nice N``: the
servers at nice N and every client at 0, as a systemd unit's ``Nice=`` runs the
server (docs/systemd/gpiosvr.service). ``--gap-us``: a pause between
two reads, so that the measuring client is not a flood of its own.

``--calibrate``: only what the server's kinds of work cost, in this process (CPU,
best of 5): a short command in a batch, a frame among pipelined ones, a command of a
request the short way does not take (decoded and run), a general command in a batch
planned the short way; the turn budget's weights (``GENERAL_COMMAND_COST``,
``FRAME_COST`` in ``gpiosvr/server/app.py``) come from these.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_latency import pct  # noqa: E402
from common import ROOT, export_tree, spawn, temporary_directory  # noqa: E402
from cpu import process_cpu  # noqa: E402

from gpiosvr.server.limits import SHORT_COMMANDS_PER_TURN  # noqa: E402

#: The server, with every loop callback timed under the label of the case running
#: (a line "case LABEL" on stdin); "dump" prints each label's figures as JSON.
_SERVER = """
import json, sys, threading, time
from gpiosvr.server import app
turn = int(sys.argv.pop(1))
if turn:  # 0: as the code has it
    app.SHORT_COMMANDS_PER_TURN = turn
current = [[]]
figures = {}
thread_time, perf = time.thread_time_ns, time.perf_counter_ns

def timed(run):
    def timed(self, *args):
        cpu, wall = thread_time(), perf()
        run(self, *args)
        current[0].append((thread_time() - cpu, perf() - wall))
    return timed

# the loop callbacks that run a client's requests (uvloop's own are not Python's)
for name in ("data_received", "resume_writing", "_run_batch", "_run_turn",
             "_drain_pending"):
    if hasattr(app.ClientConnection, name):
        setattr(app.ClientConnection, name, timed(getattr(app.ClientConnection, name)))
if hasattr(app, "_release_step"):  # a big frame's decoded lists let go of in turns
    app._release_step = timed(app._release_step)

def control():
    for line in iter(sys.stdin.readline, ""):
        word, _, label = line.strip().partition(" ")
        if word == "case":
            current[0] = figures.setdefault(label, [])
            print("ok", file=sys.stderr, flush=True)
        elif word == "dump":
            out = {}
            for label, values in figures.items():
                if label == "-" or not values:
                    continue
                cpu = sorted(v[0] for v in values)
                wall = sorted(v[1] for v in values)
                out[label] = [len(cpu), cpu[int(len(cpu) * .99)], cpu[-1],
                              wall[int(len(wall) * .99)], wall[-1]]
            print("JSON " + json.dumps(out), file=sys.stderr, flush=True)

threading.Thread(target=control, daemon=True).start()
from gpiosvr.server.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: A flooding client: ``path kind size counter-file nice``; it counts the commands
#: answered in the counter file (8 bytes, mapped), as it goes.
_FLOOD = """
import mmap, os, socket, struct, sys
path, kind, size, counter, nice = sys.argv[1:6]
size = int(size)
if int(nice):
    os.nice(int(nice))
with open(counter, "r+b") as f:
    count = mmap.mmap(f.fileno(), 8)
pack = struct.Struct("<Q").pack_into
n = 0
if kind == "pipelined":
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    frames = b"@1 r 4\\n" * size
    print("ready", flush=True)
    while True:
        sock.sendall(frames)
        got = 0
        while got < size:
            got += sock.recv(65536).count(b"\\n")
        n += size
        pack(count, 0, n)
elif kind == "single":
    import gpiosvr.pigpio as facade
    read = facade.pi(path).read
    print("ready", flush=True)
    while True:
        for _ in range(20):
            read(4)
        n += 20
        pack(count, 0, n)
else:
    from gpiosvr.blocking import BlockingClient
    request = BlockingClient(path).request
    batch = [("r", 4)] * size if kind == "batch" else [("r", 4), ("pud", 4, "u")] * (size // 2)
    print("ready", flush=True)
    while True:
        request(batch)
        n += len(batch)
        pack(count, 0, n)
"""


class Server:
    """A server process with its loop callbacks timed, and its turn size (0: the
    code's own); ``turn`` is its label (the turn, or a git revision's name)."""

    def __init__(self, where: str, turn: int, env: dict, label: str | None = None) -> None:
        self.turn = label or str(turn)
        self.path = os.path.join(where, f"gpio-{len(os.listdir(where))}.sock")
        self.proc = spawn(
            [sys.executable, "-c", _SERVER, str(turn), "--socket", self.path,
             "--log-level", "WARNING"], env=env, cwd=env["PYTHONPATH"],  # -c: cwd first
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.proc.stdout.readline()  # "gpiosvr: serving ..."

    def case(self, label: str) -> None:
        """Time the loop callbacks from now on under ``label``; returns once it does."""
        self.proc.stdin.write(f"case {label}\n")
        self.proc.stdin.flush()
        while self.proc.stderr.readline().strip() != "ok":
            pass

    def figures(self) -> dict:
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stderr.readline()
            if line.startswith("JSON "):
                return json.loads(line[5:])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Flood:
    """A flooding process, stopped (SIGSTOP) until :meth:`go`: ``script`` (run with
    ``python -c``; :data:`_FLOOD` unless told) with the arguments ``path kind size
    counter-file nice``, ``name`` being kind and size (``batch100``)."""

    def __init__(self, server: Server, name: str, nice: int, where: str, env: dict,
                 pin: bool, script: str = _FLOOD) -> None:
        kind = name.rstrip("0123456789")
        size = int(name[len(kind):] or 1)
        self.counter_path = os.path.join(where, f"count-{len(os.listdir(where))}")
        with open(self.counter_path, "wb") as f:
            f.write(bytes(8))
        self.proc = spawn([sys.executable, "-c", script, server.path, kind,
                           str(size), self.counter_path, str(nice)],
                          env=env, stdout=subprocess.PIPE, text=True)
        if pin:
            os.sched_setaffinity(self.proc.pid, {1})
        assert self.proc.stdout.readline().strip() == "ready"
        with open(self.counter_path, "r+b") as f:
            self.counter = mmap.mmap(f.fileno(), 8)
        self.pause()

    def count(self) -> int:
        """Commands answered so far (read until two reads agree: not torn)."""
        last = None
        while True:
            now = struct.unpack_from("<Q", self.counter)[0]
            if now == last:
                return now
            last = now

    def go(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()


def read_latencies(read, count: int, gap: float) -> list[float]:
    clock, sleep = time.perf_counter, time.sleep
    result = []
    for _ in range(count):
        t0 = clock()
        read(4)
        result.append(clock() - t0)
        if gap:
            sleep(gap)
    return result


def measure_case(server: Server, case: str, read, flood: "Flood | None", count: int,
                 gap: float) -> tuple[list[float], float]:
    """``count`` reads' latencies (:func:`read_latencies`) while ``flood`` goes
    (None: idle), the server's loop callbacks timed under ``case``; and the flood's
    commands (or frames) answered per second meanwhile (0 when idle)."""
    if flood:
        flood.go()
        time.sleep(0.05)
    server.case(case)
    before, t0 = flood.count() if flood else 0, time.perf_counter()
    latencies = read_latencies(read, count, gap)
    rate = (flood.count() - before) / (time.perf_counter() - t0) if flood else 0.0
    server.case("-")
    if flood:
        flood.pause()
    return latencies, rate


def yield_cost(new_loop, steps: int = 20000, connections: int = 8
               ) -> tuple[float, float, float]:
    """Wall µs per ``call_soon`` round of a ``new_loop()`` (``connections`` socket
    pairs registered, as a server has clients), CPU µs of it, and CPU µs per plain
    call."""
    loop = new_loop()
    pairs = [socket.socketpair() for _ in range(connections)]
    for a, _ in pairs:
        loop.add_reader(a.fileno(), a.recv, 1)
    left = [steps]

    def step() -> None:
        left[0] -= 1
        if left[0]:
            loop.call_soon(step)
        else:
            done.set_result(None)

    done = loop.create_future()
    cpu, wall = time.thread_time(), time.perf_counter()
    loop.call_soon(step)
    loop.run_until_complete(done)
    per_yield = (time.perf_counter() - wall) / steps * 1e6
    yield_cpu = (time.thread_time() - cpu) / steps * 1e6

    def plain() -> None:
        left[0] -= 1

    left[0] = steps
    cpu = time.thread_time()
    for _ in range(steps):
        plain()
    plain_cpu = (time.thread_time() - cpu) / steps * 1e6
    for a, b in pairs:
        loop.remove_reader(a.fileno())
        a.close()
        b.close()
    loop.close()
    return per_yield, yield_cpu, plain_cpu


def calibrate(rounds: int = 300) -> None:
    """Print what each kind of a connection's work costs, in this process."""
    from gpiosvr.server import GpioServer, app
    from gpiosvr.server.app import ClientConnection, GeneralBatch, plan_batch

    class Transport:  # what _run_frames needs of one
        def write(self, data: bytes) -> None:
            pass

        def is_closing(self) -> bool:
            return False

    connection = ClientConnection(GpioServer("/nonexistent/calibrate"))
    connection.transport = Transport()
    app.SHORT_COMMANDS_PER_TURN = 1 << 30  # all of it in one turn

    def per(work, count: int) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.thread_time()
            for _ in range(rounds):
                work()
            best = min(best, (time.thread_time() - start) / rounds / count * 1e6)
        return best

    def run(batch) -> None:
        batch.run(connection.session, 1 << 30)
        batch.answer()

    async def measure() -> None:
        connection._loop = asyncio.get_running_loop()
        frames = b"@1 r 4\n" * 100
        shorts = b";".join([b"r 4"] * 100) + b"\n"
        general = b"@5 " + b";".join([b"r 4", b"pud 4 u"] * 50)
        mixed = b";".join([b"mg 4", b"pud 4 2"] * 50) + b"\n"
        short = per(lambda: run(plan_batch(b"@1", shorts)), 100)
        frame = per(lambda: connection._run_frames(frames), 100)
        decoded = per(lambda: run(GeneralBatch(general)), 100)
        planned = per(lambda: run(plan_batch(b"@1", mixed)), 50) - short
        print(f"a short command in a batch {short:.2f} µs; a pipelined frame "
              f"{frame:.2f} µs ({frame / short:.1f}x); a command of a request the "
              f"short way does not take {decoded:.2f} µs ({decoded / short:.1f}x); a "
              f"general command in a planned batch {planned:.2f} µs "
              f"({planned / short:.1f}x)")

    asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000,
                        help="reads per case, all rounds together")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--turns", default=str(SHORT_COMMANDS_PER_TURN),
                        help="SHORT_COMMANDS_PER_TURN of each server, comma-separated "
                             "(default: the server's own, %(default)s)")
    parser.add_argument("--floods", default="single,batch100,batch1000,pipelined100,"
                        "general100")
    parser.add_argument("--rate-seconds", type=float, default=0.3,
                        help="each flood alone, per round")
    parser.add_argument("--pin", action="store_true",
                        help="this process on CPU 0, servers and floods on CPU 1")
    parser.add_argument("--server-nice", type=int, default=0, metavar="N",
                        help="the servers at nice N (below 0: root), the clients at 0, "
                             "as a unit's Nice= would run it")
    parser.add_argument("--rt", action="store_true",
                        help="this process and the servers SCHED_FIFO (root)")
    parser.add_argument("--gap-us", type=float, default=0,
                        help="pause between two measured reads")
    parser.add_argument("--revision", help="also a server of this git revision's code "
                        "(its own turn size), in the same rounds: a 'before'")
    parser.add_argument("--calibrate", action="store_true",
                        help="only what each kind of work costs the server")
    args = parser.parse_args()
    if args.calibrate:
        return calibrate()

    import gpiosvr.pigpio as facade

    env = dict(os.environ, PYTHONPATH=ROOT)
    where = temporary_directory("bench-")
    if args.pin:
        os.sched_setaffinity(0, {0})
    servers = [Server(where, int(t), env) for t in args.turns.split(",")]
    if args.revision:
        tree = export_tree(args.revision)
        servers.insert(0, Server(where, 0, dict(env, PYTHONPATH=tree), args.revision[:8]))
    floods: dict[tuple[int, str, int], Flood] = {}
    pis = {}
    names = args.floods.split(",")
    cases = ["idle"] + [f"{name}{niced}" for name in names for niced in ("", " nice19")]
    reads: dict[tuple[str, str], list[list[float]]] = {}  # a list of reads a round
    flood_rates: dict[tuple[int, str], list[float]] = {}
    per_round = max(1, args.calls // args.rounds)
    rates: dict[tuple[int, str], list[tuple[float, float]]] = {}
    try:
        for server in servers:
            if args.pin:
                os.sched_setaffinity(server.proc.pid, {1})
            if args.rt:
                os.sched_setscheduler(server.proc.pid, os.SCHED_FIFO, os.sched_param(10))
            if args.server_nice:
                os.setpriority(os.PRIO_PROCESS, server.proc.pid, args.server_nice)
            pis[server.turn] = facade.pi(server.path)
            for name in names:
                for nice in (0, 19):
                    floods[server.turn, name, nice] = Flood(server, name, nice, where,
                                                            env, args.pin)
        if args.rt:  # after the floods are started: they would inherit it
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        for server in servers:  # warm up: first calls, plans, caches
            read_latencies(pis[server.turn].read, 500, 0)
            for name in names:
                flood = floods[server.turn, name, 0]
                flood.go()
                time.sleep(0.05)
                flood.pause()
        for r in range(args.rounds):
            for server in servers:
                read = pis[server.turn].read
                for case in cases:
                    name, _, niced = case.partition(" ")
                    flood = None if case == "idle" else floods[server.turn, name,
                                                                19 if niced else 0]
                    latencies, rate = measure_case(server, case, read, flood, per_round,
                                                   args.gap_us / 1e6)
                    reads.setdefault((server.turn, case), []).append(latencies)
                    if flood:
                        flood_rates.setdefault((server.turn, case), []).append(rate)
            if args.rt:  # rates as the machine gives them, not at real-time priority
                for server in servers:
                    os.sched_setscheduler(server.proc.pid, os.SCHED_OTHER,
                                          os.sched_param(0))
            for server in servers:
                server.case("-")
                for name in names:
                    flood = floods[server.turn, name, 0]
                    flood.go()
                    time.sleep(0.05)
                    before, cpu = flood.count(), process_cpu(server.proc.pid)
                    t0 = time.perf_counter()
                    time.sleep(args.rate_seconds)
                    done = flood.count() - before
                    seconds = time.perf_counter() - t0
                    server_cpu = process_cpu(server.proc.pid) - cpu
                    flood.pause()
                    rates.setdefault((server.turn, name), []).append(
                        (done / seconds, server_cpu / max(done, 1) * 1e6))
            if args.rt:
                for server in servers:
                    os.sched_setscheduler(server.proc.pid, os.SCHED_FIFO,
                                          os.sched_param(10))
            print(f"round {r + 1} of {args.rounds} done", flush=True)
        loop_figures = {server.turn: server.figures() for server in servers}
    finally:
        for flood in floods.values():
            flood.stop()
        for pi in pis.values():
            pi.stop()
        for server in servers:
            server.stop()

    load = os.getloadavg()[0]
    print(f"\n{time.strftime('%H:%M UTC', time.gmtime())}, load average {load:.1f}"
          f"{', pinned' if args.pin else ''}{', SCHED_FIFO' if args.rt else ''}"
          f"{f', {args.gap_us:g} µs between reads' if args.gap_us else ''}; µs")
    print("read p50/p90/p99 of all rounds; /idle: p99 / the idle p99 (all rounds), and "
          "the median of the rounds' own ratios (each round's p99 / its idle p99)")
    print(f"{'turn':>8} {'case':<22}{'read p50':>9}{'p90':>7}{'p99':>7}{'/idle':>7}"
          f"{'rounds':>7}{'loop CPU p99':>13}{'max':>7}{'wall p99':>9}{'max':>7}"
          f"{'flood cmd/s':>13}")
    for server in servers:
        idle_rounds = reads[server.turn, "idle"]
        idle = pct([v for r in idle_rounds for v in r], .99)
        for case in cases:
            per_round_ratio = statistics.median(
                pct(a, .99) / pct(b, .99) for a, b in zip(reads[server.turn, case],
                                                           idle_rounds))
            values = [v for r in reads[server.turn, case] for v in r]
            count, cpu99, cpumax, wall99, wallmax = loop_figures[server.turn].get(
                case, [0] * 5)
            rate = flood_rates.get((server.turn, case))
            print(f"{server.turn:>8} {case:<22}{pct(values, .5) * 1e6:>9.0f}"
                  f"{pct(values, .9) * 1e6:>7.0f}{pct(values, .99) * 1e6:>7.0f}"
                  f"{pct(values, .99) / idle:>7.2f}{per_round_ratio:>7.2f}"
                  f"{cpu99 / 1e3:>13.0f}{cpumax / 1e3:>7.0f}{wall99 / 1e3:>9.0f}"
                  f"{wallmax / 1e3:>7.0f}"
                  f"{(sum(rate) / len(rate)) if rate else 0:>13,.0f}")
    print(f"\neach flood alone, {args.rate_seconds:g} s a round, nobody measuring, no "
          "real-time priority: commands/s and the server's CPU µs per command, medians of "
          "the rounds")
    rate = {key: (statistics.median(r for r, _ in values),
                  statistics.median(c for _, c in values)) for key, values in rates.items()}
    for server in servers:
        print(f"turn {server.turn}: " + "  ".join(
            f"{name} {rate[server.turn, name][0]:,.0f}/s {rate[server.turn, name][1]:.2f} µs"
            for name in names))
        if "single" in names:
            single = rate[server.turn, "single"][0]
            print(f"turn {server.turn}: speed-up over single calls: " + "  ".join(
                f"{name} {rate[server.turn, name][0] / single:.1f}x" for name in names
                if name.startswith("batch")) + "  (target >= 10); per round: " + "  ".join(
                f"{name} " + "/".join(f"{b[0] / a[0]:.1f}" for a, b in zip(
                    rates[server.turn, "single"], rates[server.turn, name]))
                for name in names if name.startswith("batch")))
    loops = [("asyncio", asyncio.new_event_loop)]
    try:
        import uvloop
        loops.insert(0, ("uvloop", uvloop.new_event_loop))
    except ImportError:
        pass
    print()
    for label, new_loop in loops:
        wall, cpu, plain = yield_cost(new_loop)
        print(f"a yielded turn ({label}, a call_soon round, 8 connections registered): "
              f"{wall:.2f} µs wall, {cpu:.2f} µs CPU; a plain call {plain:.2f} µs")


if __name__ == "__main__":
    main()
