#!/usr/bin/env python3
"""An ordinary pigpio serial script: send lines on the primary serial port and read
back what comes (with TX wired to RX, the lines themselves).

Nothing in it knows about gpiosvr. Run it on a simulated board with:
  gpiosvr-run --sim --board examples/board.toml examples/serial_echo.py
"""

import sys
import time

import pigpio

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)

h = pi.serial_open("/dev/serial0", 115200)
for line in ("hello", "pigpio on gpiosvr"):
    pi.serial_write(h, line + "\n")
    deadline = time.time() + 2
    while pi.serial_data_available(h) < len(line) + 1 and time.time() < deadline:
        time.sleep(0.01)
    (count, data) = pi.serial_read(h, 100)
    print("sent {!r}, read back {!r}".format(line, data.decode() if count > 0 else ""))
pi.serial_close(h)
pi.stop()
