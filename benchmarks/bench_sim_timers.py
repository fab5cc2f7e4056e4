#!/usr/bin/env python3
"""The wake-ups and CPU of the simulated board's sensor timers and of the server's
glitch and noise filters, this tree against another revision's, side by side.

    PYTHONPATH=$PWD python3 benchmarks/bench_sim_timers.py [--revision main]
                                                          [--seconds 2] [--rounds 3]
                                                          [--cases sensor,...,script]

Each case runs in a process of its own, on uvloop and on asyncio, for ``--seconds``:

- ``sensor``: an IR receiver's output pin (``OutputPin``, as every GPIO-level
  sensor's) playing NEC-like codes, marks and spaces of 560 µs, one after the other;
- ``ir-led``: an IR receiver watching an IR LED that sends a 38 kHz carrier, marks
  and spaces of 560 µs (its quiet timer looks for each mark's end);
- ``glitch``: a glitch filter of 300 µs on a GPIO playing pulses of 200 µs every
  2 ms (all glitches: nothing should be reported);
- ``noise``: a noise filter of 300 µs steady, 200 µs active, on the same pulses;
- ``watchdog``: a watchdog of 2 ms on a GPIO toggled every 1,900 µs (no TIMEOUT
  should come);

and then, with ``gpiosvr-server`` processes of each tree (``--loop uvloop`` and
``asyncio``), a script making 200 pulses with ``mics 300`` (``MICS``'s timer): the
pulses' shortest and median length in ticks (never shorter than 300 is right).

It prints the timer's wake-ups per second (calls of ``OutputPin._play``,
``IRReceiver._quiet``, or the filter's timer callback), the process's CPU in % of one
core and what came out per second (``out/s``): for the receiver, the edges its output
pin played; for the filters, the levels reported, for the watchdog the TIMEOUTs (all
wrong: the pulses are shorter than the filter, the watchdog). Medians of ``--rounds`` rounds, the two trees alternated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, export_tree, spawn, spawn_run, temporary_directory  # noqa: E402

SCRIPT_PULSES = 200
SCRIPT = f"ld v0 {SCRIPT_PULSES} tag 1 w 21 1 mics 300 w 21 0 mics 300 dcr v0 jnz 1"

CASES = ("sensor", "ir-led", "glitch", "noise", "watchdog")

PROBE = r"""
import asyncio, itertools, sys, time
loop_name, case, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if loop_name == "uvloop":
    import uvloop
    loop = uvloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
from gpiosvr.server.backends.sim import OUTPUT, SimulatedChip
chip = SimulatedChip()
chip.attach(loop)
wakes = reports = 0


def counted(func):
    def call(*args):
        global wakes
        wakes += 1
        return func(*args)
    return call


BIT = 1 << 4
if case in ("sensor", "ir-led"):
    from gpiosvr.server.sim.devices.ir_receiver import IRReceiver
    ir = IRReceiver(17, led=18 if case == "ir-led" else None)
    ir.attach(chip)
    play = chip.play

    def played(gpio, edges):
        global reports
        reports += len(edges)
        return play(gpio, edges)
    chip.play = played
    if case == "sensor":
        pin = ir._pin
        pin._play = counted(pin._play)
        code = [560] * 67

        async def drive():
            while True:
                if not pin.busy():
                    ir.send(code)
                await asyncio.sleep(0.01)
    else:
        ir._quiet = counted(ir._quiet)
        chip.set_mode(18, OUTPUT)
        cycle = [(1 << 18, 0, 13), (0, 1 << 18, 13)] * 21
        chip.play_pulses(itertools.cycle(cycle + [(0, 1 << 18, 560)]))

        async def drive():
            await asyncio.sleep(seconds * 2)
else:
    from gpiosvr.server.app import EdgeSettings
    from gpiosvr.server.notify import EdgeHub
    chip.set_mode(4, OUTPUT)
    settings = EdgeSettings()
    hub = EdgeHub(settings)
    hub.attach(loop, chip)
    chip.add_listener(hub.level_changed, hub.burst)
    for name in ("_glitch_timer", "_noise_timer", "_filter_due", "_watchdog_fired"):
        if hasattr(hub, name):
            setattr(hub, name, counted(getattr(hub, name)))

    def report(gpio, level, tick):  # what the filters let through, or a TIMEOUT
        global reports
        if case != "watchdog" or level == 2:
            reports += 1
    hub._report = report
    hub._wanted = BIT
    if case == "glitch":
        settings.glitch[4] = 300
        hub.glitch_changed(4)
    elif case == "noise":
        settings.noise[4] = (300, 200)
        hub.noise_changed(4)
    else:
        settings.watchdog[4] = 2
        hub.watchdog_changed(4)
    high, low = (1900, 1900) if case == "watchdog" else (200, 1800)
    chip.play_pulses(itertools.cycle([(BIT, 0, high), (0, BIT, low)]))

    async def drive():
        await asyncio.sleep(seconds * 2)
task = loop.create_task(drive())
cpu = time.process_time()
loop.run_until_complete(asyncio.sleep(seconds))
print(wakes / seconds, (time.process_time() - cpu) / seconds * 100, reports / seconds)
"""


def probe(root: str, loop: str, case: str, seconds: float) -> tuple[float, ...]:
    """Wake-ups/s, CPU % and out/s of ``case`` on ``loop`` with tree ``root``."""
    out = spawn_run([sys.executable, "-c", PROBE, loop, case, str(seconds)],
                    check=True, env=dict(os.environ, PYTHONPATH=root), cwd=root,
                    text=True).stdout.split()  # (-c puts the working directory first)
    return tuple(float(x) for x in out)


def script_probe(root: str, loop: str) -> tuple[float, float]:
    """A server of tree ``root`` on ``loop`` runs SCRIPT: its pulses' shortest and
    median length (µs, in ticks)."""
    import gpiosvr.pigpio as pigpio

    path = os.path.join(temporary_directory(), "gpio.sock")
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", path, "--loop", loop,
                  "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True,
                 env=dict(os.environ, PYTHONPATH=root), cwd=root)
    try:
        assert "serving" in proc.stdout.readline()
        os.environ["GPIO_SOCKET_PATH"] = path
        pi = pigpio.pi()
        ticks: list[int] = []
        pi.write(21, 0)
        callback = pi.callback(21, pigpio.EITHER_EDGE, lambda g, level, t: ticks.append(t))
        sid = pi.store_script(SCRIPT)
        deadline = time.monotonic() + 10
        while pi.script_status(sid)[0] != pigpio.PI_SCRIPT_HALTED:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        pi.run_script(sid)
        while len(ticks) < 2 * SCRIPT_PULSES and time.monotonic() < deadline + 10:
            time.sleep(0.01)
        callback.cancel()
        pi.stop()
        highs = [(ticks[i + 1] - ticks[i]) % 2**32 for i in range(0, len(ticks) - 1, 2)]
        return min(highs), statistics.median(highs)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revision", default="main")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES + ("script",)),
                        help="which, comma-separated (default: all)")
    args = parser.parse_args()
    cases = args.cases.split(",")
    other = export_tree(args.revision, "gpiosvr")
    rev = args.revision
    if any(c in CASES for c in cases):
        print(f"{'loop':8} {'case':7}  {rev + ' wakes/s':>13} {'CPU %':>6} {'out/s':>9}"
              f"  {'this wakes/s':>13} {'CPU %':>6} {'out/s':>9}  {'CPU this/' + rev:>10}")
    for loop in ("uvloop", "asyncio"):
        for case in (c for c in CASES if c in cases):
            theirs, ours = [], []
            for _ in range(args.rounds):
                theirs.append(probe(other, loop, case, args.seconds))
                ours.append(probe(ROOT, loop, case, args.seconds))
            t = [statistics.median(x) for x in zip(*theirs)]
            o = [statistics.median(x) for x in zip(*ours)]
            print(f"{loop:8} {case:7}  {t[0]:>13,.0f} {t[1]:>6.1f} {t[2]:>9,.0f}"
                  f"  {o[0]:>13,.0f} {o[1]:>6.1f} {o[2]:>9,.0f}"
                  f"  {o[1] / t[1] if t[1] else float('nan'):>10.2f}")
    if "script" not in cases:
        return
    print(f"\nscript, mics 300 {'':8} {rev + ' min µs':>12} {'median':>7}"
          f"  {'this min µs':>12} {'median':>7}")
    for loop in ("uvloop", "asyncio"):
        theirs, ours = [], []
        for _ in range(args.rounds):
            theirs.append(script_probe(other, loop))
            ours.append(script_probe(ROOT, loop))
        t = [statistics.median(x) for x in zip(*theirs)]
        o = [statistics.median(x) for x in zip(*ours)]
        print(f"{'':17}{loop:8} {t[0]:>12,.0f} {t[1]:>7,.0f}"
              f"  {o[0]:>12,.0f} {o[1]:>7,.0f}")


if __name__ == "__main__":
    main()
