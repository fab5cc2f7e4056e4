"""The example notebook, executed in a real Jupyter kernel (nbclient + ipykernel)."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from gpiosvr.blocking import BlockingClient

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "pigpio_notebook.ipynb")


def ensure_kernel() -> str:
    """The name of a Python kernel for this interpreter, installing one if needed."""
    from jupyter_client.kernelspec import find_kernel_specs

    if "python3" not in find_kernel_specs():
        from ipykernel.kernelspec import install

        install(user=True)
    return "python3"


def run_notebook(tmp_path, env: dict[str, str]) -> tuple[str, str]:
    """Execute the notebook; return all its printed text, and the value of the cell
    that awaits a coroutine."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this environment
    try:
        NotebookClient(nb, timeout=60, kernel_name=ensure_kernel(),
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out, awaited = [], None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                pytest.fail(f"cell failed: {output['ename']}: {output['evalue']}")
            if output.get("output_type") == "execute_result" and "await" in cell.source:
                awaited = output["data"]["text/plain"]
            out.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(out), awaited


def check(result: tuple[str, str]) -> None:
    text, awaited = result
    assert awaited == "1"  # pi.read(18) inside a coroutine on the kernel's running loop
    assert "connected True" in text
    assert "GPIO18=1\nGPIO18=0\nGPIO18=1" in text
    assert "revision a02082" in text
    assert "pigpio.error: 'GPIO not 0-53'" in text
    assert "edges [(1, 1000), (0, 1100), (1, 1200), (0, 1300)]" in text
    assert "stopped" in text


def test_notebook_with_its_own_server(tmp_path, monkeypatch):
    monkeypatch.delenv("GPIO_SOCKET_PATH", raising=False)
    check(run_notebook(tmp_path, {}))


def test_notebook_against_a_running_server(tmp_path, server):
    check(run_notebook(tmp_path, {"GPIO_SOCKET_PATH": server.socket_path}))
    with BlockingClient(server.socket_path) as client:
        assert client.command("r", 18) == 1  # the notebook drove this server
        assert client.command("mg", 18) == 1
