"""The README opens with the two set-up commands, and they are what CI runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    """The lines of the README's first code block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def test_the_readme_opens_with_two_commands_that_ci_runs_as_written():
    commands = setup_commands()
    assert len(commands) == 2, commands
    install_and_run, install_and_test = commands
    assert "gpiosvr-run --sim examples/blink.py" in install_and_run
    assert "'.[test]'" in install_and_test and "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci, f".ci/run does not run the README's {command!r}"
    assert ci.index(install_and_run) < ci.index(install_and_test)


def test_the_readme_comes_before_any_other_code():
    text = (ROOT / "README.md").read_text()
    assert text.index("```") < text.index("\n## "), "the set-up commands come first"


def python_blocks(after_heading: str) -> list[str]:
    """The ```python blocks of the README section ``after_heading``."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n## {after_heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n", 1)[1] for block in section.split("```")[1::2]
            if block.startswith("python")]


def test_the_async_snippet_runs_as_written(server):
    (snippet,) = python_blocks("The async client")
    env = {**os.environ, "GPIO_SOCKET_PATH": server.socket_path}
    proc = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"


def test_every_example_is_named_in_the_readme():
    text = (ROOT / "README.md").read_text()
    for name in os.listdir(ROOT / "examples"):
        assert name in text, f"examples/{name} is not in the README"
