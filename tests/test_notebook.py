"""The example notebook, executed in a real Jupyter kernel (nbclient + ipykernel).

Run twice: once with no ``GPIO_SOCKET_PATH`` (the notebook starts a server of its
own inside the kernel) and once pointed at the ``server`` fixture, which then shows
that the notebook's writes really reached it.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

from conftest import extra_module
from gpiosvr.blocking import BlockingClient


nbformat = extra_module("nbformat", "notebook")
NotebookClient = extra_module("nbclient", "notebook").NotebookClient
extra_module("ipykernel", "notebook")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "pigpio_notebook.ipynb")

#: A kernel spec of our own, so the kernel always runs *this* interpreter (the one
#: with gpiosvr installed), whatever "python3" kernel the machine may have.
KERNEL_NAME = "gpiosvr-pytest"

#: What each code cell prints (stdout), in order; None: checked separately.
EXPECTED_STDOUT = [
    "connected True\n",
    "GPIO18=1\nGPIO18=0\nGPIO18=1\n",
    "revision a02082\n",
    "pigpio.error: 'GPIO not 0-53'\n",
    None,  # the coroutine cell: its value, not its prints
    "edges [(1, 1000), (0, 1100), (1, 1200), (0, 1300)]\n",
    "",  # the PWM fade: a figure
    None,  # the summary: checked separately
    "stopped\n",
]


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Jupyter data dir holding a kernel spec for ``sys.executable``."""
    from ipykernel.kernelspec import write_kernel_spec

    root = tmp_path_factory.mktemp("jupyter")
    spec = write_kernel_spec(os.path.join(root, "kernels", KERNEL_NAME))
    with open(os.path.join(spec, "kernel.json")) as f:
        assert sys.executable in f.read()
    return str(root)


@pytest.fixture
def kernel_env(kernel_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the kernel spec findable, and start without a socket named."""
    monkeypatch.setenv("JUPYTER_PATH", kernel_dir)
    monkeypatch.delenv("GPIO_SOCKET_PATH", raising=False)
    monkeypatch.delenv("PIGPIO_ADDR", raising=False)
    yield


def run_notebook(cwd: str) -> list[nbformat.NotebookNode]:
    """Execute the notebook in a fresh kernel (which inherits os.environ) in ``cwd``;
    return its executed code cells."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=60, startup_timeout=60, kernel_name=KERNEL_NAME,
                   resources={"metadata": {"path": cwd}}).execute()
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def check(cells: list[nbformat.NotebookNode]) -> None:
    assert len(cells) == len(EXPECTED_STDOUT)
    for n, (cell, expected) in enumerate(zip(cells, EXPECTED_STDOUT), 1):
        outputs = cell.outputs
        errors = [o for o in outputs if o.output_type == "error"]
        assert not errors, f"code cell {n} failed:\n" + "\n".join(errors[0].traceback)
        stderr = "".join(o.text for o in outputs
                         if o.output_type == "stream" and o.name == "stderr")
        assert stderr == "", f"code cell {n} wrote to stderr:\n{stderr}"
        stdout = "".join(o.text for o in outputs
                         if o.output_type == "stream" and o.name == "stdout")
        if expected is not None:
            assert stdout == expected, f"code cell {n}"

    # pi.read(18) awaited in a coroutine on the kernel's running event loop.
    awaited = cells[4]
    assert "await read_in_coroutine()" in awaited.source
    results = [o for o in awaited.outputs if o.output_type == "execute_result"]
    assert [r.data["text/plain"] for r in results] == ["1"]

    # The capture section: a timing diagram, and a summary that measured what was set.
    fade = cells[6]
    assert "cap.plot(" in fade.source
    assert [o for o in fade.outputs if "image/png" in o.get("data", {})], fade.outputs
    summary = "".join(o.text for o in cells[7].outputs if o.output_type == "stream")
    rows = {int(r[0]): r for r in (line.split() for line in summary.splitlines()[1:])}
    pwm, servo = rows[12], rows[13]
    step = 5  # µs: pigpio's PWM sample step, and the sim's tick resolution is 1 µs
    assert abs(float(pwm[4]) - 800) <= 800 * step / 1250, summary  # freq_Hz
    assert abs(float(pwm[6]) / 100 - 64 / 255) <= step / 1250, summary  # duty_%
    assert abs(float(servo[4]) - 50) <= 50 * step / 20000, summary
    assert abs(float(servo[7]) - 1500) <= step, summary  # high_us


def test_notebook_with_its_own_server(kernel_env, tmp_path):
    check(run_notebook(str(tmp_path)))


def test_notebook_against_a_running_server(kernel_env, tmp_path, server, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    check(run_notebook(str(tmp_path)))
    with BlockingClient(server.socket_path) as client:  # the notebook drove this server
        assert client.command("mg", 18) == 1  # OUTPUT
        assert client.command("r", 18) == 1   # its last write
