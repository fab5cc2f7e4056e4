"""What a pip user gets: the wheel's contents, and the installed copy at work.

The wheel is built as pip builds it (``pip wheel .``), then installed without its
dependencies into a virtual environment that sees this interpreter's packages, and
used from a directory outside the clone with no ``PYTHONPATH``, as a user would.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from gpiosvr._version import __version__

ROOT = Path(__file__).resolve().parent.parent
DIST = "gpiosvr_server"  # the distribution gpiosvr-server, as wheels spell it


def _env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no socket chosen."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "GPIO_SOCKET_PATH", "PIGPIO_ADDR")}


def _run(args: list, cwd: Path | str, timeout: float = 120, **env: str):
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**_env(), **env})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ".", "-w", out],
                ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (found,) = out.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with the wheel installed (its dependencies come from this interpreter)."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    root], check=True, timeout=120)
    proc = _run([sys.executable, "-m", "pip", "--python", root / "bin" / "python", "install",
                 "-q", "--no-deps", wheel], root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    yield root


def test_the_wheel_holds_the_package_compat_examples_types_and_license(wheel):
    assert wheel.name == f"{DIST}-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"{DIST}-{__version__}.data/data/share/gpiosvr/examples/"
    info = f"{DIST}-{__version__}.dist-info/"
    for name in ["gpiosvr/__init__.py", "gpiosvr/py.typed", "gpiosvr/compat/pigpio.py",
                 "gpiosvr/compat_path.py", "gpiosvr/pigpio/__init__.py",
                 "gpiosvr/server/commands/table.py", info + "licenses/LICENSE"]:
        assert name in names, name
    examples = {n[len(data):] for n in names if n.startswith(data)}
    assert examples == set(os.listdir(ROOT / "examples"))
    assert {n.split("/")[0] for n in names} == {"gpiosvr", info[:-1], data.split("/")[0]}
    metadata = zipfile.ZipFile(wheel).read(info + "METADATA").decode()
    assert "Name: gpiosvr-server\n" in metadata and "License: MIT\n" in metadata
    entry_points = zipfile.ZipFile(wheel).read(info + "entry_points.txt").decode()
    for script in ("gpiosvr-server", "gpiosvr-run", "pigs"):
        assert f"{script} = " in entry_points


def test_the_test_extra_is_light_and_ci_adds_the_other_extras():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = cfg["options.extras_require"]
    test = extras["test"]
    for heavy in ("nbclient", "ipykernel", "matplotlib", "numpy"):
        assert heavy not in test
    assert "ipykernel" in extras["notebook"]
    assert "[notebook,mqtt,capture,buses]" in (ROOT / ".ci" / "run").read_text()


def test_installed_compat_path_and_examples(venv, server, tmp_path):
    python = venv / "bin" / "python"
    compat = _run([python, "-m", "gpiosvr.compat_path"], tmp_path)
    assert compat.returncode == 0, compat.stderr
    compat_dir = compat.stdout.strip()
    assert compat_dir == str(next(venv.glob("lib/python*/site-packages/gpiosvr/compat")))
    examples = _run([python, "-m", "gpiosvr.compat_path", "--examples"], tmp_path)
    assert examples.stdout.strip() == str(venv / "share" / "gpiosvr" / "examples")
    blink = Path(examples.stdout.strip()) / "blink.py"
    proc = _run([python, blink, "2"], tmp_path, PYTHONPATH=compat_dir,
                GPIO_SOCKET_PATH=server.socket_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(reads 1)") == 2


def test_installed_gpiosvr_run_sim(venv, tmp_path):
    blink = venv / "share" / "gpiosvr" / "examples" / "blink.py"
    proc = _run([venv / "bin" / "gpiosvr-run", "--sim", blink, "1"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "blinked 1 times" in proc.stdout
    assert str(venv / "lib") in _run([venv / "bin" / "python", "-c",
                                      "import gpiosvr; print(gpiosvr.__file__)"],
                                     tmp_path).stdout


def test_a_directory_named_gpiosvr_in_the_working_directory_changes_nothing(
        server, tmp_path):
    """A clone's parent holds a directory ``gpiosvr``: ``python -m`` there imports it
    as an empty namespace package, since an editable install is found after it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    venv], check=True, timeout=120)
    proc = _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
                 "-q", "--no-deps", "-e", ROOT], tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "gpiosvr").mkdir()
    shadow = _run([venv / "bin" / "python", "-c", "import gpiosvr; print(gpiosvr.__file__)"],
                  tmp_path)
    assert shadow.stdout.strip() == "None"  # the namespace package: the case at hand
    proc = _run([venv / "bin" / "python", "-m", "gpiosvr.pigs", "--socket",
                 server.socket_path, "info"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"version: {__version__}" in proc.stdout


def test_gpiosvr_run_prints_the_compat_path_too(venv, tmp_path):
    by_module = _run([venv / "bin" / "python", "-m", "gpiosvr.compat_path"], tmp_path)
    by_run = _run([venv / "bin" / "gpiosvr-run", "--compat-path"], tmp_path)
    assert by_run.returncode == 0, by_run.stderr
    assert by_run.stdout == by_module.stdout
    assert (Path(by_run.stdout.strip()) / "pigpio.py").is_file()
