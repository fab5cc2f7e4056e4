"""Start-up cost, side by side: importing the facade against importing pigpio,
``pigs w 4 1`` as a whole process against a bare ``python3 -c pass``, and the
client's memory after ``pi()`` against pigpio's (issue #18, targets 2 and 5).

Each round runs every case once as a fresh process, the cases interleaved so that
the machine's load falls on all alike; medians over the rounds. Wall time is from
fork to exit; CPU (user + system) and peak RSS come from ``wait4``'s rusage of the
child, which swings far less than wall time on a busy machine. Import cost is a
case's time minus the bare interpreter's in the same round.

    python benchmarks/bench_startup.py --rounds 21
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, both_servers, export_tree, temporary_directory  # noqa: E402

_PI_GPIOSVR = ("import gpiosvr.pigpio as pigpio; p = pigpio.pi(); assert p.connected; "
               "p.read(4)")
_PI_PIGPIO = ("import pigpio, os; p = pigpio.pi('127.0.0.1', int(os.environ['STANDIN_PORT'])); "
              "assert p.connected; p.read(4)")
#: Appended to a case: print the process's resident memory (KiB) as it ends.
_RSS = "; print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"
_PIGS = "import sys; from gpiosvr.pigs import main; sys.exit(main(['w', '4', '1']))"


def run_once(code: str, env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """Run ``python3 -c code``; its wall seconds, CPU seconds and resident memory at
    the end (KiB, 0 when the case does not print it)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd,
                            stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{code!r} failed with status {proc.returncode}")
    words = out.split()
    rss = int(words[-1]) if words and words[-1].isdigit() else 0
    return wall, usage.ru_utime + usage.ru_stime, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--revision", help="measure the client code of this git "
                        "revision instead of the work tree (e.g. main, for a 'before')")
    args = parser.parse_args()
    tree = export_tree(args.revision) if args.revision else ROOT
    with both_servers() as (path, standin):
        # Byte-code cached as an installed package has it (pigpio's is): this
        # machine sets PYTHONDONTWRITEBYTECODE, which would make every run compile
        # our modules again. The cache goes to a directory of its own.
        cache = temporary_directory("bench-pyc-")
        env = dict(os.environ, PYTHONPATH=tree, GPIO_SOCKET_PATH=path,
                   STANDIN_PORT=str(standin.port), PYTHONPYCACHEPREFIX=cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cases = {
            "python3 -c pass": "pass" + _RSS,
            "import pigpio": "import pigpio",
            "import gpiosvr.pigpio": "import gpiosvr.pigpio",
            "pigpio: pi() + read(4)": _PI_PIGPIO + _RSS,
            "gpiosvr.pigpio: pi() + read(4)": _PI_GPIOSVR + _RSS,
            "pigs w 4 1 (gpiosvr)": _PIGS,
        }
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for name, code in cases.items():  # warm the caches (.pyc, page cache)
            run_once(code, env, tree)
        for _ in range(args.rounds):
            for name, code in cases.items():
                results[name].append(run_once(code, env, tree))

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    bare_wall, bare_cpu = median("python3 -c pass", 0), median("python3 -c pass", 1)
    shutil.rmtree(cache)
    if args.revision:
        shutil.rmtree(tree)
        print(f"client code of {args.revision}")
    print(f"{args.rounds} rounds, medians; 'over bare' is the median of the per-round "
          "difference to python3 -c pass\n")
    print(f"{'case':34} {'wall ms':>8} {'CPU ms':>8} {'over bare CPU':>14} {'RSS MB':>7}")
    over: dict[str, float] = {}
    for name in cases:
        diffs = [r[1] - b[1] for r, b in zip(results[name], results["python3 -c pass"])]
        over[name] = statistics.median(diffs)
        print(f"{name:34} {median(name, 0) * 1e3:8.1f} {median(name, 1) * 1e3:8.1f} "
              f"{over[name] * 1e3:14.1f} {median(name, 2) / 1024:7.1f}")
    print()
    imp_ours, imp_theirs = over["import gpiosvr.pigpio"], over["import pigpio"]
    print(f"import cost gpiosvr.pigpio / pigpio (CPU over bare): "
          f"{imp_ours / max(imp_theirs, 1e-6):.2f}  (target <= 2)")
    print(f"pigs w 4 1 / python3 -c pass (CPU):  {median('pigs w 4 1 (gpiosvr)', 1) / bare_cpu:.2f}"
          f"  (wall {median('pigs w 4 1 (gpiosvr)', 0) / bare_wall:.2f}; target <= 2)")
    rss_ours = median("gpiosvr.pigpio: pi() + read(4)", 2)
    rss_theirs = median("pigpio: pi() + read(4)", 2)
    print(f"RSS after pi() gpiosvr / pigpio:      {rss_ours / rss_theirs:.2f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
