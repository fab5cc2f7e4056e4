"""How long each turn of a long request holds the server's loop (issue #18, target 3:
"one big request holds the loop for at most ~0.2 ms at a time").

    python benchmarks/bench_batch_turns.py [--commands 1000,100] [--requests 300]
                                           [--revision REV]

A request of ``--commands`` short commands (``r 4``) is planned and run as a
connection runs it (``ShortBatch.run`` a turn's budget,
``SHORT_COMMANDS_PER_TURN``, at a time, then ``answer``), in this process, without a
socket or a loop: only the server's own work per turn, timed with
``time.thread_time_ns`` (CPU, so the machine's other load counts little). Printed:
the last turn (the one that makes the answer) and the others, p50 and p99 µs over
``--requests`` requests. ``--revision REV`` runs REV's code the same way in a
process of its own (``git archive``), the two trees alternated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, export_tree  # noqa: E402

_MEASURE = r"""
import json, sys, time
from gpiosvr.server import GpioServer, app
from gpiosvr.server.limits import SHORT_COMMANDS_PER_TURN as TURN
commands, requests = int(sys.argv[1]), int(sys.argv[2])
conn = app.ClientConnection(GpioServer("/nonexistent/bench"))
body = b";".join([b"r 4"] * commands) + b"\n"
clock = time.thread_time_ns
last, others = [], []
for _ in range(requests):
    batch = app.plan_batch(b"@1", body)
    while True:
        start = clock()
        if batch.run(conn.session, TURN):
            batch.answer()
            last.append(clock() - start)
            break
        others.append(clock() - start)
print(json.dumps({"turn": TURN, "last": last, "others": others}))
"""


def measure(tree: str, commands: int, requests: int) -> dict:
    """One process of ``tree``'s code: its turns' CPU ns."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(commands), str(requests)],
                         env=dict(os.environ, PYTHONPATH=tree), cwd=tree, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def pct(values: list[int], q: float) -> float:
    """The ``q`` quantile of ``values`` (ns) in µs; nan for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", default="1000,100",
                        help="commands per request, comma-separated")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the trees")
    parser.add_argument("--revision", help="also this git revision's code")
    args = parser.parse_args()
    trees = [("this tree", ROOT)]
    if args.revision:
        trees.append((args.revision[:10], export_tree(args.revision)))
    print(f"{'tree':>12} {'commands':>8} {'turn':>4}   last turn p50    p99   "
          f"other turns p50    p99  (CPU µs)")
    for commands in (int(c) for c in args.commands.split(",")):
        for _ in range(args.rounds):
            for label, tree in trees:
                got = measure(tree, commands, args.requests)
                print(f"{label:>12} {commands:>8} {got['turn']:>4}   "
                      f"{pct(got['last'], .5):13.1f} {pct(got['last'], .99):6.1f}   "
                      f"{pct(got['others'], .5):15.1f} {pct(got['others'], .99):6.1f}")


if __name__ == "__main__":
    main()
