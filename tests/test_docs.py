"""The docs that list the code: docs/api-coverage.md names every method of pigpio
1.78's ``pi`` once, with a known word and a test (or "untested") for each backend,
and every test it names exists; docs/protocol.md's command table has a row for every
command of the command table, and none for a command that is not there."""

from __future__ import annotations

import ast
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pigpio as real

from gpiosvr.server.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sim", "gpiod", "pigpiod")
WORDS = ("works", "emulated", "refused", "not yet")
KEY = re.compile(r"\[([a-z0-9-]+)\]")


def coverage() -> tuple[list[list[str]], dict[str, list[str]]]:
    """The rows of api-coverage.md's table, and its test keys with what they name."""
    text = (ROOT / "docs" / "api-coverage.md").read_text()
    table, keys = text.split("\n| method |", 1)[1], {}
    header, rows = table.split("\n", 1)
    assert [c.strip() for c in header.strip(" |").split("|")] == list(BACKENDS)
    cells = []
    for line in rows.splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells.append([c.strip() for c in line.strip().strip("|").split("|")])
    for line in text.splitlines():
        found = re.match(r"\* `\[([a-z0-9-]+)\]`: (.*)", line)
        if found:
            keys[found[1]] = re.findall(r"`(tests/[^`]+)`", found[2])
    return cells, keys


@cache
def functions_of(path: str) -> set[str]:
    """The names of the test functions at the top level of ``path``."""
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}


def test_every_method_of_pigpio_has_one_row():
    cells, _ = coverage()
    names = [row[0].strip("`") for row in cells]
    methods = sorted(n for n in dir(real.pi) if not n.startswith("_"))
    assert len(methods) == 120
    assert [n for n, c in Counter(names).items() if c > 1] == [], "methods listed twice"
    assert sorted(names) == methods


def test_every_cell_says_what_and_which_test_shows_it():
    cells, keys = coverage()
    for method, *backends in cells:
        assert len(backends) == len(BACKENDS), f"{method}: {len(backends)} backends"
        for backend, cell in zip(BACKENDS, backends):
            where = f"{method} on {backend}: {cell!r}"
            assert cell.startswith(WORDS), f"{where} starts with none of {WORDS}"
            if cell.startswith("not yet"):
                continue
            used = KEY.findall(cell)
            assert used or "untested" in cell, f"{where} names no test and is not 'untested'"
            for key in used:
                assert key in keys, f"{where}: test key [{key}] is not listed"


def test_every_test_a_key_names_exists():
    _, keys = coverage()
    for key, named in keys.items():
        assert named, f"[{key}] names no test"
        for ref in named:
            path, _, name = ref.partition("::")
            assert (ROOT / path).is_file(), f"[{key}]: {path} does not exist"
            assert not name or name in functions_of(path), f"[{key}]: {ref} does not exist"


def protocol_table_commands() -> list[str]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("\n### 5.2 Command table\n", 1)[1].split("\n## 6.", 1)[0]
    return [name for line in section.splitlines() if line.startswith("| `")
            for name in re.findall(r"`([^`]+)`", line.split("|")[1])]


def test_the_protocol_table_has_a_row_for_every_command():
    listed = protocol_table_commands()
    assert [n for n, c in Counter(listed).items() if c > 1] == [], "commands listed twice"
    assert sorted(set(COMMANDS) - set(listed)) == [], "commands without a row"
    assert sorted(set(listed) - set(COMMANDS)) == [], "rows for no command"


def test_the_protocol_sections_are_numbered_in_order():
    text = (ROOT / "docs" / "protocol.md").read_text()
    numbers = re.findall(r"^##+ (\d+(?:\.\d+)?)\.? ", text, re.M)
    expected = []
    for number in numbers:
        major, _, minor = number.partition(".")
        last = expected[-1] if expected else (0, 0)
        step = (last[0] + 1, 0) if not minor else (last[0], last[1] + 1)
        assert (int(major), int(minor or 0)) == step, f"section {number} after {last}"
        expected.append(step)
    for ref in re.findall(r"section (\d+(?:\.\d+)?)|\((\d\.\d)\)", text):
        number = ref[0] or ref[1]
        assert number in numbers, f"a reference to section {number}, which is not there"
