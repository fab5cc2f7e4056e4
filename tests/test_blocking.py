"""BlockingClient: threads, timeouts, its own loop thread, Ctrl-C, close, fork, idle."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from gpiosvr.blocking import BlockingClient, LoopThreadCallError
from gpiosvr.errors import ConnectionFailed, PigpioError, ResponseTimeout

from conftest import ServerProcess, wait_until


@pytest.fixture
def client(server):
    c = BlockingClient(server.socket_path, name="blocking-test")
    yield c
    c.close()


def test_calls_and_errors(client):
    assert client.command("w", 18, 1) == 0
    assert client.command("r", 18) == 1
    with pytest.raises(PigpioError) as info:
        client.command("w", 60, 1)
    assert info.value.code == -3
    rs = client.request([("r", 18), ("zz",)])
    assert rs[0].result() == 1 and rs[1].exception().code == -88
    assert client.server_info["backend"] == "sim"


def test_threads_share_one_client_and_get_their_own_answers(client):
    for g in range(20, 28):
        client.command("w", g, g % 2)
    errors: list[str] = []

    def worker(g: int) -> None:
        for _ in range(200):
            got = client.command("r", g)
            if got != g % 2:
                errors.append(f"GPIO {g}: {got}")

    threads = [threading.Thread(target=worker, args=(g,)) for g in range(20, 28)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors


def test_concurrent_calls_are_in_flight_together(sock_path):
    """Two threads' requests both reach the server before either is answered, and
    answers given in the reverse order still reach the thread that asked."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen()

    def fake_server():
        pending = []  # (connection, request id, gpio) of requests not answered yet
        while len(pending) < 2:  # both requests arrive before either is answered
            conn, _ = listener.accept()
            hello = conn.recv(4096)
            conn.sendall(hello.split(b" ")[0] + b' {"server":"fake"}\n')
            request_id, _, gpio = conn.recv(4096).strip().split(b" ")
            pending.append((conn, request_id, gpio))
        for conn, request_id, gpio in reversed(pending):
            conn.sendall(request_id + b" " + gpio + b"0\n")  # answer: gpio * 10

    threading.Thread(target=fake_server, daemon=True).start()
    c = BlockingClient(sock_path, response_timeout=5)
    try:
        results: dict[int, int] = {}
        callers = [threading.Thread(target=lambda k=k: results.update({k: c.command("r", k)}))
                   for k in (1, 2)]
        for th in callers:
            th.start()
        for th in callers:
            th.join(10)
        assert results == {1: 10, 2: 20}
    finally:
        c.close()
        listener.close()


def silent_listener(path: str):
    """A server that completes the handshake and then never answers."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    conns = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conns.append(conn)
            buf = conn.recv(4096)
            rid = buf.split(b" ")[0]
            conn.sendall(rid + b' {"server":"silent"}\n')

    threading.Thread(target=serve, daemon=True).start()
    return listener, conns


def test_per_call_timeout_and_late_answers_are_dropped(sock_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen()
    ids: dict[bytes, bytes] = {}

    def slow_server():
        conn, _ = listener.accept()
        frames = conn.makefile("rb")
        hello_id = frames.readline().split(b" ")[0]
        conn.sendall(hello_id + b' {"server":"slow"}\n')
        for line in frames:
            request_id, _, gpio = line.strip().split(b" ")
            ids[gpio] = request_id
            if gpio == b"5":  # only now answer "r 4" (late), then "r 5"
                conn.sendall(ids[b"4"] + b" 1\n" + request_id + b" 0\n")
                return

    threading.Thread(target=slow_server, daemon=True).start()
    c = BlockingClient(sock_path, response_timeout=5)
    try:
        with pytest.raises(ResponseTimeout, match="within 200 ms"):  # not the client's 5 s
            c.command("r", 4, timeout=0.2)
        assert c.command("r", 5, timeout=3) == 0  # not the late "1" meant for "r 4"
        assert ids[b"4"] != ids[b"5"]
    finally:
        c.close()
        listener.close()


@pytest.mark.parametrize("abandon", ["timeout", "ctrl-c"])
def test_short_calls_share_an_id_until_one_is_abandoned(sock_path, abandon):
    """The everyday call reuses its request id while every answer comes; one that
    times out or is interrupted retires it, so that its late answer (here arriving
    in one read with the next call's) is never taken for another call's."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen()
    seen: list[tuple[bytes, bytes]] = []  # (id, gpio) of each "r" request

    def server():
        conn, _ = listener.accept()
        frames = conn.makefile("rb")
        hello_id = frames.readline().split(b" ")[0]
        conn.sendall(hello_id + b' {"server":"test"}\n')
        late = b""
        for line in frames:
            request_id, _, gpio = line.strip().split(b" ")
            seen.append((request_id, gpio))
            answer = request_id + (b" 1\n" if gpio == b"4" else b" 0\n")
            if gpio == b"4" and len(seen) == 4:
                late = answer  # held back: sent with the next request's answer
                continue
            conn.sendall(late + answer)
            late = b""

    threading.Thread(target=server, daemon=True).start()
    c = BlockingClient(sock_path, response_timeout=0.3 if abandon == "timeout" else 30)
    # (as in test_ctrl_c_while_blocked_returns_promptly: SIGINT may be left ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert [c.command("r", 6) for _ in range(3)] == [0, 0, 0]
        if abandon == "timeout":
            with pytest.raises(ResponseTimeout):
                c.command("r", 4)
        else:
            timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                c.command("r", 4)
        assert c.command("r", 5) == 0  # not the late "1" meant for "r 4"
        assert [c.command("r", 6) for _ in range(2)] == [0, 0]
        assert c.command("r", 4) == 1
    finally:
        signal.signal(signal.SIGINT, previous)
        c.close()
        listener.close()
    ids = [request_id for request_id, _ in seen]
    assert [gpio for _, gpio in seen] == [b"6", b"6", b"6", b"4", b"5", b"6", b"6", b"4"]
    # (the first call sets the socket's timeouts, the general way, with an id of its own)
    assert len(set(ids[1:4])) == 1  # shared until "r 4" was abandoned
    assert len(set(ids[4:])) == 1 and ids[4] not in ids[:4]


def test_call_from_the_loop_thread_raises_instead_of_deadlocking(client):
    client.connect()
    seen: list = []

    def on_loop():
        try:
            client.command("r", 4)
        except LoopThreadCallError as exc:
            seen.append(exc)

    client.loop.call_soon_threadsafe(on_loop)
    wait_until(lambda: seen)
    assert "own event-loop thread" in str(seen[0])
    assert client.command("r", 4) == 1


def test_works_inside_a_running_event_loop(client):
    async def main():
        return client.command("r", 4), await asyncio.to_thread(client.command, "r", 4)

    assert asyncio.run(main()) == (1, 1)


def test_ctrl_c_while_blocked_returns_promptly(sock_path):
    """Ctrl-C interrupts a call whose answer never comes: KeyboardInterrupt, not
    the 30 s response timeout's error."""
    listener, _ = silent_listener(sock_path)
    c = BlockingClient(sock_path, response_timeout=30)
    # Python leaves SIGINT ignored when its parent ignored it (a job started with &):
    # give it the handler a terminal's Ctrl-C meets.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        c.connect()
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            c.command("r", 4)
    finally:
        signal.signal(signal.SIGINT, previous)
        c.close()
        listener.close()


def server_clients(server) -> int:
    return server.call(lambda: server.server.client_count)


def test_close_is_idempotent_bounded_and_final(server):
    c = BlockingClient(server.socket_path)
    c.command("r", 4)
    c.call_async(lambda client: client.read(4))  # the loop thread is running too
    thread = c._resources.runtime.thread
    assert server_clients(server) == 2
    c.close()
    c.close()
    c.stop()
    assert not thread.is_alive()  # close waited for it: bounded, not given up
    wait_until(lambda: server_clients(server) == 0)
    with pytest.raises(ConnectionFailed):
        c.command("r", 4)


def test_a_forgotten_client_is_cleaned_up(server):
    c = BlockingClient(server.socket_path)
    c.command("r", 4)
    c.call_async(lambda client: client.read(4))
    thread = c._resources.runtime.thread
    del c
    wait_until(lambda: not thread.is_alive())
    wait_until(lambda: server_clients(server) == 0)


def test_no_server_fails_clearly_within_the_connect_timeout(sock_path):
    c = BlockingClient(sock_path, connect_timeout=0.3)
    with pytest.raises(ConnectionFailed, match="cannot connect .* within 300 ms"):
        c.command("r", 4)
    c.close()


def test_child_after_fork_gets_a_connection_of_its_own(client):
    client.command("w", 22, 1)
    pid = os.fork()
    if pid == 0:  # child: must not hang, must work
        code = 1
        try:
            signal.alarm(10)
            client.command("w", 23, 1)
            code = 0 if client.command("r", 22) == 1 else 2
            client.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.command("r", 23) == 1  # the parent still works


def test_an_idle_client_uses_no_cpu(client):
    client.connect()
    client.call_async(lambda c: c.read(4))
    tid = client._resources.runtime.thread.native_id
    stat = f"/proc/self/task/{tid}/stat"

    def cpu_ticks() -> int:
        fields = open(stat).read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = cpu_ticks()
    time.sleep(1.0)  # measuring idleness, not synchronising
    used = (cpu_ticks() - before) / os.sysconf("SC_CLK_TCK")
    assert used < 0.05, f"loop thread used {used:.3f} s of CPU while idle"
    assert resource.getrusage(resource.RUSAGE_SELF)  # sanity: rusage works here


STOP_AND_EXIT = r"""
import os, signal, sys, time
import gpiosvr.pigpio as pigpio
path, server_pid, kill = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "kill"
pi = pigpio.pi(path)
pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: None)
pi.set_watchdog(21, 100)
pi.callback(22).cancel()
if kill:  # stop() while the callback connection is reconnecting
    os.kill(server_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pi.sl.s._resources.runtime.client.is_connected and time.monotonic() < deadline:
        time.sleep(0.005)
pi.stop()
"""


@pytest.mark.parametrize("kill", ["kill", "keep"])
def test_stop_then_exit_leaves_no_pending_task_behind(sock_path, kill):
    server = ServerProcess(sock_path).start()
    try:
        out = subprocess.run([sys.executable, "-X", "dev", "-c", STOP_AND_EXIT, sock_path,
                              str(server.proc.pid), kill],
                             capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert "Task was destroyed" not in out.stderr
    assert "Traceback" not in out.stderr and "Exception" not in out.stderr, out.stderr
