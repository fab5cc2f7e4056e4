"""commands/numbers.py against pigpio itself: the real package's command numbers and
command.c's pigs names; and the shapes of the commands gpiosvr has today."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pigpio
import pytest

from gpiosvr.server.commands import COMMANDS
from gpiosvr.server.commands.numbers import (BY_NAME, GPIOSVR_FIRST, GPIOSVR_NUMBERS, HELP,
                                             NOIB, NUMBERS)
from gpiosvr.server.frontends.pigpiod import Refused, answer_bytes, request_args

MIRROR = pathlib.Path("/work/.mirror/joan2937+pigpio/repo")

# pigpio.py's constant names that are not a pigs name of the command
PY_ALIASES = {"MODES": "M", "MODEG": "MG", "READ": "R", "WRITE": "W", "PWM": "P",
              "SERVO": "S", "TICK": "T", "HELP": "H", "MICRO": "MICS", "MILLI": "MILS"}


def _package_numbers() -> dict[int, str]:
    return {value: name[len("_PI_CMD_"):] for name, value in vars(pigpio).items()
            if name.startswith("_PI_CMD_")}


def test_every_number_of_the_real_package_and_no_other():
    package = _package_numbers()
    assert len(package) == 119
    assert set(NUMBERS) == set(package)
    for number, suffix in package.items():
        assert NUMBERS[number].name == PY_ALIASES.get(suffix, suffix).lower(), number


def _git_show(path: str) -> str:
    return subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:{path}"],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(not MIRROR.exists(), reason="pigpio's C sources are not mirrored here")
def test_names_are_command_c_s_shortest():
    header = dict(re.findall(r"#define (PI_CMD_\w+)\s+(\d+)", _git_show("pigpio.h")))
    names: dict[int, list[str]] = {}
    for const, name in re.findall(r'\{(PI_CMD_\w+)\s*,\s*"(\w+)"', _git_show("command.c")):
        number = int(header[const])
        if number < 200:  # the rest are script-only instructions
            names.setdefault(number, []).append(name)
    for number, spec in NUMBERS.items():
        if number == NOIB:
            assert number not in names  # pigpiod only, no pigs name
            continue
        assert spec.name == min(names[number], key=len).lower(), number


def test_shapes_fit_the_commands_gpiosvr_has():
    """Each number whose command exists gives it as many arguments as it takes."""
    checked = 0
    for number, spec in NUMBERS.items():
        command = COMMANDS.get(spec.name)
        if command is None or "ints" in spec.request:
            continue
        ext = b"\0" * 24
        args = request_args(spec.request, 0, 1, ext)
        assert command.required <= len(args) <= len(command.params), spec
        checked += 1
    assert checked >= 30  # today's commands; each one landing adds one


def test_variadic_and_data_shapes():
    u32 = (7).to_bytes(4, "little")
    assert request_args(("p1", "p2?", "u0?"), 3, 0, b"") == (3,)
    assert request_args(("p1", "p2?", "u0?"), 3, 5, b"") == (3, 5)
    assert request_args(("p1", "p2?", "u0?"), 3, 5, u32) == (3, 5, 7)
    assert request_args(("p1", "ints"), 2, 0, u32 * 3) == (2, 7, 7, 7)
    assert request_args(("p1", "p2", "u0", "u4", "u8", "ext12"), 1, 2,
                        u32 * 3 + b"hi") == (1, 2, 7, 7, 7, b"hi")
    assert request_args(("shell",), 4, 0, b"name\0some args\0") == ("name", "some args")
    assert request_args(("text", "p1"), 9, 0, b"/dev/x\0") == ("/dev/x", 9)
    assert answer_bytes("ext", b"abc") == (3, b"abc")
    assert answer_bytes("ext", [1, 2]) == (2, b"\1\2")
    assert answer_bytes("bscx", [5, b"xy"]) == (6, u32[:0] + (5).to_bytes(4, "little") + b"xy")
    assert answer_bytes("procp", [1] + [2] * 10)[0] == 44
    assert HELP in NUMBERS and NOIB in NUMBERS


def test_every_command_in_the_table_has_a_number():
    """Each command the gpiosvr protocol has is reachable through pigpiod's: pigpio's
    number, or one of gpiosvr's own (GPIOSVR_FIRST and up, where pigpio has none)."""
    assert not set(COMMANDS) - set(BY_NAME), sorted(set(COMMANDS) - set(BY_NAME))
    assert min(GPIOSVR_NUMBERS) == GPIOSVR_FIRST > max(NUMBERS)
    assert sorted(GPIOSVR_NUMBERS) == list(range(GPIOSVR_FIRST,
                                                 GPIOSVR_FIRST + len(GPIOSVR_NUMBERS)))
    assert not {c.name for c in GPIOSVR_NUMBERS.values()} & {c.name for c in
                                                             NUMBERS.values()}
    assert set(_package_numbers()).isdisjoint(GPIOSVR_NUMBERS)  # none of pigpio's
    for number, spec in GPIOSVR_NUMBERS.items():
        command = COMMANDS[spec.name]
        if spec.request != ("args",):
            args = request_args(spec.request, 0, 1, b"")
            assert command.required <= len(args) <= len(command.params), spec


def test_args_and_value_shapes():
    assert request_args(("args",), 0, 0, b'17 3 250') == (17, 3, 250)
    assert request_args(("args",), 0, 0, b'ttyAMA0 %00ff') == ("ttyAMA0", b"\0\xff")
    assert request_args(("args",), 0, 0, b'4 [[1,100],[0,200]]') == (
        4, [[1, 100], [0, 200]])
    assert request_args(("args",), 0, 0, b"") == ()
    with pytest.raises(Refused):
        request_args(("args",), 0, 0, b"1; simdrive 4 1")  # one command's, no more
    assert answer_bytes("value", 0) == (1, b"0")
    assert answer_bytes("value", {"a": [1, "x"]}) == (13, b'{"a":[1,"x"]}')
    assert answer_bytes("value", None) == (4, b"null")


def test_the_docs_list_gpiosvr_s_own_numbers():
    doc = (pathlib.Path(__file__).resolve().parent.parent / "docs"
           / "pigpiod-protocol.md").read_text()
    rows = {}
    for first, last, names in re.findall(r"^\| (\d+)(?:-(\d+))? \| (.+?) \|", doc, re.M):
        listed = re.findall(r"`(\w+)`", names)
        numbers = range(int(first), int(last or first) + 1)
        assert len(listed) == len(numbers), (first, listed)
        rows.update(zip(numbers, listed))
    assert rows == {n: c.name for n, c in GPIOSVR_NUMBERS.items()}
