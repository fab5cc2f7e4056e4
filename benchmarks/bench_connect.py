"""What the client's check of who serves the socket costs: per connect, and per call.

Run: ``python benchmarks/bench_connect.py [--connects 2000] [--seconds 1.0] [--rounds 5]``

Against one gpiosvr server in a process of its own, interleaved round by round:

* ``check``        ``peercred.check_server`` alone on a connected socket (one
                   ``getsockopt(SO_PEERCRED)`` and the trusted-uid set);
* ``connect``      ``channel.connect_unix`` (connect and check), then close;
* ``connect-bare`` the same connect with the check replaced by nothing;
* ``call``         ``Channel.call_ints`` of ``r 4`` on an open channel (the check
                   is made once, when it opened: this must not move);
* ``call-bare``    the same on a channel opened without the check.

It prints the median of the rounds, per operation, side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import spawn, temporary_directory

from gpiosvr import channel, peercred


def per_op(func, count: int) -> float:
    """Microseconds per ``func()``, over ``count`` calls."""
    start = time.perf_counter()
    for _ in range(count):
        func()
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=2000, help="per measurement")
    parser.add_argument("--calls", type=int, default=20000, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    path = os.path.join(temporary_directory("bench-"), "gpio.sock")
    server = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", path,
                    "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()  # "gpiosvr: serving ..."
    checked = peercred.check_server
    try:
        probe = channel.connect_unix(path, 5.0)
        with_check = channel.Channel(path, "bench", 5.0, 5.0)
        peercred.check_server = lambda sock, path: None
        bare = channel.Channel(path, "bench-bare", 5.0, 5.0)
        peercred.check_server = checked
        template = channel.frame_template("r", 1)
        assert with_check.call_ints(template, (4,)) == bare.call_ints(template, (4,)) == 1

        def connect() -> None:
            channel.connect_unix(path, 5.0).close()

        def connect_bare() -> None:
            peercred.check_server = lambda sock, path: None
            try:
                channel.connect_unix(path, 5.0).close()
            finally:
                peercred.check_server = checked

        results: dict[str, list[float]] = {k: [] for k in (
            "check", "connect", "connect-bare", "call", "call-bare")}
        for r in range(args.rounds):
            results["check"].append(per_op(lambda: checked(probe, path), args.connects))
            results["connect"].append(per_op(connect, args.connects))
            results["connect-bare"].append(per_op(connect_bare, args.connects))
            results["call"].append(per_op(lambda: with_check.call_ints(template, (4,)),
                                          args.calls))
            results["call-bare"].append(per_op(lambda: bare.call_ints(template, (4,)),
                                               args.calls))
            print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:.1f} µs"
                                                 for k, v in results.items()), flush=True)
        med = {k: statistics.median(v) for k, v in results.items()}
        print()
        print(f"{'operation':<14}{'median µs':>10}")
        for k, v in med.items():
            print(f"{k:<14}{v:>10.1f}")
        print()
        print(f"connect - connect-bare = {med['connect'] - med['connect-bare']:+.1f} µs "
              f"per connect")
        print(f"call / call-bare       = {med['call'] / med['call-bare']:.3f} "
              f"(the check is per connect, not per call)")
        probe.close()
        with_check.close()
        bare.close()
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


if __name__ == "__main__":
    main()
