"""The socket: who may serve it, who answers, and one server per path.

An impostor here is a plain listener run as another user in a forked child (a new
interpreter cannot start as that user: python lives under /root), answering the
handshake as a gpiosvr server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

from children import spawn_run
from conftest import OTHER_UID, ServerProcess, needs_root, run_as, wait_until
from gpiosvr import config, peercred
from gpiosvr import pigpio as facade
from gpiosvr.blocking import BlockingClient
from gpiosvr.channel import connect_unix
from gpiosvr.client import SocketClient
from gpiosvr.errors import ConnectionFailed
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread

INFO = {"server": "gpiosvr", "version": "0.1.0", "protocol": 1, "backend": "sim",
        "hardware_revision": 10494082, "pigpio_version": 79, "clients": 1}


def _impostor_answer(line: bytes) -> bytes:
    """A plausible gpiosvr answer to a request line: the info object to ``hello``,
    0 to anything else."""
    text = line.decode("ascii", "replace")
    head = ""
    if text.startswith("@"):
        head, _, text = text.partition(" ")
        head += " "
    answers = [json.dumps(INFO, separators=(",", ":"))
               if part.strip().startswith("hello") else "0" for part in text.split(";")]
    return (head + ";".join(answers) + "\n").encode("ascii")


def _serve_as_child(uid: int, path: str, ready: int, stop: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    os.write(ready, b"ok")
    buffers: dict[socket.socket, bytes] = {}
    while True:
        readable, _, _ = select.select([listener, stop, *buffers], [], [], 60)
        if not readable or stop in readable:
            return
        for sock in readable:
            if sock is listener:
                conn, _ = listener.accept()
                buffers[conn] = b""
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                del buffers[sock]
                sock.close()
                continue
            *lines, buffers[sock] = (buffers[sock] + data).split(b"\n")
            for line in lines:
                sock.sendall(_impostor_answer(line))


@contextlib.contextmanager
def serve_as(uid: int, path: str) -> Iterator[int]:
    """A listener on ``path`` run by ``uid`` in a forked child, for the block; yields
    the child's pid."""
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(ready_r)
            os.close(stop_w)
            _serve_as_child(uid, path, ready_w, stop_r)
        except BaseException as exc:  # noqa: BLE001 - told to the parent
            os.write(ready_w, f"!{exc!r}".encode())
            status = 1
        finally:
            os._exit(status)
    os.close(ready_w)
    os.close(stop_r)
    try:
        with os.fdopen(ready_r, "rb") as ready:
            assert ready.read(2) == b"ok", "the impostor did not start"
        yield pid
    finally:
        os.close(stop_w)  # the child sees EOF and leaves
        os.waitpid(pid, 0)


@pytest.fixture
def open_dir() -> Iterator[str]:
    """A temporary directory every user may write (as ``/tmp`` without its sticky
    bit): any user could serve a socket there first."""
    path = tempfile.mkdtemp(prefix="gs-open-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def impostor(open_dir: str, monkeypatch) -> Iterator[str]:
    """The path of a socket served by :data:`OTHER_UID` (nobody)."""
    monkeypatch.delenv(config.SERVER_USER_ENV, raising=False)
    path = os.path.join(open_dir, "gpio.sock")
    with serve_as(OTHER_UID, path):
        yield path


def refusal(path: str) -> str:
    return (f"refusing the GPIO server at {path}: it is served by uid {OTHER_UID} "
            f"(nobody, pid ")


# ------------------------------------------------------------------ who serves


@needs_root
def test_every_client_refuses_a_server_run_by_another_user(impostor, capsys):
    with pytest.raises(ConnectionFailed) as blocking:
        BlockingClient(impostor, connect_timeout=2).connect()
    assert refusal(impostor) in str(blocking.value)
    assert f"not root or you (there is no service user gpiosvr); set " \
           f"{config.SERVER_USER_ENV} to trust it" in str(blocking.value)
    for keep_alive in (False, True):
        client = SocketClient(None, impostor, connectTimeout_ms=2000, isKeepAlive=keep_alive)
        with pytest.raises(ConnectionFailed, match="refusing the GPIO server"):
            asyncio.run(client.command("r", 4))
    p = facade.pi(impostor)  # the facade never raises in pi(): it tells the user
    assert not p.connected
    assert refusal(impostor) in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "--socket", impostor,
                          "w", "17", "1"], capture_output=True, text=True, timeout=30,
                         env={k: v for k, v in os.environ.items()
                              if k != config.SERVER_USER_ENV})
    assert out.returncode == 255 and refusal(impostor) in out.stderr


@needs_root
@pytest.mark.parametrize("setting", [str(OTHER_UID), "nobody"])
def test_the_service_user_named_in_the_environment_is_trusted(impostor, monkeypatch,
                                                              setting):
    monkeypatch.setenv(config.SERVER_USER_ENV, setting)
    with BlockingClient(impostor, connect_timeout=2) as client:
        assert client.connect()["server"] == "gpiosvr"
        assert client.command("w", 17, 1) == 0
    assert asyncio.run(SocketClient(None, impostor).command("r", 4)) == 0


def test_an_unknown_service_user_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv(config.SERVER_USER_ENV, "no-such-user-here")
    with pytest.raises(ConnectionFailed, match="GPIOSVR_SERVER_USER='no-such-user-here' "
                                               "names no user"):
        BlockingClient(server.socket_path, connect_timeout=2).connect()


def test_root_and_the_own_user_are_trusted(server):
    assert {0, os.geteuid()} <= peercred.trusted_uids()
    with BlockingClient(server.socket_path) as client:
        assert client.command("r", 4) == 1


def test_the_server_refuses_a_directory_anyone_may_write(open_dir):
    path = os.path.join(open_dir, "gpio.sock")
    out = spawn_run([sys.executable, "-m", "gpiosvr.server", "--socket", path],
                    capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr == (f"gpiosvr-server: refusing the socket directory {open_dir}: "
                          f"every user may write it and it has no sticky bit, so anyone "
                          f"could replace the socket; use a directory other users cannot "
                          f"write (or chmod +t it)\n")
    assert os.listdir(open_dir) == []


def test_a_sticky_directory_anyone_may_write_is_accepted(open_dir):
    os.chmod(open_dir, 0o1777)  # as /tmp: others cannot remove our socket
    with ServerThread(os.path.join(open_dir, "gpio.sock"), SimulatedChip()) as srv:
        with BlockingClient(srv.socket_path) as client:
            assert client.command("r", 4) == 1


# ------------------------------------------------------------------ default socket


def test_the_defaults_avoid_directories_others_may_write(monkeypatch, sock_dir):
    monkeypatch.delenv(config.SOCKET_ENV, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", sock_dir)
    user_path = os.path.join(sock_dir, "gpiosvr.sock")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert config.server_socket_path() == user_path
    assert config.socket_path() == user_path  # nothing exists: where our server would be
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    with pytest.raises(config.NoSocketPath, match="pass --socket PATH"):
        config.server_socket_path()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert config.server_socket_path() == config.SERVICE_SOCKET_PATH == "/run/gpiosvr/gpiosvr.sock"
    monkeypatch.setenv(config.SOCKET_ENV, "/elsewhere/g.sock")
    assert config.server_socket_path() == config.socket_path() == "/elsewhere/g.sock"
    assert config.socket_path("/given.sock") == "/given.sock"


def test_a_root_server_makes_its_directory_and_clients_find_it(monkeypatch, sock_dir):
    service = os.path.join(sock_dir, "run", "gpiosvr.sock")
    monkeypatch.setattr(config, "SERVICE_SOCKET_PATH", service)
    monkeypatch.delenv(config.SOCKET_ENV, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", os.path.join(sock_dir, "user"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    old_umask = os.umask(0o077)
    try:
        srv = ServerThread(None, SimulatedChip()).start()
    finally:
        os.umask(old_umask)
    try:
        assert srv.socket_path == service
        assert stat.S_IMODE(os.stat(os.path.dirname(service)).st_mode) == 0o755
        assert config.socket_path() == service
        with BlockingClient() as client:
            assert client.command("r", 4) == 1
        if os.getuid() == 0:  # a user outside the directory's group is told so
            os.chmod(sock_dir, 0o755)
            os.chmod(os.path.dirname(service), 0o750)
            assert run_as(OTHER_UID, lambda: str(connect_unix(config.socket_path(), 600.0))) \
                == (f"ConnectionFailed: cannot connect to the GPIO server at {service}: "
                    f"permission denied: this user may not enter {os.path.dirname(service)}")
    finally:
        srv.stop()
    assert os.listdir(os.path.dirname(service)) == []


# ------------------------------------------------------------------ permission denied



@needs_root
def test_permission_denied_is_reported_as_such_at_once(server):
    os.chmod(os.path.dirname(server.socket_path), 0o755)  # the socket stays 0660 root
    expected = (f"ConnectionFailed: cannot connect to the GPIO server at "
                f"{server.socket_path}: permission denied: the socket is srw-rw---- "
                f"root:root, and this user (uid {OTHER_UID}) is not allowed to connect "
                f"(ask to be added to group root)")
    # A long connect timeout: a refusal that waited for it would show as a hang.
    assert run_as(OTHER_UID, lambda: str(connect_unix(server.socket_path, 600.0))) \
        == expected
    client = SocketClient(None, server.socket_path, connectTimeout_ms=600_000)
    assert run_as(OTHER_UID, lambda: str(asyncio.run(client.command("r", 4)))) == expected


# ------------------------------------------------------------------ one server per path


def start_server(*args: str) -> subprocess.CompletedProcess:
    """``python -m gpiosvr.server`` expected to fail at once."""
    return spawn_run([sys.executable, "-m", "gpiosvr.server", *args],
                     capture_output=True, text=True, timeout=30)


def test_a_second_server_on_the_path_is_refused_even_without_the_socket_file(
        server_process, sock_dir):
    path = server_process.socket_path
    first = server_process.proc.pid
    os.unlink(path)  # someone deletes the socket under the running server
    out = start_server("--socket", path)
    assert out.returncode == 1
    assert out.stderr == (f"gpiosvr-server: another GPIO server (pid {first}) holds "
                          f"{path}.lock: it serves {path} (its socket file was deleted: "
                          f"stop it and start again)\n")
    assert os.listdir(sock_dir) == ["gpio.sock.lock"]
    out = start_server("--socket", path)  # and with the socket there, the same
    assert out.returncode == 1 and f"(pid {first}) holds {path}.lock" in out.stderr


def test_a_server_removes_only_the_socket_it_bound(server_process, sock_dir):
    path = server_process.socket_path
    os.unlink(path)
    newcomer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    newcomer.bind(path)  # another socket now has the path
    try:
        server_process.signal(signal.SIGTERM)
        assert server_process.proc.wait(10) == 0
        assert stat.S_ISSOCK(os.stat(path).st_mode)  # left alone
        assert not os.path.exists(path + ".lock")
    finally:
        newcomer.close()
    os.unlink(path)
    second = ServerProcess(path).start()  # the path is free again
    try:
        with BlockingClient(path) as client:
            assert client.command("r", 4) == 1
    finally:
        second.stop()
    assert os.listdir(sock_dir) == []  # a clean exit leaves nothing


def test_a_server_killed_leaves_a_lock_the_next_one_takes(server_process, sock_dir):
    server_process.kill()
    assert sorted(os.listdir(sock_dir)) == ["gpio.sock", "gpio.sock.lock"]
    again = ServerProcess(server_process.socket_path).start()
    try:
        with open(server_process.socket_path + ".lock") as lock:
            assert lock.read() == f"{again.proc.pid}\n"
    finally:
        again.stop()
    wait_until(lambda: os.listdir(sock_dir) == [])


# ------------------------------------------------------------------ cannot start


@pytest.mark.parametrize("args,message", [
    (["--socket", "/nonexistent/x.sock"], "the socket directory /nonexistent does not exist"),
    (["--socket", "/proc/gpiosvr.sock"],
     "cannot create the lock file /proc/gpiosvr.sock.lock: this directory does not take "
     "new files"),
    (["--group", "no-such-group"], "unknown group 'no-such-group'"),
    (["--admin-group", "no-such-group"], "unknown group 'no-such-group'"),
])
def test_a_server_that_cannot_start_says_why_in_one_line(sock_dir, args, message):
    if "--socket" not in args:
        args = [*args, "--socket", os.path.join(sock_dir, "gpio.sock")]
    out = start_server(*args)
    assert (out.returncode, out.stderr) == (1, f"gpiosvr-server: {message}\n")
    assert os.listdir(sock_dir) == []


def test_no_default_socket_for_a_user_without_a_runtime_dir():
    env = {k: v for k, v in os.environ.items()
           if k not in (config.SOCKET_ENV, "XDG_RUNTIME_DIR")}
    code = ("import os, sys; os.geteuid = lambda: 1000; "
            "from gpiosvr.server.cli import main; sys.exit(main([]))")
    out = spawn_run([sys.executable, "-c", code], capture_output=True, text=True,
                    timeout=30, env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("gpiosvr-server: no socket named and no default for "
                                 "this user: XDG_RUNTIME_DIR is not set; pass --socket")
    assert "\n" not in out.stderr.rstrip("\n")


def _in_own_mount(options: str, sock_dir: str) -> subprocess.CompletedProcess:
    """Start a server on a socket in a tmpfs mounted with ``options`` in a mount
    namespace of its own (gone with the process)."""
    mnt = os.path.join(sock_dir, "mnt")
    os.mkdir(mnt)
    script = (f"mount -t tmpfs -o {options} gpiosvr-test {mnt} || exit 99; "
              f"{sys.executable} -m gpiosvr.server --socket {mnt}/gpio.sock; "
              f"rc=$?; ls -A {mnt} >&2; exit $rc")
    out = spawn_run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     script], capture_output=True, text=True, timeout=30)
    if out.returncode == 99 or "unshare failed" in out.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    return out


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare and root, to mount a file system of its own")
@pytest.mark.parametrize("options,reason", [
    ("ro,size=64k", "Read-only file system"),
    ("nr_inodes=1,size=64k", "No space left on device"),
])
def test_a_read_only_or_full_file_system_is_one_line(sock_dir, options, reason):
    out = _in_own_mount(options, sock_dir)
    mnt = os.path.join(sock_dir, "mnt")
    assert (out.returncode, out.stderr) == (
        1, f"gpiosvr-server: cannot create the lock file {mnt}/gpio.sock.lock: {reason}\n")


def test_the_pid_a_client_claims_does_not_replace_the_kernels(server, caplog):
    caplog.set_level(logging.INFO, logger="gpiosvr")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(server.socket_path)
        sock.sendall(b'@1 hello 1 "liar" 1\n')
        assert sock.recv(65536).startswith(b"@1 {")
    wait_until(lambda: "client hello: name=liar" in caplog.text)
    assert f"client hello: name=liar pid={os.getpid()} uid={os.geteuid()}" in caplog.text
