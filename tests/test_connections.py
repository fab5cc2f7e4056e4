"""Connections: back-pressure, quotas, the partial-frame deadline, safe logs
(docs/reliability.md, "Connections, quotas and logs")."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import resource
import socket
import threading
from typing import Iterator

import pytest

from conftest import OTHER_UID, needs_root, open_to_all, run_as, wait_until
import gpiosvr.pigpio as pigpio
from gpiosvr import config, protocol
from gpiosvr.blocking import BlockingClient
from gpiosvr.channel import Channel
from gpiosvr.client import SocketClient
from gpiosvr.server import app, logsafe, quotas
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.limits import ANSWER_BATCH_BYTES, MAX_CLIENT_NAME_CHARS
from gpiosvr.server.thread import ServerThread


def connection_of(server, pid: int | None = None):
    """The server's only client connection (or the one of ``pid``); on the loop."""
    clients = [c for c in server.server.clients if pid is None or c.session.pid == pid]
    assert len(clients) == 1, clients
    return clients[0]


def read_lines(sock: socket.socket, count: int) -> list[bytes]:
    data = bytearray()
    while data.count(b"\n") < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return bytes(data).split(b"\n")[:count]


# ------------------------------------------------------------------- back-pressure


@pytest.mark.parametrize("command", [b"info", b"br1"])
def test_a_client_that_does_not_read_gets_no_more_answers_made(server, command):
    count = 50_000
    requests = b"".join(b"@%d %s\n" % (i, command) for i in range(1, count + 1))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(server.socket_path)
    sender = threading.Thread(target=sock.sendall, args=(requests,), daemon=True)
    sender.start()

    def write_buffer() -> tuple[int, int, bool]:
        if not server.server.clients:  # connect() returns before the server accepts
            return 0, 0, True
        transport = connection_of(server).transport
        return (transport.get_write_buffer_size(), transport.get_write_buffer_limits()[1],
                transport.is_reading())

    # The server stops reading us once its answers pile up: then look at the pile.
    # (It also stops between two turns of our frames, its write buffer empty.)
    def piled_up() -> bool:
        size, high_water, reading = server.call(write_buffer)
        return not reading and size > high_water

    wait_until(piled_up, timeout=20)
    size, high_water, _ = server.call(write_buffer)
    one_answer = 1024
    assert 0 < size <= high_water + ANSWER_BATCH_BYTES + one_answer

    sock.settimeout(20)
    data = bytearray()
    got = 0
    while got < count:
        chunk = sock.recv(1 << 16)
        assert chunk, f"connection closed after {got} answers"
        data += chunk
        *lines, rest = data.split(b"\n")
        data = bytearray(rest)
        for line in lines:
            got += 1
            assert line.startswith(b"@%d " % got), (got, line[:80])
            assert b"!" not in line, line[:200]
        if got % 5000 < 50:  # now and then, while answers flow: still bounded
            assert server.call(write_buffer)[0] <= high_water + ANSWER_BATCH_BYTES + one_answer
    sender.join(20)
    assert not sender.is_alive()
    sock.close()


# -------------------------------------------------------------------------- logs


def test_the_hello_name_is_cut_and_logged_on_one_line(server, caplog):
    caplog.set_level(logging.INFO)
    name = "evil\n2024-01-01 gpiosvr.server INFO root logged in\x1b[2J" + "x" * 500_000
    frame = protocol.encode_request([("hello", protocol.PROTOCOL_VERSION, name)], 1)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(server.socket_path)
        sock.sendall(frame.encode("ascii"))
        assert read_lines(sock, 1)[0].startswith(b"@1 {")
        kept = server.call(lambda: connection_of(server).session.name)
    assert kept == logsafe.cut(name, MAX_CLIENT_NAME_CHARS)
    assert len(kept) == MAX_CLIENT_NAME_CHARS
    wait_until(lambda: server.server.client_count == 0)
    wait_until(lambda: any("disconnected" in r.getMessage() for r in caplog.records))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("gpiosvr")]
    hello = [line for line in lines if "hello" in line]
    assert len(hello) == 1 and "name=evil\\n2024-01-01 gpiosvr" in hello[0]
    assert "\\x1b[2J" in hello[0]
    for line in lines:
        assert "\n" not in line and "\x1b" not in line
        assert len(line) < 3 * MAX_CLIENT_NAME_CHARS


def test_printable_escapes_what_would_break_a_log_line():
    assert logsafe.printable("plain name") == "plain name"
    assert logsafe.printable("a\nb\r\tc\\d\u202e\x00") == "a\\nb\\r\\tc\\\\d\\u202e\\x00"
    assert logsafe.printable("é ünïcode") == "é ünïcode"
    assert logsafe.printable("y" * 500) == "y" * (MAX_CLIENT_NAME_CHARS - 3) + "..."


def test_connection_lines_are_rate_limited_and_summed_up(server, caplog, monkeypatch):
    monkeypatch.setattr(logsafe, "MAX_LOG_LINES_PER_SECOND", 3)
    caplog.set_level(logging.INFO)
    connections = 20
    for _ in range(connections):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(server.socket_path)
    wait_until(lambda: server.server.client_count == 0)

    def accounted() -> tuple[int, int]:
        messages = [r.getMessage() for r in caplog.records]
        logged = sum(1 for m in messages if m.startswith("client "))
        suppressed = sum(int(m.split()[0]) for m in messages
                         if m.endswith(" connection messages suppressed"))
        return logged, suppressed

    wait_until(lambda: sum(accounted()) == 2 * connections)  # connect + disconnect each
    logged, suppressed = accounted()
    assert suppressed > 0 and logged < 2 * connections


# ------------------------------------------------------------------------ quotas


@contextlib.contextmanager
def connections_as(uid: int, path: str, count: int) -> Iterator[list[str]]:
    """Open ``count`` connections as ``uid`` from a forked child, one after the
    other, each sending ``@1 br1``; yield the first line each got (an answer, or
    the ``*bye`` of a refusal; ``EOF`` if none). The child holds them open until
    the ``with`` block ends."""
    result_r, result_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: plain socket calls only, then _exit
        status = 0
        try:
            os.close(result_r)
            os.close(release_w)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            held = []
            for _ in range(count):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(10)
                sock.connect(path)
                held.append(sock)
                try:
                    sock.sendall(b"@1 br1\n")
                    line = read_lines(sock, 1)[0] or b"EOF"
                except OSError as exc:
                    line = f"EOF {exc!r}".encode()
                os.write(result_w, line + b"\n")
            os.close(result_w)
            os.read(release_r, 1)  # until the parent closes its end
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(result_w, f"!child: {exc!r}\n".encode())
            status = 1
        finally:
            os._exit(status)
    os.close(result_w)
    os.close(release_r)
    try:
        with os.fdopen(result_r, "rb") as pipe:
            lines = pipe.read().decode().splitlines()
        yield lines
    finally:
        os.close(release_w)
        os.waitpid(pid, 0)


def root_is_served(path: str, count: int) -> list[bytes]:
    """Open ``count`` connections as this (root) process; the answer of each."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(path)
            socks.append(sock)
            sock.sendall(b"@2 br1\n")
        return [read_lines(sock, 1)[0].split(b" ")[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@needs_root
def test_a_uid_over_its_connection_cap_is_told_why_and_closed(server, monkeypatch, caplog):
    monkeypatch.setattr(quotas, "MAX_CONNECTIONS_PER_UID", 2)
    open_to_all(server.socket_path)
    with connections_as(OTHER_UID, server.socket_path, 4) as lines:
        assert [line.split(" ")[0] for line in lines[:2]] == ["@1", "@1"]
        assert lines[2:] == [f'*bye "too many connections for uid {OTHER_UID} (limit 2)"'] * 2
        assert root_is_served(server.socket_path, 5) == [b"@2"] * 5  # root: no per-uid cap
    assert any("refused a connection" in r.getMessage() and f"uid={OTHER_UID}" in
               r.getMessage() for r in caplog.records)
    wait_until(lambda: server.server.client_count == 0)
    with connections_as(OTHER_UID, server.socket_path, 2) as lines:  # counts released
        assert [line.split(" ")[0] for line in lines] == ["@1", "@1"]


@needs_root
def test_when_others_fill_the_server_root_still_gets_in(server, monkeypatch):
    monkeypatch.setattr(quotas, "MAX_CONNECTIONS", 3)
    open_to_all(server.socket_path)
    with connections_as(OTHER_UID, server.socket_path, 4) as lines:
        assert [line.split(" ")[0] for line in lines[:3]] == ["@1"] * 3
        assert lines[3] == '*bye "too many connections (limit 3)"'
        assert root_is_served(server.socket_path, 3) == [b"@2"] * 3


def test_the_server_raises_its_fd_limit_and_keeps_connections_below_it(sock_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        with ServerThread(sock_path, SimulatedChip()) as srv:
            raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            quota = srv.server.quotas
            assert raised > low and quota.fd_limit == raised
            assert quota.limit_for_others() == min(quotas.MAX_CONNECTIONS,
                                                   raised - quotas.RESERVED_FDS)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))



@needs_root
@pytest.mark.parametrize("how", ["channel", "blocking", "async keep-alive", "async one-shot",
                                 "pigpio facade"])
def test_a_refused_client_is_shown_the_reason(server, monkeypatch, how):
    monkeypatch.setattr(quotas, "MAX_CONNECTIONS_PER_UID", 0)
    open_to_all(server.socket_path)
    path = server.socket_path

    def attempt() -> str:
        try:
            if how == "pigpio facade":
                os.environ[config.SOCKET_ENV] = path
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    pi = pigpio.pi()
                if pi.connected:
                    return "served"
                return f"ConnectionFailed, printed: {printed.getvalue()}"
            if how == "channel":
                Channel(path, "refused", 5.0, 5.0)
            elif how == "blocking":
                BlockingClient(path, name="refused", connect_timeout=5.0).command("br1")
            else:
                async def main() -> None:
                    client = SocketClient(None, path, name="refused",
                                          isKeepAlive=how == "async keep-alive")
                    try:
                        await client.command("br1")
                    finally:
                        await client.close()
                asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 - what the user sees
            return f"{type(exc).__name__}: {exc}"
        return "served"

    text = run_as(OTHER_UID, attempt)
    assert text.startswith("ConnectionFailed") and \
        f"too many connections for uid {OTHER_UID} (limit 0)" in text, text


# -------------------------------------------------------------- partial frames


def test_an_unfinished_frame_is_told_why_and_closed_idle_connections_stay(server,
                                                                          monkeypatch):
    monkeypatch.setattr(app, "PARTIAL_FRAME_SECONDS", 0.2)
    path = server.socket_path
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.settimeout(10)
    idle.connect(path)
    idle.sendall(b"@1 br1\n")  # a whole frame, then nothing: idle, not partial
    assert read_lines(idle, 1)[0].startswith(b"@1 ")
    bye = b'*bye "frame not finished within 0.2 s (limit PARTIAL_FRAME_SECONDS); closing ' \
          b'the connection"'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.settimeout(10)
        slow.connect(path)
        slow.sendall(b"@1 br1\n@2 br")  # one whole frame, then half of one
        lines = read_lines(slow, 3)
        assert lines[0].startswith(b"@1 ") and lines[1:] == [bye, b""]  # b"": closed
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as endless:
        endless.settimeout(10)
        endless.connect(path)
        endless.sendall(b"x" * (protocol.MAX_FRAME_BYTES + 10))  # skipped, never ends
        lines = read_lines(endless, 3)
        assert b"frame longer than the limit" in lines[0] and lines[1:] == [bye, b""]
    idle.sendall(b"@2 br1\n")  # it waited longer than the deadline, and stays
    assert read_lines(idle, 1)[0].startswith(b"@2 ")
    idle.close()

