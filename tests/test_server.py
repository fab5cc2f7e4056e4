"""The socket server: bad requests, many clients, socket ownership, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys

import pytest

from children import spawn
from conftest import OTHER_UID, ask_as, needs_root, open_fds, open_to_all
from gpiosvr.client import SocketClient
from gpiosvr.server import GpioServer, ServerAlreadyRunning
from gpiosvr.server.app import ClientConnection
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread



def raw_exchange(path: str, payload: bytes, lines: int) -> list[str]:
    """Send raw bytes, read ``lines`` answer lines."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(payload)
        data = b""
        while data.count(b"\n") < lines:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode("ascii").splitlines()


@pytest.mark.parametrize("request_text,code", [
    ("zz 1", -88), ("w 54 1", -3), ("w 4 2", -5), ("m 4 x", -4), ("m 4 9", -4),
    ("pud 4 q", -6), ("w 4", -81), ("r", -81), ("r 4 5", -81), ("w a 1", -3),
    ("bs1 -1", -81), ("t 1", -81), ("mg 99", -3),
])
def test_bad_requests_get_pigpio_codes(server, request_text, code):
    (line,) = raw_exchange(server.socket_path, f"@9 {request_text}\n".encode(), 1)
    assert line.startswith(f"@9 null !PigpioError:{code}:")


def test_humans_can_type_pigs_commands(server):
    lines = raw_exchange(server.socket_path, b"w 18 1\nr 18\nmg 18\n\nhwver\n", 4)
    assert lines == ["0", "1", "1", str(0xA02082)]


def test_garbage_is_answered_and_the_connection_survives(server):
    payload = b"\xff\xfe r 4\n@5 r 4 \"unterminated\n[[[\n@6 r 4\n"
    lines = raw_exchange(server.socket_path, payload, 4)
    assert "ProtocolError" in lines[0]
    assert lines[1].startswith("@5 null !ProtocolError")
    assert "ProtocolError" in lines[2]
    assert lines[3] == "@6 1"


def test_over_long_frame_is_refused_then_next_frame_served(server):
    payload = b"@1 w 4 " + b"1" * (1 << 21) + b"\n@2 r 4\n"
    lines = raw_exchange(server.socket_path, payload, 2)
    assert lines[0].startswith("@1 null !ProtocolError") and "longer than" in lines[0]
    assert lines[1] == "@2 1"
    just_over = b"@3 r " + b"4" * (1 << 20) + b"\n@4 r 4\n"  # arrives in one piece
    lines = raw_exchange(server.socket_path, just_over, 2)
    assert lines[0].startswith("@3 null !ProtocolError") and lines[1] == "@4 1"


def test_many_clients_at_once_each_get_their_answers(server):
    async def one(i: int) -> list[int]:
        c = SocketClient(None, server.socket_path, name=f"c{i}", isKeepAlive=True)
        got = []
        for n in range(10):
            level = (i + n) % 2
            rs = await c.request([("w", 20 + i % 8, level), ("r", 20 + i % 8)])
            got.append(rs[1].result() == level or "other writer")
        await c.close()
        return got

    async def main():
        return await asyncio.gather(*(one(i) for i in range(64)))

    results = asyncio.run(main())
    # each request writes then reads in one batch: nothing slips in between
    assert all(r is True for rs in results for r in rs)


def test_a_misbehaving_client_does_not_disturb_others(server):
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(server.socket_path)
    bad.sendall(b"w 4 " + b"9" * 1000)  # half a frame, never finished
    try:
        c = SocketClient(None, server.socket_path)
        assert asyncio.run(c.command("r", 4)) == 1
    finally:
        bad.close()


def test_hello_with_wrong_version_is_refused(server):
    (line,) = raw_exchange(server.socket_path, b'hello 99 "x"\n', 1)
    assert line.startswith("null !ProtocolError::") and "version 99" in line


def test_socket_mode_and_second_server_refused(server):
    assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o660
    with pytest.raises(ServerAlreadyRunning):
        asyncio.run(GpioServer(server.socket_path).start())
    c = SocketClient(None, server.socket_path)
    assert asyncio.run(c.command("r", 4)) == 1  # the first one still serves


def test_stale_socket_is_replaced_and_other_files_are_not(sock_path, sock_dir):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock_path)
    stale.close()  # the file stays, nobody listens: a crashed server's leftover
    with ServerThread(sock_path, SimulatedChip()) as srv:
        assert asyncio.run(SocketClient(None, srv.socket_path).command("r", 4)) == 1
    plain = os.path.join(sock_dir, "plain")
    open(plain, "w").close()
    with pytest.raises(ServerAlreadyRunning, match="not a socket"):
        ServerThread(plain, SimulatedChip()).start()
    assert os.path.exists(plain)


def test_server_info(server):
    info = asyncio.run(SocketClient(None, server.socket_path).command("info"))
    assert info["server"] == "gpiosvr" and info["backend"] == "sim"
    assert info["hardware_revision"] == 0xA02082 and info["protocol"] == 1


def start_cli(args, env=None):
    """``gpiosvr-server`` once it serves: its "serving" line (``proc.serving``) comes
    after its SIGTERM and SIGINT handlers are in place, so a signal sent from then on
    stops it gracefully rather than killing it."""
    proc = spawn([sys.executable, "-m", "gpiosvr.server", *args],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                 env={**os.environ, **(env or {})})
    proc.serving = proc.stdout.readline()
    if "serving" not in proc.serving:
        proc.kill()
        raise AssertionError(f"the server did not start: {proc.communicate(timeout=30)}")
    return proc


@pytest.mark.parametrize("how", ["option", "environment"])
def test_cli_serves_on_the_chosen_socket(sock_path, how):
    args = ["--socket", sock_path, "--hwrev", "0xa22082"] if how == "option" \
        else ["--hwrev", "0xa22082"]
    proc = start_cli(args, env={"GPIO_SOCKET_PATH": sock_path} if how != "option" else None)
    try:
        c = SocketClient(None, sock_path, connectTimeout_ms=10000)
        assert asyncio.run(c.command("hwver")) == 0xA22082
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"serving sim on {sock_path} (uvloop loop)" in proc.serving
    assert "client connected: pid=" in err
    assert not os.path.exists(sock_path)


def test_sigterm_stops_scripts_tells_clients_and_removes_the_socket(sock_path):
    proc = start_cli(["--socket", sock_path])
    stopping = False
    try:
        c = SocketClient(None, sock_path, connectTimeout_ms=10000)
        sid = asyncio.run(c.command("proc", "tag 1 mils 10 jmp 1"))
        asyncio.run(c.command("procr", sid))
        watcher = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        watcher.settimeout(30)
        watcher.connect(sock_path)
        watcher.sendall(b"r 4\n")
        assert watcher.recv(100) == b"1\n"
        proc.send_signal(signal.SIGTERM)
        stopping = True  # a second SIGTERM after the loop closed would kill it
        data = b""
        while True:
            chunk = watcher.recv(100)
            if not chunk:
                break
            data += chunk
        assert data == b'*bye "server shutting down"\n'
    finally:
        if not stopping:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "1 running script(s) stopped" in err
    assert not os.path.exists(sock_path)


def test_log_requests_shows_every_request_and_answer(sock_path):
    proc = start_cli(["--socket", sock_path, "--log-requests"])
    try:
        lines = raw_exchange_when_up(sock_path, b"r 4\n@7 w 99 1\n", 2)
        assert lines[0] == "1"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "<- b'r 4\\n@7 w 99 1\\n'" in err
    assert "-> b'1\\n@7 null !PigpioError:-3:" in err


def raw_exchange_when_up(path: str, payload: bytes, lines: int) -> list[str]:
    """:func:`raw_exchange` once the server answers (the client waits for it)."""
    asyncio.run(SocketClient(None, path, connectTimeout_ms=10000).command("t"))
    return raw_exchange(path, payload, lines)


def test_short_path_answers_byte_for_byte_as_the_general_way():
    """``short_answer`` (the everyday frame, run the short way) gives the bytes the
    general decoder and executor give, or declines; state changes match too."""
    from gpiosvr.server.app import ClientConnection, short_answer

    frames = [b"@1 r 4\n", b"@2 w 4 1\n", b"@3 r 4\n", b"@4 w 4 0\n", b"@5 mg 4\n",
              b"@6 m 5 1\n", b"@7 mg 5\n", b"@8 m 5 4\n", b"@9 mg 5\n", b"@10 br1\n",
              b"@11 bs1 96\n", b"@12 br1\n", b"@13 bc1 32\n", b"@14 br2\n", b"@15 hwver\n",
              b"@16 pigpv\n", b"@17 w 54 1\n", b"@18 w 4 2\n", b"@19 r 99\n", b"@20 r\n",
              b"@21 r 4 5\n", b"@22 zz 1\n", b"@23 m 4 9\n", b"@24 bs1 4294967296\n",
              b"@25 pud 4 1\n", b"@26 gdc 4\n", b"@27 p 18 128\n", b"@28 gdc 18\n",
              b"@29 w 18 1\n", b"@30 gdc 18\n", b"@31 r 4\n",
              b"@123456789012345678 r 4\n", b"@1234567890123456789 r 4\n", b"@x r 4\n",
              b"@32 r  4\n", b"@33 r 4 \n", b"@34 R 4\n", b"@35 r -4\n", b"@36 r 0x4\n",
              b"@37 r 4\n@38 r 5\n", b"@39 r 4", b"r 4\n", b"@40 r 1234567890\n",
              b"@41 w 4 1;r 4\n", b"@42 r 4 # a comment\n"]
    short_server, general_server = GpioServer("/nonexistent/a"), GpioServer("/nonexistent/b")
    short, general = ClientConnection(short_server), ClientConnection(general_server)
    taken = 0
    for frame in frames:
        expected = None
        if frame.endswith(b"\n") and frame.count(b"\n") == 1:
            expected = general.handle_frame(frame[:-1]).encode("ascii")
        answer = short_answer(short.session, frame)
        if answer is None:
            if expected is not None:
                assert short.handle_frame(frame[:-1]).encode("ascii") == expected
        else:
            taken += 1
            assert answer == expected, frame
    assert taken >= 30
    assert short_server.backend.read_bank(1) == general_server.backend.read_bank(1)


class _Recorder:
    """What a connection wrote (the transport's side the tests look at)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


@pytest.mark.parametrize("remembered", [None, 2])
def test_a_connection_answers_each_frame_as_the_general_way(monkeypatch, remembered):
    """``data_received`` takes a frame parsed before the short way, written out (not
    through ``short_answer``), and remembers frames seen whole (id and all): the
    same bytes as the general decoder and executor, the first time a frame is seen
    and the next, when its answer changes, and when there are more frames than it
    remembers (``remembered``)."""
    from gpiosvr.server import app

    if remembered is not None:
        monkeypatch.setattr(app, "_SEEN_FRAMES", remembered)
        monkeypatch.setattr(app, "_SEEN_ANSWERS", 1)
    frames = [b"@1 r 4\n", b"@2 w 4 1\n", b"@3 r 4\n", b"@4 mg 4\n", b"@5 m 5 1\n",
              b"@6 mg 5\n", b"@7 br1\n", b"@8 bs1 96\n", b"@9 bc1 32\n", b"@10 hwver\n",
              b"@11 pigpv\n", b"@12 w 54 1\n", b"@13 w 4 2\n", b"@14 r 99\n", b"@15 r\n",
              b"@16 zz 1\n", b"@17 m 4 9\n", b"@18 pud 4 1\n", b"@x r 4\n", b"@ r 4\n",
              b"@1234567890123456789 r 4\n", b"x1 r 4\n", b"r 4\n", b"@19 w 4 0\n",
              b"@20 w 4 1;r 4\n", b"@21 w 5 1\n", b"@22 r 5\n", b"@23 m 5 0\n",
              b"@24 mg 5\n", b"@21 w 5 1\n", b"@24 mg 5\n", b"@22 r 5\n", b"@25 w 5 0\n",
              b"@22 r 5\n", b"@23 m 5 0\n", b"@22 r 5\n"]
    short_server = GpioServer("/nonexistent/a", permit=0xFFFF_FFEF)  # all but GPIO 4
    general_server = GpioServer("/nonexistent/b", permit=0xFFFF_FFEF)
    short, general = ClientConnection(short_server), ClientConnection(general_server)
    short.transport = _Recorder()
    for frame in frames * 2:
        expected = general.handle_frame(frame[:-1]).encode("ascii")
        short.data_received(frame)
        assert short.transport.written.pop() == expected, frame
        assert not short.transport.written
    assert short_server.backend.read_bank(1) == general_server.backend.read_bank(1)


def test_several_frames_in_one_read_get_the_answers_of_one_at_a_time(server):
    frames = [b"@1 w 4 1", b"@2 r 4", b"@3 zz", b"@4 w 60 1", b"@5 mg 4", b"@6 br1",
              b"@7 r 4;r 5", b"@8 w 4 0", b"@9 r 4"]
    together = raw_exchange(server.socket_path, b"\n".join(frames) + b"\n", len(frames))
    apart = [raw_exchange(server.socket_path, frame + b"\n", 1)[0] for frame in frames]
    assert together == apart
    assert together[1] == "@2 1" and together[-1] == "@9 0"


@needs_root
def test_another_user_is_served_once_the_socket_is_open_to_all(server):
    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 r 4", "@2 pud 4 d", "@3 r 4")
    assert answers == ["@1 1", "@2 0", "@3 0"]


def test_a_start_that_fails_after_the_backend_was_opened_closes_it(sock_path):
    from gpiosvr.server.app import ServerStartError
    from gpiosvr.server.frontends.pigpiod import PigpiodFrontend
    from gpiosvr.server.sim.board import Board
    from gpiosvr.server.sim.devices.serial_port import SerialPort

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()

    async def start_and_fail() -> SimulatedChip:
        chip = SimulatedChip()
        board = Board()
        board.serial.append(SerialPort(["/dev/serial0"], far_end="pty"))  # a pty, opened
        board.attach(chip)
        server = GpioServer(sock_path, chip)
        server.frontends.append(PigpiodFrontend(server, taken.getsockname()[1]))
        with pytest.raises(ServerStartError, match="cannot listen for pigpiod clients"):
            await server.start()
        return chip

    try:
        asyncio.run(start_and_fail())  # what a first run sets up once
        before = open_fds()
        chips = [asyncio.run(start_and_fail()) for _ in range(5)]
        assert open_fds() - before == set()
        assert all(chip._closed for chip in chips)
        assert not os.path.exists(sock_path)
        with ServerThread(sock_path, SimulatedChip()) as srv:  # the path serves again
            assert asyncio.run(SocketClient(None, srv.socket_path).command("r", 4)) == 1
    finally:
        taken.close()
