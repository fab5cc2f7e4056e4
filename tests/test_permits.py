"""Permitted GPIOs: pigpio's update mask, on a real server (issue #12, item 20)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.server import limits
from gpiosvr.server.backends.pigpiod import PigpiodBackend
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.cli import build_parser
from gpiosvr.server.permits import ALL_GPIOS, default_mask, parse_mask
from gpiosvr.server.thread import ServerThread

from children import spawn
from conftest import wait_until
from pigpiod_standin import PigpiodStandIn

NOT_PERMITTED, SOME_PERMITTED = real_pigpio.PI_NOT_PERMITTED, real_pigpio.PI_SOME_PERMITTED


def code_of(client, *command):
    """The pigpio error code ``command`` answers with (0 when it succeeds)."""
    try:
        client.command(*command)
    except PigpioError as exc:
        return exc.code
    return 0


def ask(socket_path, *frames):
    """Send raw frames, one at a time; the answer lines."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(socket_path)
        answers = []
        for frame in frames:
            sock.sendall(frame)
            data = b""
            while not data.endswith(b"\n"):
                data += sock.recv(65536)
            answers.append(data.decode())
        return answers


def test_the_default_masks_are_pigpios_by_board():
    assert default_mask(0xA02082) == limits.PERMIT_MASK_PI3B == 0x0FFFFFFC  # Pi 3B, the sim's
    assert default_mask(0xC03111) == limits.PERMIT_MASK_PI4B  # Pi 4B
    assert default_mask(0x1A02082) == limits.PERMIT_MASK_PI3B  # warranty bit set
    assert default_mask(0x0002) == default_mask(0x0003) == limits.PERMIT_MASK_B1
    assert default_mask(0x000E) == limits.PERMIT_MASK_A_B2
    assert default_mask(0x0010) == default_mask(0x0015) == limits.PERMIT_MASK_APLUS_BPLUS
    assert default_mask(0x0011) == default_mask(0x0014) == limits.PERMIT_MASK_COMPUTE
    assert default_mask(0xA01041) == limits.PERMIT_MASK_PI2B  # Pi 2B
    assert default_mask(0x9000C1) == limits.PERMIT_MASK_ZERO  # Zero W
    assert default_mask(0xA020A0) == limits.PERMIT_MASK_COMPUTE  # CM3
    for unknown in (0, 0x16, 0xD04170, 0xC03140, 0x902120):  # Pi 5, CM4, Zero 2 W
        assert default_mask(unknown) == limits.PERMIT_MASK_UNKNOWN
    assert limits.PERMIT_MASK_APLUS_BPLUS >> 32 == (1 << 3 | 1 << 6 | 1 << 15)  # 35 38 47


def test_permit_values_are_read_as_pigpiod_reads_its_x_option(capsys):
    assert parse_mask("0x0FFFFFFC") == parse_mask("268435452") == 0x0FFFFFFC
    assert parse_mask("-1") == parse_mask("all") == parse_mask("0xFFFFFFFFFFFFFFFF") \
        == ALL_GPIOS
    assert parse_mask("010") == 8  # C's strtoll: a leading 0 is octal
    assert build_parser().parse_args(["--permit", "-1"]).permit == ALL_GPIOS
    assert build_parser().parse_args([]).permit is None
    for bad in ("GPIO4", "0x", str(1 << 64)):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--permit", bad])
        assert "--permit" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ("w", 50, 1), ("m", 50, "w"), ("pud", 50, "u"), ("w", 0, 1), ("w", 28, 1),
    ("p", 40, 10), ("prs", 30, 100), ("pfs", 31, 100), ("s", 1, 1500),
    ("hp", 40, 1000, 500000), ("w", 50, 7),  # pigpio checks permission first
])
def test_changing_a_gpio_outside_the_mask_is_not_permitted(client, command):
    before = [client.command(c, 50) for c in ("mg", "r")]
    with pytest.raises(PigpioError, match="no permission to update GPIO") as info:
        client.command(*command)
    assert info.value.code == NOT_PERMITTED
    assert f"GPIO {command[1]}" in str(info.value) and "--permit" in str(info.value)
    assert [client.command(c, 50) for c in ("mg", "r")] == before


def test_other_errors_still_come_first_where_pigpio_has_them_first(client):
    assert code_of(client, "w", 60, 1) == real_pigpio.PI_BAD_GPIO
    assert code_of(client, "p", 60, 1) == real_pigpio.PI_BAD_USER_GPIO
    assert code_of(client, "w", 4, 7) == real_pigpio.PI_BAD_LEVEL
    assert code_of(client, "wdog", 40, 10) == real_pigpio.PI_BAD_USER_GPIO  # not checked


def test_the_short_path_and_the_general_way_refuse_alike(server):
    short, batch, mode = ask(server.socket_path, b"@1 w 50 1\n", b"@2 w 4 1;w 50 1\n",
                                    b"@3 m 50 1\n")
    assert short.startswith("@1 null !PigpioError:-41:")
    assert batch.startswith("@2 0;null !PigpioError:-41:")
    assert mode.startswith("@3 null !PigpioError:-41:")
    assert ask(server.socket_path, b"@4 r 4\n@5 mg 50\n") == ["@4 1\n@5 0\n"]


def test_a_bank_write_changes_the_permitted_gpios_and_answers_some_permitted(server, client):
    for gpio in (4, 5):
        client.command("w", gpio, 0)
    # GPIO 30 is an output with a latch of 0, made so behind the mask's back
    server.call(server.backend.write, 30, 0)
    with pytest.raises(PigpioError, match="GPIO 30") as info:
        client.command("bs1", 1 << 4 | 1 << 5 | 1 << 30)
    assert info.value.code == SOME_PERMITTED
    assert [client.command("r", g) for g in (4, 5, 30)] == [1, 1, 0]
    server.call(server.backend.write, 30, 1)
    assert code_of(client, "bc1", 1 << 5 | 1 << 30) == SOME_PERMITTED
    assert [client.command("r", g) for g in (4, 5, 30)] == [1, 0, 1]
    assert code_of(client, "bs1", 1 << 4) == code_of(client, "bc1", 0) == 0
    # pigpio's own x_pigpio.py checks 8.6-8.9 on a Pi 3: no bank 2 GPIO is permitted
    assert code_of(client, "bc2", 0) == code_of(client, "bs2", 0) == 0
    assert code_of(client, "bc2", 0xFFFFFF) == code_of(client, "bs2", 0xFFFFFF) \
        == SOME_PERMITTED
    assert client.command("br2") == 0x3F0000


def test_any_gpio_can_be_read_and_bank_2_reads_as_on_a_pi(client):
    assert [client.command("r", g) for g in (0, 1, 28, 47, 48, 53)] == [1, 1, 0, 0, 1, 1]
    assert client.command("mg", 50) == pigpio.INPUT
    assert client.command("br1") & 0b11 == 0b11
    assert client.command("br2") == 0x3F0000  # the SD card's lines, GPIO 48-53, high


def test_the_facade_gives_the_real_pigpios_errors_and_passes_its_bank_tests(pi, monkeypatch):
    with pytest.raises(pigpio.error) as info:
        pi.write(50, 1)
    assert info.value.value == real_pigpio.error_text(NOT_PERMITTED) \
        == "no permission to update GPIO"
    assert info.value.code == NOT_PERMITTED
    with pytest.raises(pigpio.error) as info:
        pi.set_PWM_dutycycle(40, 10)
    assert info.value.value == real_pigpio.error_text(NOT_PERMITTED)
    with pytest.raises(pigpio.error) as info:
        pi.set_bank_1(1 << 30)
    assert info.value.value == real_pigpio.error_text(SOME_PERMITTED) \
        == "no permission to update one or more GPIO"
    # x_pigpio.py's t8, unchanged
    gpio = 25
    pi.write(gpio, 0)
    assert pi.read_bank_1() & (1 << gpio) == 0
    pi.write(gpio, 1)
    assert pi.read_bank_1() & (1 << gpio) == 1 << gpio
    pi.clear_bank_1(1 << gpio)
    assert pi.read(gpio) == 0
    pi.set_bank_1(1 << gpio)
    assert pi.read(gpio) == 1
    assert pi.read_bank_2() != 0
    assert pi.clear_bank_2(0) == 0 and pi.set_bank_2(0) == 0
    monkeypatch.setattr(pigpio, "exceptions", False)
    assert pi.clear_bank_2(0xFFFFFF) == pigpio.PI_SOME_PERMITTED
    assert pi.set_bank_2(0xFFFFFF) == pigpio.PI_SOME_PERMITTED
    assert pi.write(50, 1) == pigpio.PI_NOT_PERMITTED


def test_scripts_are_held_to_the_mask(pi):
    pi.write(5, 1)
    sid = pi.store_script("w 4 0 w 50 1 sta p0 w 5 0")
    pi.run_script(sid)
    wait_until(lambda: pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED)
    # as pigpio: the refused write leaves its code in A and the script goes on
    assert pi.script_status(sid)[1][0] == pigpio.PI_NOT_PERMITTED
    assert pi.read(4) == 0 and pi.get_mode(50) == pigpio.INPUT and pi.read(50) == 1
    assert pi.read(5) == 0


def test_a_server_thread_with_permit_widens_or_narrows_the_mask(sock_path):
    with ServerThread(sock_path, SimulatedChip(), permit=-1) as srv:
        c = BlockingClient(srv.socket_path)
        assert c.command("w", 50, 0) == 0 and c.command("r", 50) == 0
        assert code_of(c, "bs2", 0xFFFFFFFF) == 0 and c.command("r", 50) == 1
        assert code_of(c, "m", 0, "w") == 0
        c.close()
    with ServerThread(sock_path, SimulatedChip(), permit=1 << 4 | 1 << 40) as srv:
        c = BlockingClient(srv.socket_path)
        assert code_of(c, "w", 4, 1) == code_of(c, "w", 40, 1) == 0
        assert code_of(c, "w", 5, 1) == NOT_PERMITTED
        assert code_of(c, "bs1", 1 << 4 | 1 << 5) == SOME_PERMITTED
        assert code_of(c, "bs2", 1 << 8) == 0
        c.close()


def test_a_compute_module_may_change_bank_2_by_default(sock_path):
    with ServerThread(sock_path, SimulatedChip(hardware_revision=0xA020A0)) as srv:
        c = BlockingClient(srv.socket_path)
        assert code_of(c, "w", 47, 1) == 0 and code_of(c, "w", 48, 1) == NOT_PERMITTED
        c.close()


def test_the_permit_option_of_a_server_process(sock_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    proc = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock_path, "--log-level",
         "WARNING", "--permit", hex(1 << 50 | 1 << 17)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "serving" in proc.stdout.readline(), proc.stderr.read()
        c = BlockingClient(sock_path)
        assert code_of(c, "w", 50, 1) == code_of(c, "w", 17, 1) == 0
        assert c.command("r", 50) == 1
        assert code_of(c, "w", 4, 1) == NOT_PERMITTED
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_the_pigpiod_relay_is_held_to_its_own_mask(sock_dir):
    """The relay checks before the daemon is asked: a bank command reaches it with
    the permitted bits only."""
    with ServerThread(os.path.join(sock_dir, "chip.sock"), SimulatedChip(),
                      permit=-1) as chip:
        standin = PigpiodStandIn(chip.socket_path)
        backend = PigpiodBackend("127.0.0.1", standin.port, retry_interval=0.05,
                                 call_timeout=5)
        try:
            with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as relay:
                wait_until(lambda: backend.connected, timeout=10)
                c, on_chip = BlockingClient(relay.socket_path), BlockingClient(chip.socket_path)
                for gpio in (5, 30):
                    on_chip.command("w", gpio, 0)
                assert code_of(c, "w", 30, 1) == code_of(c, "p", 40, 1) == NOT_PERMITTED
                assert code_of(c, "bs1", 1 << 5 | 1 << 30) == SOME_PERMITTED
                assert [on_chip.command("r", g) for g in (5, 30)] == [1, 0]
                assert c.command("r", 30) == 0 and c.command("br2") == 0x3F0000
                c.close()
                on_chip.close()
        finally:
            standin.close()
