"""Start-up cost, side by side: importing the facade against importing pigpio,
``pigs w 4 1`` as a whole process against a bare ``python3 -c pass``, and the
client's memory after ``pi()`` against pigpio's (issue #18, targets 2 and 5).

Each round runs every case once as a fresh process, the cases interleaved so that
the machine's load falls on all alike; medians over the rounds. Wall time is from
fork to exit; CPU (user + system) and peak RSS come from ``wait4``'s rusage of the
child, which swings far less than wall time on a busy machine. Import cost is a
case's time minus the bare interpreter's in the same round. ``pigs`` runs three ways:
``main()`` called from ``-c``, the console script pip writes (``bin/pigs``: a
file importing ``re`` and ``gpiosvr.pigs.main``), and ``python3 -m gpiosvr.pigs``.

    python benchmarks/bench_startup.py --rounds 21 [--revision main] [--callgrind] [--no-site]

``--revision`` measures that revision's code beside the work tree's in the same
rounds; ``--callgrind`` counts instructions instead (one round under valgrind, the
hash seed fixed: the same count whatever the load); ``--no-site`` runs everything with ``python3 -S``, which leaves out this
machine's ``.pth`` start-up hooks (an editable install's finder, a certificate
hook: ~30 ms of CPU that a bare interpreter here pays and a Raspberry Pi's need not).
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
#: What pip writes as the ``pigs`` console script (``bin/pigs``), run as a file.
_LAUNCHER = """import re
import sys
from gpiosvr.pigs import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """Run ``python3 *argv``; its wall seconds, CPU seconds and resident memory at
    the end (KiB, 0 when the case does not print it)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], env=env, cwd=cwd,
                            stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv!r} failed with status {proc.returncode}")
    words = out.split()
    rss = int(words[-1]) if words and words[-1].isdigit() else 0
    return wall, usage.ru_utime + usage.ru_stime, rss


def instructions(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """Run ``python3 *argv`` under callgrind; (0, instructions executed, 0): a count
    that the machine's load does not move (hash seed fixed)."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, *argv], env=dict(env, PYTHONHASHSEED="0"),
                          cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{argv!r} failed under valgrind: {proc.stderr[-500:]}")
    counts = [line.split("Collected :")[1] for line in proc.stderr.splitlines()
              if "Collected :" in line]
    return 0.0, float(counts[-1]) / 1e9, 0  # "seconds": giga-instructions, see main


def gpiosvr_cases(launcher: str) -> dict[str, list[str]]:
    """The cases that run our code (measured for each tree)."""
    return {
        "import gpiosvr.pigpio": ["-c", "import gpiosvr.pigpio"],
        "gpiosvr.pigpio: pi() + read(4)": ["-c", _PI_GPIOSVR + _RSS],
        "pigs w 4 1 (main())": ["-c", _PIGS],
        "pigs w 4 1 (console script)": [launcher, "w", "4", "1"],
        "pigs w 4 1 (python3 -m)": ["-m", "gpiosvr.pigs", "w", "4", "1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--revision", help="also measure the client code of this git "
                        "revision, beside the work tree's, in the same rounds (e.g. main)")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions (valgrind) instead of timing: one round, "
                        "CPU columns in millions of instructions, wall 0")
    parser.add_argument("--no-site", action="store_true",
                        help="run every case with python3 -S (site-packages on PYTHONPATH "
                        "instead): an interpreter without this machine's .pth hooks")
    args = parser.parse_args()
    trees = {"": ROOT}
    if args.revision:
        trees = {f"[{args.revision}] ": export_tree(args.revision), "": ROOT}
    flags = ["-S"] if args.no_site else []
    site_packages = [p for p in sys.path if p.endswith("site-packages")] if args.no_site else []
    with both_servers() as (path, standin):
        # Byte-code cached as an installed package has it (pigpio's is): this
        # machine sets PYTHONDONTWRITEBYTECODE, which would make every run compile
        # our modules again. The cache goes to a directory of its own.
        cache = temporary_directory("bench-pyc-")
        launcher = os.path.join(cache, "pigs")
        with open(launcher, "w") as f:
            f.write(_LAUNCHER)
        base = dict(os.environ, GPIO_SOCKET_PATH=path, STANDIN_PORT=str(standin.port),
                    PYTHONPYCACHEPREFIX=cache)
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        cases: dict[str, tuple[list[str], dict[str, str], str]] = {}
        plain_env = dict(base, PYTHONPATH=os.pathsep.join([ROOT, *site_packages]))
        for name, argv in {"python3 -c pass": ["-c", "pass" + _RSS],
                           "import pigpio": ["-c", "import pigpio"],
                           "pigpio: pi() + read(4)": ["-c", _PI_PIGPIO + _RSS]}.items():
            cases[name] = (flags + argv, plain_env, ROOT)
        for label, tree in trees.items():
            env = dict(base, PYTHONPATH=os.pathsep.join([tree, *site_packages]))
            for name, argv in gpiosvr_cases(launcher).items():
                cases[label + name] = (flags + argv, env, tree)
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for name, case in cases.items():  # warm the caches (.pyc, page cache)
            run_once(*case)
        measure = instructions if args.callgrind else run_once
        for _ in range(1 if args.callgrind else args.rounds):
            for name, case in cases.items():
                results[name].append(measure(*case))

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    shutil.rmtree(cache)
    for label, tree in trees.items():
        if tree != ROOT:
            shutil.rmtree(tree)
    print(f"{'instructions (M), not ms' if args.callgrind else f'{args.rounds} rounds, medians'}"
          f"{' (python3 -S)' if args.no_site else ''}; "
          "'over bare' is the median of the per-round difference to python3 -c pass\n")
    cpu = "M instr" if args.callgrind else "CPU ms"
    print(f"{'case':44} {'wall ms':>8} {cpu:>8} {'over bare':>14} {'RSS MB':>7}")
    over: dict[str, float] = {}
    for name in cases:
        diffs = [r[1] - b[1] for r, b in zip(results[name], results["python3 -c pass"])]
        over[name] = statistics.median(diffs)
        print(f"{name:44} {median(name, 0) * 1e3:8.1f} {median(name, 1) * 1e3:8.1f} "
              f"{over[name] * 1e3:14.1f} {median(name, 2) / 1024:7.1f}")
    bare_wall, bare_cpu = median("python3 -c pass", 0), median("python3 -c pass", 1)
    for label in trees:
        print(f"\n{label or '[work tree] '}")
        imp_ours, imp_theirs = over[label + "import gpiosvr.pigpio"], over["import pigpio"]
        print(f"  import cost gpiosvr.pigpio / pigpio (over bare): "
              f"{imp_ours / max(imp_theirs, 1e-6):.2f}  (target <= 2)")
        for way in ("main()", "console script", "python3 -m"):
            name = f"{label}pigs w 4 1 ({way})"
            wall = "" if args.callgrind else f", wall {median(name, 0) / bare_wall:.2f}"
            print(f"  {name[len(label):]:28} / python3 -c pass: "
                  f"{'instructions' if args.callgrind else 'CPU'} "
                  f"{median(name, 1) / bare_cpu:.2f}{wall}  (target <= 2)")
        rss_ours = median(label + "gpiosvr.pigpio: pi() + read(4)", 2)
        rss_theirs = median("pigpio: pi() + read(4)", 2)
        if not args.callgrind:
            print(f"  RSS after pi() gpiosvr / pigpio: {rss_ours / rss_theirs:.2f}"
                  f"  (target <= 1.3)")


if __name__ == "__main__":
    main()
