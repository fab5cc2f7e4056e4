#!/usr/bin/env python3
"""An ordinary pigpio SPI script: read the channels of an MCP3008 ADC on SPI 0 CE0.

Nothing in it knows about gpiosvr. Run it on a simulated board with:
  gpiosvr-run --sim --board examples/board.toml examples/spi_adc.py
"""

import sys

import pigpio

VREF = 3.3

pi = pigpio.pi()
if not pi.connected:
    sys.exit(1)

adc = pi.spi_open(0, 1000000, 0)              # channel 0 (CE0), 1 MHz, mode 0


def read_channel(channel):
    (count, data) = pi.spi_xfer(adc, [1, (8 + channel) << 4, 0])
    return ((data[1] & 3) << 8) + data[2]


for channel in range(3):
    value = read_channel(channel)
    print("channel {}: {:4d} = {:.2f} V".format(channel, value, value * VREF / 1024))
pi.spi_close(adc)
pi.stop()
