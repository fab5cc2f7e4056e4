"""How long one client's big requests hold the server's loop, and what another
client's ``read()`` sees meanwhile (issue #18, target 3).

    python benchmarks/bench_batches.py [--calls 3000] [--sizes 1,100,1000]

The server runs in a process of its own with every ``ClientConnection.data_received``
and ``_run_batch`` call timed in CPU (``time.thread_time_ns``: what the loop spent
on it, whatever else the machine does). For each request size, a flooding process
sends ``r 4`` x size requests back to back while this process makes ``--calls``
single ``pi.read(4)`` calls; printed: the loop callbacks' CPU p50/p99/max and the
reads' p50/p99 beside the same reads with no flood, in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_latency import call_latencies, pct  # noqa: E402
from common import ROOT, spawn, temporary_directory  # noqa: E402

#: The server, with its loop callbacks timed; a line on stdin: report them and forget.
_SERVER = """
import sys, threading, time
from gpiosvr.server import app
durations = []
for name in ("data_received", "_run_batch"):
    if not hasattr(app.ClientConnection, name):
        continue  # older code: requests ran whole
    def timed(self, *args, _run=getattr(app.ClientConnection, name)):
        start = time.thread_time_ns()
        _run(self, *args)
        durations.append(time.thread_time_ns() - start)
    setattr(app.ClientConnection, name, timed)

def report():
    for line in iter(sys.stdin.readline, ""):
        values = sorted(durations) or [0]
        durations.clear()
        print(len(values), values[len(values) // 2], values[int(len(values) * .99)],
              values[-1], file=sys.stderr, flush=True)

threading.Thread(target=report, daemon=True).start()
from gpiosvr.server.cli import main
sys.exit(main(sys.argv[1:]))
"""

_FLOOD = """
import sys
from gpiosvr.blocking import BlockingClient
client = BlockingClient(sys.argv[1])
batch = [("r", 4)] * int(sys.argv[2])
print("ready", flush=True)
while True:
    client.request(batch)
"""

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--sizes", default="1,100,1000")
    args = parser.parse_args()

    import gpiosvr.pigpio as facade

    env = dict(os.environ, PYTHONPATH=ROOT)
    path = os.path.join(temporary_directory("bench-"), "gpio.sock")
    server = spawn(
        [sys.executable, "-c", _SERVER, "--socket", path,
         "--log-level", "WARNING"], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server.stdout.readline()  # "gpiosvr: serving ..."
    pi = facade.pi(path)

    def loop_figures() -> list[int]:
        server.stdin.write("report\n")
        server.stdin.flush()
        return [int(x) for x in server.stderr.readline().split()]

    rows = []
    try:
        for size in [0] + [int(s) for s in args.sizes.split(",")]:
            flood = None
            if size:
                flood = spawn([sys.executable, "-c", _FLOOD, path, str(size)],
                              env=env, stdout=subprocess.PIPE, text=True)
                flood.stdout.readline()
                time.sleep(0.2)
            loop_figures()  # forget what came before
            reads = call_latencies([pi.read], args.calls)[0]
            count, p50, p99, longest = loop_figures()
            if flood:
                flood.kill()
                flood.wait()
                flood.stdout.close()
            rows.append((size, reads, count, p50, p99, longest))
    finally:
        pi.stop()
        server.terminate()
        server.wait(10)

    print(f"{'flood (commands/request)':>26}{'read p50 µs':>13}{'read p99 µs':>13}"
          f"{'loop calls':>12}{'CPU p50 µs':>12}{'CPU p99 µs':>12}{'CPU max µs':>12}")
    for size, reads, count, p50, p99, longest in rows:
        print(f"{size or 'none':>26}{pct(reads, .5) * 1e6:>13.0f}{pct(reads, .99) * 1e6:>13.0f}"
              f"{count:>12}{p50 / 1e3:>12.0f}{p99 / 1e3:>12.0f}{longest / 1e3:>12.0f}")
    idle = pct(rows[0][1], .99)
    for size, reads, *_ in rows[1:]:
        print(f"read p99 with {size}-command requests flooding / idle: "
              f"{pct(reads, .99) / idle:.1f}  (target <= 2)")


if __name__ == "__main__":
    main()
