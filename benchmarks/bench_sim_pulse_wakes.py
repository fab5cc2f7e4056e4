#!/usr/bin/env python3
"""How often the simulated chip wakes its loop for an endless wave, and the CPU it
takes, this tree against another revision's, side by side in one run.

    PYTHONPATH=$PWD python3 benchmarks/bench_sim_pulse_wakes.py [--revision main]
                                                               [--seconds 1]

For each loop (uvloop, asyncio) and each pulse length, a bare ``SimulatedChip`` on
that loop plays an endless square wave on GPIO 4 for ``--seconds``; it prints the
wake-ups of ``play_due`` per second and the process's CPU in % of one core. A wave
of short pulses should cost a bounded number of wake-ups, not one per pulse, and
never a spinning loop.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, export_tree, spawn_run  # noqa: E402

PULSES_US = (13, 100, 400, 1000)

PROBE = r"""
import asyncio, itertools, sys, time
loop_name, pulse, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if loop_name == "uvloop":
    import uvloop
    loop = uvloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()
from gpiosvr.server.backends.sim import OUTPUT, SimulatedChip
chip = SimulatedChip()
chip.attach(loop)
chip.set_mode(4, OUTPUT)
chip.burst_listeners.append(lambda gpio, packed: None)
wakes = 0
play_due = chip.play_due
def counted():
    global wakes
    wakes += 1
    play_due()
chip.play_due = counted  # what the loop's timer calls back
cpu = time.process_time()
chip.play_pulses(itertools.cycle([(16, 0, pulse), (0, 16, pulse)]))
loop.run_until_complete(asyncio.sleep(seconds))
print(wakes / seconds, (time.process_time() - cpu) / seconds * 100)
"""


def probe(root: str, loop: str, pulse: int, seconds: float) -> tuple[float, float]:
    """Wake-ups per second and CPU % of the chip of tree ``root``."""
    out = spawn_run([sys.executable, "-c", PROBE, loop, str(pulse), str(seconds)],
                    check=True, env=dict(os.environ, PYTHONPATH=root), cwd=root,
                    text=True).stdout.split()  # (-c puts the working directory first)
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revision", default="main")
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    other = export_tree(args.revision, "gpiosvr")
    print(f"{'loop':8} {'pulse µs':>8}  {args.revision + ' wakes/s':>14} {'CPU %':>6}"
          f"  {'this wakes/s':>14} {'CPU %':>6}  {'CPU this/' + args.revision:>10}")
    for loop in ("uvloop", "asyncio"):
        for pulse in PULSES_US:
            theirs = probe(other, loop, pulse, args.seconds)
            ours = probe(ROOT, loop, pulse, args.seconds)
            print(f"{loop:8} {pulse:>8}  {theirs[0]:>14,.0f} {theirs[1]:>6.0f}"
                  f"  {ours[0]:>14,.0f} {ours[1]:>6.0f}  {ours[1] / theirs[1]:>10.2f}")


if __name__ == "__main__":
    main()
