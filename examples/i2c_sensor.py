#!/usr/bin/env python3
"""An ordinary pigpio I2C script: a TMP102 thermometer and an ADXL345 accelerometer
on I2C bus 1.

Nothing in it knows about gpiosvr. Run it on a simulated board with:
  gpiosvr-run --sim --board examples/board.toml examples/i2c_sensor.py
or with a gpiosvr-server --board examples/board.toml running:
  PYTHONPATH=compat python examples/i2c_sensor.py
"""

import struct
import sys

import pigpio

TMP102, ADXL345 = 0x48, 0x53

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)

t = pi.i2c_open(1, TMP102)
word = pi.i2c_read_word_data(t, 0)            # SMBus is little endian, the TMP102 is not
raw = ((word & 0xFF) << 8 | word >> 8) >> 4
print("TMP102: {:.2f} C".format(raw * 0.0625))
pi.i2c_close(t)

a = pi.i2c_open(1, ADXL345)
print("ADXL345 device id: 0x{:02X}".format(pi.i2c_read_byte_data(a, 0x00)))
pi.i2c_write_byte_data(a, 0x2D, 0x08)         # POWER_CTL: measure
pi.i2c_write_byte_data(a, 0x31, 0x0B)         # DATA_FORMAT: full resolution, 16 g
(count, data) = pi.i2c_read_i2c_block_data(a, 0x32, 6)
if count == 6:
    x, y, z = struct.unpack("<3h", bytes(data))
    print("ADXL345 x={} y={} z={}".format(x, y, z))
pi.i2c_close(a)

h = pi.i2c_open(1, 0x77)                      # nothing there: the bus gets no ACK
try:
    pi.i2c_read_byte_data(h, 0xD0)
except pigpio.error as e:
    print("nothing at 0x77:", e)
pi.i2c_close(h)
pi.stop()
