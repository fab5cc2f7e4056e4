"""The facade's ``pi(host)`` for a host that is not this machine: pigpiod's protocol
over TCP (``gpiosvr.pigpiod_client``), against gpiosvr's own front end and against
the pigpiod stand-in, the daemon dying and coming back included."""

from __future__ import annotations

import threading
import time

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.errors import ConnectionFailed, ResponseTimeout
from gpiosvr.pigpio import _core
from gpiosvr.pigpiod_client import PigpiodClient, request_words
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.simulator import Simulator

from conftest import wait_until
from pigpiod_standin import PigpiodStandIn
from test_frontend_pigpiod import PigpiodServer


@pytest.fixture(autouse=True)
def loopback_is_remote(monkeypatch):
    """Tests serve on 127.0.0.1, which pi() takes for this machine's Unix socket:
    here it is a remote host, reached over TCP."""
    monkeypatch.setattr(_core, "resolve_socket_path", lambda host: None)


@pytest.fixture
def front_end(sock_path):
    with PigpiodServer(sock_path) as srv:
        yield srv


def _edges(sim: Simulator, gpio: int, count: int, interval: int) -> int:
    now = sim._client.command("t")
    return sim.inject(gpio, count, interval, (now + 20000) & 0xFFFFFFFF)


def test_the_facade_drives_gpiosvrs_front_end(front_end):
    pi = pigpio.pi("127.0.0.1", front_end.port)
    try:
        assert pi.connected and isinstance(pi.sl.s, PigpiodClient)
        pi.set_mode(4, pigpio.OUTPUT)
        pi.write(4, 1)
        assert (pi.read(4), pi.get_mode(4)) == (1, pigpio.OUTPUT)
        assert pi.get_hardware_revision() == SimulatedChip().hardware_revision
        assert pi.read_bank_1() >> 4 & 1 == 1
        with pytest.raises(pigpio.error) as info:
            pi.read(70)
        assert info.value.code == pigpio.PI_BAD_GPIO
        sid = pi.store_script(b"lda p0 add p1 sta p9")
        pi.run_script(sid, [40, 2])
        wait_until(lambda: pi.script_status(sid) == (pigpio.PI_SCRIPT_HALTED,
                                                     (40, 2, 0, 0, 0, 0, 0, 0, 0, 42)))
        pi.delete_script(sid)
    finally:
        pi.stop()


def test_callbacks_have_exact_ticks_and_a_raising_one_harms_nothing(front_end):
    pi = pigpio.pi("127.0.0.1", front_end.port)
    try:
        pi.set_mode(17, pigpio.INPUT)
        pi.set_pull_up_down(17, pigpio.PUD_DOWN)
        edges = []

        def bad(gpio, level, tick):
            raise RuntimeError("a bug in the user's callback")

        pi.callback(17, pigpio.EITHER_EDGE, bad)
        pi.callback(17, pigpio.EITHER_EDGE, lambda g, level, t: edges.append((g, level, t)))
        with Simulator(front_end.socket_path) as sim:
            first = _edges(sim, 17, 10, 100)
        wait_until(lambda: len(edges) == 10)
        assert edges == [(17, (i + 1) % 2, (first + 100 * i) & 0xFFFFFFFF)
                         for i in range(10)]
        assert pi.read(17) == 0  # calls go on
    finally:
        pi.stop()


def test_a_call_times_out_and_a_late_answer_is_never_taken(sock_path, server):
    with PigpiodStandIn(server.socket_path) as standin:
        pi = pigpio.pi("127.0.0.1", standin.port)
        try:
            pi.sl.s.call_timeout = 0.2
            standin.hold()  # no answer can come before the call gives up
            with pytest.raises(pigpio.error, match="did not answer") as info:
                pi.write(4, 1)
            assert isinstance(info.value.__cause__, ResponseTimeout)
            standin.release()  # the write's answer comes late now
            pi.sl.s.call_timeout = 10
            # its own answer, not the late 0 of write
            assert pi.get_hardware_revision() == SimulatedChip().hardware_revision
            wait_until(lambda: pi.get_mode(4) == pigpio.OUTPUT)  # the write did happen
        finally:
            pi.stop()


def test_the_daemon_dies_and_comes_back_with_callbacks_restored(server):
    standin = PigpiodStandIn(server.socket_path)
    port = standin.port
    pi = pigpio.pi("127.0.0.1", port)
    try:
        edges = []
        pi.set_mode(22, pigpio.INPUT)
        pi.set_pull_up_down(22, pigpio.PUD_DOWN)
        pi.callback(22, pigpio.EITHER_EDGE, lambda g, level, t: edges.append((level, t)))
        standin.close()  # the daemon dies
        with pytest.raises(pigpio.error) as info:
            pi.read(22)
        # at once: the connection lost or refused, not a call waiting for its timeout
        assert type(info.value.__cause__) is ConnectionFailed, repr(info.value.__cause__)
        busy = threading.Event()  # the notification thread does not spin meanwhile
        cpu = time.process_time()
        busy.wait(0.5)
        assert time.process_time() - cpu < 0.4
        standin = PigpiodStandIn(server.socket_path, port=port)  # back
        wait_until(lambda: pi.read(22) == 0 if _reachable(pi) else False, timeout=10)
        wait_until(lambda: standin.connections >= 2, timeout=10)  # the stream too
        wait_until(lambda: _monitoring(standin), timeout=10)
        with Simulator(server.socket_path) as sim:
            first = _edges(sim, 22, 4, 1000)
        wait_until(lambda: len(edges) == 4)
        assert edges == [((i + 1) % 2, (first + 1000 * i) & 0xFFFFFFFF) for i in range(4)]
        assert pi.sl.s.reconnects >= 1
    finally:
        pi.stop()
        standin.close()


def _reachable(pi) -> bool:
    try:
        pi.read(22)
        return True
    except pigpio.error:
        return False


def _monitoring(standin: PigpiodStandIn) -> bool:
    return any(n.bits for n in list(standin._notifiers.values()))


def test_request_words_invert_the_front_ends_shapes():
    from gpiosvr.server.commands.numbers import NUMBERS
    from gpiosvr.server.frontends.pigpiod import request_args
    cases = [("m", (4, "w")), ("pud", (4, "u")), ("w", (4, 1)), ("hp", (18, 1000, 250000)),
             ("procr", (1, 5, 6)), ("fn", (4, 10, 20)), ("i2cwd", (1, b"ab")),
             ("wvcap", (3,)), ("wvcap", (3, 5, 7)), ("sero", ("/dev/ttyS0", 9600, 0)),
             ("shell", ("name", "args"))]
    for name, args in cases:
        cmd, p1, p2, ext = request_words(name, args)
        assert request_args(NUMBERS[cmd].request, p1, p2, ext) == args, name


def test_gpiosvrs_front_end_restarting_is_a_daemon_coming_back(sock_path):
    srv = PigpiodServer(sock_path).__enter__()
    port = srv.port
    pi = pigpio.pi("127.0.0.1", port)
    try:
        edges = []
        pi.callback(23, pigpio.EITHER_EDGE, lambda g, level, t: edges.append((level, t)))
        pi.set_watchdog(23, 0)
        srv.__exit__()  # the server stops
        with pytest.raises(pigpio.error):
            pi.read(23)
        srv = PigpiodServer(sock_path, port=port).__enter__()  # and is back
        wait_until(lambda: _reachable(pi), timeout=10)
        pi.set_mode(23, pigpio.INPUT)
        pi.set_pull_up_down(23, pigpio.PUD_DOWN)
        with Simulator(srv.socket_path) as sim:
            def monitored():
                hub = srv.thread.call(lambda: srv.thread.server.hub)
                return any(sub.bits >> 23 & 1 for sub in list(hub.subscriptions.values()))
            wait_until(monitored, timeout=10)
            first = _edges(sim, 23, 4, 1000)
        wait_until(lambda: len(edges) == 4)
        assert edges == [((i + 1) % 2, (first + 1000 * i) & 0xFFFFFFFF) for i in range(4)]
        assert pi.sl.s.reconnects >= 1
    finally:
        pi.stop()
        srv.__exit__()


def test_the_facade_s_notify_open_over_tcp_is_pigpio_s_no(front_end):
    """notify_open over TCP sends pigpio's NO (a real pigpiod has it too); on the
    front end it is a FIFO next to the server's socket, fed exact ticks."""
    import os
    import struct

    assert request_words("pno", ())[0] == 18 and request_words("pnb", (1, 2))[0] == 19
    pi = pigpio.pi("127.0.0.1", front_end.port)
    sim = Simulator(front_end.socket_path)
    try:
        h = pi.notify_open()
        path = os.path.join(os.path.dirname(front_end.socket_path), f"pigpio{h}")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert pi.notify_begin(h, 1 << 22) == 0
            first = _edges(sim, 22, 2, 300)
            data = b""

            def two_reports():
                nonlocal data
                try:
                    data += os.read(fd, 24)
                except BlockingIOError:
                    pass
                return len(data) >= 24
            wait_until(two_reports)
            assert [r[:3] for r in struct.iter_unpack("<HHII", data)] == [
                (0, 0, first), (1, 0, first + 300)]
        finally:
            os.close(fd)
        assert pi.notify_close(h) == 0
        assert not os.path.exists(path)
    finally:
        sim.close()
        pi.stop()
