"""How fast the server's bit-bang serial decoder (pigpio's waveRxSerial in Python)
turns edges into bytes, and what that means for a continuous stream: the share of
one core a reader takes at 9600, 19200, 115200 and 250000 baud, measured in one run.

    PYTHONPATH=$PWD python3 benchmarks/bench_bitbang.py
"""

from __future__ import annotations

import random
import time
from array import array

from gpiosvr.protocol import pack_edges
from gpiosvr.server.bitbang import SerialReader
from gpiosvr.server.waves import serial_pulses


def edges_of(data: bytes, baud: int) -> tuple[int, array]:
    """The first level and the ticks of the edges wave_add_serial makes for ``data``."""
    ticks, level, t = array("I"), 1, 1000
    for on, off, delay in serial_pulses(4, baud, 8, 2, 0, list(data)):
        new = 1 if on else 0 if off else level
        if new != level:
            ticks.append(t)
            level = new
        t += delay
    return 0, ticks


def main() -> None:
    data = bytes(random.Random(1).randrange(256) for _ in range(20000))
    print(f"{'baud':>7} {'edges':>7} {'decoded':>8} {'edges/s':>10} {'bytes/s':>9} "
          f"{'core at full rate':>18}")
    for baud in (9600, 19200, 115200, 250000):
        first, ticks = edges_of(data, baud)
        packed = [pack_edges(17, (first + i) & 1, ticks[i:i + 4096])
                  for i in range(0, len(ticks), 4096)]
        reader = SerialReader(17, baud, 8)
        out = bytearray()
        start = time.perf_counter()
        for chunk in packed:
            reader.burst(chunk)
            out += reader.read(10000)
        reader.settle(ticks[-1] + 10_000_000)
        out += reader.read(10000)
        spent = time.perf_counter() - start
        assert bytes(out) == data, baud
        line_bytes_per_s = baud / 11  # 1 start, 8 data, 2 stop bits
        print(f"{baud:>7} {len(ticks):>7} {len(out):>8} {len(ticks) / spent:>10.0f} "
              f"{len(out) / spent:>9.0f} {line_bytes_per_s / (len(out) / spent):>17.1%}")


if __name__ == "__main__":
    main()
