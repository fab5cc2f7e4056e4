"""Faults the clients survive and input the server survives (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.client import SocketClient
from gpiosvr.errors import ConnectionFailed, ResponseTimeout
from gpiosvr.simulator import Simulator

from children import spawn
from conftest import ServerProcess, wait_until


# ----------------------------------------------------------------- server restarts


def test_sigkill_and_restart(sock_path, monkeypatch):
    monkeypatch.setenv("GPIOSVR_CONNECT_TIMEOUT", "0.5")
    server = ServerProcess(sock_path).start()
    pi = pigpio.pi(sock_path)
    try:
        got = []
        pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append((lvl, t)))
        pi.write(18, 1)
        server.kill()

        # During the outage calls fail clearly once the connect timeout passes (what
        # the waiting costs in CPU: benchmarks/bench_restart.py)
        for _ in range(3):
            with pytest.raises(pigpio.error) as info:
                pi.read(18)
            assert re.search(r"cannot connect .* within 500 ms|lost", str(info.value)), \
                str(info.value)

        server = ServerProcess(sock_path).start()  # replaces the stale socket
        with BlockingClient(sock_path) as check:
            # the callback connection is back and subscribed (how soon: bench_restart)
            wait_until(lambda: check.command("info")["notify_handles"] == 1, timeout=10)
        assert pi.read(4) == 1  # a new server: fresh chip
        with Simulator(sock_path) as sim:
            sim.inject(20, 1, 1, 777)
            wait_until(lambda: got == [(1, 777)], timeout=10)
    finally:
        pi.stop()
        server.stop()


def restart(server: ServerProcess) -> None:
    """SIGKILL the server, then start a new one on the same socket."""
    server.kill()
    server.proc.stdout.close()
    server.proc.stderr.close()
    server.start()


def first_successful_read(pi, gpio: int) -> int:
    """Call ``pi.read(gpio)`` until it no longer fails; return what it read."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return pi.read(gpio)
        except pigpio.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def test_the_first_call_after_a_restart_returns_with_the_callbacks_back(
        server_process, monkeypatch, caplog):
    monkeypatch.setenv("GPIOSVR_CONNECT_TIMEOUT", "5")
    pi = pigpio.pi(server_process.socket_path)
    try:
        got = []
        pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append((lvl, t)))
        pi.set_watchdog(21, 60000)
        assert pi.reconnects == 0
        with caplog.at_level(logging.WARNING, logger="gpiosvr"):
            restart(server_process)
            assert first_successful_read(pi, 4) == 1
            # At once: every edge from now on reaches the callback
            with BlockingClient(server_process.socket_path) as other:
                other.command("siminject", 20, 50, 10, 1000)
                assert other.command("info")["notify_handles"] == 1
            wait_until(lambda: len(got) >= 50)
        assert got == [((i + 1) % 2, 1000 + 10 * i) for i in range(50)]
        assert pi.reconnects == 1
        assert re.search(r"reconnected to the GPIO server at \S+ after \d+ ms: "
                         r"edges in between were not seen", caplog.text), caplog.text
    finally:
        pi.stop()


def test_watchdogs_and_filters_are_restored_on_the_new_server(sock_path):
    server = ServerProcess(sock_path).start()
    pi = pigpio.pi(sock_path)
    try:
        timeouts, edges = [], []
        pi.callback(6, pigpio.EITHER_EDGE, lambda g, lvl, t: timeouts.append(lvl))
        pi.callback(7, pigpio.EITHER_EDGE, lambda g, lvl, t: edges.append((lvl, t)))
        pi.set_glitch_filter(7, 1000)
        pi.set_watchdog(6, 20)
        wait_until(lambda: timeouts)
        server.kill()
        server = ServerProcess(sock_path).start()
        with BlockingClient(sock_path) as check:
            wait_until(lambda: check.command("info")["notify_handles"] == 1, timeout=10)
        timeouts.clear()
        wait_until(lambda: len(timeouts) >= 2)  # the new server runs the old watchdog
        assert set(timeouts) == {pigpio.TIMEOUT}
        with Simulator(sock_path) as sim:
            sim.inject(7, 2, 100, 5000)  # a 100 µs glitch: the restored filter drops it
            sim.inject(7, 1, 1, 20000)  # a steady rise: stamped 1000 µs later
        wait_until(lambda: edges)
        assert edges == [(0, 21000)]  # GPIO 7 is pulled up: the steady edge falls
    finally:
        pi.stop()
        server.stop()


# ----------------------------------------------------------------- paused server


def test_sigstop_calls_time_out_then_answers_match_again(server_process):
    client = BlockingClient(server_process.socket_path, response_timeout=0.3)
    try:
        for g in (10, 11):
            client.command("w", g, g % 2)
        server_process.signal(signal.SIGSTOP)
        for g in (10, 11, 10):
            with pytest.raises(ResponseTimeout, match="within 300 ms"):
                client.command("r", g)
        server_process.signal(signal.SIGCONT)
        # the three late answers arrive now; none may be taken for these
        for _ in range(20):
            assert client.command("r", 10) == 0
            assert client.command("r", 11) == 1
    finally:
        server_process.signal(signal.SIGCONT)
        client.close()


# -------------------------------------------------- connection closed mid-answer


def test_server_closing_mid_response(sock_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen()

    def half_answer():
        conn, _ = listener.accept()
        hello = conn.recv(4096)
        conn.sendall(hello.split(b" ")[0] + b' {"server":"flaky"}\n')
        request = conn.recv(4096)
        conn.sendall(request.split(b" ")[0] + b" 12")  # no end of frame
        conn.close()

    threading.Thread(target=half_answer, daemon=True).start()
    client = BlockingClient(sock_path, response_timeout=5, connect_timeout=0.3)
    try:
        with pytest.raises(ConnectionFailed):  # the close, not the 5 s response timeout
            client.command("r", 4)
    finally:
        client.close()
        listener.close()


# ------------------------------------------------------------ hostile input


def healthy(path: str) -> None:
    with BlockingClient(path, response_timeout=5) as c:
        assert c.command("r", 4) == 1


def send_raw(path: str, data: bytes, mode: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    try:
        s.sendall(data)
        if mode == "half-close":
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except (TimeoutError, ConnectionError):
                pass
        elif mode == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        s.close()


frames = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(["r 4", "w 99 1", "zz", "m 4 q", '"x', "[[", "%z", "@"]),
             min_size=1, max_size=3000).map(lambda cs: ";".join(cs).encode() + b"\n"),
    st.integers(1, 3).map(lambda n: b"w 4 " + b"9" * (n << 20) + b"\n"),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=frames, mode=st.sampled_from(["close", "half-close", "reset"]))
def test_fuzzed_frames_never_disturb_a_well_behaved_client(server_process, data, mode):
    send_raw(server_process.socket_path, data, mode)
    healthy(server_process.socket_path)


def test_random_bytes_and_memory_stays_bounded(server_process):
    rng = random.Random(1234)
    path = server_process.socket_path
    healthy(path)
    before = server_process.rss_kib()
    for i in range(300):
        size = rng.choice([10, 1000, 100_000, 1_500_000])
        data = rng.randbytes(size)
        if i % 3 == 0:
            data = data.replace(b"\n", b"")  # one endless line
        send_raw(path, data, rng.choice(["close", "half-close", "reset"]))
        if i % 50 == 0:
            healthy(path)
    healthy(path)
    growth = server_process.rss_kib() - before
    assert growth < 64 * 1024, f"server grew by {growth} KiB"


def test_a_client_that_never_reads_its_answers_is_paused_not_buffered(server_process):
    path = server_process.socket_path
    greedy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    greedy.connect(path)
    greedy.setblocking(False)
    before = server_process.rss_kib()
    sent = 0
    frame = b"info;" * 1000 + b"info\n"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent < 200 * 1024 * 1024:
        try:
            sent += greedy.send(frame)
        except BlockingIOError:
            break  # the server stopped reading us: back-pressure works
    healthy(path)
    assert server_process.rss_kib() - before < 64 * 1024
    greedy.close()


# --------------------------------------------------------------- many clients


def test_200_clients_at_once(server_process):
    async def one(i: int) -> int:
        c = SocketClient(None, server_process.socket_path, name=f"c{i}", isKeepAlive=True,
                         responseTimeout_ms=20000)
        ok = 0
        for n in range(10):
            rs = await c.request([("w", 20 + i % 8, (i + n) % 2), ("r", 20 + i % 8)])
            ok += rs[1].result() == (i + n) % 2
        peak = (await c.command("info"))["clients"]
        await c.close()
        return ok, peak

    async def main():
        return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(main())
    assert [ok for ok, _ in results] == [10] * 200
    assert max(peak for _, peak in results) > 100  # they really were there together


WRITER = r"""
import sys
from gpiosvr.blocking import BlockingClient
path, me, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bit = 1 << (16 + me)
with BlockingClient(path) as c:
    for _ in range(rounds):
        c.command("bs1", bit)
        if not c.command("br1") & bit:
            sys.exit("lost my set")
        c.command("bc1", bit)
        if c.command("br1") & bit:
            sys.exit("lost my clear")
        w, r = c.request([("w", 16 + me, 1), ("r", 16 + me)])
        if r.result() != 1:
            sys.exit("torn batch")
        c.command("w", 16 + me, 0)
    c.command("bs1", bit)
"""


def test_concurrent_writers_in_several_processes(server_process):
    path = server_process.socket_path
    with BlockingClient(path) as c:
        for me in range(6):
            c.command("w", 16 + me, 0)  # outputs, so latches show
    procs = [spawn([sys.executable, "-c", WRITER, path, str(me), "300"],
                   stderr=subprocess.PIPE, text=True) for me in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with BlockingClient(path) as c:
        assert c.command("br1") >> 16 & 0b111111 == 0b111111  # every last set landed


# --------------------------------------------------------------- access control


def test_group_option_owns_the_socket(sock_path):
    group = grp.getgrgid(os.getgid()).gr_name
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", sock_path,
                  "--group", group, "--log-level", "INFO"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in proc.stdout.readline()
        st_ = os.stat(sock_path)
        assert st_.st_gid == os.getgid() and st_.st_mode & 0o777 == 0o660
        with BlockingClient(sock_path, name="auditor") as c:
            c.command("r", 4)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"client connected: pid={os.getpid()} uid={os.getuid()}" in err
    assert f"client hello: name=auditor pid={os.getpid()} uid={os.getuid()}" in err
    assert "client disconnected: auditor" in err


def test_no_tcp_listener(server_process):
    inodes = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{server_process.proc.pid}/net/{table}") as tcp:
            inodes |= {line.split()[9] for line in tcp.readlines()[1:]
                       if line.split()[3] == "0A"}  # 0A: LISTEN
    fds = os.listdir(f"/proc/{server_process.proc.pid}/fd")
    links = {os.readlink(f"/proc/{server_process.proc.pid}/fd/{fd}") for fd in fds}
    assert not {f"socket:[{i}]" for i in inodes} & links
