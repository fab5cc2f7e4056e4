"""The gpiod backend's buses against the kernel's own devices, in the QEMU guest:

* I2C on ``i2c-stub`` (loaded by ``tests/kernel/init`` with ``chip_addr=0x48``)
  through ``/dev/i2c-N``: byte, word, SMBus block and I2C block calls through the
  facade, each checked byte for byte by reading the stub back through i2c-dev from
  the test (``smbus2``, a second path to the same registers), and what the stub
  cannot do answering pigpio's codes;
* serial on a real tty: a pty pair of the guest's kernel, its slave under a
  ``/dev/tty...`` name as pigpio's ``serial_open`` wants; the test is the far end;
* SPI through ``/dev/spidev0.0``: QEMU's PC has no SPI controller, so the guest's
  kernel has one of ours (``tests/kernel/gpiosvr_spi.c``): the kernel's ``spi-gpio``
  on four lines of a gpio-sim chip of their own (made by ``tests/kernel/init``), and
  spidev on its chip select 0. MISO reads that line's pull, so every byte read is
  0xFF with the pull up and 0x00 with it down; the settings of ``spi_flags`` are
  checked as spidev reports them (a second open of the device, by the test) and as
  the chip select and MOSI lines show them.

The server is the gpiod backend's own process on a gpio-sim chip (the fixtures of
``tests/test_backend_gpiod.py``). Run by ``python3 tools/kernel_tests.py``; skipped
elsewhere (failing instead under ``GPIOSVR_REQUIRE_GPIO_SIM=1``, as in the guest).
"""

from __future__ import annotations

import glob
import os
import termios

import pigpio as real_pigpio
import pytest

from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.buses import code

from conftest import wait_until
from test_backend_gpiod import gpiod_server, pi, sim_chip  # noqa: F401 - fixtures

pytestmark = pytest.mark.gpio_sim
C = real_pigpio
ADDRESS = 0x48
STUB_FUNCS = "/sys/module/i2c_stub/parameters/functionality"
#: linux/i2c.h: SMBus block read and write (i2c-stub leaves them off by default).
BLOCK_DATA = 0x0300_0000


@pytest.fixture(scope="module")
def stub_bus(sim_chip):  # noqa: F811 - skips (or fails) as the gpio-sim tests do
    """The number N of the i2c-stub's /dev/i2c-N."""
    for name in glob.glob("/sys/class/i2c-dev/i2c-*/name"):
        with open(name) as f:
            if f.read().strip() == "SMBus stub driver":
                return int(name.split("/")[-2].split("-")[1])
    if os.environ.get("GPIOSVR_REQUIRE_GPIO_SIM"):
        pytest.fail("no i2c-stub adapter (is the module loaded by tests/kernel/init?)")
    pytest.skip("no i2c-stub adapter here")


@pytest.fixture
def stub(stub_bus):
    """The stub's registers as the test sees them, through i2c-dev."""
    from smbus2 import SMBus

    with SMBus(stub_bus) as bus:
        yield bus


def codes(func, *args):
    with pytest.raises(Exception) as info:
        func(*args)
    return info.value.code


def test_i2c_byte_and_word_calls_on_i2c_stub(pi, stub, stub_bus):  # noqa: F811
    stub.write_i2c_block_data(ADDRESS, 0x10, [0x19, 0x80, 0x07])
    h = pi.i2c_open(stub_bus, ADDRESS)
    assert pi.i2c_read_byte_data(h, 0x10) == 0x19
    # i2c-stub's pointer: after a byte-data read it is the next register
    assert pi.i2c_read_byte(h) == 0x80 and pi.i2c_read_byte(h) == 0x07
    assert pi.i2c_write_byte(h, 0x10) == 0 and pi.i2c_read_byte(h) == 0x19
    assert pi.i2c_write_quick(h, 0) == 0 and pi.i2c_write_quick(h, 1) == 0
    assert pi.i2c_write_byte_data(h, 0x20, 0xA5) == 0
    assert stub.read_byte_data(ADDRESS, 0x20) == 0xA5
    assert pi.i2c_write_word_data(h, 0x30, 0xBEEF) == 0
    assert stub.read_word_data(ADDRESS, 0x30) == 0xBEEF
    assert pi.i2c_read_word_data(h, 0x30) == 0xBEEF
    assert pi.i2c_read_byte_data(h, 0x30) == 0xEF  # a register is a word; bytes are its low
    assert pi.i2c_write_i2c_block_data(h, 0x40, b"\x01\x02\x03\x04") == 0
    assert stub.read_i2c_block_data(ADDRESS, 0x40, 4) == [1, 2, 3, 4]
    assert pi.i2c_read_i2c_block_data(h, 0x40, 3) == (3, bytearray(b"\x01\x02\x03"))
    # i2c-stub has no process calls: refused by its functionality, as pigpio does
    assert codes(pi.i2c_process_call, h, 0x30, 1) == C.PI_BAD_SMBUS_CMD
    assert pi.i2c_close(h) == 0


def test_i2c_block_data_once_the_stub_offers_it(pi, stub, stub_bus):  # noqa: F811
    h = pi.i2c_open(stub_bus, ADDRESS)
    # off by default: the adapter's functionality, read at the open, refuses it
    assert codes(pi.i2c_write_block_data, h, 0x50, [9, 8, 7]) == C.PI_BAD_SMBUS_CMD
    with open(STUB_FUNCS) as f:
        funcs = int(f.read())
    with open(STUB_FUNCS, "w") as f:
        f.write(str(funcs | BLOCK_DATA))
    try:
        h2 = pi.i2c_open(stub_bus, ADDRESS)
        assert pi.i2c_write_block_data(h2, 0x50, [9, 8, 7]) == 0
        assert stub.read_block_data(ADDRESS, 0x50) == [9, 8, 7]
        assert pi.i2c_read_block_data(h2, 0x50) == (3, bytearray(b"\x09\x08\x07"))
        stub.write_block_data(ADDRESS, 0x58, [1, 2, 3, 4, 5])
        assert pi.i2c_read_block_data(h2, 0x58) == (5, bytearray(b"\x01\x02\x03\x04\x05"))
        assert pi.i2c_close(h2) == 0
    finally:
        with open(STUB_FUNCS, "w") as f:
            f.write(str(funcs))
    assert pi.i2c_close(h) == 0


def test_i2c_what_the_stub_cannot_do_fails_as_on_pigpio(pi, stub_bus, gpiod_server):  # noqa: F811
    h = pi.i2c_open(stub_bus, ADDRESS)
    # i2c-stub is SMBus only: plain reads, writes and combined transfers fail
    assert pi.i2c_read_device(h, 2) == (C.PI_I2C_READ_FAILED, "")
    assert codes(pi.i2c_write_device, h, b"\x10\x01") == C.PI_I2C_WRITE_FAILED
    assert pi.i2c_zip(h, [2, 7, 1, 0x10, 6, 1, 3, 0])[0] == code("PI_BAD_I2C_SEG")
    nobody = pi.i2c_open(stub_bus, 0x50)  # opens, as on a Pi; nothing answers
    assert codes(pi.i2c_read_byte_data, nobody, 0) == C.PI_I2C_READ_FAILED
    assert codes(pi.i2c_write_byte_data, nobody, 0, 1) == C.PI_I2C_WRITE_FAILED
    client = BlockingClient(gpiod_server)
    try:
        with pytest.raises(PigpioError) as info:
            client.command("i2co", 9, ADDRESS, 0)
        assert info.value.code == C.PI_BAD_I2C_BUS and "/dev/i2c-9" in str(info.value)
        with pytest.raises(PigpioError) as info:
            client.command("i2crb", client.command("i2co", stub_bus, 0x51, 0), 0)
        assert f"/dev/i2c-{stub_bus} address 0x51" in str(info.value)
    finally:
        client.close()
    assert pi.i2c_close(h) == 0 and pi.i2c_close(nobody) == 0


@pytest.fixture
def tty():
    """A pty pair: the master for the test, the slave as /dev/ttyGPIOSVR0."""
    master, slave = os.openpty()
    link = "/dev/ttyGPIOSVR0"
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(slave), link)
    os.set_blocking(master, False)
    yield master, slave, link
    os.unlink(link)
    os.close(slave)
    os.close(master)


def _read_all(fd: int, count: int) -> bytes:
    got = bytearray()

    def more() -> bool:
        try:
            got.extend(os.read(fd, count - len(got)))
        except BlockingIOError:
            pass
        return len(got) >= count

    assert wait_until(more, timeout=30)
    return bytes(got)


def test_serial_on_a_real_tty(pi, tty):  # noqa: F811
    master, slave, link = tty
    h = pi.serial_open(link, 115200)
    attrs = termios.tcgetattr(slave)  # the same tty, as the server set it up
    assert attrs[4] == attrs[5] == termios.B115200
    assert not attrs[3] & (termios.ICANON | termios.ECHO)  # raw
    assert attrs[2] & termios.CSIZE == termios.CS8 and not attrs[2] & termios.PARENB
    assert pi.serial_data_available(h) == 0
    assert pi.serial_read(h) == (C.PI_SER_READ_NO_DATA, "")
    os.write(master, b"$GPGGA,1*00\r\n")
    assert wait_until(lambda: pi.serial_data_available(h) == 13, timeout=30)
    assert pi.serial_read_byte(h) == ord("$")
    assert pi.serial_read(h, 5) == (5, bytearray(b"GPGGA"))
    assert pi.serial_read(h) == (7, bytearray(b",1*00\r\n"))
    assert pi.serial_write(h, b"\x00\xffok\r\n") == 0 and pi.serial_write_byte(h, 0x21) == 0
    assert _read_all(master, 7) == b"\x00\xffok\r\n!"
    assert pi.serial_close(h) == 0
    assert pi.serial_read(h) == (C.PI_BAD_HANDLE, "")


#: tests/kernel/init's gpio-sim chip for the SPI bus, and its lines
#: (tests/kernel/gpiosvr_spi.c).
SPI_SIM = "/sys/kernel/config/gpio-sim/gpiosvr-spi"
SCK, MOSI, MISO, CS0 = 0, 1, 2, 3
#: pigpio's spi_flags: px (channel 0's chip select active high), T and R (LSB first).
SPI_CS0_HIGH, SPI_LSB = 1 << 2, (1 << 14) | (1 << 15)


@pytest.fixture(scope="module")
def spi_lines(sim_chip):  # noqa: F811 - skips (or fails) as the gpio-sim tests do
    """The sysfs directory of the SPI bus's gpio-sim lines."""
    if not os.path.exists("/dev/spidev0.0") or not os.path.isdir(SPI_SIM):
        if os.environ.get("GPIOSVR_REQUIRE_GPIO_SIM"):
            pytest.fail("no /dev/spidev0.0 on gpio-sim (is tests/kernel/gpiosvr_spi.ko "
                        "loaded by tests/kernel/init?)")
        pytest.skip("no spi-gpio bus on gpio-sim here")
    with open(f"{SPI_SIM}/dev_name") as f, open(f"{SPI_SIM}/bank0/chip_name") as g:
        return f"/sys/devices/platform/{f.read().strip()}/{g.read().strip()}"


def _pull(lines: str, line: int, level: int) -> None:
    with open(f"{lines}/sim_gpio{line}/pull", "w") as f:
        f.write("pull-up" if level else "pull-down")


def _level(lines: str, line: int) -> int:
    with open(f"{lines}/sim_gpio{line}/value") as f:
        return int(f.read())


def _spidev_settings() -> tuple:
    """/dev/spidev0.0's settings as spidev reports them (read at open)."""
    from spidev import SpiDev

    dev = SpiDev()
    dev.open_path("/dev/spidev0.0")
    try:
        return dev.mode, dev.cshigh, dev.lsbfirst, dev.bits_per_word, dev.max_speed_hz
    finally:
        dev.close()


def test_spi_transfers_through_spidev_on_spi_gpio(pi, spi_lines):  # noqa: F811
    _pull(spi_lines, MISO, 1)
    h = pi.spi_open(0, 250_000, 1)  # mode 1
    assert _spidev_settings() == (1, False, False, 8, 250_000)
    assert _level(spi_lines, CS0) == 1  # active low, not selected
    assert pi.spi_xfer(h, b"\x00\x5a\xa5") == (3, bytearray(b"\xff\xff\xff"))
    assert pi.spi_read(h, 5) == (5, bytearray(b"\xff" * 5))
    _pull(spi_lines, MISO, 0)  # the same calls now read the other level
    assert pi.spi_xfer(h, b"\xff\xff\xff") == (3, bytearray(3))
    assert pi.spi_read(h, 5) == (5, bytearray(5))
    _pull(spi_lines, MISO, 1)
    assert pi.spi_xfer(h, b"\x01") == (1, bytearray(b"\xff"))
    # MOSI keeps the last bit clocked out (MSB first: the last byte's bit 0)
    assert pi.spi_write(h, b"\x00\x00\x57") == 3 and _level(spi_lines, MOSI) == 1
    assert pi.spi_write(h, b"\xff\xff\x56") == 3 and _level(spi_lines, MOSI) == 0
    assert _level(spi_lines, CS0) == 1
    assert pi.spi_close(h) == 0
    assert pi.spi_read(h, 1) == (C.PI_BAD_HANDLE, "")


def test_spi_flags_reach_spidev_and_the_lines(pi, spi_lines):  # noqa: F811
    _pull(spi_lines, MISO, 0)
    h = pi.spi_open(0, 100_000, 3 | SPI_CS0_HIGH | SPI_LSB)
    assert _spidev_settings() == (3, True, True, 8, 100_000)
    assert _level(spi_lines, CS0) == 0  # active high, not selected
    assert pi.spi_xfer(h, b"\x80\x80") == (2, bytearray(2))
    # LSB first: the last bit out is the last byte's bit 7
    assert _level(spi_lines, MOSI) == 1 and _level(spi_lines, SCK) == 1  # CPOL 1
    assert pi.spi_write(h, b"\x7f") == 1 and _level(spi_lines, MOSI) == 0
    _pull(spi_lines, MISO, 1)
    assert pi.spi_read(h, 2) == (2, bytearray(b"\xff\xff"))
    assert pi.spi_close(h) == 0
    h = pi.spi_open(0, 50_000, 16 << 16)  # 16-bit words
    assert _spidev_settings() == (0, False, False, 16, 50_000)
    assert _level(spi_lines, CS0) == 1
    assert pi.spi_xfer(h, b"\x12\x34\x56\x78") == (4, bytearray(b"\xff" * 4))
    assert pi.spi_close(h) == 0


def test_missing_serial_and_spi_devices_name_their_paths(gpiod_server):  # noqa: F811
    client = BlockingClient(gpiod_server)
    try:
        with pytest.raises(PigpioError) as info:
            client.command("sero", "/dev/ttyUSB7", 9600, 0)
        assert info.value.code == C.PI_SER_OPEN_FAILED and "/dev/ttyUSB7" in str(info.value)
        with pytest.raises(PigpioError) as info:  # spi-gpio has one chip select
            client.command("spio", 1, 1_000_000, 0)
        assert info.value.code == C.PI_SPI_OPEN_FAILED
        assert "/dev/spidev0.1" in str(info.value)
    finally:
        client.close()
