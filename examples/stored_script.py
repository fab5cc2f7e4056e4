#!/usr/bin/env python3
"""A script stored in the server: it blinks GPIO 21 p0 times, then counts in p1.

An ordinary pigpio script: ``gpiosvr-run --sim examples/stored_script.py``. The
script runs inside the server, so its timing does not depend on this process.
"""

import sys
import time

import pigpio

BLINK = """
ld v0 p0
tag 1
  w 21 1  mils 10
  w 21 0  mils 10
  inr p1
  dcr v0
  jnz 1
"""

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)
edges = pi.callback(21, pigpio.EITHER_EDGE)
sid = pi.store_script(BLINK)
print("stored script {}".format(sid))
pi.run_script(sid, [5])
while True:
    status, params = pi.script_status(sid)
    if status != pigpio.PI_SCRIPT_RUNNING:
        break
    time.sleep(0.02)
print("status {} (halted is {}), blinks counted by the script: {}".format(
    status, pigpio.PI_SCRIPT_HALTED, params[1]))
deadline = time.time() + 5  # the last edges may still be on their way to us
while edges.tally() < 2 * params[1] and time.time() < deadline:
    time.sleep(0.01)
print("edges seen by a callback: {}".format(edges.tally()))
pi.delete_script(sid)
pi.stop()
