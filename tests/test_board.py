"""The simulated board's file: what it describes, the errors it gets, user models
named in it, and ``gpiosvr-server --board``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.sim import board as board_file
from gpiosvr.server.sim.board import BoardError
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from children import spawn, spawn_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "board.toml")


def write(tmp_path, text: str) -> str:
    path = tmp_path / "board.toml"
    path.write_text(text)
    return str(path)


def test_the_example_board(sock_path):
    chip = SimulatedChip()
    board = board_file.load(EXAMPLE).attach(chip)
    try:
        with ServerThread(sock_path, chip), Simulator(sock_path) as sim:
            described = sim.board()
            assert described["name"] == "sensor board"
            assert described["i2c"] == {"0": {}, "1": {"0x48": "RegisterDevice",
                                                       "0x53": "RegisterDevice"}}
            assert described["spi"] == {"0.0": "MCP3008"}
            assert [p["far_end"] for p in described["serial"]] == ["loopback", "pty"]
            assert described["wires"] == [[17, 27]]
            assert sim.i2c_get(1, 0x53, 0x32, 2) == b"\x0a\x00"
            p = pigpio.pi(sock_path)
            p.write(17, 1)
            assert p.read(27) == 1  # the jumper wire
            p.write(17, 0)
            assert p.read(27) == 0
            p.stop()
    finally:
        board.close()


def test_a_bare_pi_without_a_board_file(server):
    with Simulator(server.socket_path) as sim:
        bare = sim.board()
    assert bare["i2c"] == {"0": {}, "1": {}} and bare["spi"] == {}
    assert bare["serial"][0]["names"][0] == "/dev/serial0"


@pytest.mark.parametrize("text, message", [
    ("[[i2c]]\nbus = 1\naddress = 0x80\nmodel = \"register\"\n",
     "i2c[0]: I2C address 0x80 is not 0-0x7F"),
    ("[[i2c]]\nbus = 2\naddress = 0x10\nmodel = \"register\"\n",
     "i2c[0]: the board has no I2C bus 2 (it has 0, 1)"),
    ("[[i2c]]\nbus = 1\naddress = 0x10\nmodel = \"mcp3008\"\n",
     "i2c[0]: model 'mcp3008' is not a built-in i2c model (register, i2c-stub)"),
    ("[[i2c]]\nbus = 1\nmodel = \"register\"\n", "i2c[0]: missing address"),
    ("[[spi]]\nbus = 0\ncs = 2\nmodel = \"mcp3008\"\n", "spi[0]: SPI 0 CE2 does not exist"),
    ("[[spi]]\ncs = 0\nmodel = \"mcp3008\"\nvref = 0\n", "spi[0]: vref 0 must be more"),
    ("[[serial]]\nname = \"/dev/serial0\"\nfar_end = \"modem\"\n",
     "serial[0]: far_end 'modem' is not one of buffer, loopback, pty"),
    ("[[wire]]\nfrom = 17\nto = 60\n", "wire[0]: a wire joins two different GPIOs 0-53"),
    ("[[i2c]]\nbus = 1\naddress = 1\nmodel = \"register\"\ncolour = 1\n",
     "i2c[0]: unknown key(s) colour in this entry"),
    ("[board]\ni2c_buses = \"1\"\n", "[board] i2c_buses must be a list of bus numbers"),
    ("[[i2c]]\nbus = 1\naddress = 1\nclass = \"nosuchmodule:X\"\n",
     "i2c[0]: No module named 'nosuchmodule'"),
    ("[[i2c]\n", "not valid TOML"),
])
def test_bad_board_files_name_the_entry(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(BoardError) as info:
        board_file.load(path)
    assert str(info.value).startswith(path) and message in str(info.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(BoardError, match="cannot read the board file: No such file"):
        board_file.load(str(tmp_path / "nope.toml"))


def test_a_user_model_named_in_the_board_file(tmp_path, sock_path):
    (tmp_path / "my_sensors.py").write_text(
        "from gpiosvr.server.sim.devices import I2CModel\n"
        "class Humidity(I2CModel):\n"
        "    def __init__(self, percent=40):\n"
        "        self.percent = percent\n"
        "    def read(self, count):\n"
        "        return bytes([self.percent] * count)\n")
    path = write(tmp_path, "[[i2c]]\nbus = 1\naddress = 0x40\nclass = \"my_sensors:Humidity\"\n"
                           "options = { percent = 55 }\n"
                           "[[i2c]]\nbus = 0\naddress = 0x40\nclass = \"my_sensors:I2CModel\"\n"
                           "[board]\ni2c_buses = [0, 1, 3]\n")
    chip = SimulatedChip()
    board_file.load(path).attach(chip)
    with ServerThread(sock_path, chip):
        p = pigpio.pi(sock_path)
        h = p.i2c_open(1, 0x40)
        assert p.i2c_read_device(h, 2) == (2, bytearray([55, 55]))
        assert p.i2c_open(3, 0x40) >= 0  # a bus the board file added
        with pytest.raises(pigpio.error) as info:
            p.i2c_open(2, 0x40)
        assert info.value.code == pigpio.PI_BAD_I2C_BUS
        p.stop()
    bad = write(tmp_path, "[[spi]]\ncs = 0\nclass = \"my_sensors:Humidity\"\n")
    with pytest.raises(BoardError, match="is not a subclass of .*SPIModel"):
        board_file.load(bad)


def test_sim_commands_refuse_what_the_board_lacks(server):
    from gpiosvr.errors import PigpioError

    with Simulator(server.socket_path) as sim:
        for call, args, message in [
                (sim.i2c_set, (1, 0x48, 0, b"\x01"), "nothing is attached at address 0x48"),
                (sim.set_adc_voltage, (0, 0, 0, 1.0), "nothing is attached to SPI 0 CE0"),
                (sim.serial_read, ("/dev/ttyX",), "no serial port '/dev/ttyX'")]:
            with pytest.raises(PigpioError, match=message):
                call(*args)
        with pytest.raises(RuntimeError, match="Simulator.server=thread|ServerThread"):
            sim.attach_i2c(1, 0x48, object())


def test_gpiosvr_server_board_option(sock_path, tmp_path):
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", sock_path,
                  "--log-level", "WARNING", "--board", EXAMPLE],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving sim" in proc.stdout.readline()
        line = proc.stdout.readline()
        assert line.startswith("gpiosvr: serial port /dev/ttyUSB0: far end /dev/pts/"), line
        with Simulator(sock_path) as sim:
            assert sim.board()["file"] == EXAMPLE
            assert sim.serial_info("/dev/ttyUSB0")["pty"] == line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    for args, message in [(["--board", str(tmp_path / "none.toml")], "cannot read"),
                          (["--backend", "gpiod", "--board", EXAMPLE],
                           "--board is for the sim backend, not gpiod")]:
        out = spawn_run([sys.executable, "-m", "gpiosvr.server", "--socket", sock_path,
                         *args], capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and message in out.stderr, out.stderr
