#!/usr/bin/env python3
"""PWM fade: brighten and dim an LED on GPIO 18, and watch its real waveform.

An ordinary pigpio script: ``gpiosvr-run --sim examples/pwm_fade.py``. On the
simulated chip the PWM output really toggles, so a callback counts its edges.
"""

import sys
import time

import pigpio

LED = 18

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)
print("frequency {} Hz".format(pi.set_PWM_frequency(LED, 1000)))
print("real range {}".format(pi.set_PWM_range(LED, 100)))
edges = pi.callback(LED, pigpio.EITHER_EDGE)  # no function: it just counts

for duty in list(range(0, 101, 25)) + list(range(75, -1, -25)):
    pi.set_PWM_dutycycle(LED, duty)
    print("dutycycle {:3d}% -> get_PWM_dutycycle {}".format(duty, pi.get_PWM_dutycycle(LED)))
    time.sleep(0.05)

pi.set_PWM_dutycycle(LED, 50)
edges.reset_tally()
time.sleep(0.5)
pi.set_PWM_dutycycle(LED, 0)
print("edges in 0.5 s at 1000 Hz: {} (two per period: about 1000)".format(edges.tally()))
edges.cancel()
pi.stop()
