"""What the permission check costs the server: the short path of ``w 4 1`` with and
without it, side by side.

Run: ``PYTHONPATH=. python benchmarks/bench_permits.py [--calls 200000] [--rounds 5]``

In one process, interleaved round by round, it times ``short_answer`` (the server's
everyday path, no socket) on ``@1 w 4 1`` and on a bank write ``@1 bs1 16``:

* ``checked``    as served: :mod:`gpiosvr.server.permits` asked first;
* ``unchecked``  the handlers as they were before permits existed.

It prints the median nanoseconds per command of each and their difference: the
check's cost per write, to set against a socket round trip (about 25 µs).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from gpiosvr.server import app, commands
from gpiosvr.server.app import ClientConnection, GpioServer, short_answer


def unchecked_write(session, gpio: int, level: int):
    commands.gpio._stop_pulses(session, gpio)
    session.backend.write(gpio, level)
    return 0


def unchecked_set_bank(session, bits: int):
    session.backend.set_bank(1, bits)
    return 0


UNCHECKED = {"w": unchecked_write, "bs1": unchecked_set_bank}


def per_call_ns(session, frame: bytes, calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        short_answer(session, frame)
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    session = ClientConnection(GpioServer("/nonexistent/bench.sock")).session
    served = dict(commands.COMMANDS)
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for frame in (b"@1 w 4 1\n", b"@1 bs1 16\n"):
            command = frame.split()[1].decode()
            for name in ("checked", "unchecked"):
                if name == "unchecked":
                    commands.COMMANDS[command] = dataclasses.replace(
                        served[command], handler=UNCHECKED[command])
                app._PARSED.clear()  # the short path remembers handlers by frame
                try:
                    ns = per_call_ns(session, frame, args.calls)
                finally:
                    commands.COMMANDS.update(served)
                results.setdefault(f"{command:4} {name}", []).append(ns)
    medians = {k: statistics.median(v) for k, v in results.items()}
    for key, ns in medians.items():
        print(f"{key:16} {ns:7.0f} ns/command")
    for command in ("w", "bs1"):
        diff = medians[f"{command:4} checked"] - medians[f"{command:4} unchecked"]
        print(f"{command:4} check    {diff:7.0f} ns/command")


if __name__ == "__main__":
    main()
