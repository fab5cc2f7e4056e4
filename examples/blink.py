#!/usr/bin/env python3
"""An ordinary pigpio script: blink an LED on GPIO 18 and watch a button on GPIO 4.

Nothing in it knows about gpiosvr. Run it on gpiosvr with any of:
  gpiosvr-run --sim examples/blink.py          (a simulated chip, started for it)
  PYTHONPATH=compat python examples/blink.py   (with a gpiosvr-server running)
"""

import sys
import time

import pigpio

LED, BUTTON = 18, 4
blinks = int(sys.argv[1]) if len(sys.argv) > 1 else 3

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)

print("hardware revision: {:x}, pigpio version: {}".format(
    pi.get_hardware_revision(), pi.get_pigpio_version()))
pi.set_mode(LED, pigpio.OUTPUT)
pi.set_mode(BUTTON, pigpio.INPUT)
pi.set_pull_up_down(BUTTON, pigpio.PUD_UP)
print("button on GPIO {} reads {} (pulled up)".format(BUTTON, pi.read(BUTTON)))

start = pi.get_current_tick()
for n in range(blinks):
    for level in (1, 0):
        pi.write(LED, level)
        print("LED {} -> {} (reads {})".format(LED, level, pi.read(LED)))
        time.sleep(0.05)
elapsed = pigpio.tickDiff(start, pi.get_current_tick())

try:  # errors are pigpio's own: the code and text a pigpio user knows
    pi.write(60, 1)
except pigpio.error as e:
    print("a bad GPIO is refused as pigpio refuses it: pi.write(60, 1) -> pigpio.error:", e)

print("blinked {} times in {} us".format(blinks, elapsed))
pi.stop()
