"""The Microchip MCP3008 (10-bit) and MCP3208 (12-bit) 8-channel ADCs on SPI.

The model follows the data sheet bit by bit, so any framing a script or library
uses works (gpiozero's ``MCP3008``, the common ``[1, 0x80 | ch << 4, 0]``, the
MCP3208's ``[0x06 | ch >> 2, ch << 6, 0]``): after the chip select, the first 1 bit
clocked in is the start bit; the next four are SGL/DIFF and D2-D0; one clock
samples; the device then clocks out a null bit (0) and the result MSB first, then
the result again LSB first (from B1), then zeros. Before that its output is not
driven and reads 0. Modes 0 and 3 only, 8 bits per word.

A channel's voltage is set from outside (:meth:`MCP3008.set_voltage`, the
``simadc`` command); the code is ``floor(2**bits * V / vref)``, at most all ones.
Differential inputs (SGL/DIFF 0) answer the difference of the channel pair.
"""

from __future__ import annotations

import math

from gpiosvr.server.sim.devices.base import SPIConfig, SPIModel


class MCP3008(SPIModel):
    """An 8-channel 10-bit SPI ADC; voltages set from outside, ``vref`` its reference."""

    bits = 10
    channels = 8
    modes = frozenset({0, 3})

    def __init__(self, vref: float = 3.3, voltages: list[float] | None = None) -> None:
        if not vref > 0:
            raise ValueError(f"vref {vref!r} must be more than 0 V")
        self.vref = float(vref)
        self.voltages = [0.0] * self.channels
        for channel, volts in enumerate(voltages or ()):
            self.set_voltage(channel, volts)

    def set_voltage(self, channel: int, volts: float) -> None:
        """Put ``volts`` on input ``channel`` (0-7); beyond 0-vref it reads as the
        nearest end of the range."""
        if not 0 <= channel < self.channels:
            raise ValueError(f"channel {channel} is not 0-{self.channels - 1}")
        if not math.isfinite(volts):
            raise ValueError(f"voltage {volts!r} is not a number")
        self.voltages[channel] = float(volts)

    def code(self, single: bool, select: int) -> int:
        """The conversion result for the SGL/DIFF bit and channel bits D2-D0."""
        if single:
            volts = self.voltages[select]
        else:  # pairs: 0 is CH0-CH1, 1 is CH1-CH0, 2 is CH2-CH3, ...
            volts = self.voltages[select] - self.voltages[select ^ 1]
        top = (1 << self.bits) - 1
        return max(0, min(top, math.floor((1 << self.bits) * volts / self.vref)))

    def xfer(self, data: bytes, config: SPIConfig) -> bytes:
        if config.mode not in self.modes or config.bits != 8:
            return bytes(len(data))
        bits_in = [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]
        out = [0] * len(bits_in)
        try:
            start = bits_in.index(1)
        except ValueError:
            return bytes(len(data))
        config_bits = bits_in[start + 1:start + 5]
        if len(config_bits) == 4:
            single = bool(config_bits[0])
            select = config_bits[1] << 2 | config_bits[2] << 1 | config_bits[3]
            value = self.code(single, select)
            msb_first = [(value >> (self.bits - 1 - i)) & 1 for i in range(self.bits)]
            lsb_first = [(value >> i) & 1 for i in range(1, self.bits)]
            stream = [0] + msb_first + lsb_first  # the null bit first
            for i, bit in enumerate(stream):
                index = start + 6 + i
                if index < len(out):
                    out[index] = bit
        return bytes(sum(out[b * 8 + i] << (7 - i) for i in range(8))
                     for b in range(len(data)))


class MCP3208(MCP3008):
    """The 12-bit member of the family: the same framing, two more result bits."""

    bits = 12
