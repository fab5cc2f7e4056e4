#!/usr/bin/env python3
"""Serial out of any GPIO with a wave: send text at 9600 baud on GPIO 4.

An ordinary pigpio script (``wave_add_serial``, ``wave_create``, ``wave_send_once``,
``wave_tx_busy``). A callback on the same GPIO timestamps every edge and decodes the
bytes back from the ticks; on the simulated chip (``gpiosvr-run --sim
examples/wave_serial.py``) the ticks are exact, so the text always comes back.
"""

import sys
import time

import pigpio

TX = 4
BAUD = 9600
TEXT = b"Hello, waves!"

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)

edges = []
pi.set_mode(TX, pigpio.OUTPUT)
pi.write(TX, 1)  # a serial line idles high
cb = pi.callback(TX, pigpio.EITHER_EDGE, lambda gpio, level, tick: edges.append((level, tick)))

pi.wave_clear()
pulses = pi.wave_add_serial(TX, BAUD, TEXT)
wid = pi.wave_create()
print(f"wave {wid}: {pulses} pulses, {pi.wave_get_micros()} us")
pi.wave_send_once(wid)
while pi.wave_tx_busy():
    time.sleep(0.01)
time.sleep(0.1)  # the last edges' callbacks
cb.cancel()


def decode(edges, baud):
    """8N1 bytes from (level, tick) edges: each falling edge after a stop bit starts
    a character; the bits are sampled in their middles."""
    bit = 1e6 / baud
    start = edges[0][1]

    def level_at(t):
        level = 1
        for lv, tick in edges:
            if pigpio.tickDiff(start, tick) > t:
                break
            level = lv
        return level

    out, t = bytearray(), 0.0
    for lv, tick in edges:
        at = pigpio.tickDiff(start, tick)
        if lv == 0 and at >= t:
            out.append(sum(level_at(at + (b + 1.5) * bit) << b for b in range(8)))
            t = at + 9.5 * bit
    return bytes(out)


print(f"{len(edges)} edges, decoded: {decode(edges, BAUD)!r}")
pi.wave_delete(wid)
pi.stop()
