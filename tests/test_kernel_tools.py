"""tools/kernel_tests.py's own parts that run without QEMU: which interpreter the
guest gets (a virtualenv's, with its packages) and the build's progress lines."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "kernel_tests.py"


def test_the_guest_runs_a_virtualenvs_interpreter_as_named(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    code = (f"import runpy, sys; t = runpy.run_path({str(TOOL)!r}); "
            f"print(t['guest_python']()); print(sys.prefix)")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    assert out == [str(python), str(venv)]  # the venv's packages come with it
    assert python.resolve() != python       # what resolving it would have lost


def test_the_build_says_how_far_it_got(tmp_path):
    """A stand-in for make compiles one file, then waits until a progress line has
    named it before it compiles the next one and ends."""
    tool = runpy.run_path(str(TOOL))
    build = tool["build_with_progress"]
    fifo = tmp_path / "fifo"
    subprocess.run(["mkfifo", fifo], check=True)
    said: list[str] = []

    def log(message: str) -> None:
        said.append(message)
        if "kernel/fork.o" in message and not any("fork.o" in m for m in said[:-1]):
            with open(fifo, "w") as f:  # the first line naming it lets make go on
                f.write("go\n")

    build.__globals__.update(PROGRESS_SECONDS=0.05, log=log)
    script = f"echo '  CC      kernel/fork.o'; read _ < {fifo}; echo '  CC      mm/slub.o'"
    build_log = tmp_path / "build.log"
    assert build(["sh", "-c", script], {"PATH": "/usr/bin:/bin"}, build_log) == 0
    assert any(m.endswith("1 files compiled, last kernel/fork.o") for m in said), said
    assert build_log.read_text().split() == ["CC", "kernel/fork.o", "CC", "mm/slub.o"]
