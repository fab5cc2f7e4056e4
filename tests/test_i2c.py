"""I2C through the pigpio facade on the simulated board: every method, the exact
bytes the register device (i2c-stub semantics) holds, bad handles, bad buses, closed
handles, other processes, a client that goes with its handles open."""

from __future__ import annotations

import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.errors import PigpioError
from gpiosvr.server.sim.devices import I2CModel, RegisterDevice
from gpiosvr.server.sim.devices.base import BusError
from gpiosvr.simulator import Simulator

from children import spawn
from conftest import OTHER_UID, ask_as, needs_root, open_to_all, wait_until

C = real_pigpio  # the real package's constants: the facade must answer the same


@pytest.fixture
def sim(server):
    with Simulator(server=server) as s:
        yield s


@pytest.fixture
def stub(server):
    """A register device at 0x48 of bus 1; the test looks into it directly."""
    device = RegisterDevice()
    server.call(lambda: server.backend.buses().attach_i2c(1, 0x48, device))
    return device


def codes(func, *args):
    with pytest.raises(pigpio.error) as info:
        func(*args)
    return info.value.code


def test_smbus_byte_and_word_calls_follow_i2c_stub(pi, stub, sim):
    h = pi.i2c_open(1, 0x48)
    assert h == 0 and pi.i2c_open(1, 0x48, 0) == 1
    sim.i2c_set(1, 0x48, 0x10, [0x19, 0x80, 0x07])
    assert pi.i2c_read_byte_data(h, 0x10) == 0x19
    assert stub.pointer == 0x11  # byte data leaves the pointer after the register
    assert pi.i2c_read_byte(h) == 0x80 and pi.i2c_read_byte(h) == 0x07
    assert pi.i2c_write_byte(h, 0x10) == 0 and stub.pointer == 0x10
    assert pi.i2c_read_byte(h) == 0x19
    assert pi.i2c_write_byte_data(h, 0x20, 0xC5) == 0
    assert sim.i2c_get(1, 0x48, 0x20, 1) == b"\xc5"
    # words are i2c-stub's 16-bit registers: a byte write keeps the high byte
    assert pi.i2c_write_word_data(h, 0x30, 0xA0C5) == 0
    assert stub.words[0x30] == 0xA0C5 and pi.i2c_read_word_data(h, 0x30) == 0xA0C5
    pi.i2c_write_byte_data(h, 0x30, 0x11)
    assert pi.i2c_read_word_data(h, 0x30) == 0xA011
    assert pi.i2c_read_byte_data(h, 0x30) == 0x11
    sim.i2c_set_word(1, 0x48, 0x31, 0x1234)
    assert pi.i2c_read_word_data(h, 0x31) == 0x1234
    assert pi.i2c_process_call(h, 0x40, 0x1231) == 0x1231
    assert pi.i2c_write_quick(h, 1) == 0 and pi.i2c_write_quick(h, 0) == 0


def test_block_calls_and_their_return_shapes(pi, stub):
    h = pi.i2c_open(1, 0x48)
    # SMBus block data is kept per register; the longest write sets the length
    assert pi.i2c_write_block_data(h, 5, b"hello") == 0
    assert pi.i2c_read_block_data(h, 5) == (5, bytearray(b"hello"))
    assert pi.i2c_write_block_data(h, 5, [1, 2]) == 0
    assert pi.i2c_read_block_data(h, 5) == (5, bytearray(b"\x01\x02llo"))
    assert stub.words[5] == 0x0105  # i2c-stub: data[0] << 8 | length
    assert pi.i2c_block_process_call(h, 6, "abc") == (3, bytearray(b"abc"))
    # never written: refused, as i2c-stub does; pigpio answers (code, "") unraised
    assert pi.i2c_read_block_data(h, 7) == (C.PI_I2C_READ_FAILED, "")
    assert pi.i2c_write_i2c_block_data(h, 0x50, b"\x00\x01\x22") == 0
    assert pi.i2c_write_i2c_block_data(h, 0x53, "xyz") == 0
    count, data = pi.i2c_read_i2c_block_data(h, 0x50, 6)
    assert (count, data) == (6, bytearray(b"\x00\x01\x22xyz")) and type(data) is bytearray
    assert pi.i2c_read_i2c_block_data(h, 0xFE, 4) == (2, bytearray(2))  # cut at 255
    assert pi.i2c_write_block_data(h, 5, b"") == 0  # as pigpio: nothing sent


def test_plain_reads_and_writes_use_the_pointer(pi, stub):
    h = pi.i2c_open(1, 0x48)
    assert pi.i2c_write_device(h, [0x60, 1, 2, 3]) == 0  # pointer, then the data
    assert stub.get_bytes(0x60, 3) == b"\x01\x02\x03" and stub.pointer == 0x63
    assert pi.i2c_write_device(h, b"\x60") == 0
    assert pi.i2c_read_device(h, 4) == (4, bytearray(b"\x01\x02\x03\x00"))
    stub.set_bytes(0xFE, b"\xaa\xbb")
    pi.i2c_write_device(h, "\xfe")
    assert pi.i2c_read_device(h, 3)[1] == bytearray(b"\xaa\xbb\x00")  # wraps to 0


def test_zip_runs_pigpio_codes(pi, stub, server):
    other = RegisterDevice(registers=[9, 8, 7])
    server.call(lambda: server.backend.buses().attach_i2c(1, 0x1E, other))
    stub.set_bytes(0x32, b"ABCDEF")
    h = pi.i2c_open(1, 0x48)
    # write 0x32, read 6; address 0x1E, write 0, read 3; end
    ops = [7, 1, 0x32, 6, 6, 4, 0x1E, 7, 1, 0, 6, 3, 0]
    assert pi.i2c_zip(h, ops) == (9, bytearray(b"ABCDEF\x09\x08\x07"))
    assert pi.i2c_zip(h, [1, 6, 2, 0, 0]) == (2, bytearray(2))  # escaped: a 2-byte count
    assert pi.i2c_zip(h, [9]) == (C.PI_BAD_I2C_CMD, "")
    assert pi.i2c_zip(h, [7, 5, 1]) == (C.PI_BAD_I2C_WLEN, "")
    assert pi.i2c_zip(h, [4, 0x22, 6, 1, 0]) == (-106, "")  # PI_BAD_I2C_SEG: nobody at 0x22


def test_nothing_attached_fails_as_a_real_bus(pi):
    h = pi.i2c_open(1, 0x50)  # opens, as on a Pi: nothing is sent yet
    assert codes(pi.i2c_read_byte_data, h, 0) == C.PI_I2C_READ_FAILED
    assert codes(pi.i2c_write_byte_data, h, 0, 1) == C.PI_I2C_WRITE_FAILED
    assert codes(pi.i2c_write_quick, h, 0) == C.PI_I2C_WRITE_FAILED
    assert codes(pi.i2c_read_byte, h) == C.PI_I2C_READ_FAILED
    assert codes(pi.i2c_write_device, h, b"\x01") == C.PI_I2C_WRITE_FAILED
    assert pi.i2c_read_device(h, 2) == (C.PI_I2C_READ_FAILED, "")
    assert pi.i2c_read_i2c_block_data(h, 0, 2) == (C.PI_I2C_READ_FAILED, "")
    pigpio.exceptions = False
    try:
        assert pi.i2c_read_byte_data(h, 0) == C.PI_I2C_READ_FAILED
    finally:
        pigpio.exceptions = True


def test_bad_arguments_answer_pigpios_codes(pi, stub):
    assert codes(pi.i2c_open, 3, 0x48) == C.PI_BAD_I2C_BUS
    assert codes(pi.i2c_open, 1, 0x80) == C.PI_BAD_I2C_ADDR
    assert codes(pi.i2c_open, 1, 0x48, 1) == C.PI_BAD_FLAGS
    h = pi.i2c_open(0, 0x48)  # bus 0 exists, nothing on it
    assert codes(pi.i2c_read_byte_data, h, 0) == C.PI_I2C_READ_FAILED
    h = pi.i2c_open(1, 0x48)
    assert codes(pi.i2c_read_byte_data, h, 256) == C.PI_BAD_PARAM
    assert codes(pi.i2c_write_byte_data, h, 0, 256) == C.PI_BAD_PARAM
    assert codes(pi.i2c_write_word_data, h, 0, 65536) == C.PI_BAD_PARAM
    assert codes(pi.i2c_write_quick, h, 2) == C.PI_BAD_PARAM
    assert codes(pi.i2c_write_block_data, h, 0, bytes(33)) == C.PI_BAD_PARAM
    assert pi.i2c_read_i2c_block_data(h, 0, 33) == (C.PI_BAD_PARAM, "")
    assert pi.i2c_read_device(h, 0) == (C.PI_BAD_PARAM, "")


def test_bad_and_closed_handles(pi, stub):
    h = pi.i2c_open(1, 0x48)
    assert pi.i2c_close(h) == 0
    assert codes(pi.i2c_close, h) == C.PI_BAD_HANDLE
    assert codes(pi.i2c_read_byte, h) == C.PI_BAD_HANDLE
    assert codes(pi.i2c_read_byte_data, 99, 0) == C.PI_BAD_HANDLE
    assert pi.i2c_read_device(99, 1) == (C.PI_BAD_HANDLE, "")
    assert str(pigpio.error(pigpio.error_text(C.PI_BAD_HANDLE))) == "'unknown handle'"
    assert pi.i2c_open(1, 0x48) == h  # the lowest free handle again, as pigpio


def test_a_python_model_gets_each_transfer(pi, sim):
    class Thermo(I2CModel):
        """Register 0: the temperature, 12 bits left aligned, as a TMP102."""

        def __init__(self) -> None:
            self.pointer, self.celsius, self.seen = 0, 21.5, []

        def write(self, data):
            self.seen.append(bytes(data))
            if data:
                self.pointer = data[0]

        def read(self, count):
            raw = (round(self.celsius * 16) << 4) & 0xFFFF
            return bytes([raw >> 8, raw & 0xFF])[:count]

    thermo = Thermo()
    sim.attach_i2c(1, 0x49, thermo)
    h = pi.i2c_open(1, 0x49)
    word = pi.i2c_read_word_data(h, 0)  # SMBus: little endian, the TMP102 sends MSB first
    assert word == 0x8015 and thermo.seen == [b"\x00"]
    thermo.celsius = -0.0625
    assert pi.i2c_read_i2c_block_data(h, 0, 2) == (2, bytearray(b"\xff\xf0"))
    assert pi.i2c_read_device(h, 3) == (C.PI_I2C_READ_FAILED, "")  # answered 2 of 3

    class Broken(I2CModel):
        def read(self, count):
            raise ZeroDivisionError("a bug in the model")

    sim.attach_i2c(1, 0x4A, Broken())
    h2 = pi.i2c_open(1, 0x4A)
    assert codes(pi.i2c_read_byte, h2) == C.PI_I2C_READ_FAILED  # not the server's death
    assert pi.i2c_read_word_data(h, 0) == 0xF0FF


def test_a_model_refuses_with_bus_error(pi, sim):
    class ReadOnly(I2CModel):
        def read(self, count):
            return bytes(count)

        def write(self, data):
            raise BusError("read only")

    sim.attach_i2c(0, 0x10, ReadOnly())
    h = pi.i2c_open(0, 0x10)
    assert pi.i2c_read_device(h, 2) == (2, bytearray(2))
    assert codes(pi.i2c_write_device, h, b"\x01") == C.PI_I2C_WRITE_FAILED


def test_pigs_commands(server, stub):
    from gpiosvr.blocking import BlockingClient

    out = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "--socket", server.socket_path,
                          "i2co", "1", "0x48", "0", "i2cwd", "0", "2", "40", "41",
                          "i2cwb", "0", "9", "0x42", "i2cri", "0", "2", "3", "i2crb", "0", "9",
                          "i2cc", "0"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n") == ["0", "3 40 41 0", "66", ""]
    with BlockingClient(server.socket_path) as c:
        h = c.command("i2co", 1, 0x48, 0)
        c.command("i2cwi", h, 2, [5, 6, 7])
        assert c.command("i2cri", h, 2, 3) == b"\x05\x06\x07"
        with pytest.raises(PigpioError) as info:
            c.command("i2cwd", h, [300])
        assert info.value.code == C.PI_BAD_PARAM and "not byte values" in str(info.value)


def test_handles_belong_to_the_process_and_close_with_it(server, stub):
    code = ("import gpiosvr.pigpio as pigpio, sys\n"
            "pi = pigpio.pi(sys.argv[1])\n"
            "print([pi.i2c_open(1, 0x48) for _ in range(3)], flush=True)\n"
            "sys.stdin.readline()\n")
    child = spawn([sys.executable, "-c", code, server.socket_path],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "[0, 1, 2]"
        table = server.server.i2c_handles
        assert server.call(lambda: len(table)) == 3
        # another process (this one) may not use them
        p = pigpio.pi(server.socket_path)
        assert codes(p.i2c_read_byte, 0) == C.PI_BAD_HANDLE
        assert codes(p.i2c_close, 1) == C.PI_BAD_HANDLE
        assert p.i2c_open(1, 0x48) == 3
        child.stdin.close()
        assert child.wait(30) == 0
        wait_until(lambda: server.call(lambda: len(table)) == 1)
        assert p.i2c_open(1, 0x48) == 0  # the dead client's handles are free again
        p.stop()
    finally:
        child.kill()
        child.wait()


@needs_root
def test_another_user_gets_bad_handle(server, stub, pi):
    h = pi.i2c_open(1, 0x48)
    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path, f"@1 i2crb {h} 0", "@2 i2cc 0")
    assert all(str(C.PI_BAD_HANDLE) in a for a in answers), answers
    assert pi.i2c_read_byte_data(h, 0) == 0


def test_the_handle_cap_answers_no_handle(server, stub, monkeypatch):
    from gpiosvr.server.commands import i2c

    monkeypatch.setattr(i2c, "I2C_HANDLES", 4)
    monkeypatch.setattr(i2c, "I2C_HANDLES_PER_UID", 3)
    p = pigpio.pi(server.socket_path)
    try:
        assert [p.i2c_open(1, 0x48) for _ in range(3)] == [0, 1, 2]
        assert codes(p.i2c_open, 1, 0x48) == C.PI_NO_HANDLE
    finally:
        p.stop()


def test_backends_without_buses_say_so():
    from types import SimpleNamespace

    from gpiosvr.server.backends.base import Backend

    chip = SimpleNamespace(name="example", bus_provider=None)  # a backend with no buses
    gpiod = chip
    for open_, args, code in [("open_i2c", (1, 0x48, 0), C.PI_I2C_OPEN_FAILED),
                              ("open_spi", (0, 1000000, 0), C.PI_SPI_OPEN_FAILED),
                              ("open_serial", ("/dev/serial0", 9600, 0), C.PI_SER_OPEN_FAILED)]:
        with pytest.raises(PigpioError) as info:
            getattr(Backend.buses(gpiod), open_)(*args)
        assert info.value.code == code
        assert f"the {chip.name} backend has no I2C, SPI or serial buses yet" in str(info.value)
