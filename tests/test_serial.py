"""Serial ports through the pigpio facade on the simulated board: the far end as a
buffer (the sim commands), a loopback and a pty, handles, pigpio's codes."""

from __future__ import annotations

import os
import select

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.sim import board as board_file
from gpiosvr.server.thread import ServerThread
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.simulator import Simulator

from conftest import wait_until

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


def codes(func, *args):
    with pytest.raises(pigpio.error) as info:
        func(*args)
    return info.value.code


def test_the_far_end_talks_with_the_pi(pi, sim):
    h = pi.serial_open("/dev/serial0", 115200)
    assert pi.serial_data_available(h) == 0
    assert codes(pi.serial_read_byte, h) == C.PI_SER_READ_NO_DATA
    assert pi.serial_read(h) == (C.PI_SER_READ_NO_DATA, "")  # as pigpiod: EAGAIN
    sim.serial_write("/dev/serial0", b"$GPGGA,1*00\r\n")
    assert pi.serial_data_available(h) == 13
    assert pi.serial_read_byte(h) == ord("$")
    assert pi.serial_read(h, 5) == (5, bytearray(b"GPGGA"))
    count, data = pi.serial_read(h)
    assert (count, data) == (7, bytearray(b",1*00\r\n")) and type(data) is bytearray
    assert pi.serial_write(h, b"\x02\x03") == 0
    assert pi.serial_write(h, "hello") == 0
    assert pi.serial_write(h, [4, 5]) == 0
    assert pi.serial_write_byte(h, ord("Z")) == 0
    assert sim.serial_read("/dev/serial0") == b"\x02\x03hello\x04\x05Z"
    assert sim.serial_read("/dev/serial0") == b""
    # the same port under its other names
    h2 = pi.serial_open("/dev/ttyAMA0", 9600)
    sim.serial_write("/dev/ttyS0", "é")
    assert pi.serial_read(h2) == (2, bytearray("é".encode()))
    assert pi.serial_close(h) == 0 and pi.serial_close(h2) == 0


def test_bad_arguments_and_handles(pi, sim):
    assert codes(pi.serial_open, "/tmp/x", 9600) == C.PI_BAD_SER_DEVICE
    assert codes(pi.serial_open, "/dev/serial0", 9601) == C.PI_BAD_SER_SPEED
    assert codes(pi.serial_open, "/dev/serial0", 9600, 1) == C.PI_BAD_FLAGS
    assert codes(pi.serial_open, "/dev/ttyUSB0", 9600) == C.PI_SER_OPEN_FAILED
    h = pi.serial_open("/dev/serial0", 9600)
    assert codes(pi.serial_write_byte, h, 256) == C.PI_BAD_PARAM
    assert codes(pi.serial_write, h, b"") == C.PI_BAD_PARAM
    assert pi.serial_read(h, 0) == (C.PI_BAD_PARAM, "")
    pi.serial_close(h)
    assert codes(pi.serial_close, h) == C.PI_BAD_HANDLE
    assert codes(pi.serial_data_available, h) == C.PI_BAD_HANDLE
    assert pi.serial_read(h) == (C.PI_BAD_HANDLE, "")
    with pytest.raises(Exception, match="no serial port '/dev/ttyUSB9'"):
        sim.serial_write("/dev/ttyUSB9", b"x")


def test_a_full_buffer_fails_the_write(pi, monkeypatch):
    from gpiosvr.server.sim.devices import serial_port

    monkeypatch.setattr(serial_port, "SIM_SERIAL_BUFFER_BYTES", 8)
    h = pi.serial_open("/dev/serial0", 9600)
    assert pi.serial_write(h, b"12345") == 0
    assert codes(pi.serial_write, h, b"6789") == C.PI_SER_WRITE_FAILED
    assert pi.serial_write(h, b"678") == 0


def board_server(sock_path: str, text: str, tmp_path) -> ServerThread:
    path = tmp_path / "board.toml"
    path.write_text(text)
    chip = SimulatedChip()
    board_file.load(str(path)).attach(chip)
    return ServerThread(sock_path, chip)


def test_loopback_and_pty_far_ends(sock_path, tmp_path):
    text = ('[[serial]]\nnames = ["/dev/serial0"]\nfar_end = "loopback"\n'
            '[[serial]]\nname = "/dev/ttyUSB0"\nfar_end = "pty"\n')
    with board_server(sock_path, text, tmp_path) as server:
        p = pigpio.pi(server.socket_path)
        try:
            h = p.serial_open("/dev/serial0", 9600)
            p.serial_write(h, b"echo")
            assert p.serial_read(h) == (4, bytearray(b"echo"))
            with Simulator(server.socket_path) as sim:
                info = sim.serial_info("/dev/ttyUSB0")
                assert info["far_end"] == "pty" and info["pty"].startswith("/dev/pts/")
                assert sim.board()["serial"][1] == info
            far = os.open(info["pty"], os.O_RDWR | os.O_NOCTTY)
            try:
                u = p.serial_open("/dev/ttyUSB0", 115200)
                os.write(far, b"AT\r")
                wait_until(lambda: p.serial_data_available(u) == 3)
                assert p.serial_read(u, 100) == (3, bytearray(b"AT\r"))
                p.serial_write(u, b"OK\r\n")
                got = b""
                while len(got) < 4:
                    assert select.select([far], [], [], 5)[0], f"only {got!r} arrived"
                    got += os.read(far, 4 - len(got))
                assert got == b"OK\r\n"
            finally:
                os.close(far)
        finally:
            p.stop()
