"""The pigpiod front end with the real pigpio 1.78 package (unchanged) and raw
sockets: the 16-byte commands, extensions, NOIB reports, errors, hardening, and
who owns what a TCP client makes."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading

import pigpio  # the real package: tests/ puts no facade on the path
import pytest

from gpiosvr.blocking import BlockingClient
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.commands import COMMANDS
from gpiosvr.server.commands.numbers import NUMBERS
from gpiosvr.server.frontends.pigpiod import PigpiodConnection, PigpiodFrontend
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from children import spawn
from conftest import wait_until

assert "gpiosvr" not in pigpio.__file__, "these tests need the real pigpio package"


class PigpiodServer:
    """A server on the simulated chip with the pigpiod front end on a free port."""

    def __init__(self, sock_path: str, uid: int | None = None, allow=None,
                 permit: int | None = -1, port: int = 0) -> None:
        self.frontend: PigpiodFrontend | None = None

        def make(server):
            self.frontend = PigpiodFrontend(server, port=port, uid=uid, allow=allow)
            return self.frontend

        self.thread = ServerThread(sock_path, SimulatedChip(), permit=permit,
                                   frontends=(make,))

    @property
    def port(self) -> int:
        return self.frontend.port

    @property
    def socket_path(self) -> str:
        return self.thread.socket_path

    def __enter__(self) -> "PigpiodServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.stop()


@pytest.fixture
def pigpiod_server(sock_path):
    with PigpiodServer(sock_path) as srv:
        yield srv


@pytest.fixture
def pi(pigpiod_server):
    p = pigpio.pi("127.0.0.1", pigpiod_server.port)
    assert p.connected
    yield p
    p.stop()
    # pigpio.py's notification thread ends once it reads NC's answer; a server that
    # stopped first could reset its socket under it (a noisy thread exception)
    wait_until(lambda: pigpiod_server.thread.call(lambda: not any(
        isinstance(c, PigpiodConnection) for c in pigpiod_server.thread.server.clients)))


def command(sock: socket.socket, cmd: int, p1: int = 0, p2: int = 0,
            ext: bytes = b"") -> int:
    """Send one pigpiod command on ``sock``; its signed result."""
    sock.sendall(struct.pack("<4I", cmd, p1, p2, len(ext)) + ext)
    answer = recv_exactly(sock, 16)
    return struct.unpack("<3Ii", answer)[3]


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


# -- the real pigpio package -------------------------------------------------------

def test_a_legacy_script_runs_unchanged(pi, pigpiod_server):
    assert pi.get_pigpio_version() == 79
    assert pi.get_hardware_revision() == SimulatedChip().hardware_revision
    pi.set_mode(4, pigpio.OUTPUT)
    assert pi.get_mode(4) == pigpio.OUTPUT
    pi.write(4, 1)
    assert pi.read(4) == 1
    pi.set_mode(5, pigpio.ALT3)
    assert pi.get_mode(5) == pigpio.ALT3
    pi.set_mode(22, pigpio.INPUT)
    pi.set_pull_up_down(22, pigpio.PUD_UP)
    assert pi.read(22) == 1
    pi.set_pull_up_down(22, pigpio.PUD_DOWN)
    assert pi.read(22) == 0
    pi.set_mode(20, pigpio.OUTPUT)
    pi.set_mode(21, pigpio.OUTPUT)
    pi.set_bank_1(1 << 20 | 1 << 21)
    assert pi.read_bank_1() >> 20 & 3 == 3
    pi.clear_bank_1(1 << 21)
    assert pi.read_bank_1() >> 20 & 3 == 1
    local = BlockingClient(pigpiod_server.socket_path)
    try:
        assert pi.read_bank_2() == local.command("br2")
    finally:
        local.close()
    # PWM and servo
    assert pi.set_PWM_range(12, 1000) == 250  # the real range at 800 Hz
    assert pi.get_PWM_range(12) == 1000
    pi.set_PWM_dutycycle(12, 250)
    assert pi.get_PWM_dutycycle(12) == 250
    assert pi.set_PWM_frequency(12, 800) == 800
    assert pi.get_PWM_frequency(12) == 800
    assert pi.get_PWM_real_range(12) == 250
    pi.set_servo_pulsewidth(13, 1500)
    assert pi.get_servo_pulsewidth(13) == 1500
    pi.hardware_PWM(18, 1000, 250000)
    assert pi.get_PWM_dutycycle(18) == 250000
    tick = pi.get_current_tick()
    assert 0 <= tick < 1 << 32


def test_pigpio_errors_are_pigpios(pi):
    with pytest.raises(pigpio.error) as info:
        pi.set_mode(4, 9)
    assert str(info.value) == "'mode not 0-7'"
    for call, code in [(lambda: pi.read(60), pigpio.PI_BAD_GPIO),
                       (lambda: pi.set_servo_pulsewidth(40, 1500), pigpio.PI_BAD_USER_GPIO),
                       (lambda: pi.set_pull_up_down(4, 7), pigpio.PI_BAD_PUD),
                       (lambda: pi.set_watchdog(4, 70000), pigpio.PI_BAD_WDOG_TIMEOUT),
                       (lambda: pi.write(4, 2), pigpio.PI_BAD_LEVEL)]:
        with pytest.raises(pigpio.error) as info:
            call()
        assert info.value.value == pigpio.error_text(code)
    pigpio.exceptions = False
    try:
        assert pi.read(60) == pigpio.PI_BAD_GPIO
    finally:
        pigpio.exceptions = True


def test_callbacks_get_every_edge_with_its_exact_tick(pi, pigpiod_server):
    edges = []
    done = threading.Event()

    def cb(gpio, level, tick):
        edges.append((gpio, level, tick))
        if len(edges) == 20:
            done.set()

    pi.set_mode(17, pigpio.INPUT)
    pi.set_pull_up_down(17, pigpio.PUD_DOWN)
    callback = pi.callback(17, pigpio.EITHER_EDGE, cb)
    rising = pi.callback(17, pigpio.RISING_EDGE)  # counts, as pigpio's tally
    with Simulator(pigpiod_server.socket_path) as sim:
        start = pi.get_current_tick() + 20000
        first = sim.inject(17, 20, 100, start)
    assert done.wait(5), edges
    assert edges == [(17, (i + 1) % 2, (first + 100 * i) & 0xFFFFFFFF) for i in range(20)]
    wait_until(lambda: rising.tally() == 10)
    callback.cancel()
    rising.cancel()


def test_a_watchdog_reports_timeouts_exactly_its_period_apart(pi):
    timeouts = []
    pi.set_mode(9, pigpio.INPUT)
    callback = pi.callback(9, pigpio.EITHER_EDGE,
                           lambda g, level, tick: timeouts.append((g, level, tick)))
    pi.set_watchdog(9, 20)
    wait_until(lambda: len(timeouts) >= 3)
    pi.set_watchdog(9, 0)
    g, level, _ = timeouts[0]
    assert (g, level) == (9, pigpio.TIMEOUT)
    assert [(b[2] - a[2]) & 0xFFFFFFFF for a, b in zip(timeouts, timeouts[1:3])] == \
        [20000, 20000]
    callback.cancel()


def test_scripts_store_run_status_and_delete(pi):
    sid = pi.store_script(b"lda p0 add p1 sta p9")
    wait_until(lambda: pi.script_status(sid)[0] != pigpio.PI_SCRIPT_INITING)
    assert pi.run_script(sid, [40, 2]) == 0
    wait_until(lambda: pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED)
    status, params = pi.script_status(sid)
    assert params[:2] == (40, 2) and params[9] == 42
    assert pi.update_script(sid, [1, 2, 3]) == 0
    assert pi.script_status(sid)[1][:3] == (1, 2, 3)
    assert pi.stop_script(sid) == 0
    assert pi.delete_script(sid) == 0
    assert pi.script_status(sid) == (pigpio.PI_BAD_SCRIPT_ID, ())  # as pigpio.py does


@pytest.mark.parametrize("text,code", [
    ("foo 3", pigpio.PI_BAD_SCRIPT_CMD), ("ld v150 1", pigpio.PI_BAD_SCRIPT_CMD),
    ("i2crd 0 4", pigpio.PI_BAD_SCRIPT_CMD), ("tag 1 tag 1", pigpio.PI_DUP_TAG),
    (" ".join(f"tag {n}" for n in range(51)), pigpio.PI_TOO_MANY_TAGS),
    ("jmp 9", pigpio.PI_BAD_TAG),
])
def test_a_script_that_does_not_parse_gets_pigpios_code(pi, text, code):
    with pytest.raises(pigpio.error) as info:
        pi.store_script(text)
    assert str(info.value) == repr(pigpio.error_text(code))
    pigpio.exceptions = False
    try:
        assert pi.store_script(text) == code
    finally:
        pigpio.exceptions = True


def test_both_kinds_of_client_share_the_gpios(pi, pigpiod_server):
    local = BlockingClient(pigpiod_server.socket_path)
    try:
        pi.set_mode(23, pigpio.OUTPUT)
        pi.write(23, 1)
        assert local.command("r", 23) == 1
        local.command("w", 23, 0)
        assert pi.read(23) == 0
    finally:
        local.close()


# -- raw sockets: the wire itself ----------------------------------------------------

def test_unknown_commands_answer_pi_unknown_command(pigpiod_server):
    with connect(pigpiod_server.port) as sock:
        assert command(sock, 200) == pigpio.PI_UNKNOWN_COMMAND
        # a pigpio command gpiosvr has no command for (yet): the same, as pigpiod
        missing = [n for n, c in NUMBERS.items() if c.name not in COMMANDS
                   and n not in (18, 25, 99)]
        if missing:
            assert command(sock, missing[0], 1, 1) == pigpio.PI_UNKNOWN_COMMAND
        assert command(sock, 25) == 0  # HELP, as pigpiod
        assert command(sock, 3, 4) in (0, 1)  # and the connection goes on


def test_answers_echo_the_words_and_extensions_follow(pigpiod_server):
    with connect(pigpiod_server.port) as sock:
        sock.sendall(struct.pack("<4I", 3, 4, 77, 0))
        cmd, p1, p2, res = struct.unpack("<4I", recv_exactly(sock, 16))
        assert (cmd, p1, p2) == (3, 4, 77) and res in (0, 1)
        sid = command(sock, 38, 0, 0, b"lda 7 sta p3\0")
        assert sid >= 0
        sock.sendall(struct.pack("<4I", 40, sid, 0, 8) + struct.pack("<2I", 5, 6))
        assert struct.unpack("<3Ii", recv_exactly(sock, 16))[3] == 0

        def status():
            sock.sendall(struct.pack("<4I", 45, sid, 0, 0))
            res = struct.unpack("<3Ii", recv_exactly(sock, 16))[3]
            assert res == 44
            return struct.unpack("<11i", recv_exactly(sock, 44))

        wait_until(lambda: status()[0] == pigpio.PI_SCRIPT_HALTED)
        assert status()[1:5] == (5, 6, 0, 7)
        assert command(sock, 39, sid) == 0


def test_pipelined_commands_are_answered_in_order(pigpiod_server):
    with connect(pigpiod_server.port) as sock:
        frames = b"".join(struct.pack("<4I", 4, 24, i % 2, 0) +
                          struct.pack("<4I", 3, 24, 0, 0) for i in range(500))
        sock.sendall(frames)
        data = recv_exactly(sock, 16 * 1000)
        answers = [struct.unpack_from("<4I", data, 16 * i) for i in range(1000)]
        assert [a[3] for a in answers[1::2]] == [i % 2 for i in range(500)]
        assert all(a[3] == 0 for a in answers[0::2])


def test_noib_reports_carry_levels_sequence_numbers_and_watchdog_flags(pigpiod_server):
    port = pigpiod_server.port
    with connect(port) as control, connect(port) as stream, \
            Simulator(pigpiod_server.socket_path) as sim:
        command(control, 0, 25, 0)  # GPIO 25 an input
        levels = command(control, 10) & 0xFFFFFFFF
        handle = command(stream, 99)
        assert handle >= 0
        assert command(control, 19, handle, 1 << 25) == 0  # NB from the other socket
        start = command(control, 16) & 0xFFFFFFFF
        first = sim.inject(25, 4, 1000, (start + 20000) & 0xFFFFFFFF)
        reports = [struct.unpack("<HHII", recv_exactly(stream, 12)) for _ in range(4)]
        level25 = levels >> 25 & 1
        expected = []
        for i in range(4):
            level25 ^= 1
            levels = levels & ~(1 << 25) | level25 << 25
            expected.append((i, 0, (first + 1000 * i) & 0xFFFFFFFF, levels))
        assert reports == expected
        assert command(control, 9, 25, 10) == 0  # a watchdog of 10 ms
        seq, flags, tick, level = struct.unpack("<HHII", recv_exactly(stream, 12))
        assert (seq, flags, level) == (4, 0x20 | 25, levels)
        assert command(control, 9, 25, 0) == 0
        assert command(control, 21, handle) == 0  # NC


def test_an_idle_running_stream_gets_keep_alive_reports(sock_path, monkeypatch):
    from gpiosvr.server.frontends import pigpiod
    monkeypatch.setattr(pigpiod, "PIGPIOD_ALIVE_SECONDS", 0.05)
    with PigpiodServer(sock_path) as srv, connect(srv.port) as control, \
            connect(srv.port) as stream:
        handle = command(stream, 99)
        assert command(control, 19, handle, 1 << 26) == 0
        seq, flags, _, level = struct.unpack("<HHII", recv_exactly(stream, 12))
        assert (seq, flags) == (0, 0x40)
        assert level == command(control, 10) & 0xFFFFFFFF
        assert struct.unpack("<HHII", recv_exactly(stream, 12))[:2] == (1, 0x40)


def test_a_pipe_is_every_tcp_sessions_as_pigpiods_and_a_noib_stream_its_own(
        pigpiod_server):
    with connect(pigpiod_server.port) as a, connect(pigpiod_server.port) as b:
        assert command(a, 19, 12345, 1) == pigpio.PI_BAD_HANDLE
        handle = command(b, 18)  # NO: a pipe, which persists, as pigpiod's
        assert handle >= 0
        assert command(a, 19, handle, 1) == 0  # NB from another connection
        slot = command(a, 99)  # NOIB: a stream whose reports come on a
        assert slot not in (handle, -1)
        assert command(b, 19, slot, 1) == 0  # NB for it from b, as pigpio.py sends it
    # the stream closed with its connection, its number free again; the pipe stays
    server = pigpiod_server.thread
    wait_until(lambda: server.call(lambda: not server.server.clients))
    with connect(pigpiod_server.port) as c:
        assert command(c, 99) == slot
        assert command(c, 21, handle) == 0  # NC of the pipe
        assert command(c, 19, handle, 1) == pigpio.PI_BAD_HANDLE  # closed


def test_bad_input_closes_only_its_own_connection(pigpiod_server, pi):
    port = pigpiod_server.port
    with connect(port) as bad:
        bad.sendall(struct.pack("<4I", 38, 0, 0, 1 << 20))  # an extension too big
        assert bad.recv(16) == b""  # closed, as pigpiod does
    with connect(port) as bad:
        bad.sendall(struct.pack("<4I", 0, 4, 99, 0))  # mode 99
        assert struct.unpack("<3Ii", recv_exactly(bad, 16))[3] == pigpio.PI_BAD_MODE
        bad.sendall(struct.pack("<4I", 2, 4, 9, 0))  # pull 9
        assert struct.unpack("<3Ii", recv_exactly(bad, 16))[3] == pigpio.PI_BAD_PUD
        bad.sendall(struct.pack("<4I", 62, 0, 0, 2) + b"xx")  # u0 missing: bad param
        assert struct.unpack("<3Ii", recv_exactly(bad, 16))[3] == (
            pigpio.PI_BAD_PARAM if "i2cwb" in COMMANDS else pigpio.PI_UNKNOWN_COMMAND)
    assert pi.read(4) in (0, 1)  # the others never noticed


def test_an_unfinished_command_is_closed_after_the_deadline(pigpiod_server, monkeypatch):
    from gpiosvr.server import app
    monkeypatch.setattr(app, "PARTIAL_FRAME_SECONDS", 0.2)
    with connect(pigpiod_server.port) as sock:
        sock.sendall(b"\x03\x00\x00")
        sock.settimeout(5)
        assert sock.recv(16) == b""


def test_peers_not_allowed_are_closed(sock_path):
    from gpiosvr.server.frontends.pigpiod import parse_allow
    with PigpiodServer(sock_path, allow=parse_allow("10.1.2.3, 192.168.7.0/24")) as srv:
        with connect(srv.port) as sock:
            try:
                sock.sendall(struct.pack("<4I", 17, 0, 0, 0))
                assert sock.recv(16) == b""
            except ConnectionResetError:
                pass  # closed with the command unread: a reset
        p = pigpio.pi("127.0.0.1", srv.port)
        assert not p.connected  # the real client sees a daemon that is not there
    with pytest.raises(ValueError, match="no address, network or known host"):
        parse_allow("not a host.invalid")


# -- ownership: TCP sessions have no peer credentials ------------------------------

def test_tcp_sessions_own_what_they_make_and_not_what_local_users_made(pigpiod_server):
    local = BlockingClient(pigpiod_server.socket_path)  # root here: uid 0
    try:
        sid = local.command("proc", "ld p0 1 ret")
        with connect(pigpiod_server.port) as sock:
            assert command(sock, 41, sid) == pigpio.PI_NOT_PERMITTED  # PROCS
            assert command(sock, 39, sid) == pigpio.PI_NOT_PERMITTED  # PROCD
            mine = command(sock, 38, 0, 0, b"ld p0 2 ret")
            assert mine >= 0
        local.command("procd", mine)  # a local user may touch what TCP sessions made
        local.command("procd", sid)
    finally:
        local.close()


def test_a_configured_uid_is_whom_tcp_sessions_act_as(sock_path):
    with PigpiodServer(sock_path, uid=os.geteuid()) as srv:
        local = BlockingClient(srv.socket_path)
        try:
            sid = local.command("proc", "ld p0 1 ret")
            with connect(srv.port) as sock:
                assert command(sock, 39, sid) == 0
        finally:
            local.close()


# -- the command line --------------------------------------------------------------

def test_gpiosvr_server_pigpiod_port(sock_path):
    proc = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock_path, "--permit", "all",
         "--pigpiod-port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in proc.stdout.readline()
        line = proc.stdout.readline()
        assert "pigpiod protocol on 127.0.0.1 port" in line, proc.stderr.read()
        port = int(line.split()[-1])
        p = pigpio.pi("127.0.0.1", port)
        try:
            assert p.connected
            p.write(4, 1)
            assert p.read(4) == 1
        finally:
            p.stop()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


# -- a backend that answers later (the pigpiod relay) -------------------------------

def test_a_relaying_backend_answers_in_order_through_the_front_end(sock_dir):
    """The chain: real pigpio -> our front end -> gpiosvr on the pigpiod backend ->
    the pigpiod stand-in -> gpiosvr on the simulated chip; the relay's answers are
    futures, and pipelined ones still come back in order."""
    from gpiosvr.server.backends.pigpiod import PigpiodBackend
    from pigpiod_standin import PigpiodStandIn

    with ServerThread(os.path.join(sock_dir, "chip.sock"), SimulatedChip(),
                      permit=-1) as chip, PigpiodStandIn(chip.socket_path) as daemon:
        backend = PigpiodBackend("127.0.0.1", daemon.port, retry_interval=0.05,
                                 call_timeout=2)
        fronts = []

        def make(server):
            fronts.append(PigpiodFrontend(server, port=0))
            return fronts[0]

        with ServerThread(os.path.join(sock_dir, "relay.sock"), backend, permit=-1,
                          frontends=(make,)):
            wait_until(lambda: backend.connected)
            p = pigpio.pi("127.0.0.1", fronts[0].port)
            try:
                p.set_mode(24, pigpio.OUTPUT)
                p.write(24, 1)
                assert p.read(24) == 1
                assert p.get_hardware_revision() == SimulatedChip().hardware_revision
                with pytest.raises(pigpio.error) as info:
                    p.set_mode(24, 9)
                assert info.value.value == pigpio.error_text(pigpio.PI_BAD_MODE)
            finally:
                p.stop()
            with connect(fronts[0].port) as sock:
                sock.sendall(b"".join(struct.pack("<4I", 4, 24, i % 2, 0) +
                                      struct.pack("<4I", 3, 24, 0, 0) for i in range(50)))
                data = recv_exactly(sock, 16 * 100)
                results = [struct.unpack_from("<4I", data, 16 * i) for i in range(100)]
                assert [r[0] for r in results] == [4, 3] * 50
                assert [r[3] for r in results[1::2]] == [i % 2 for i in range(50)]


def test_a_client_that_does_not_read_is_held_back_and_others_go_on(pigpiod_server, pi):
    hog = connect(pigpiod_server.port)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    frames = struct.pack("<4I", 3, 4, 0, 0) * 20000  # 100 times 320 KB, never read back
    sender = threading.Thread(target=lambda: _send_quietly(hog, frames * 100), daemon=True)
    sender.start()
    server = pigpiod_server.thread

    def held():
        conns = [c for c in server.server.clients if isinstance(c, PigpiodConnection)
                 and c._held]
        return conns and (conns[0].transport.get_write_buffer_size(),
                          len(conns[0]._buffer))

    sizes = wait_until(lambda: server.call(held), timeout=10)
    assert sizes[0] < 1 << 20 and sizes[1] < 1 << 20  # bounded, not all 32 MB
    assert pi.read(4) in (0, 1)  # another client is answered meanwhile
    hog.close()
    sender.join(10)


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # closed by the test


def test_quick_commands_answer_as_the_general_way_does(sock_path):
    """The quick way (handlers bound once, see ``_quick_calls``) and the general way
    (``request_args`` and ``commands.run``) answer every quick command alike, bad
    words and GPIOs not permitted included."""
    from gpiosvr.server.frontends.pigpiod import _QUICK

    assert {NUMBERS[n].name for n in _QUICK} == {
        "r", "w", "mg", "m", "br1", "br2", "bc1", "bc2", "bs1", "bs2", "t", "hwver",
        "pigpv", "pud", "p", "prs", "pfs", "s", "wdog", "prg", "pfg", "prrg", "gdc", "gpw",
        "hc", "fg", "pads", "padg"}
    with PigpiodServer(sock_path, permit=1 << 4 | 1 << 5) as srv, \
            connect(srv.port) as quick, connect(srv.port) as general:
        command(general, 16)  # connected: now make it take the general way
        clients = srv.thread.call(lambda: [c for c in srv.thread.server.clients
                                           if isinstance(c, PigpiodConnection)])
        (slow,) = [c for c in clients if c.transport.get_extra_info("peername")
                   == general.getsockname()]
        srv.thread.call(lambda: setattr(slow, "_short", False))
        words = [(4, 0), (4, 1), (5, 1), (6, 1), (4, 2), (53, 0), (54, 0), (60, 1),
                 (4, 7), (4, 8), (4, 0xFFFFFFFF), (0xFFFFFFFF, 1), (1 << 4, 0),
                 (1 << 6, 0)]
        for number in sorted(_QUICK):
            for gpio in (4, 5):  # no PWM left toggling a level that br1 or r reads
                quick.sendall(struct.pack("<4I", 4, gpio, 0, 0))
                recv_exactly(quick, 16)
            for p1, p2 in words:
                frame = struct.pack("<4I", number, p1, p2, 0)
                quick.sendall(frame)
                ours = recv_exactly(quick, 16)
                general.sendall(frame)
                theirs = recv_exactly(general, 16)
                if number == 16:  # ticks move on
                    ours, theirs = ours[:12], theirs[:12]
                assert ours == theirs, (NUMBERS[number].name, p1, p2)


def test_event_callbacks_of_the_real_pigpio_get_every_event_with_its_tick(pi):
    """pigpio's ``event_callback`` over the front end: ``event_trigger`` from this
    client and from another one (a local gpiosvr client) each call it once, with
    a tick of the server's clock; an event not monitored calls nothing."""
    got: list[tuple[int, int]] = []
    other: list[tuple[int, int]] = []
    first = pi.event_callback(3, lambda event, tick: got.append((event, tick)))
    second = pi.event_callback(7, lambda event, tick: other.append((event, tick)))
    before = pi.get_current_tick()
    assert pi.event_trigger(3) == 0
    assert pi.event_trigger(5) == 0  # nobody monitors it
    assert pi.event_trigger(7) == 0
    assert pi.event_trigger(3) == 0
    wait_until(lambda: len(got) == 2 and len(other) == 1)
    after = pi.get_current_tick()
    assert [event for event, _ in got] == [3, 3] and other[0][0] == 7
    assert all(0 <= (tick - before) & 0xFFFFFFFF <= (after - before) & 0xFFFFFFFF
               for _, tick in got + other)
    first.cancel()
    assert pi.event_trigger(3) == 0 and pi.event_trigger(7) == 0
    wait_until(lambda: len(other) == 2)
    assert len(got) == 2
    second.cancel()
    with pytest.raises(pigpio.error) as info:
        pi.event_trigger(32)
    assert info.value.value == pigpio.error_text(pigpio.PI_BAD_EVENT_ID)


def test_event_reports_are_alert_emits(pigpiod_server):
    """An event report as pigpio's alertEmit makes it: flags
    ``PI_NTFY_FLAGS_EVENT | event``, the tick, the levels of GPIO 0-31 as they are,
    in the stream's sequence with level reports; EVM 0 stops them."""
    port = pigpiod_server.port
    with connect(port) as control, connect(port) as stream, \
            Simulator(pigpiod_server.socket_path) as sim:
        command(control, 0, 25, 0)  # GPIO 25 an input
        levels = command(control, 10) & 0xFFFFFFFF
        handle = command(stream, 99)
        assert command(control, 19, handle, 1 << 25) == 0  # NB
        assert command(control, 115, handle, 1 << 9 | 1 << 31) == 0  # EVM 9 and 31
        start = command(control, 16) & 0xFFFFFFFF
        sim.inject(25, 1, 1000, (start + 20000) & 0xFFFFFFFF)
        edge = struct.unpack("<HHII", recv_exactly(stream, 12))
        levels ^= 1 << 25
        assert (edge[0], edge[1], edge[3]) == (0, 0, levels)
        before = command(control, 16) & 0xFFFFFFFF
        assert command(control, 116, 9) == 0  # EVT 9
        assert command(control, 116, 4) == 0  # not monitored
        assert command(control, 116, 31) == 0
        after = command(control, 16) & 0xFFFFFFFF
        reports = [struct.unpack("<HHII", recv_exactly(stream, 12)) for _ in range(2)]
        assert [(r[0], r[1], r[3]) for r in reports] == [(1, 0x80 | 9, levels),
                                                        (2, 0x80 | 31, levels)]
        assert all((r[2] - before) & 0xFFFFFFFF <= (after - before) & 0xFFFFFFFF
                   for r in reports)  # the tick of the trigger
        assert command(control, 115, handle, 0) == 0
        assert command(control, 116, 9) == 0
        assert command(control, 9, 25, 10) == 0  # a watchdog: the next report
        seq, flags, _, level = struct.unpack("<HHII", recv_exactly(stream, 12))
        assert (seq, flags, level) == (3, 0x20 | 25, levels)
        assert command(control, 9, 25, 0) == 0
        assert command(control, 21, handle) == 0  # NC


def test_gpiosvr_s_own_commands_are_reachable_by_their_numbers(pigpiod_server):
    from gpiosvr.pigpiod_client import PigpiodClient
    from gpiosvr.server.commands.numbers import BY_NAME

    with connect(pigpiod_server.port) as sock:
        ext = b"17 1"
        sock.sendall(struct.pack("<4I", BY_NAME["simdrive"], 0, 0, len(ext)) + ext)
        cmd, _, _, res = struct.unpack("<4I", recv_exactly(sock, 16))
        assert (cmd, recv_exactly(sock, res)) == (BY_NAME["simdrive"], b"0")
        assert command(sock, 3, 17) == 1  # driven from outside, read through pigpio's R
        sock.sendall(struct.pack("<4I", BY_NAME["info"], 0, 0, 0))
        res = struct.unpack("<3Ii", recv_exactly(sock, 16))[3]
        assert b'"server":"gpiosvr"' in recv_exactly(sock, res)
        bad = b"17 x y z"  # arguments that do not fit: pigpio's error code, no more
        sock.sendall(struct.pack("<4I", BY_NAME["simdrive"], 0, 0, len(bad)) + bad)
        assert struct.unpack("<3Ii", recv_exactly(sock, 16))[3] == pigpio.PI_BAD_PARAM
        assert command(sock, 3, 17) == 1
    client = PigpiodClient("127.0.0.1", pigpiod_server.port)  # the facade's, by name
    try:
        assert client.command("simdrive", 17, 0) == 0
        assert client.command("r", 17) == 0
        tick = client.command("t")
        # a list argument: both edges are changes of GPIO 18's level (pulled down)
        assert client.command("simplay", 18, [[1, (tick + 100) & 0xFFFFFFFF],
                                                [0, (tick + 300) & 0xFFFFFFFF]]) == 2
        assert client.command("info")["backend"] == "sim"
    finally:
        client.close()


def test_notify_open_of_the_real_pigpio_feeds_a_pipe_as_pigpiods(pi, pigpiod_server):
    """pigpio's NO over TCP: a FIFO ``pigpioN`` next to the server's socket (pigpiod's
    /dev/pigpioN), fed the 12-byte reports, numbered apart from the NOIB stream."""
    from conftest import FifoReader

    sim = Simulator(pigpiod_server.socket_path)
    pi.set_mode(17, pigpio.INPUT)
    pi.set_pull_up_down(17, pigpio.PUD_DOWN)
    h = pi.notify_open()
    assert h >= 0 and h != pi._notify.handle  # pigpio's one table of handles
    path = os.path.join(os.path.dirname(pigpiod_server.socket_path), f"pigpio{h}")
    reader = FifoReader(path)
    try:
        assert pi.notify_begin(h, 1 << 17) == 0
        first = sim.inject(17, 3, 250)
        reports = reader.reports(3)
        assert [r[:3] for r in reports] == [(0, 0, first), (1, 0, first + 250),
                                            (2, 0, first + 500)]
        assert [r[3] >> 17 & 1 for r in reports] == [1, 0, 1]
        edges = []
        cb = pi.callback(17, pigpio.EITHER_EDGE, lambda g, level, t: edges.append(t))
        pi.get_current_tick()  # its NB is through
        first = sim.inject(17, 2, 100)  # 1 -> 0 -> 1: both kinds of handle see them
        assert [r[:3] for r in reader.reports(2)] == [(3, 0, first), (4, 0, first + 100)]
        # pigpio.py's levels are from when pi() connected (GPIO 17 low): the first
        # edge shows no change to it (docs/pigpiod-protocol.md), the second does
        wait_until(lambda: edges == [first + 100])
        cb.cancel()
        assert pi.notify_pause(h) == 0
        assert pi.notify_close(h) == 0
        assert not os.path.exists(path)
        with pytest.raises(pigpio.error, match="unknown handle"):
            pi.notify_begin(h, 1)
    finally:
        reader.close()
        sim.close()


def test_a_pipe_of_a_tcp_connection_outlives_it_until_closed(pigpiod_server):
    with connect(pigpiod_server.port) as sock:
        handle = command(sock, 18)
        path = os.path.join(os.path.dirname(pigpiod_server.socket_path), f"pigpio{handle}")
        assert os.path.exists(path)
        with connect(pigpiod_server.port) as stream:
            slot = command(stream, 99)
            assert slot not in (handle, -1)  # NOIB: a number of its own
            from gpiosvr.server.commands.numbers import BY_NAME
            other = command(sock, BY_NAME["pno"])  # gpiosvr's number for NO: the same
            assert other not in (handle, slot, -1)
            assert command(sock, 21, other) == 0
    server = pigpiod_server.thread
    # as pigpiod's: the pipe stays, FIFO and all, after its connection went
    wait_until(lambda: server.call(lambda: not server.server.clients))
    assert os.path.exists(path)
    with connect(pigpiod_server.port) as later:
        assert command(later, 18) not in (handle, -1)  # the number is still taken
        assert command(later, 21, handle) == 0  # a later connection closes it
    wait_until(lambda: not os.path.exists(path))


def _count_turns(monkeypatch) -> list:
    from gpiosvr.server.app import ClientConnection

    turns: list = []
    run_turn = ClientConnection._run_turn

    def counted(self):
        turns.append(self)
        run_turn(self)

    monkeypatch.setattr(ClientConnection, "_run_turn", counted)
    return turns


def test_pipelined_commands_run_a_turn_s_budget_at_a_time_in_order(pigpiod_server,
                                                                  monkeypatch):
    """Commands that come in one read run SHORT_COMMANDS_PER_TURN's worth a turn of
    the loop (a quick one costs FRAME_COST), the rest on later turns; answers in
    order; what the client sends while its commands wait for their turn is run
    after them."""
    import threading

    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2 * app.FRAME_COST)
    turns = _count_turns(monkeypatch)
    in_turn, sent = threading.Event(), threading.Event()
    run_turn = app.ClientConnection._run_turn  # the counting one

    def first_turn_waits(self):
        if not in_turn.is_set():
            in_turn.set()
            sent.wait(10)
        run_turn(self)

    monkeypatch.setattr(app.ClientConnection, "_run_turn", first_turn_waits)
    pairs = [struct.pack("<4I", 4, 24, i % 2, 0) + struct.pack("<4I", 3, 24, 0, 0)
             for i in range(200)]
    with connect(pigpiod_server.port) as sock:
        sock.sendall(b"".join(pairs[:100]))
        assert in_turn.wait(10)
        sock.sendall(b"".join(pairs[100:]))  # while the first 100 wait for their turns
        sent.set()
        data = recv_exactly(sock, 16 * 400)
    answers = [struct.unpack_from("<4I", data, 16 * i) for i in range(400)]
    assert [a[0] for a in answers] == [4, 3] * 200
    assert [a[3] for a in answers[1::2]] == [i % 2 for i in range(200)]
    assert len(turns) >= 400 // 2 - 1
