"""The seed API: Response semantics and SocketClient's parameters, on a real server."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import pytest

from gpiosvr.client import (GpioDirection, GpioLevel, GpioPull, RequestDelimiters,
                            Response, SocketClient)
from gpiosvr.errors import ConnectionFailed, PigpioError, ResponseTimeout
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread

from conftest import wait_until


# ---------------------------------------------------------------- Response


def test_set_result_converts_only_ascii_digit_strings():
    cases = {"42": 42, "007": 7, "-5": "-5", "4.2": "4.2", "": "", "²": "²", "٣": "٣",
             " 1": " 1", "abc": "abc"}
    for given, expected in cases.items():
        r = Response()
        r.set_result(given)
        assert r.result() == expected and type(r.result()) is type(expected)
    assert Response("12").result() == 12


def test_result_raises_last_exception_and_keeps_all():
    r = Response(5)
    first, last = PigpioError(-3), ValueError("second")
    r.append_exception(first)
    r.append_exception(last)
    assert r.done()
    assert r.exception() is last
    assert r.exceptions() == [first, last]
    with pytest.raises(ValueError, match="second"):
        r.result()
    r.set_exception(first)
    assert r.exceptions() == [first]
    with pytest.raises(PigpioError):
        r.result()


def test_empty_response_is_not_done():
    r = Response()
    assert not r.done() and r.exception() is None and r.exceptions() == []
    with pytest.raises(asyncio.InvalidStateError):
        r.result()
    r.set_result(None)
    assert r.done() and r.result() is None


def test_enums_have_pigpio_values():
    assert (GpioDirection.INPUT, GpioDirection.OUTPUT) == (0, 1)
    assert (GpioLevel.LOW, GpioLevel.HIGH, GpioLevel.TIMEOUT) == (0, 1, 2)
    assert (GpioPull.OFF, GpioPull.DOWN, GpioPull.UP) == (0, 1, 2)
    assert RequestDelimiters.COMMAND == ";" and RequestDelimiters.REQUEST == "\n"


# ---------------------------------------------------------------- SocketClient


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("keep_alive", [False, True])
def test_request_runs_several_commands(server, keep_alive):
    async def main():
        c = SocketClient(None, server.socket_path, name="t", isKeepAlive=keep_alive)
        rs = await c.request([("w", 18, 1), ("r", 18), ("w", 99, 0), ("r", 18)])
        await c.close()
        return rs, c.server_info

    rs, info = run(main())
    assert [r.done() for r in rs] == [True] * 4
    assert rs[1].result() == 1 and rs[3].result() == 1
    assert rs[2].exception().code == -3
    assert info["server"] == "gpiosvr" and info["backend"] == "sim"


def test_connect_retries_until_the_server_appears(sock_path):
    srv = ServerThread(sock_path, SimulatedChip())
    starter = threading.Timer(0.3, srv.start)
    starter.start()
    try:
        async def main():
            c = SocketClient(None, sock_path, connectTimeout_ms=5000)
            t0 = time.monotonic()
            level = await c.command("r", 4)
            return level, time.monotonic() - t0

        level, waited = run(main())
        assert level == 1 and waited >= 0.25
    finally:
        starter.join()
        srv.stop()


def test_connect_timeout_raises_connection_failed(sock_path):
    async def main():
        c = SocketClient(None, sock_path, connectTimeout_ms=200)
        t0 = time.monotonic()
        with pytest.raises(ConnectionFailed, match="within 200 ms"):
            await c.command("t")
        return time.monotonic() - t0

    assert 0.15 < run(main()) < 3


@pytest.mark.parametrize("keep_alive", [False, True])
def test_responses_longer_than_the_buffer_arrive_whole(server, keep_alive):
    async def main():
        c = SocketClient(None, server.socket_path, responseBufferSize=3,
                         isKeepAlive=keep_alive)
        rs = await c.request([("r", g) for g in range(54)] + [("info",)])
        await c.close()
        return rs

    rs = run(main())
    levels = [r.result() for r in rs[:54]]
    assert levels == [1] * 9 + [0] * 39 + [1] * 6  # 48-53: the SD card's lines
    assert rs[54].result()["protocol"] == 1


def silent_server(path: str, stop: threading.Event) -> threading.Thread:
    """A socket that accepts and reads but never answers."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    listener.settimeout(0.05)

    def serve():
        conns = []
        while not stop.is_set():
            try:
                conns.append(listener.accept()[0])
            except TimeoutError:
                pass
        for c in conns:
            c.close()
        listener.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("keep_alive", [False, True])
def test_response_timeout(sock_path, keep_alive):
    stop = threading.Event()
    t = silent_server(sock_path, stop)
    try:
        async def main():
            c = SocketClient(None, sock_path, responseTimeout_ms=150,
                             connectTimeout_ms=300, isKeepAlive=keep_alive)
            t0 = time.monotonic()
            with pytest.raises(ResponseTimeout):
                await c.command("t")
            elapsed = time.monotonic() - t0
            await c.close()
            return elapsed

        assert 0.1 < run(main()) < 2
    finally:
        stop.set()
        t.join(5)


def test_keep_alive_uses_one_connection(server):
    async def main():
        kept = SocketClient(None, server.socket_path, isKeepAlive=True)
        counts = []
        for _ in range(5):
            counts.append((await kept.command("info"))["clients"])
        await kept.close()
        return counts

    assert run(main()) == [1] * 5


def test_one_shot_connections_close_after_each_request(server):
    def server_clients():
        return server.call(lambda: server.server.client_count)

    c = SocketClient(None, server.socket_path, isKeepAlive=False)
    for _ in range(3):
        assert run(c.command("info"))["clients"] == 1
        wait_until(lambda: server_clients() == 0)
    assert not c.is_connected


def test_concurrent_requests_on_one_connection_get_their_own_answers(server):
    async def main():
        c = SocketClient(None, server.socket_path, isKeepAlive=True)
        await c.command("w", 20, 1)
        await c.command("w", 21, 0)
        results = await asyncio.gather(*(c.command("r", 20 + i % 2) for i in range(200)))
        await c.close()
        return results

    assert run(main()) == [1 - i % 2 for i in range(200)]


def test_close_fails_waiting_requests_and_stop_is_idempotent(sock_path):
    stop = threading.Event()
    t = silent_server(sock_path, stop)
    try:
        async def main():
            c = SocketClient(None, sock_path, responseTimeout_ms=5000, isKeepAlive=True)
            task = asyncio.ensure_future(c.command("t"))
            await asyncio.sleep(0.1)
            c.stop()
            c.stop()
            with pytest.raises(ConnectionFailed):
                await task
            await c.close()

        run(main())
    finally:
        stop.set()
        t.join(5)


def test_socket_path_defaults_to_environment(server, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    c = SocketClient(None, None)
    assert c.socketPath == server.socket_path
    assert run(c.command("pigpv")) == 79
    assert os.environ["GPIO_SOCKET_PATH"] == server.socket_path
