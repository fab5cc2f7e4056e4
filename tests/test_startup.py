"""What importing the facade, making plain calls and running ``pigs`` load (issue
#18): asyncio, numpy and the server stay unloaded until something needs them. Import time itself is
measured by ``benchmarks/bench_startup.py``, never asserted here."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("asyncio", "numpy", "gpiosvr.server.app", "gpiosvr.client_pigs", "gpiosvr.capture")
#: What ``pigs`` needs none of: it reads gpiosvr/_pigs_table.py, not the server's table.
NOT_FOR_PIGS = ("asyncio", "gpiosvr.server", "gpiosvr.server.commands", "gpiosvr.pigpio",
                "gpiosvr.client_pigs", "logging")

_CHECK = """
import sys
{code}
print(sorted(name for name in {heavy!r} if name in sys.modules))
"""


def loaded_after(code: str, sock_path: str | None = None, heavy: tuple[str, ...] = HEAVY
                 ) -> str:
    env = dict(os.environ)
    if sock_path is not None:
        env["GPIO_SOCKET_PATH"] = sock_path
    result = subprocess.run([sys.executable, "-c", _CHECK.format(code=code, heavy=heavy)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after what the code printed


def test_importing_the_facade_loads_nothing_heavy() -> None:
    assert loaded_after("import gpiosvr.pigpio") == "[]"


def test_importing_the_facade_leaves_the_socket_modules_to_the_first_connect() -> None:
    # pigpio imports socket too: importing ours costs less than it once it is not
    # needed until pi() connects (json: until the first JSON token, the handshake's)
    assert loaded_after("import gpiosvr.pigpio", heavy=(
        "socket", "select", "json", "gpiosvr.peercred", "argparse")) == "[]"


def test_plain_calls_load_no_asyncio(server) -> None:
    code = ("import gpiosvr.pigpio as pigpio\n"
            "p = pigpio.pi()\n"
            "assert p.connected\n"
            "p.write(4, 1)\n"
            "assert p.read(4) == 1\n"
            "p.stop()")
    assert loaded_after(code, server.socket_path) == "[]"


def test_the_loop_thread_still_starts_for_callbacks(server) -> None:
    code = ("import gpiosvr.pigpio as pigpio\n"
            "p = pigpio.pi()\n"
            "cb = p.callback(4)\n"
            "cb.cancel()\n"
            "p.stop()")
    assert "asyncio" in loaded_after(code, server.socket_path)


def test_pigs_loads_no_server_and_no_asyncio(server) -> None:
    code = ("from gpiosvr.pigs import main\n"
            "assert main(['w', '4', '1', 'r', '4', 'bad']) == 253")
    assert loaded_after(code, server.socket_path, NOT_FOR_PIGS) == "[]"


def test_pigs_help_loads_no_server() -> None:
    code = ("import contextlib, io\n"
            "from gpiosvr.pigs import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert main(['h']) == 0\n"
            "assert 'i2cwk handle reg data...' in out.getvalue()")
    assert loaded_after(code, heavy=NOT_FOR_PIGS) == "[]"


def test_server_package_names_still_resolve() -> None:
    from gpiosvr.server import GpioServer, ServerAlreadyRunning
    from gpiosvr.server.app import GpioServer as direct

    assert GpioServer is direct and issubclass(ServerAlreadyRunning, Exception)
