"""The pigs command line against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gpiosvr.blocking import BlockingClient

from conftest import wait_until


def pigs(*args: str, socket_path: str | None = None, env_path: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"}
    if env_path:
        env["GPIO_SOCKET_PATH"] = env_path
    cmd = [sys.executable, "-m", "gpiosvr.pigs"]
    if socket_path:
        cmd += ["--socket", socket_path]
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=30)


def test_several_commands_in_one_call(server):
    out = pigs("w", "18", "1", "r", "18", "mg", "18", "m", "4", "r", "mg", "4",
               env_path=server.socket_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1", "1", "0"]  # w and m print nothing


def test_banks_print_8_hex_digits_and_ticks_are_unsigned(server):
    out = pigs("w", "3", "1", "br1", "t", "hwver", "pigpv", socket_path=server.socket_path)
    bank, tick, hwver, version = out.stdout.split()
    assert len(bank) == 8 and int(bank, 16) >> 3 & 1 == 1
    assert 0 <= int(tick) < 2**32
    assert (int(hwver), int(version)) == (0xA02082, 79)


def test_a_failing_command_prints_its_code_and_pigpios_text(server):
    out = pigs("w", "60", "1", "r", "4", socket_path=server.socket_path)
    assert out.returncode == 253
    assert out.stdout.splitlines() == ["-3", "1"]  # later commands still run
    assert out.stderr.strip() == "ERROR: GPIO not 0-53"


@pytest.mark.parametrize("args,message", [
    (["zz"], "zz? unknown command"), (["w", "4"], "w: bad parameter"),
    # a mode or a pull is one of pigs' letters, else pigs itself refuses it
    (["pud", "4", "2"], "pud: bad parameter"), (["MODES", "4", "9"], "MODES: bad parameter"),
])
def test_bad_command_lines(server, args, message):
    out = pigs(*args, socket_path=server.socket_path)
    assert out.returncode == 253 and message in out.stderr


def test_commands_before_one_that_does_not_parse_still_run(server):
    out = pigs("w", "26", "1", "r", "26", "zz", "r", "4", socket_path=server.socket_path)
    assert out.returncode == 253 and out.stdout == "1\n"
    assert "zz? unknown command" in out.stderr


def test_no_server(sock_path):
    out = pigs("r", "4", socket_path=sock_path)
    assert out.returncode == 255 and "socket connect failed" in out.stderr


def test_info_and_the_simulator_from_the_shell(server):
    out = pigs("simdrive", "22", "1", "info", socket_path=server.socket_path)
    assert out.returncode == 0
    assert "server: gpiosvr" in out.stdout and "backend: sim" in out.stdout
    assert "hardware_revision: 0xa02082" in out.stdout
    with BlockingClient(server.socket_path) as c:
        assert c.command("r", 22) == 1


def test_scripts_from_the_shell(server):
    out = pigs("proc", "lda p0 add 1 sta p1", socket_path=server.socket_path)
    assert out.returncode == 0, out.stderr
    sid = out.stdout.strip()
    out = pigs("procr", sid, "41", "mils", socket_path=server.socket_path)
    assert out.returncode == 253 and out.stdout == "-81\n"  # mils: not a parameter
    out = pigs("procr", sid, "41", socket_path=server.socket_path)
    assert out.returncode == 0 and out.stdout == ""
    with BlockingClient(server.socket_path) as c:
        wait_until(lambda: c.command("procp", int(sid))[0] == 1)
    out = pigs("procp", sid, socket_path=server.socket_path)
    assert out.stdout.split() == ["1", "41", "42"] + ["0"] * 8
    out = pigs("proc", "bogus 1", socket_path=server.socket_path)
    assert out.returncode == 253 and "ERROR: illegal script command" in out.stderr


def test_proc_takes_the_rest_of_the_line_as_pigs_does(server):
    # pigs.1's own example: everything after proc is the script
    out = pigs("proc", "tag", "999", "w", "22", "1", "w", "22", "0", "dcr", "p0", "jp",
               "999", socket_path=server.socket_path)
    assert out.returncode == 0, out.stderr
    sid = out.stdout.strip()
    assert pigs("procr", sid, "10", socket_path=server.socket_path).returncode == 0
    with BlockingClient(server.socket_path) as c:
        wait_until(lambda: c.command("procp", int(sid))[0] == 1)
        assert c.command("procp", int(sid)) == [1, -1] + [0] * 9
        assert c.command("r", 22) == 0


@pytest.mark.parametrize("script,code,text", [
    (["foo", "3"], -55, "illegal script command"),
    (["w", "-1", "1"], -55, "illegal script command"),
    (["i2crd", "0", "4"], -55, "illegal script command"),
    (["ld", "v150", "1"], -55, "illegal script command"),
    (["tag", "1", "tag", "1"], -53, "script has duplicate tag"),
    ([f"tag {n}" for n in range(51)], -54, "script has too many tags"),
    (["jmp", "9"], -63, "script has unresolved tag"),
])
def test_a_script_that_does_not_parse_prints_pigpios_code(server, script, code, text):
    out = pigs("proc", *script, socket_path=server.socket_path)
    assert (out.returncode, out.stdout, out.stderr) == (253, f"{code}\n", f"ERROR: {text}\n")


def test_more_commands_than_one_request_carries_all_run(server):
    # 3,000 commands, three requests of at most MAX_COMMANDS_PER_REQUEST (1,024),
    # each read printed in order; then a failure, which does not stop pigs
    words = ["w", "4", "1", "r", "4", "w", "4", "0", "r", "4"] * 750
    words += ["w", "60", "1", "r", "5"]
    out = pigs(*words, socket_path=server.socket_path)
    assert out.returncode == 253, out.stderr
    assert out.stdout.splitlines() == ["1", "0"] * 750 + ["-3", "1"]
    assert out.stderr.strip() == "ERROR: GPIO not 0-53"


def test_requests_keep_to_the_protocols_limits():
    from gpiosvr import protocol
    from gpiosvr.pigs import requests

    chunks = requests([("w", 4, i % 2) for i in range(3000)])
    assert [len(c) for c in chunks] == [1024, 1024, 952]
    script = "tag 1 " + "x" * 100_000
    chunks = requests([("proc", script)] * 25)  # 2.5 MB: three frames of 1 MiB at most
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert all(len(protocol.encode_request(c, protocol.MAX_ID)) <= protocol.MAX_FRAME_BYTES
               for c in chunks)


def test_pigpios_long_command_names_work_as_in_pigs(server):
    out = pigs("modes", "18", "w", "write", "18", "1", "read", "18", "modeg", "18",
               "WRITE", "18", "0", "READ", "18", "tick", socket_path=server.socket_path)
    assert out.returncode == 0, out.stderr
    level, mode, level_after, tick = out.stdout.split()
    assert (level, mode, level_after) == ("1", "1", "0") and 0 <= int(tick) < 2**32
    out = pigs("pwm", "18", "128", "servo", "17", "1500", "gdc", "18", "gpw", "17",
               socket_path=server.socket_path)
    assert out.stdout.split() == ["128", "1500"], out.stderr


def test_pigpio_addr_names_the_socket_as_for_pi(server):
    env = {k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"}
    run = [sys.executable, "-m", "gpiosvr.pigs", "hwver"]
    out = subprocess.run(run, env={**env, "PIGPIO_ADDR": server.socket_path},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == f"{0xA02082}\n", out.stderr
    out = subprocess.run(run, env={**env, "PIGPIO_ADDR": "localhost",
                                   "GPIO_SOCKET_PATH": server.socket_path},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == f"{0xA02082}\n", out.stderr
    out = subprocess.run(run, env={**env, "PIGPIO_ADDR": "otherpi"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 255 and out.stdout == ""
    assert out.stderr.startswith("socket connect failed: PIGPIO_ADDR='otherpi'")


@pytest.mark.parametrize("word", ["h", "help", "H"])
def test_h_lists_every_command_in_plain_text(word):
    out = pigs(word)
    assert out.returncode == 0, out.stderr
    assert "``" not in out.stdout and ":data:" not in out.stdout
    lines = out.stdout.splitlines()
    assert any(line.startswith("w/write gpio level ") for line in lines)
    assert any(line.startswith("i2cwk handle reg data... ") for line in lines)
    assert any(line.startswith("fg user_gpio steady_us ") and "shorter than steady µs" in line
               for line in lines)
    assert not any(line.startswith("hello") for line in lines)


def test_help_mentions_h_and_has_no_markup():
    out = pigs("--help")
    assert out.returncode == 0
    assert "pigs h (or pigs help) lists every command" in out.stdout
    assert "``" not in out.stdout and "$PIGPIO_ADDR" in out.stdout


@pytest.mark.parametrize("argv", [
    [], ["w", "4", "1"], ["--socket", "/s", "w", "4", "1"], ["--socket=/s", "r", "4"],
    ["--socket", "/s"], ["w", "--socket", "/s"], ["r", "4", "-1"], ["H"], ["--socket="],
])
def test_the_short_way_reads_a_command_line_as_argparse_does(argv):
    from gpiosvr.pigs import _parser, split_command_line

    args = _parser().parse_args(argv)
    assert split_command_line(argv) == (args.socket, args.words)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--sock", "/s"], ["--socket"],
                                  ["--socket", "-x"], ["-x", "w"]])
def test_options_else_are_left_to_argparse(argv):
    from gpiosvr.pigs import split_command_line

    assert split_command_line(argv) is None
