"""How fast a capture takes edges in, side by side: one burst of injected edges on a
server process of its own, captured by a callback that only counts (the floor: the
client's dispatcher alone) and by ``gpiosvr.capture.Capture`` (with NumPy, with plain
lists, and streaming to a VCD file). Prints edges per second of wall time, from the
first report to the last, measured in one run.

    PYTHONPATH=$PWD python3 benchmarks/bench_capture.py [EDGES]
"""

from __future__ import annotations

import os
import sys
import time

from common import temporary_directory

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gpiosvr.capture as capture_module  # noqa: E402
from gpiosvr.blocking import BlockingClient  # noqa: E402
from gpiosvr.capture import Capture  # noqa: E402
from gpiosvr.simulator import Simulator  # noqa: E402
from tests.conftest import ServerProcess  # noqa: E402


def run_capture(sock: str, count: int, **kwargs) -> tuple[float, int, int]:
    with BlockingClient(sock) as client, Simulator(sock) as sim:
        cap = Capture([20], client=client, **kwargs).start()
        began = time.perf_counter()
        sim.inject(20, count, 1, client.command("t") + 1000)
        deadline = began + 120
        while (cap.edges_so_far + client.lost_reports < count
               and time.perf_counter() < deadline):
            time.sleep(0.001)
        took = time.perf_counter() - began
        cap._counting = True  # keep the edges whose ticks are ahead
        cap.stop()
        return took, cap.edges, cap.lost


def run_tally(path: str, count: int) -> tuple[float, int, int]:
    with BlockingClient(path) as client, Simulator(path) as sim:
        cb = client.callback(20, 2, None)
        began = time.perf_counter()
        sim.inject(20, count, 1, client.command("t") + 1000)
        deadline = began + 120
        while (cb.tally() + client.lost_reports < count
               and time.perf_counter() < deadline):
            time.sleep(0.001)
        took = time.perf_counter() - began
        return took, cb.tally(), client.lost_reports


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    tmp = temporary_directory("gs-bench-")
    server = ServerProcess(os.path.join(tmp, "gpio.sock")).start()
    try:
        rows = [("tally callback (floor)", run_tally(server.socket_path, count)),
                ("Capture, NumPy", run_capture(server.socket_path, count))]
        numpy = capture_module.np
        capture_module.np = None
        rows.append(("Capture, plain lists", run_capture(server.socket_path, count)))
        capture_module.np = numpy
        rows.append(("Capture, streaming to VCD",
                     run_capture(server.socket_path, count, path=os.path.join(tmp, "b.vcd"))))
    finally:
        server.stop()
    print(f"{count} injected edges on one GPIO, server in its own process")
    print(f"{'receiver':28} {'edges':>9} {'lost':>6} {'seconds':>8} {'edges/s':>10}")
    for name, (took, edges, lost) in rows:
        print(f"{name:28} {edges:9} {lost:6} {took:8.2f} {edges / took:10.0f}")


if __name__ == "__main__":
    main()
