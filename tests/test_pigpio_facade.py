"""The pigpio facade, checked against the real pigpio 1.78 package and a live server."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient

from conftest import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Methods of our pi that pigpio's has not: gpiosvr additions.
GPIOSVR_ADDITIONS = {"capture"}
OUR_METHODS = [name for name, _ in inspect.getmembers(pigpio.pi, inspect.isfunction)
               if not name.startswith("_") and name not in GPIOSVR_ADDITIONS]


def test_module_level_api_matches_pigpio():
    assert pigpio.VERSION == real_pigpio.VERSION == "1.78"
    assert pigpio.exceptions is True
    for code in range(-150, 1):
        assert pigpio.error_text(code) == real_pigpio.error_text(code)
    for value in (0, 1, 37, 2**31, 2**32 - 24, 2**32 - 1):
        assert pigpio.u2i(value) == real_pigpio.u2i(value)
    assert pigpio.tickDiff(4294967272, 12) == real_pigpio.tickDiff(4294967272, 12)
    assert str(pigpio.error("GPIO not 0-53")) == str(real_pigpio.error("GPIO not 0-53"))
    for name, value in vars(real_pigpio).items():
        if name.isupper() and not name.startswith("_") and isinstance(value, (int, str)):
            assert getattr(pigpio, name) == value, name


def test_pi_methods_have_pigpios_signatures():
    assert {"stop", "read", "write", "set_mode", "get_mode", "set_pull_up_down",
            "get_current_tick", "get_hardware_revision", "get_pigpio_version",
            "read_bank_1", "read_bank_2", "set_bank_1", "set_bank_2", "clear_bank_1",
            "clear_bank_2"} <= set(OUR_METHODS)
    for name in OUR_METHODS + ["__init__"]:
        ours = inspect.signature(getattr(pigpio.pi, name))
        theirs = inspect.signature(getattr(real_pigpio.pi, name))
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
               [(p.name, p.default, p.kind) for p in theirs.parameters.values()], name


@pytest.mark.permit(-1)  # GPIO 40, in bank 2
def test_basic_calls(pi):
    assert pi.set_mode(18, pigpio.OUTPUT) == 0
    assert pi.get_mode(18) == pigpio.OUTPUT
    assert pi.write(18, 1) == 0 and pi.read(18) == 1
    assert pi.write(18, False) == 0 and pi.read(18) == 0
    assert pi.set_pull_up_down(4, pigpio.PUD_DOWN) == 0 and pi.read(4) == 0
    assert pi.get_hardware_revision() == 0xA02082
    assert pi.get_pigpio_version() == 79
    t1 = pi.get_current_tick()
    assert 0 <= t1 < 2**32
    assert pi.set_bank_1(1 << 18) == 0 and pi.read(18) == 1
    assert pi.read_bank_1() >> 18 & 1 == 1
    assert pi.clear_bank_1(1 << 18) == 0 and pi.read(18) == 0
    pi.write(40, 0)
    assert pi.set_bank_2(1 << 8) == 0 and pi.read_bank_2() >> 8 & 1 == 1
    assert pi.clear_bank_2(1 << 8) == 0 and pi.read(40) == 0


@pytest.mark.parametrize("call,code", [
    (lambda p: p.write(60, 1), -3), (lambda p: p.write(4, 7), -5),
    (lambda p: p.set_mode(4, 12), -4), (lambda p: p.set_pull_up_down(4, 9), -6),
    (lambda p: p.read(-2), -3), (lambda p: p.set_watchdog(40, 10), -2),
    (lambda p: p.set_watchdog(4, 60001), -15), (lambda p: p.set_glitch_filter(4, 300001), -125),
])
def test_errors_raise_pigpio_error_or_return_the_code(pi, monkeypatch, call, code):
    with pytest.raises(pigpio.error) as info:
        call(pi)
    assert info.value.value == real_pigpio.error_text(code)
    assert str(info.value) == repr(real_pigpio.error_text(code))
    assert info.value.code == code
    assert info.value.__cause__ is not None  # the original error is kept
    monkeypatch.setattr(pigpio, "exceptions", False)
    assert call(pi) == code


def test_no_server_prints_a_hint_and_is_not_connected(sock_path, monkeypatch, capsys):
    monkeypatch.setenv("GPIO_SOCKET_PATH", sock_path)
    monkeypatch.setenv("GPIOSVR_CONNECT_TIMEOUT", "0.2")
    p = pigpio.pi()
    assert p.connected is False and p.sl.s is None
    out = capsys.readouterr().out
    assert f"Can't connect to pigpio at {sock_path}\n" in out  # the socket, not localhost
    assert "gpiosvr-server" in out
    with pytest.raises(pigpio.error, match="not connected"):
        p.read(4)
    p.stop()


def test_unreachable_remote_hosts_are_said_clearly(capsys):
    p = pigpio.pi("some-other-pi", 8888)  # pigpiod's protocol (gpiosvr.pigpiod_client)
    assert not p.connected
    out = capsys.readouterr().out
    assert "Can't connect to pigpio at some-other-pi(8888)" in out
    assert "cannot reach pigpiod at some-other-pi:8888" in out
    assert not pigpio.pi("some-other-pi", show_errors=False).connected
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("host,port", [("localhost", 8888), ("", 8888), ("127.0.0.1", "7777")])
def test_local_hosts_reach_the_configured_socket(server, monkeypatch, host, port):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi(host, port)
    assert p.connected and p.read(4) == 1
    assert p.sl.s.socket_path == server.socket_path
    p.stop()


def test_host_may_be_a_socket_path(server, monkeypatch):
    monkeypatch.delenv("GPIO_SOCKET_PATH", raising=False)
    p = pigpio.pi(server.socket_path)
    p.write(19, 1)
    p.stop()
    with BlockingClient(server.socket_path) as check:
        assert check.command("r", 19) == 1


def test_stop_is_idempotent_and_releases_the_connection(pi, server):
    pi.read(4)
    pi.stop()
    pi.stop()
    assert not pi.connected and pi.sl.s is None
    wait_until(lambda: server.call(lambda: server.server.client_count) == 0)


def test_read_in_a_forked_child_uses_a_connection_of_its_own(pi):
    """``read`` goes straight to this thread's connection; after ``fork()`` the child
    must not use the parent's."""
    assert pi.write(22, 1) == 0 and pi.read(22) == 1
    parents = pi.sl.s.thread_state.channel
    pid = os.fork()
    if pid == 0:  # child: must not hang, must work on a connection of its own
        code = 1
        try:
            signal.alarm(10)
            ok = pi.read(22) == 1 and pi.write(23, 1) == 0 and pi.read(23) == 1
            mine = pi.sl.s.thread_state.channel
            code = 0 if ok and mine is not parents and parents.closed else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pi.read(23) == 1 and pi.sl.s.thread_state.channel is parents
    pi.stop()
    with pytest.raises(pigpio.error):
        pi.read(22)


def run_script(args, env_extra, cwd=ROOT):
    env = {**os.environ, **env_extra}
    env.pop("PYTHONPATH", None)
    env.update({k: v for k, v in env_extra.items()})
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def check_blink_output(proc, blinks: int) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "hardware revision: a02082, pigpio version: 79" in proc.stdout
    assert proc.stdout.count("(reads 1)") == blinks
    assert proc.stdout.count("(reads 0)") == blinks
    assert "pigpio.error: 'GPIO not 0-53'" in proc.stdout


def test_way_in_1_one_changed_line(server, tmp_path):
    source = open(os.path.join(ROOT, "examples", "blink.py")).read()
    changed = source.replace("\nimport pigpio\n", "\nimport gpiosvr.pigpio as pigpio\n")
    assert changed != source
    script = tmp_path / "blink_changed.py"
    script.write_text(changed)
    proc = run_script([sys.executable, str(script), "2"],
                      {"GPIO_SOCKET_PATH": server.socket_path})
    check_blink_output(proc, 2)


def test_way_in_2_compat_on_pythonpath(server):
    proc = run_script([sys.executable, "examples/blink.py", "3"],
                      {"GPIO_SOCKET_PATH": server.socket_path, "PYTHONPATH": "compat"})
    check_blink_output(proc, 3)


@pytest.mark.parametrize("launcher", [["gpiosvr-run"], [sys.executable, "-m", "gpiosvr.run"]])
def test_way_in_3_gpiosvr_run(server, launcher, tmp_path):
    exe = launcher
    if launcher == ["gpiosvr-run"]:
        exe = [os.path.join(os.path.dirname(sys.executable), "gpiosvr-run")]
    proc = run_script([*exe, os.path.join(ROOT, "examples", "blink.py"), "2"],
                      {"GPIO_SOCKET_PATH": server.socket_path}, cwd=str(tmp_path))
    check_blink_output(proc, 2)
    with BlockingClient(server.socket_path) as check:
        assert check.command("mg", 18) == 1  # the script really drove this server


def test_gpiosvr_run_sim_needs_no_server(sock_path, tmp_path):
    proc = run_script([sys.executable, "-m", "gpiosvr.run", "--sim",
                       os.path.join(ROOT, "examples", "blink.py"), "1"],
                      {"GPIO_SOCKET_PATH": sock_path}, cwd=str(tmp_path))
    check_blink_output(proc, 1)


def test_pigpio_addr_names_the_socket_as_pigpio_does(server):
    code = ("import gpiosvr.pigpio as pigpio; p = pigpio.pi(); "
            "print(p.connected, p.read(4), p.sl.s.socket_path); p.stop()")
    proc = run_script([sys.executable, "-c", code],
                      {"PIGPIO_ADDR": server.socket_path, "PIGPIO_PORT": "1234",
                       "GPIO_SOCKET_PATH": "/nonexistent/socket"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "1", server.socket_path]


GPIOZERO_SCRIPT = """
from gpiozero import Device, LED, DigitalOutputDevice
from gpiozero.pins.pigpio import PiGPIOFactory
import pigpio
factory = PiGPIOFactory()          # gpiozero's defaults: localhost, 8888
Device.pin_factory = factory
assert factory.connection is not None
led = LED(17)
led.on()
print("led", led.value, factory.connection.read(17))
led.off()
print("led", led.value, factory.connection.read(17))
out = DigitalOutputDevice(27, initial_value=True)
print("out", out.value)
print("revision", factory.board_info.revision)
factory.close()
"""


def test_gpiozero_pigpio_factory_accepts_our_pi(server, tmp_path):
    script = tmp_path / "zero.py"
    script.write_text(GPIOZERO_SCRIPT)
    proc = run_script([sys.executable, "-m", "gpiosvr.run", str(script)],
                      {"GPIO_SOCKET_PATH": server.socket_path})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["led 1 1", "led 0 0", "out 1",
                                        "revision a02082"]
    with BlockingClient(server.socket_path) as check:
        assert check.command("r", 27) == 1
