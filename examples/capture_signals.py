"""Capture a PWM fade and a servo, print what was measured, save a timing diagram.

    gpiosvr-run --sim examples/capture_signals.py [picture.png [out.vcd]]

``pi.capture`` is a gpiosvr addition (not pigpio's); it needs the ``capture`` extra
(``python3 -m pip install '.[capture]'`` in the clone: NumPy, matplotlib, pyvcd).
"""

import sys
import time

import pigpio

picture = sys.argv[1] if len(sys.argv) > 1 else "capture.png"
vcd = sys.argv[2] if len(sys.argv) > 2 else None

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)
try:
    pi.set_servo_pulsewidth(13, 1500)
    pi.set_PWM_dutycycle(12, 32)
    cap = pi.capture([12, 13]).start()
    for duty in (32, 96, 160, 224):
        pi.set_PWM_dutycycle(12, duty)
        time.sleep(0.025)
    cap.stop()
    print(cap.summary())
    cap.plot(picture, title="PWM fade on GPIO 12 (800 Hz), servo 1500 µs on GPIO 13")
    print("timing diagram saved to", picture)
    if vcd:
        cap.to_vcd(vcd)
        print("VCD saved to", vcd)
finally:
    pi.set_PWM_dutycycle(12, 0)
    pi.set_servo_pulsewidth(13, 0)
    pi.stop()
