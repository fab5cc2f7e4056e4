"""Bit-banged serial input, I2C and SPI through the pigpio facade on the simulated
chip: serial sent by a wave through a jumper is read back byte for byte, zip and
xfer reach the board's devices on the GPIOs named, pigpio's error codes, the read
buffer's bound, ownership between processes, the uses ending with their client."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.buses import NoBuses
from gpiosvr.server.backends.pigpiod import PigpiodBackend
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.bitbang import SerialReader
from gpiosvr.server.limits import BB_SERIAL_BUFFER_BYTES
from gpiosvr.server.sim import board as board_file
from gpiosvr.server.sim.devices import MCP3008, RegisterDevice
from gpiosvr.server.sim.devices.base import SPIModel
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from conftest import wait_until
from pigpiod_standin import PigpiodStandIn

C = real_pigpio  # the real package's constants: the facade must answer the same
TX, RX = 4, 17
SDA, SCL = 5, 6
CS, MISO, MOSI, SCLK = 8, 9, 10, 11


@pytest.fixture
def pi(server):
    p = pigpio.pi(server.socket_path)
    p.wave_clear()
    yield p
    p.wave_tx_stop()
    p.stop()


@pytest.fixture
def sim(server):
    with Simulator(server=server) as s:
        yield s


def codes(func, *args):
    with pytest.raises(pigpio.error) as info:
        func(*args)
    return info.value.code


def send_serial(pi, sim, data, baud=9600, bits=8, stops=2, gpio=TX, rx=RX, wire=True):
    """Send ``data`` with wave_add_serial on ``gpio``, wired to ``rx`` (a new wire
    lets the input go for a moment: a start bit)."""
    if wire:
        pi.set_mode(gpio, pigpio.OUTPUT)
        pi.write(gpio, 1)
        sim.wire(gpio, rx)
    pi.wave_add_new()
    assert pi.wave_add_serial(gpio, baud, data, 0, bits, stops) > 0
    wave = pi.wave_create()
    assert wave >= 0
    pi.wave_send_once(wave)
    return wave


def read_all(pi, gpio, size, timeout=10.0):
    got = bytearray()

    def more():
        count, data = pi.bb_serial_read(gpio)
        assert count >= 0, count
        got.extend(data if count else b"")
        return len(got) >= size

    wait_until(more, timeout=timeout)
    return bytes(got)


# -- serial -------------------------------------------------------------------------


def test_a_thousand_random_bytes_at_9600_baud_through_a_jumper(pi, sim):
    rng = random.Random(15)
    data = bytes(rng.randrange(256) for _ in range(1000))
    assert pi.bb_serial_read_open(RX, 9600) == 0
    send_serial(pi, sim, data)
    assert read_all(pi, RX, 1000) == data
    assert pi.bb_serial_read(RX) == (0, "")
    assert pi.bb_serial_read_close(RX) == 0


@pytest.mark.parametrize("baud,bits,stops", [
    (300, 8, 2), (19200, 8, 3), (115200, 8, 2), (250000, 8, 2), (9600, 5, 2),
    (9600, 7, 4), (38400, 1, 2)])
def test_other_baud_rates_data_bits_and_stop_bits(pi, sim, baud, bits, stops):
    rng = random.Random(baud + bits)
    data = bytes(rng.randrange(1 << bits) for _ in range(20))
    assert pi.bb_serial_read_open(RX, baud, bits) == 0
    send_serial(pi, sim, data, baud, bits, stops)
    assert read_all(pi, RX, len(data)) == data


def test_nine_to_thirty_two_bits_give_two_or_four_bytes_a_character(pi, sim):
    words = [0x1FF, 0x000, 0x155, 0x0AA]
    assert pi.bb_serial_read_open(RX, 19200, 9) == 0
    send_serial(pi, sim, b"".join(w.to_bytes(2, "little") for w in words), 19200, 9)
    got = read_all(pi, RX, 8)
    assert [int.from_bytes(got[i:i + 2], "little") for i in range(0, 8, 2)] == words


def test_inverted_logic(pi, sim):
    """An inverted line (idle low): a second GPIO plays the inverse of the wave."""
    data = b"inverted \x00\xff"
    # the wave's GPIO is inverted in software: build the pulses by hand
    pi.set_mode(TX, pigpio.OUTPUT)
    pi.write(TX, 0)
    sim.wire(TX, RX)
    assert pi.bb_serial_read_open(RX, 9600) == 0
    assert pi.bb_serial_invert(RX, 1) == 0
    pulses, bit = [], 1_000_000 // 9600
    for byte in data:
        frame = [0] + [byte >> i & 1 for i in range(8)] + [1]
        for level in frame:
            on, off = (0, 1 << TX) if level else (1 << TX, 0)
            pulses.append(pigpio.pulse(on, off, bit))
    pi.wave_add_new()
    pi.wave_add_generic(pulses)
    pi.wave_send_once(pi.wave_create())
    assert read_all(pi, RX, len(data)) == data
    assert pi.bb_serial_invert(RX, 0) == 0


def test_serial_errors_are_pigpios(pi):
    assert codes(pi.bb_serial_read_open, 32, 9600) == C.PI_BAD_USER_GPIO
    assert codes(pi.bb_serial_read_open, RX, 49) == C.PI_BAD_WAVE_BAUD
    assert codes(pi.bb_serial_read_open, RX, 250001) == C.PI_BAD_WAVE_BAUD
    assert codes(pi.bb_serial_read_open, RX, 9600, 0) == C.PI_BAD_DATABITS
    assert codes(pi.bb_serial_read_open, RX, 9600, 33) == C.PI_BAD_DATABITS
    assert pi.bb_serial_read(RX) == (C.PI_NOT_SERIAL_GPIO, "")
    assert pi.bb_serial_read(40) == (C.PI_BAD_USER_GPIO, "")
    assert codes(pi.bb_serial_read_close, RX) == C.PI_NOT_SERIAL_GPIO
    assert codes(pi.bb_serial_invert, RX, 1) == C.PI_NOT_SERIAL_GPIO
    assert pi.bb_serial_read_open(RX, 9600) == 0
    assert codes(pi.bb_serial_read_open, RX, 9600) == C.PI_GPIO_IN_USE
    assert codes(pi.bb_serial_invert, RX, 2) == C.PI_BAD_SER_INVERT
    assert codes(pi.bb_i2c_open, RX, SCL) == C.PI_GPIO_IN_USE
    assert pi.bb_serial_read_close(RX) == 0
    pigpio.exceptions = False
    try:
        assert pi.bb_serial_read_close(RX) == C.PI_NOT_SERIAL_GPIO
    finally:
        pigpio.exceptions = True


def test_serial_read_close_of_an_i2c_gpio_answers_0_as_pigpio(pi):
    assert pi.bb_i2c_open(SDA, SCL) == 0
    assert pi.bb_serial_read_close(SDA) == 0
    assert pi.bb_i2c_close(SDA) == 0  # it was left open, as in pigpio


def test_the_pigs_commands(server, sim):
    from gpiosvr.blocking import BlockingClient

    with BlockingClient(server.socket_path) as c:
        assert c.command("slro", RX, 9600, 8) == 0
        assert c.command("slri", RX, 0) == 0
        assert c.command("slr", RX, 100) in (b"", "", None)
        assert c.command("slrc", RX) == 0


def test_the_buffer_keeps_pigpios_8192_bytes_less_one_character():
    reader = SerialReader(RX, 9600, 8)
    for i in range(BB_SERIAL_BUFFER_BYTES + 100):
        reader._store(i & 0xFF)
    first = reader.read(10000)
    assert len(first) == BB_SERIAL_BUFFER_BYTES - 1  # then the rest is lost
    assert first == bytes(i & 0xFF for i in range(BB_SERIAL_BUFFER_BYTES - 1))
    assert reader.read(10000) == b""
    reader._store(1)
    reader._store(2)
    # the cyclic buffer wraps: a read stops at its end, as pigpio's
    assert reader.read(10000) == b"\x01" and reader.read(10000) == b"\x02"


def test_a_full_buffer_loses_what_comes_on_the_wire(pi, sim):
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(1200))
    assert pi.bb_serial_read_open(RX, 250000) == 0
    for i in range(7):  # 8,400 bytes sent, none read meanwhile
        pi.wave_clear()
        send_serial(pi, sim, data, 250000, wire=i == 0)
        wait_until(lambda: not pi.wave_tx_busy())
    got = read_all(pi, RX, BB_SERIAL_BUFFER_BYTES - 1)
    assert got == (data * 7)[:BB_SERIAL_BUFFER_BYTES - 1]
    assert pi.bb_serial_read(RX) == (0, "")


def test_the_reader_ends_with_its_client(server, sim):
    script = (f"import gpiosvr.pigpio as pigpio; p = pigpio.pi({server.socket_path!r}); "
              f"assert p.bb_serial_read_open({RX}, 9600) == 0; "
              f"assert p.bb_i2c_open({SDA}, {SCL}) == 0; "
              f"assert p.bb_spi_open({CS}, {MISO}, {MOSI}, {SCLK}) == 0; p.stop()")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    p = pigpio.pi(server.socket_path)
    try:
        wait_until(lambda: p.bb_serial_read(RX)[0] == C.PI_NOT_SERIAL_GPIO)
        assert p.bb_serial_read_open(RX, 9600) == 0
        assert p.bb_i2c_open(SDA, SCL) == 0
        assert p.bb_spi_open(CS, MISO, MOSI, SCLK) == 0
    finally:
        p.stop()


def test_another_process_cannot_use_or_close_them(pi, server):
    assert pi.bb_serial_read_open(RX, 9600) == 0
    assert pi.bb_i2c_open(SDA, SCL) == 0
    assert pi.bb_spi_open(CS, MISO, MOSI, SCLK) == 0
    script = (f"import gpiosvr.pigpio as pigpio; p = pigpio.pi({server.socket_path!r}); "
              f"print(p.bb_serial_read({RX})[0], p.bb_i2c_zip({SDA}, [0])[0], "
              f"p.bb_spi_xfer({CS}, [1])[0]); pigpio.exceptions = False; "
              f"print(p.bb_serial_read_close({RX}), p.bb_i2c_close({SDA}), "
              f"p.bb_spi_close({CS}), p.bb_serial_read_open({RX}, 9600), "
              f"p.bb_spi_open(12, {MISO}, {MOSI}, {SCLK})); p.stop()")
    out = subprocess.run([sys.executable, "-c", script], check=True, timeout=30,
                         capture_output=True, text=True).stdout.split()
    assert list(map(int, out)) == [C.PI_NOT_SERIAL_GPIO, C.PI_NOT_I2C_GPIO,
                                   C.PI_NOT_SPI_GPIO, C.PI_NOT_SERIAL_GPIO,
                                   C.PI_NOT_I2C_GPIO, C.PI_NOT_SPI_GPIO,
                                   C.PI_GPIO_IN_USE, C.PI_GPIO_IN_USE]
    assert pi.bb_serial_read(RX) == (0, "")


# -- I2C --------------------------------------------------------------------------


@pytest.fixture
def eeprom(sim):
    device = RegisterDevice({0x32: 0x11, 0x33: 0x22, 0x34: 0x33})
    sim.attach_bb_i2c(SDA, SCL, 0x53, device)
    return device


def test_zip_reaches_the_device_on_the_gpios_named(pi, eeprom):
    assert pi.bb_i2c_open(SDA, SCL, 50000) == 0
    assert pi.get_mode(SDA) == pigpio.INPUT and pi.get_mode(SCL) == pigpio.INPUT
    # pigpio's example: address 0x53, start, write 0x32, restart, read 3, stop, end
    count, data = pi.bb_i2c_zip(SDA, [4, 0x53, 2, 7, 1, 0x32, 2, 6, 3, 3, 0])
    assert (count, data) == (3, bytearray([0x11, 0x22, 0x33]))
    assert pi.bb_i2c_zip(SDA, b"\x04\x53\x02\x07\x02\x40\x99\x03") == (0, "")
    assert eeprom.get_bytes(0x40, 1) == b"\x99"
    # escaped two-byte count; flags taken and ignored
    assert pi.bb_i2c_zip(SDA, [4, 0x53, 5, 0, 0, 2, 7, 1, 0x32, 2, 1, 6, 2, 0, 3]) == \
        (2, bytearray([0x11, 0x22]))
    assert pi.bb_i2c_close(SDA) == 0


def test_a_missing_device_does_not_acknowledge(pi, eeprom):
    assert pi.bb_i2c_open(SDA, SCL) == 0
    assert pi.bb_i2c_zip(SDA, [4, 0x54, 2, 6, 1, 3]) == (C.PI_I2C_READ_FAILED, "")
    assert pi.bb_i2c_zip(SDA, [4, 0x54, 2, 7, 1, 0, 3]) == (C.PI_I2C_WRITE_FAILED, "")
    # what came before the missing address was carried out
    assert pi.bb_i2c_zip(SDA, [4, 0x53, 2, 7, 2, 0x41, 7, 3, 4, 0x54, 2, 7, 1, 0, 3]) \
        == (C.PI_I2C_WRITE_FAILED, "")
    assert eeprom.get_bytes(0x41, 1) == b"\x07"


def test_i2c_errors_are_pigpios(pi, eeprom):
    assert codes(pi.bb_i2c_open, 32, SCL) == C.PI_BAD_USER_GPIO
    assert codes(pi.bb_i2c_open, SDA, 32) == C.PI_BAD_USER_GPIO
    assert codes(pi.bb_i2c_open, SDA, SCL, 49) == C.PI_BAD_I2C_BAUD
    assert codes(pi.bb_i2c_open, SDA, SCL, 500001) == C.PI_BAD_I2C_BAUD
    assert codes(pi.bb_i2c_open, SDA, SDA) == C.PI_GPIO_IN_USE
    assert codes(pi.bb_i2c_open, 0, SCL) == C.PI_NOT_PERMITTED  # both are driven
    assert codes(pi.bb_i2c_open, SDA, 1) == C.PI_NOT_PERMITTED
    assert pi.bb_i2c_zip(SDA, [0]) == (C.PI_NOT_I2C_GPIO, "")
    assert codes(pi.bb_i2c_close, SDA) == C.PI_NOT_I2C_GPIO
    assert pi.bb_i2c_open(SDA, SCL) == 0
    assert codes(pi.bb_i2c_open, SCL, 20) == C.PI_GPIO_IN_USE
    assert codes(pi.bb_i2c_close, SCL) == C.PI_NOT_I2C_GPIO
    assert pi.bb_i2c_zip(SDA, [9]) == (C.PI_BAD_I2C_CMD, "")
    assert pi.bb_i2c_zip(SDA, [4]) == (C.PI_BAD_I2C_CMD, "")
    assert pi.bb_i2c_zip(SDA, [4, 0x53, 6, 0]) == (C.PI_BAD_I2C_CMD, "")
    assert pi.bb_i2c_zip(SDA, [4, 0x53, 7, 3, 1]) == (C.PI_BAD_I2C_WLEN, "")
    assert pi.bb_i2c_zip(SDA, [4, 0x53, 1, 6, 0xFF, 0x7F, 1, 6, 0xFF, 0x7F]) == \
        (C.PI_BAD_I2C_RLEN, "")
    assert pi.bb_i2c_zip(SDA, []) == (-90, "")  # PI_BAD_POINTER: nothing to do
    assert pi.bb_i2c_zip(SDA, [0, 9]) == (0, "")  # End: the rest is not looked at


def test_bit_banged_buses_from_the_board_file(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text("""
[[bb_i2c]]
sda = 5
scl = 6
address = 0x50
model = "register"
registers = [1, 2, 3]

[[bb_spi]]
cs = 8
miso = 9
mosi = 10
sclk = 11
model = "mcp3008"
voltages = [3.3]
""")
    board = board_file.load(str(path))
    assert board.describe()["bb_i2c"] == {"5.6": {"0x50": "RegisterDevice"}}
    assert board.describe()["bb_spi"] == {"8": "MCP3008"}
    assert board.open_bb_spi(8, 9, 10, 11) is not None
    assert board.open_bb_spi(8, 9, 10, 12) is None  # on another bus
    path.write_text("[[bb_i2c]]\nsda = 5\nscl = 5\naddress = 1\nmodel = \"register\"\n")
    with pytest.raises(board_file.BoardError, match="bb_i2c\\[0\\].*two different"):
        board_file.load(str(path))
    path.write_text("[[bb_spi]]\ncs = 8\nmiso = 9\nmodel = \"mcp3008\"\n")
    with pytest.raises(board_file.BoardError, match="bb_spi\\[0\\].*all of miso"):
        board_file.load(str(path))


# -- SPI --------------------------------------------------------------------------


class Echo(SPIModel):
    """Answers each byte with the previous one received, remembering all."""

    def __init__(self):
        self.seen = b""

    def xfer(self, data, config):
        self.seen += bytes(data)
        return b"\0" + bytes(data[:-1])


def test_xfer_reaches_the_device_on_the_chip_select(pi, sim):
    adc = MCP3008(voltages=[1.65, 3.3])
    sim.attach_bb_spi(CS, adc, MISO, MOSI, SCLK)
    assert pi.bb_spi_open(CS, MISO, MOSI, SCLK, 20000, 0) == 0
    assert pi.get_mode(SCLK) == pigpio.OUTPUT and pi.get_mode(MISO) == pigpio.INPUT
    assert pi.read(CS) == 1 and pi.read(MOSI) == 0  # CS off (active low), MOSI low
    count, data = pi.bb_spi_xfer(CS, [1, 128 + (1 << 4), 0])  # channel 1, single
    assert count == 3 and ((data[1] & 3) << 8) | data[2] == 1023
    count, data = pi.bb_spi_xfer(CS, [1, 128, 0])
    assert count == 3 and ((data[1] & 3) << 8) | data[2] == 512
    assert pi.bb_spi_close(CS) == 0


def test_bit_order_flags_and_a_second_chip_select(pi, server):
    echo = Echo()
    server.call(lambda: server.backend.buses().attach_bb_spi(12, echo))
    assert pi.bb_spi_open(CS, MISO, MOSI, SCLK) == 0
    flags = pigpio.SPI_TX_LSBFIRST | pigpio.SPI_RX_LSBFIRST
    assert pi.bb_spi_open(12, MISO, MOSI, SCLK, 50000, flags) == 0
    assert pi.bb_spi_xfer(12, [0x01, 0x80]) == (2, bytearray([0, 0x01]))
    assert echo.seen == bytes([0x80, 0x01])  # the wire carried them LSB first
    assert pi.bb_spi_open(13, MISO, MOSI, SCLK, 50000, pigpio.SPI_TX_LSBFIRST) == 0
    assert codes(pi.bb_spi_close, SCLK) == C.PI_NOT_SPI_GPIO
    assert pi.bb_spi_close(CS) == 0 and pi.bb_spi_close(12) == 0
    assert pi.get_mode(SCLK) == pigpio.OUTPUT  # CS 13 still holds the bus
    assert pi.bb_spi_close(13) == 0
    assert pi.get_mode(SCLK) == pigpio.INPUT  # the bus's modes as before


def test_nothing_on_the_chip_select_reads_misos_level(pi, sim):
    assert pi.bb_spi_open(CS, MISO, MOSI, SCLK) == 0
    assert pi.bb_spi_xfer(CS, b"\x12\x34") == (2, bytearray(2))
    sim.drive(MISO, 1)
    assert pi.bb_spi_xfer(CS, "ab") == (2, bytearray(b"\xff\xff"))


def test_spi_errors_are_pigpios(pi):
    # as pigpiod: the permission of each GPIO first, then the numbers
    assert codes(pi.bb_spi_open, 32, MISO, MOSI, SCLK) == C.PI_NOT_PERMITTED
    assert codes(pi.bb_spi_open, 54, MISO, MOSI, SCLK) == C.PI_BAD_USER_GPIO
    assert codes(pi.bb_spi_open, CS, MISO, MOSI, 60) == C.PI_BAD_USER_GPIO
    assert codes(pi.bb_spi_open, CS, MISO, MOSI, SCLK, 49) == C.PI_BAD_SPI_BAUD
    assert codes(pi.bb_spi_open, CS, MISO, MOSI, SCLK, 250001) == C.PI_BAD_SPI_BAUD
    assert codes(pi.bb_spi_open, CS, MISO, MISO, SCLK) == C.PI_GPIO_IN_USE
    assert codes(pi.bb_spi_open, 0, MISO, MOSI, SCLK) == C.PI_NOT_PERMITTED
    assert pi.bb_spi_xfer(CS, [1]) == (C.PI_NOT_SPI_GPIO, "")
    assert codes(pi.bb_spi_close, CS) == C.PI_NOT_SPI_GPIO
    assert pi.bb_spi_open(CS, MISO, MOSI, SCLK) == 0
    assert codes(pi.bb_spi_open, CS, MISO, MOSI, SCLK) == C.PI_GPIO_IN_USE
    assert codes(pi.bb_spi_open, 12, MOSI, MISO, SCLK) == C.PI_GPIO_IN_USE
    assert pi.bb_spi_xfer(CS, []) == (-90, "")  # PI_BAD_POINTER
    assert codes(pi.bb_i2c_open, SCLK, 20) == C.PI_GPIO_IN_USE


# -- other backends ----------------------------------------------------------------


class NoBitBangChip(SimulatedChip):
    """The simulated chip without bit-banged buses, as a backend that has none."""

    name = "nobb"

    def buses(self):
        return NoBuses("the nobb backend has no buses")


def test_a_backend_without_bit_banged_buses_refuses_them_naming_itself(sock_dir):
    with ServerThread(os.path.join(sock_dir, "nobb.sock"), NoBitBangChip()) as srv, \
            BlockingClient(srv.socket_path) as client:
        for name, args in (("bi2co", (SDA, SCL, 100000)),
                           ("bspio", (CS, MISO, MOSI, SCLK, 100000, 0))):
            with pytest.raises(PigpioError) as info:
                client.command(name, *args)
            assert info.value.code == C.PI_NOT_PERMITTED
            assert "the nobb backend cannot bit-bang" in str(info.value)
        assert client.command("slro", RX, 9600, 8) == 0  # serial input needs only edges
        assert client.command("r", SDA) == 1 and client.command("mg", SDA) == 0


@pytest.fixture
def pigpiod_relay(sock_dir):
    """gpiosvr on the pigpiod backend -> the pigpiod stand-in -> a sim server."""
    with ServerThread(os.path.join(sock_dir, "chip.sock"), SimulatedChip()) as chip:
        standin = PigpiodStandIn(chip.socket_path)
        try:
            backend = PigpiodBackend("127.0.0.1", standin.port, retry_interval=0.05,
                                     call_timeout=5)
            with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as relay:
                wait_until(lambda: backend.connected)
                yield chip, relay
        finally:
            standin.close()


def test_pigpiod_relays_them_through_the_pigpio_package(pigpiod_relay):
    chip, relay = pigpiod_relay
    device = RegisterDevice({0x10: 0xAB})
    chip.call(lambda: chip.backend.buses().attach_bb_i2c(SDA, SCL, 0x50, device))
    chip.call(lambda: chip.backend.buses().attach_bb_spi(CS, Echo()))
    p = pigpio.pi(relay.socket_path)
    try:
        with Simulator(chip.socket_path) as sim:
            assert p.bb_serial_read_open(RX, 19200) == 0
            send_serial(p, sim, b"through pigpiod", 19200)
            assert read_all(p, RX, 15) == b"through pigpiod"
            assert p.bb_serial_invert(RX, 0) == 0 and p.bb_serial_read_close(RX) == 0
            assert p.bb_serial_read(RX) == (C.PI_NOT_SERIAL_GPIO, "")
        assert p.bb_i2c_open(SDA, SCL) == 0
        assert p.bb_i2c_zip(SDA, [4, 0x50, 2, 7, 1, 0x10, 2, 6, 1, 3, 0]) == \
            (1, bytearray([0xAB]))
        assert p.bb_i2c_zip(SDA, [4, 0x51, 2, 6, 1, 3]) == (C.PI_I2C_READ_FAILED, "")
        assert p.bb_i2c_close(SDA) == 0
        assert p.bb_spi_open(CS, MISO, MOSI, SCLK, 50000) == 0
        assert p.bb_spi_xfer(CS, b"\x01\x02") == (2, bytearray([0, 1]))
        assert p.bb_spi_close(CS) == 0
        assert codes(p.bb_spi_close, CS) == C.PI_NOT_SPI_GPIO
    finally:
        p.stop()
