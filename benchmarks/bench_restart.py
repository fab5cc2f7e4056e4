"""Edges lost across a server restart: this tree against another revision.

Run: ``python benchmarks/bench_restart.py [--restarts 20] [--outage 0.3] [--before REV]``

For each code tree (this one, and ``--before``, default ``5d9da22``, the code
before this work, exported with ``git archive``), in a process of its own: a facade ``pi`` with a callback on GPIO 20;
``--restarts`` times the server (own process) is SIGKILLed, left down ``--outage``
seconds and started again on the same socket. A driver (a process of its own)
tries to connect every 0.2 ms meanwhile and, from the moment the new server takes
connections, injects an edge every 0.5 ms or so (a new tick each) for 300 ms, while
the main thread calls ``pi.read`` until one succeeds. Per restart:

* ``back ms``    from the new server making its socket (the file's ctime) to the
                 callback connection being back, callbacks restored;
* ``lost``       edges injected before the first one the callback saw (the driver
                 starts the moment the socket takes connections);
* ``lost after ok``  edges injected after the first successful ``pi.read`` returned
                 that never reached the callback (must be 0);
* ``gap ms``     the gap the client reported ("reconnected ... after N ms");
* ``cpu %``      the client process's CPU time over the outage, in % of one core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from common import BEFORE_HARDENING, export_tree, spawn_run, temporary_directory

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DRIVER = r"""
import socket, sys, time
from gpiosvr.channel import Channel
path, duration = sys.argv[1], float(sys.argv[2])
while True:  # the moment the new server takes connections, to 0.2 ms
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        break
    except OSError:
        time.sleep(0.0002)
    finally:
        probe.close()
t_up = time.monotonic()
channel = Channel(path, "driver", 5, 5)
tick, sent = 1000, []
while time.monotonic() < t_up + duration:
    before = time.monotonic()  # the edge is injected after this
    channel.call("siminject", (20, 1, 1, tick))
    sent.append(f"{tick}:{before!r}")
    tick += 10
    time.sleep(0.0005)  # paced: a driver hammering the new server would slow it down
print(t_up)
print(" ".join(sent))
"""

WORKER = r"""
import logging, os, re, resource, statistics, subprocess, sys, tempfile, time
import gpiosvr.pigpio as pigpio

restarts, outage, driver_code = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
path = os.path.join(os.environ["BENCH_DIR"], "gpio.sock")
sys.path.insert(0, os.environ["BENCH_HERE"])  # benchmarks/common.py, whatever the tree
from common import spawn  # its servers and drivers end with it
os.environ["GPIOSVR_CONNECT_TIMEOUT"] = "5"

def serve():
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", path,
                  "--log-level", "ERROR"], stdout=subprocess.PIPE, text=True)
    assert "serving" in proc.stdout.readline()
    return proc

gaps = []
class Gaps(logging.Handler):
    def emit(self, record):
        m = re.search(r"reconnected .* after (\d+) ms", record.getMessage())
        if m:
            gaps.append(int(m.group(1)))
logging.getLogger("gpiosvr").addHandler(Gaps())

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

server = serve()
pi = pigpio.pi(path)
seen = set()
pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: seen.add(t))
restored = []
async def mark():  # after the client's own on_connect handler: all is restored
    restored.append(time.time())
pi.sl.s.on_connect(mark)
rows = []
for _ in range(restarts):
    server.kill(); server.wait(); server.stdout.close()
    driver = spawn([sys.executable, "-c", driver_code, path, "0.3"],
                   stdout=subprocess.PIPE, text=True)
    c0, t0 = cpu(), time.monotonic()
    time.sleep(outage)
    cpu_pct = 100 * (cpu() - c0) / (time.monotonic() - t0)
    seen.clear()
    restored.clear()
    server = serve()
    bound = os.stat(path).st_ctime  # when the new server made its socket
    while True:
        try:
            pi.read(4)
            break
        except pigpio.error:
            time.sleep(0.0002)
    t_ok = time.monotonic()
    out, _ = driver.communicate(timeout=30)
    time.sleep(0.05)  # the last reports arrive
    first_line, second_line = out.splitlines()
    t_up = float(first_line)
    sent = [(int(t), float(at)) for t, at in (w.split(":") for w in second_line.split())]
    first = min(seen) if seen else None
    deadline = time.monotonic() + 5
    while not restored and time.monotonic() < deadline:
        time.sleep(0.001)
    back = (restored[0] - bound) * 1000 if restored else float("nan")
    lost = sum(1 for t, _ in sent if first is None or t < first)
    after_ok = sum(1 for t, at in sent if at > t_ok and t not in seen)
    rows.append((back, lost, after_ok, cpu_pct))
pi.stop()
server.terminate(); server.wait()
med = statistics.median
print(f"{med(r[0] for r in rows):.1f} {max(r[0] for r in rows):.1f} "
      f"{med(r[1] for r in rows):.0f} {max(r[1] for r in rows)} "
      f"{sum(r[2] for r in rows)} {sum(1 for r in rows if r[2])} "
      f"{med(gaps) if gaps else float('nan'):.0f} {len(gaps)} "
      f"{med(r[3] for r in rows):.2f}")
"""



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20)
    parser.add_argument("--outage", type=float, default=0.3)
    parser.add_argument("--before", default=BEFORE_HARDENING)
    args = parser.parse_args()
    trees = [("this tree", ROOT), (args.before, export_tree(args.before))]
    print(f"{args.restarts} restarts, {args.outage * 1000:.0f} ms outage each\n")
    print(f"{'code':<12} {'back ms':>16} {'lost edges':>11} {'lost after ok':>18} "
          f"{'gap ms (n)':>11} {'cpu %':>6}")
    print(f"{'':<12} {'median':>7} {'max':>8} {'med':>5} {'max':>5} "
          f"{'edges':>7} {'restarts':>10}")
    for name, tree in trees:
        env = dict(os.environ, PYTHONPATH=tree, BENCH_DIR=temporary_directory(),
                   BENCH_HERE=HERE)
        # cwd: "-c" puts the current directory first on sys.path, before PYTHONPATH
        out = spawn_run([sys.executable, "-c", WORKER, str(args.restarts),
                         str(args.outage), DRIVER], env=env, cwd=tree, text=True,
                        timeout=600)
        if out.returncode:
            print(f"{name}: failed\n{out.stderr}")
            continue
        med_u, max_u, med_l, max_l, after, bad, gap, ngap, cpu = out.stdout.split()
        print(f"{name:<12} {med_u:>7} {max_u:>8} {med_l:>5} {max_l:>5} {after:>7} "
              f"{bad:>10} {gap:>6} ({ngap}) {cpu:>6}")


if __name__ == "__main__":
    main()
