#!/usr/bin/env python3
"""A button with a callback: count presses of a button on GPIO 4 (to ground).

An ordinary pigpio script. On the simulated chip nobody presses the button, so when
it runs against one (``gpiosvr-run --sim examples/button.py``) it presses the button
itself through ``gpiosvr.simulator`` -- on a real board you would press it.
"""

import sys
import threading

import pigpio

BUTTON = 4
presses = []
released = threading.Event()

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)
pi.set_mode(BUTTON, pigpio.INPUT)
pi.set_pull_up_down(BUTTON, pigpio.PUD_UP)
pi.set_glitch_filter(BUTTON, 1000)  # ignore contact bounce shorter than 1 ms


def pressed(gpio, level, tick):
    presses.append(tick)
    print("button pressed at tick {}".format(tick))


def let_go(gpio, level, tick):
    released.set()


cb_press = pi.callback(BUTTON, pigpio.FALLING_EDGE, pressed)
cb_release = pi.callback(BUTTON, pigpio.RISING_EDGE, let_go)

try:
    from gpiosvr.simulator import Simulator
    finger = Simulator()
    if not finger.is_simulated():
        finger.close()
        finger = None
except Exception:  # plain pigpio, or no simulated chip: a person presses the button
    finger = None

if finger is not None:
    with finger:
        if pi.read(BUTTON) == 0:  # an earlier `pigs simdrive 4 0` still holds it low
            released.clear()
            finger.release(BUTTON)
            released.wait(5)
        for _ in range(3):
            released.clear()
            finger.drive(BUTTON, 0)      # press
            pi.wait_for_edge(BUTTON, pigpio.FALLING_EDGE, 0.05)
            finger.release(BUTTON)       # let go: the pull-up wins
            released.wait(5)
else:
    print("press the button on GPIO {} three times".format(BUTTON))
    while len(presses) < 3:
        released.clear()
        released.wait(60)

print("{} presses counted".format(len(presses)))
cb_press.cancel()
cb_release.cancel()
pi.stop()
