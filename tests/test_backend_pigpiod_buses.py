"""I2C, SPI and serial on the pigpiod backend: the facade -> gpiosvr on the pigpiod
backend -> the real ``pigpio`` package -> the pigpiod stand-in -> a second gpiosvr on
the simulated board, whose device models answer. Exact bytes are checked in the
models; the daemon's handles stay behind gpiosvr's own, which belong to the client."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.sim.devices import MCP3008, RegisterDevice

from conftest import wait_until
from test_backend_pigpiod import chip, daemon, pi, relay, sim  # noqa: F401 - fixtures

C = real_pigpio


@pytest.fixture
def stub(chip):  # noqa: F811
    """An i2c-stub-like register device at 0x48 of the 'Pi's' bus 1."""
    device = RegisterDevice()
    chip.call(lambda: chip.backend.buses().attach_i2c(1, 0x48, device))
    return device


def codes(func, *args):
    with pytest.raises(pigpio.error) as info:
        func(*args)
    return info.value.code


def daemon_handles(srv, kind: str) -> int:
    """How many ``kind`` handles the 'daemon' (the stand-in's client) holds open."""
    return srv.call(lambda: len(getattr(srv.server, f"{kind}_handles", ())))


def test_i2c_smbus_calls_reach_the_device_through_the_daemon(pi, stub, sim, chip):  # noqa: F811
    h = pi.i2c_open(1, 0x48)
    assert h == 0 and daemon_handles(chip, "i2c") == 1
    sim.i2c_set(1, 0x48, 0x10, [0x19, 0x80, 0x07])
    assert pi.i2c_read_byte_data(h, 0x10) == 0x19
    assert pi.i2c_read_byte(h) == 0x80 and pi.i2c_read_byte(h) == 0x07
    assert pi.i2c_write_byte(h, 0x10) == 0 and stub.pointer == 0x10
    assert pi.i2c_write_quick(h, 1) == 0
    assert pi.i2c_write_byte_data(h, 0x20, 0xA5) == 0
    assert sim.i2c_get(1, 0x48, 0x20) == b"\xa5"
    assert pi.i2c_write_word_data(h, 0x30, 0xBEEF) == 0
    assert pi.i2c_read_word_data(h, 0x30) == 0xBEEF
    assert pi.i2c_process_call(h, 0x31, 0x1234) == 0x1234
    assert pi.i2c_write_i2c_block_data(h, 0x40, b"\x01\x02\x03\x04") == 0
    assert sim.i2c_get(1, 0x48, 0x40, 4) == b"\x01\x02\x03\x04"
    assert pi.i2c_read_i2c_block_data(h, 0x40, 3) == (3, bytearray(b"\x01\x02\x03"))
    assert pi.i2c_write_block_data(h, 0x50, [9, 8, 7]) == 0
    assert pi.i2c_read_block_data(h, 0x50) == (3, bytearray(b"\x09\x08\x07"))
    assert pi.i2c_block_process_call(h, 0x51, b"xy") == (2, bytearray(b"xy"))
    assert pi.i2c_read_block_data(h, 0x52) == (C.PI_I2C_READ_FAILED, "")  # none written
    assert pi.i2c_close(h) == 0
    assert wait_until(lambda: daemon_handles(chip, "i2c") == 0)


def test_i2c_plain_reads_writes_and_zip(pi, stub, sim):  # noqa: F811
    h = pi.i2c_open(1, 0x48)
    assert pi.i2c_write_device(h, b"\x60\xde\xad") == 0  # pointer 0x60, then two bytes
    assert sim.i2c_get(1, 0x48, 0x60, 2) == b"\xde\xad"
    assert pi.i2c_write_device(h, [0x60]) == 0
    assert pi.i2c_read_device(h, 2) == (2, bytearray(b"\xde\xad"))
    # zip: write the pointer, read 2, as one combined transfer, run by the daemon
    assert pi.i2c_zip(h, [2, 7, 1, 0x60, 6, 2, 3, 0]) == (2, bytearray(b"\xde\xad"))
    assert pi.i2c_zip(h, [2, 9, 0])[0] == C.PI_BAD_I2C_CMD


def test_i2c_the_daemons_refusals_come_back(pi, stub):  # noqa: F811
    assert codes(pi.i2c_open, 7, 0x48) == C.PI_BAD_I2C_BUS  # the 'Pi' has no bus 7
    assert codes(pi.i2c_open, 1, 0x80) == C.PI_BAD_I2C_ADDR  # gpiosvr's own check
    nobody = pi.i2c_open(1, 0x50)
    assert codes(pi.i2c_read_byte, nobody) == C.PI_I2C_READ_FAILED
    assert codes(pi.i2c_write_byte_data, nobody, 1, 2) == C.PI_I2C_WRITE_FAILED
    assert pi.i2c_read_device(nobody, 1) == (C.PI_I2C_READ_FAILED, "")
    assert pi.i2c_close(nobody) == 0
    assert codes(pi.i2c_close, nobody) == C.PI_BAD_HANDLE
    assert codes(pi.i2c_read_byte, 77) == C.PI_BAD_HANDLE


def test_spi_adc_through_the_daemon(pi, chip, sim):  # noqa: F811
    chip.call(lambda: chip.backend.buses().attach_spi(0, 0, MCP3008(vref=3.3)))
    sim.set_adc_voltage(0, 0, 2, 1.65)
    h = pi.spi_open(0, 1_000_000)
    count, data = pi.spi_xfer(h, [1, (8 + 2) << 4, 0])
    assert count == 3 and ((data[1] & 3) << 8 | data[2]) == 512
    assert pi.spi_write(h, b"\x00\x00") == 2
    assert pi.spi_read(h, 3) == (3, bytearray(3))
    assert codes(pi.spi_open, 2, 1_000_000) == C.PI_BAD_SPI_CHANNEL
    assert pi.spi_close(h) == 0
    assert wait_until(lambda: daemon_handles(chip, "spi") == 0)


def test_serial_through_the_daemon(pi, chip, sim):  # noqa: F811
    h = pi.serial_open("/dev/serial0", 115200)
    assert pi.serial_data_available(h) == 0
    assert pi.serial_read(h) == (C.PI_SER_READ_NO_DATA, "")
    assert codes(pi.serial_read_byte, h) == C.PI_SER_READ_NO_DATA
    sim.serial_write("/dev/serial0", b"$GPGGA\r\n")
    assert wait_until(lambda: pi.serial_data_available(h) == 8)
    assert pi.serial_read_byte(h) == ord("$")
    assert pi.serial_read(h, 5) == (5, bytearray(b"GPGGA"))
    assert pi.serial_write(h, b"ok\n") == 0 and pi.serial_write_byte(h, 0x21) == 0
    assert sim.serial_read("/dev/serial0") == b"ok\n!"
    assert codes(pi.serial_open, "/dev/ttyUSB9", 9600) == C.PI_SER_OPEN_FAILED
    assert pi.serial_close(h) == 0


def test_a_client_that_goes_closes_the_daemons_handles(relay, chip, stub):  # noqa: F811
    script = textwrap.dedent(f"""
        import gpiosvr.pigpio as pigpio
        pi = pigpio.pi({relay.socket_path!r})
        print(pi.i2c_open(1, 0x48), pi.spi_open(0, 1_000_000),
              pi.serial_open("/dev/serial0", 9600), flush=True)
        import os; os._exit(0)  # no close, no stop: as a script that dies
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.split() == ["0", "0", "0"], out.stderr
    assert wait_until(lambda: [daemon_handles(chip, k) for k in ("i2c", "spi", "serial")]
                      == [0, 0, 0])
    other = pigpio.pi(relay.socket_path)
    try:
        assert codes(other.i2c_read_byte, 0) == C.PI_BAD_HANDLE
    finally:
        other.stop()
