"""Fixtures: a real gpiosvr server on a temporary socket, and helpers to wait."""

from __future__ import annotations

import importlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import struct
import sys
import tempfile
import threading
import time
from typing import Callable, Iterator

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread

from children import spawn


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short temporary directory (Unix socket paths must stay under 108 bytes)."""
    path = tempfile.mkdtemp(prefix="gs-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(sock_dir: str) -> str:
    """A socket path nobody serves yet."""
    return os.path.join(sock_dir, "gpio.sock")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "permit(mask): the `server` fixture lets clients change the GPIOs of "
                   "mask (as --permit), for tests about something else than permissions")


@pytest.fixture
def server(sock_path: str, request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    """A real server on the simulated chip, serving ``server.socket_path``; a test
    marked ``@pytest.mark.permit(mask)`` gets a server started with that mask."""
    marker = request.node.get_closest_marker("permit")
    permit = marker.args[0] if marker is not None else None
    with ServerThread(sock_path, SimulatedChip(), permit=permit) as srv:
        yield srv


@pytest.fixture
def client(server: ServerThread) -> Iterator[BlockingClient]:
    """A blocking client of the ``server`` fixture."""
    with BlockingClient(server.socket_path) as c:
        yield c


@pytest.fixture
def pi(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> Iterator["pigpio.pi"]:
    """A facade ``pi`` of the ``server`` fixture, made as a legacy script makes it:
    ``pigpio.pi()`` with ``GPIO_SOCKET_PATH`` naming the server."""
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi()
    assert p.connected
    yield p
    p.stop()


def wait_until(condition: Callable[[], object], timeout: float = 5.0,
               interval: float = 0.005) -> object:
    """Poll ``condition`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class ServerProcess:
    """``python -m gpiosvr.server`` in a process of its own: can be killed,
    paused and restarted on the same socket; it ends with the test run however that
    ends, a SIGKILLed pytest included (:func:`children.spawn`)."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        self.proc = spawn(
            [sys.executable, "-m", "gpiosvr.server", "--socket", self.socket_path,
             "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "serving" in line, self.proc.stderr.read()
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no clean-up, the socket file stays behind."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def rss_kib(self) -> int:
        """The server's resident memory."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def server_process(sock_path: str) -> Iterator[ServerProcess]:
    """A real server process on a temporary socket."""
    proc = ServerProcess(sock_path).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def uart_source_program(tmp_path_factory) -> str:
    """``tests/uart_source.c`` built once for the session (compiling it takes some
    20 s in the QEMU guest); skips when the machine has no C compiler."""
    from uart_source import build, compiler

    if compiler() is None:
        pytest.skip("no C compiler (cc) to build the UART source tests/uart_source.c")
    return build(str(tmp_path_factory.mktemp("uart-source")))


#: The uid tests use for "another user" (nobody on Debian).
OTHER_UID = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root, to act as another user")


def open_to_all(socket_path: str) -> None:
    """Let every local user reach ``socket_path`` (its directory and the socket)."""
    os.chmod(os.path.dirname(socket_path), 0o777)
    os.chmod(socket_path, 0o666)


def run_as(uid: int, func: Callable[[], str]) -> str:
    """``func()`` run in a forked child as ``uid`` (the caller must be root): the text
    it returns, or ``"Kind: message"`` of the exception it raised. A fork, not a new
    interpreter: the interpreter may live where the other user cannot read
    (``/root``)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: plain calls only, then _exit
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                text = func()
            except BaseException as exc:  # noqa: BLE001 - told to the parent
                text = f"{type(exc).__name__}: {exc}"
            os.write(write_end, text.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    return text


def ask_as(uid: int, socket_path: str, *frames: str) -> list[str]:
    """Send each raw frame (e.g. ``"@1 procs 0"``) from a process running as ``uid``
    (:func:`run_as`), one after the other on one connection, each after the previous
    one's answer; return the answer lines (notifications, ``*`` frames, left out). See
    :func:`open_to_all`."""

    def ask() -> str:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(socket_path)
        out = b""
        for frame in frames:
            sock.sendall(frame.encode() + b"\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                data += chunk
                lines = [x for x in data.split(b"\n")[:-1] if not x.startswith(b"*")]
                if lines or not chunk:  # an answer, or the server closed
                    break
            out += b"\n".join(lines) + b"\n"
        return out.decode()

    return run_as(uid, ask).splitlines()


def peer(name: str) -> str:
    """The path of the real peer program ``name`` (``pigs``, ``sigrok-cli``, ...,
    installed by ``tools/install_peers.py`` from ``tools/peers.toml``, or
    ``tests/peers/node_modules/.bin/NAME``); skips the test when it is missing, or
    fails it under ``GPIOSVR_REQUIRE_PEERS=1`` (as ``.ci/run`` sets)."""
    found = shutil.which(name, path=os.pathsep.join(
        [os.path.join(os.path.dirname(__file__), "peers", "node_modules", ".bin"),
         "/usr/bin", "/usr/sbin", "/bin", "/sbin"]))
    if found is None:
        message = f"{name} is not installed: run python3 tools/install_peers.py"
        if os.environ.get("GPIOSVR_REQUIRE_PEERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def open_fds() -> set[tuple[int, str]]:
    """This process's open fds, each with what it is (its /proc link), to find those
    a test leaves open: an fd some other thread closes meanwhile (an earlier test's
    client collected) is not this test's, and a number used again for something
    else is seen as new."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            fds.add((int(name), os.readlink(f"/proc/self/fd/{name}")))
        except FileNotFoundError:  # listdir's own fd, or closed since
            pass
    return fds


def extra_module(name: str, extra: str):
    """Import ``name``, which the ``extra`` extra of setup.cfg installs; skip the
    test (module) without it, or fail under ``GPIOSVR_REQUIRE_PEERS=1`` (``.ci/run``
    installs every extra)."""
    if os.environ.get("GPIOSVR_REQUIRE_PEERS") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed: "
                                            f"pip install -e '.[{extra}]'")


class RunningProgram:
    """A program in a process of its own whose output lines are read as they come
    (:meth:`wait_for`) and whose stderr is kept (``errors``); :meth:`stop` ends it
    with SIGINT, as Ctrl-C would."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: str) -> None:
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, cwd=cwd)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.ended = False
        threading.Thread(target=self._read, daemon=True).start()
        self._stderr = threading.Thread(target=lambda: self.errors.extend(self.proc.stderr),
                                        daemon=True)
        self._stderr.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout: float) -> str | None:
        """The next output line, or None when none comes within ``timeout`` seconds
        (or the output ended: see :attr:`ended`); kept in :attr:`seen`."""
        try:
            line = self.lines.get(timeout=max(0.01, timeout))
        except queue.Empty:
            return None
        if line is None:
            self.ended = True
            return None
        self.seen.append(line)
        return line

    def wait_for(self, pattern: str, timeout: float = 30) -> "re.Match":
        """The first line from now matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r}; out: {self.seen}; "
                                     f"err: {''.join(self.errors)[-2000:]}")
            self.seen.append(line)
            match = re.fullmatch(pattern, line)
            if match:
                return match

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: A notification pipe's report: seq, flags, tick, levels (pigpio's gpioReport_t).
PIPE_REPORT = struct.Struct("HHII")


class FifoReader:
    """Reads a notification pipe's FIFO in this process, as a program reads
    /dev/pigpioN: :meth:`reports` waits (up to ``timeout`` seconds) for the next
    ``count`` reports. Opened at once, non-blocking, so that a test may also leave
    it unread (the pipe then fills)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""
        self.timeout = timeout

    def reports(self, count: int) -> list[tuple[int, int, int, int]]:
        size = count * PIPE_REPORT.size

        def enough() -> bool:
            try:
                self.buf += os.read(self.fd, 65536)
            except BlockingIOError:
                pass
            return len(self.buf) >= size
        wait_until(enough, timeout=self.timeout)
        got, self.buf = self.buf[:size], self.buf[size:]
        return list(PIPE_REPORT.iter_unpack(got))

    def close(self) -> None:
        os.close(self.fd)


#: A program reading COUNT reports from a FIFO, as one reads pigpio's /dev/pigpioN,
#: and printing each as "seq flags tick levels".
_PIPE_READER = """
import struct, sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "rb", buffering=0) as fifo:
    data = b""
    while len(data) < 12 * count:
        chunk = fifo.read(12 * count - len(data))
        if not chunk:
            break
        data += chunk
for seq, flags, tick, levels in struct.iter_unpack("<HHII", data):
    print(seq, flags, tick, levels)
"""


class PipeReader:
    """Another process reading ``count`` reports from a notification pipe's FIFO
    (``path``), started now; :meth:`reports` waits for them (bounded) and gives them
    as (seq, flags, tick, levels)."""

    def __init__(self, path: str, count: int) -> None:
        self.proc = spawn([sys.executable, "-c", _PIPE_READER, path, str(count)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def reports(self, timeout: float = 30) -> list[tuple[int, ...]]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the reader got no more than {out!r} within {timeout} s")
        assert self.proc.returncode == 0, err
        return [tuple(map(int, line.split())) for line in out.splitlines()]
