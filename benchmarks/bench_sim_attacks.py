"""Another client's latency while one client loads the simulated chip, before and after.

Run from the repository root:
``PYTHONPATH=$PWD python3 benchmarks/bench_sim_attacks.py [--before 5d9da22] [--seconds 3]``

In one run it starts, for each attack, a gpiosvr server (a process of its own) from
the code of git revision ``--before`` (exported with ``git archive``; the default is
the commit before the simulator's work was bounded per turn of the loop) and one
from the working tree, and measures a victim client that does ``r 4`` back to back
for ``--seconds``: answers it got, and their latency p50 / p99 / max.

Attacks:

* ``idle``        nobody else;
* ``siminject``   another client sends ``siminject 6 10000000 0`` again and again
                  (refusals, when too many edges wait, are counted, not retried sooner);
* ``hw pwm``      hardware PWM at 99 kHz, duty 50 %, on the header's four
                  hardware-PWM GPIOs (12, 13, 18, 19: the server's default permits
                  are GPIO 2-27, so not 40, 41, 45, 52, 53);
* ``hw pwm+cb``   the same, the attacker also watching them (callbacks).

An attacker that fails (a command refused) ends the run with its error, not a row
missing its figures.

Figures depend on the machine and its load; compare the columns of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

from gpiosvr.blocking import BlockingClient
from common import BEFORE_HARDENING, export_tree, spawn, temporary_directory

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARDWARE_PWM_GPIOS = (12, 13, 18, 19)  # the header's; the default permits are 2-27


class Server:
    """``python -m gpiosvr.server`` with the code found on ``code_path``."""

    def __init__(self, code_path: str) -> None:
        self.dir = temporary_directory("bench-")
        self.socket_path = os.path.join(self.dir, "gpio.sock")
        env = {**os.environ, "PYTHONPATH": code_path}
        self.proc = spawn(
            [sys.executable, "-m", "gpiosvr.server", "--socket", self.socket_path,
             "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True, env=env,
            cwd=self.dir)  # not the caller's: ``-m`` puts the current directory first
        self.proc.stdout.readline()  # "gpiosvr: serving ..."

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def attack_siminject(path: str, stop: threading.Event) -> dict:
    counts = {"sent": 0, "refused": 0}
    client = BlockingClient(path, response_timeout=60)
    try:
        while not stop.is_set():
            try:
                client.command("siminject", 6, 10_000_000, 0)
            except Exception:  # refused while too many edges wait
                counts["refused"] += 1
                stop.wait(0.05)
            counts["sent"] += 1
    finally:
        client.close()
    return counts


def attack_hw_pwm(path: str, stop: threading.Event, watched: bool = False) -> dict:
    client = BlockingClient(path, response_timeout=60)
    edges = [0]
    try:
        if watched:
            for gpio in HARDWARE_PWM_GPIOS:
                client.callback(gpio, 2, lambda g, level, tick: edges.__setitem__(
                    0, edges[0] + 1))
        for gpio in HARDWARE_PWM_GPIOS:
            client.command("hp", gpio, 99_000, 500_000)
        stop.wait()
    finally:
        client.close()
    return {"edges": edges[0]} if watched else {}


def attack_hw_pwm_watched(path: str, stop: threading.Event) -> dict:
    return attack_hw_pwm(path, stop, watched=True)


def attack_idle(path: str, stop: threading.Event) -> dict:
    stop.wait()
    return {}


ATTACKS = {"idle": attack_idle, "siminject": attack_siminject, "hw pwm": attack_hw_pwm,
           "hw pwm+cb": attack_hw_pwm_watched}


def measure(code_path: str, attack, seconds: float) -> dict:
    """The victim's answers and latencies (ms) while ``attack`` runs."""
    server = Server(code_path)
    stop = threading.Event()
    extra: dict = {}
    failed: list[BaseException] = []

    def attack_until_stopped() -> None:
        try:
            extra.update(attack(server.socket_path, stop))
        except BaseException as exc:  # noqa: BLE001 - raised again by measure()
            failed.append(exc)
            stop.set()

    attacker = threading.Thread(target=attack_until_stopped)
    victim = BlockingClient(server.socket_path, response_timeout=60)
    try:
        victim.command("r", 4)
        attacker.start()
        time.sleep(0.2)  # let the attack get going
        latencies = []
        end = time.perf_counter() + seconds
        while (now := time.perf_counter()) < end and not failed:
            victim.command("r", 4)
            latencies.append((time.perf_counter() - now) * 1000)
    finally:
        stop.set()
        attacker.join(120)
        victim.close()
        server.stop()
    if failed:
        raise RuntimeError(f"the attacker failed: {failed[0]}") from failed[0]
    latencies.sort()
    return {"answers": len(latencies), "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99)], "max": latencies[-1], **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_HARDENING, help="git revision of 'before'")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    before = export_tree(args.before, "gpiosvr")
    try:
        print(f"victim: 'r 4' back to back for {args.seconds:g} s; latency in ms")
        print(f"{'attack':<10} {'code':<16} {'answers':>8} {'p50':>8} {'p99':>8} "
              f"{'max':>8}  attacker")
        for name, attack in ATTACKS.items():
            for label, path in ((f"before {args.before}", before), ("after (tree)", ROOT)):
                r = measure(path, attack, args.seconds)
                note = (f"{r['sent']} siminjects, {r['refused']} refused" if "sent" in r
                        else f"{r['edges']} edges to its callbacks" if "edges" in r else "")
                print(f"{name:<10} {label:<16} {r['answers']:>8} {r['p50']:>8.3f} "
                      f"{r['p99']:>8.3f} {r['max']:>8.1f}  {note}", flush=True)
    finally:
        shutil.rmtree(before, ignore_errors=True)


if __name__ == "__main__":
    main()
