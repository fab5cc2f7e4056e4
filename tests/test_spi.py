"""SPI through the pigpio facade on the simulated board: the MCP3008/MCP3208 models
bit for bit, spi_flags (mode, CE polarity, auxiliary SPI, word size), handles, and
gpiozero's MCP3008 through its pigpio pin factory reading a voltage a test sets."""

from __future__ import annotations

import os
import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.sim.devices import MCP3008, MCP3208, SPIModel
from gpiosvr.simulator import Simulator

C = real_pigpio


@pytest.fixture
def pi(server, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi()
    yield p
    p.stop()


@pytest.fixture
def sim(server):
    with Simulator(server=server) as s:
        yield s


@pytest.fixture
def adc(server):
    device = MCP3008(vref=3.3)
    server.call(lambda: server.backend.buses().attach_spi(0, 0, device))
    return device


def codes(func, *args):
    with pytest.raises(pigpio.error) as info:
        func(*args)
    return info.value.code


def test_mcp3008_reads_the_voltage_set(pi, adc, sim):
    h = pi.spi_open(0, 1_000_000)
    sim.set_adc_voltage(0, 0, 2, 1.65)
    count, rx = pi.spi_xfer(h, [1, 0x80 | 2 << 4, 0])  # start, single-ended, channel 2
    assert count == 3 and type(rx) is bytearray
    assert ((rx[1] & 3) << 8) | rx[2] == 512  # floor(1024 * 1.65 / 3.3)
    sim.set_adc_voltage(0, 0, 7, 5.0)  # past vref: all ones
    assert pi.spi_xfer(h, b"\x01\xf0\x00") == (3, bytearray(b"\x00\x03\xff"))
    # differential CH2-CH3 (SGL/DIFF 0, D = 2): 1.65 - 0 V
    rx = pi.spi_xfer(h, [1, 2 << 4, 0])[1]
    assert ((rx[1] & 3) << 8) | rx[2] == 512
    rx = pi.spi_xfer(h, [1, 3 << 4, 0])[1]  # CH3-CH2: negative reads 0
    assert ((rx[1] & 3) << 8) | rx[2] == 0
    # gpiozero's framing: the start bit at the end of the first byte, one word
    assert pi.spi_xfer(h, [0x01, 0xA0, 0x00])[1] == bytearray(b"\x00\x02\x00")


def test_mcp3008_bit_stream_after_the_result(pi, adc, sim):
    sim.set_adc_voltage(0, 0, 0, 3.3 * (0x2C5 + 0.5) / 1024)
    h = pi.spi_open(0, 1_000_000)
    # start bit first: config in bits 1-4, null bit at 6, B9..B0 from 7, then LSB first
    _, rx = pi.spi_xfer(h, [0b11000000, 0, 0, 0])
    bits = "".join(f"{b:08b}" for b in rx)
    assert bits[6] == "0" and int(bits[7:17], 2) == 0x2C5
    assert bits[17:26] == f"{0x2C5:010b}"[::-1][1:]  # B1..B9
    assert set(bits[26:]) == {"0"}


def test_mcp3208_is_twelve_bits(pi, server, sim):
    server.call(lambda: server.backend.buses().attach_spi(0, 1, MCP3208(vref=4.096)))
    sim.set_adc_voltage(0, 1, 5, 1.0)
    h = pi.spi_open(1, 500_000)
    rx = pi.spi_xfer(h, [0x06 | 5 >> 2, (5 & 3) << 6, 0])[1]
    assert ((rx[1] & 0x0F) << 8) | rx[2] == 1000


def test_flags_a_device_cannot_take_read_zeros(pi, adc, sim):
    sim.set_adc_voltage(0, 0, 0, 3.0)
    frame = [1, 0x80, 0]
    assert pi.spi_xfer(pi.spi_open(0, 1_000_000, 3), frame)[1] != bytearray(3)  # mode 3
    assert pi.spi_xfer(pi.spi_open(0, 1_000_000, 1), frame) == (3, bytearray(3))  # mode 1
    cs0_high = 1 << 2  # p0: CE0 active high, the ADC never sees itself selected
    assert pi.spi_xfer(pi.spi_open(0, 1_000_000, cs0_high), frame) == (3, bytearray(3))


def test_read_write_and_nothing_attached(pi, server):
    seen = []

    class Echo(SPIModel):
        def xfer(self, data, config):
            seen.append((bytes(data), config.mode, config.bits, config.aux))
            return bytes(b ^ 0xFF for b in data)

    server.call(lambda: server.backend.buses().attach_spi(1, 2, Echo()))
    aux = 1 << 8
    h = pi.spi_open(2, 100_000, aux | 2)
    assert pi.spi_write(h, b"\x02\xc0\x80") == 3
    assert pi.spi_write(h, "def") == 3
    assert pi.spi_read(h, 2) == (2, bytearray(b"\xff\xff"))
    assert pi.spi_xfer(h, [0x0F]) == (1, bytearray(b"\xf0"))
    assert seen[0] == (b"\x02\xc0\x80", 2, 8, True) and seen[1][0] == b"def"
    assert pi.spi_read(h, 0) == (0, "")
    # word size is the auxiliary SPI's: an 8-bit-only device sees nothing at 12 bits
    h12 = pi.spi_open(2, 100_000, aux | 12 << 16)
    assert pi.spi_xfer(h12, b"\x01\x02") == (2, bytearray(2))
    # nothing on main SPI CE1: MISO is pulled down, zeros, as on a Pi
    assert pi.spi_xfer(pi.spi_open(1, 1_000_000), b"\xff\xff") == (2, bytearray(2))


def test_bad_arguments_and_handles(pi, adc):
    assert codes(pi.spi_open, 2, 1_000_000) == C.PI_BAD_SPI_CHANNEL
    assert codes(pi.spi_open, 3, 1_000_000, 1 << 8) == C.PI_BAD_SPI_CHANNEL
    assert codes(pi.spi_open, 0, 1000) == C.PI_BAD_SPI_SPEED
    assert codes(pi.spi_open, 0, 1_000_000, 1 << 23) == C.PI_BAD_FLAGS
    h = pi.spi_open(0, 1_000_000)
    assert pi.spi_close(h) == 0
    assert codes(pi.spi_close, h) == C.PI_BAD_HANDLE
    assert pi.spi_xfer(h, b"\x01") == (C.PI_BAD_HANDLE, "")
    assert codes(pi.spi_write, 31, b"\x01") == C.PI_BAD_HANDLE
    assert pi.spi_read(h, 1) == (C.PI_BAD_HANDLE, "")


def test_handles_close_with_their_process(server, adc):
    from conftest import wait_until

    code = ("import gpiosvr.pigpio as pigpio, sys\n"
            "pi = pigpio.pi(sys.argv[1])\n"
            "print([pi.spi_open(0, 1000000) for _ in range(2)], flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code, server.socket_path],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[0, 1]", out.stderr
    wait_until(lambda: server.call(lambda: len(server.server.spi_handles)) == 0)


GPIOZERO = r"""
import sys
from gpiozero import Device, MCP3008
from gpiozero.pins.pigpio import PiGPIOFactory
from gpiosvr.simulator import Simulator

Device.pin_factory = PiGPIOFactory()
sim = Simulator()
adc = MCP3008(channel=3)
for volts in (0.0, 1.1, 3.3):
    sim.set_adc_voltage(0, 0, 3, volts)
    print(f"{volts} V -> {adc.value:.4f} raw {adc.raw_value}")
adc.close()
"""


def test_gpiozero_mcp3008_through_the_pigpio_factory(server, adc, tmp_path):
    script = tmp_path / "adc.py"
    script.write_text(GPIOZERO)
    env = dict(os.environ, GPIO_SOCKET_PATH=server.socket_path)
    proc = subprocess.run([sys.executable, "-m", "gpiosvr.run", str(script)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # raw: floor(1024 * V / 3.3), at most 1023; value: gpiozero's own scaling of it
    assert proc.stdout.splitlines() == [
        f"{volts} V -> {2 * (raw + 1024) / 2047 - 1:.4f} raw {raw}"
        for volts, raw in ((0.0, 0), (1.1, 341), (3.3, 1023))]
