#!/usr/bin/env python3
"""How fast the simulated chip plays wave pulses, and how late their edges reach a
callback, side by side in one run (tests assert ticks, never these times).

    PYTHONPATH=$PWD python3 benchmarks/bench_waves_sim.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import gpiosvr.pigpio as pigpio
from gpiosvr.server.thread import ServerThread

G = 4


def main() -> None:
    with tempfile.TemporaryDirectory() as d, ServerThread(os.path.join(d, "s")) as srv:
        pi = pigpio.pi(srv.socket_path)
        pi.set_mode(G, pigpio.OUTPUT)
        for period in (1000, 100, 10, 2):
            seen = []
            # the sim's tick is this process's monotonic clock in µs (same thread-free
            # clock as the server thread's), so the lag needs no call to the server
            cb = pi.callback(G, pigpio.EITHER_EDGE, lambda g, lv, t: seen.append(
                (t, time.monotonic_ns() // 1000 & 0xFFFFFFFF)))
            pi.wave_clear()
            pi.wave_add_generic([pigpio.pulse(1 << G, 0, period // 2),
                                 pigpio.pulse(0, 1 << G, period - period // 2)])
            pi.wave_send_repeat(pi.wave_create())
            time.sleep(1.0)
            pi.wave_tx_stop()
            due = 2 * 1_000_000 // period
            time.sleep(0.5)  # the edges still on their way
            cb.cancel()
            lag = [pigpio.tickDiff(t, now) for t, now in seen]
            print(f"period {period:>5} us: {due:>9,} edges due in 1 s, "
                  f"{len(seen):>9,} seen by a callback; callback lag p50 "
                  f"{statistics.median(lag) / 1000:.1f} ms, max {max(lag) / 1000:.1f} ms")
        pi.stop()


if __name__ == "__main__":
    main()
