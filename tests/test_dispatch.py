"""The callback threads read the callback connection themselves (issue #18): a slow
callback never stalls reading it nor changes the order of the others, a callback may
call the client again (also through the connection it is called from), one that
raises is logged, and closing or a server restart in the middle all work; each with
edge reports as binary frames (what the blocking client asks for) and as text ``*e``
frames (what a server that does not know ``nfmt`` sends)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr import protocol
from gpiosvr.blocking import BlockingClient
from gpiosvr.dispatch import Dispatcher
from gpiosvr.errors import ConnectionFailed
from gpiosvr.protocol import EDGE_RECORD
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from conftest import wait_until


@pytest.fixture(autouse=True, params=["binary", "text"])
def edge_format(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here, with the dispatcher asking for binary edge frames and not."""
    monkeypatch.setattr(Dispatcher, "binary_reports", request.param == "binary")
    return request.param


def drive(pi, *args):
    return pi.sl.s.command(*args)


def dispatcher(pi):
    return pi.sl.s._resources.runtime.dispatcher


def server_lost(server) -> list[int]:
    """What the server counts as lost for each notification handle now."""
    return server.call(lambda: [s.lost for s in server.server.hub.subscriptions.values()])


class Gate:
    """A callback that blocks on its first report until :meth:`open`, and notes
    every report it gets."""

    def __init__(self) -> None:
        self.got: list[tuple[int, int, int]] = []
        self.inside = threading.Event()
        self._open = threading.Event()

    def __call__(self, gpio: int, level: int, tick: int) -> None:
        self.got.append((gpio, level, tick))
        if len(self.got) == 1:
            self.inside.set()
            assert self._open.wait(60)

    def open(self) -> None:
        self._open.set()


def first_call_after_a_restart(client: BlockingClient) -> None:
    """The first call that works on the new server (which returns once the
    callbacks are back); the one before may still meet the old connection."""
    for _ in range(100):
        try:
            client.command("t")
            return
        except ConnectionFailed:
            pass
    raise AssertionError("no call worked after the restart")


def test_reading_goes_on_while_a_callback_is_slow(pi, server):
    """400,000 edges (more than the server's write buffer and the socket hold) come
    in while the first callback sleeps: the client reads them all, nothing is lost,
    and the callback connection still answers; then every one runs, in order.

    They come as bursts of 50,000 (600 kB of frames, well within the write buffer),
    each once the one before has been read: the server runs in this process, and
    while the follower waits for the GIL its thread holds (measured: up to 50 ms on
    a loaded machine, in steps of the 5 ms switch interval), one 400,000-edge
    burst could pass MAX_WRITE_BUFFER before the follower reads at all, and the
    server then drops reports by design. A reader that stopped still fails here:
    the second burst would never be read."""
    count, burst = 400_000, 50_000
    gate = Gate()
    pi.callback(20, pigpio.EITHER_EDGE, gate)
    drive(pi, "siminject", 20, burst, 1, 0)
    assert gate.inside.wait(10)
    for start in range(burst, count + burst, burst):
        wait_until(lambda: dispatcher(pi).pending >= start - 1, timeout=60)
        if start < count:
            drive(pi, "siminject", 20, burst, 1, start)
    assert server_lost(server) == [0]
    assert pi.set_watchdog(20, 0) == 0  # a command on the callback connection
    assert pi.sl.s.call_async(lambda c: c.command("t")) >= 0
    gate.open()
    pi.sl.s.wait_callbacks(timeout=60)
    assert len(gate.got) == count
    assert gate.got == [(20, (i + 1) % 2, i) for i in range(count)]
    assert pi.sl.s.lost_reports == 0 and server_lost(server) == [0]


def test_a_slow_callback_keeps_the_order_of_the_others(pi):
    gate = Gate()
    order: list[tuple[int, int, int]] = []
    pi.callback(20, pigpio.EITHER_EDGE, gate)
    pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: order.append((g, lvl, t)))
    pi.callback(21, pigpio.EITHER_EDGE, lambda g, lvl, t: order.append((g, lvl, t)))
    drive(pi, "siminject", 20, 2, 10, 100)
    assert gate.inside.wait(10)
    drive(pi, "siminject", 21, 3, 10, 200)
    drive(pi, "siminject", 20, 2, 10, 300)
    wait_until(lambda: dispatcher(pi).pending == 7)  # all read, the first one running
    assert order == []  # nothing overtook the slow callback
    gate.open()
    pi.sl.s.wait_callbacks()
    assert order == [(20, 1, 100), (20, 0, 110), (21, 1, 200), (21, 0, 210),
                     (21, 1, 220), (20, 1, 300), (20, 0, 310)]
    assert gate.got == [(20, 1, 100), (20, 0, 110), (20, 1, 300), (20, 0, 310)]


def test_a_callback_may_call_the_client_through_any_connection(pi):
    """Watchdogs, new callbacks and cancels go through the loop thread and the callback
    connection, whose answers the other callback thread reads meanwhile."""
    seen, later = [], []

    def calls_back(gpio, level, tick):
        assert pi.set_watchdog(22, 0) == 0
        seen.append((pi.read(gpio), level, tick))
        if len(seen) == 1:
            cb = pi.callback(23, pigpio.EITHER_EDGE, lambda g, lvl, t: later.append(t))
            seen.append(cb)

    first = pi.callback(22, pigpio.EITHER_EDGE, calls_back)
    drive(pi, "siminject", 22, 1, 1, 500)
    wait_until(lambda: len(seen) == 2)
    assert seen[0] == (1, 1, 500)
    drive(pi, "siminject", 23, 2, 5, 700)
    wait_until(lambda: later == [700, 705])
    first.cancel()
    seen[1].cancel()
    drive(pi, "siminject", 22, 1, 1, 900)
    drive(pi, "siminject", 23, 1, 1, 900)
    pi.sl.s.wait_callbacks()
    assert len(seen) == 2 and later == [700, 705]


def test_a_raising_callback_is_logged_and_the_others_get_every_report(pi, caplog):
    got = []

    def broken(gpio, level, tick):
        raise RuntimeError(f"bug at {tick}")

    pi.callback(24, pigpio.EITHER_EDGE, broken)
    pi.callback(24, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append(t))
    with caplog.at_level(logging.ERROR):
        drive(pi, "siminject", 24, 100, 3, 1000)
        pi.sl.s.wait_callbacks()
    assert got == [1000 + 3 * i for i in range(100)]
    assert caplog.text.count("RuntimeError: bug at") == 100


def test_wait_callbacks_returns_once_every_report_sent_before_has_run(pi, server):
    got = []
    pi.callback(25, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append(t))
    for start in range(0, 50_000, 10_000):
        drive(pi, "siminject", 25, 10_000, 1, start)
    # The sim hands a burst on SIM_EDGES_PER_TURN edges per turn of its loop: once
    # none wait, the server has sent every report (most still unread by the client).
    wait_until(lambda: server.call(server.backend.queued_edges) == 0, timeout=30)
    pi.sl.s.wait_callbacks(timeout=30)
    assert got == list(range(50_000))
    pi.sl.s.wait_callbacks()  # nothing queued, nobody running: at once


def test_notification_handlers_still_get_edge_frames_on_the_loop(server):
    client = BlockingClient(server.socket_path)
    try:
        notes, ticks = [], []
        client.on_notification(
            lambda note: notes.append((threading.current_thread().name, note.name,
                                       note.args[2])))
        client.callback(26, pigpio.EITHER_EDGE, lambda g, lvl, t: ticks.append(t))
        client.command("siminject", 26, 3, 10, 40)
        client.wait_callbacks()
        assert ticks == [40, 50, 60]
        wait_until(lambda: len(notes) >= 1)
        assert {name for name, _, _ in notes} == {"gpiosvr-loop"}
        assert {kind for _, kind, _ in notes} == {"e"}
        records = b"".join(records for _, _, records in notes)
        assert [(g, t) for g, _, t in EDGE_RECORD.iter_unpack(records)] == \
            [(26, 40), (26, 50), (26, 60)]
    finally:
        client.close()


def test_close_from_inside_a_callback(pi):
    closed = threading.Event()

    def closes(gpio, level, tick):
        pi.stop()
        closed.set()

    pi.callback(27, pigpio.EITHER_EDGE, closes)
    threads = dispatcher(pi).threads
    with Simulator(pi.sl.s.socket_path) as sim:  # not pi: the close ends its calls
        sim.inject(27, 1, 1, 0)
    assert closed.wait(10)
    with pytest.raises(pigpio.error):
        pi.read(27)
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_close_while_a_callback_runs(server):
    client = BlockingClient(server.socket_path)
    gate = Gate()
    client.callback(18, pigpio.EITHER_EDGE, gate)
    client.command("siminject", 18, 3, 1, 0)
    assert gate.inside.wait(10)
    runtime = client._resources.runtime
    stopper = threading.Thread(target=client.close)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive()  # close does not wait for the callback to end
    assert not runtime.thread.is_alive()
    wait_until(lambda: server.call(lambda: len(server.server.hub.subscriptions)) == 0)
    gate.open()
    for thread in runtime.dispatcher.threads:
        thread.join(10)
        assert not thread.is_alive()
    assert gate.got == [(18, 1, 0), (18, 0, 1), (18, 1, 2)]  # what was read still ran
    with pytest.raises(ConnectionFailed):
        client.command("t")


def test_a_server_restart_while_a_callback_is_slow(sock_path):
    first = ServerThread(sock_path, SimulatedChip()).start()
    client = BlockingClient(sock_path)
    try:
        gate = Gate()
        client.callback(17, pigpio.EITHER_EDGE, gate)
        client.command("siminject", 17, 1, 1, 10)
        assert gate.inside.wait(10)
        first.stop()
        second = ServerThread(sock_path, SimulatedChip()).start()
        try:
            first_call_after_a_restart(client)
            assert client.reconnects == 1
            client.command("siminject", 17, 2, 1, 20)
            gate.open()
            client.wait_callbacks()
            assert gate.got == [(17, 1, 10), (17, 1, 20), (17, 0, 21)]
        finally:
            second.stop()
    finally:
        client.close()


def test_a_forked_child_leaves_the_parents_callback_connection_alone(pi):
    """The child gets copies of the callback threads' socket; whatever it does and
    however it ends, the parent's callbacks go on."""
    got = []
    pi.callback(16, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append(t))
    drive(pi, "siminject", 16, 1, 1, 5)
    pi.sl.s.wait_callbacks()
    pid = os.fork()
    if pid == 0:  # child: calls of its own, then a close, then an exit
        code = 1
        try:
            signal.alarm(10)
            code = 0 if pi.read(16) in (0, 1) else 2
            pi.stop()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    drive(pi, "siminject", 16, 2, 1, 100)
    pi.sl.s.wait_callbacks()
    assert got == [5, 100, 101] and pi.reconnects == 0


def test_the_callback_connection_asks_for_the_edge_format(pi, server, edge_format):
    """The server sends binary frames on the callback connection only if asked."""
    got = []
    pi.callback(20, pigpio.EITHER_EDGE, lambda g, lvl, t: got.append(t))
    drive(pi, "siminject", 20, 3, 5, 100)
    pi.sl.s.wait_callbacks()
    assert got == [100, 105, 110]
    formats = server.call(lambda: [s.client.binary_reports
                                   for s in server.server.hub.subscriptions.values()])
    assert formats == [edge_format == "binary"]


class FakeServer:
    """A peer that answers the client's handshake and subscription as a server does,
    then sends what a test gives it, as it is (a hostile or broken server)."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen()
        self.subscribed = threading.Event()
        self.conns: list = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn) -> None:
        data = b""
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            data += chunk
            while b"\n" in data:
                line, data = data.split(b"\n", 1)
                request_id, _, rest = line.partition(b" ")
                names = [command.split()[0] for command in rest.split(b";")]
                answers = [b'{"server":"fake"}' if n == b"hello" else b"1" if n == b"no"
                           else b"0" for n in names]
                conn.sendall(request_id + b" " + b";".join(answers) + b"\n")
                if b"nb" in names:
                    self.callback_conn = conn
                    self.subscribed.set()

    def send(self, data: bytes, one_byte_at_a_time: bool = False) -> None:
        if one_byte_at_a_time:
            for i in range(len(data)):
                self.callback_conn.sendall(data[i:i + 1])
        else:
            self.callback_conn.sendall(data)

    def close(self) -> None:
        self.listener.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def binary_frame(seq: int, lost: int, records: bytes, count: int | None = None) -> bytes:
    count = len(records) // EDGE_RECORD.size if count is None else count
    return protocol.BINARY_EDGE_HEAD.pack(0xE5, seq, lost, count) + records


@contextmanager
def _callback_on_fake(sock_path: str, callback, **options: object
                      ) -> Iterator[tuple["FakeServer", BlockingClient]]:
    """A blocking client of a :class:`FakeServer` (made with ``options``) with
    ``callback`` on GPIO 20, once the fake saw it subscribe; both closed when the
    block ends."""
    fake = FakeServer(sock_path)
    client = BlockingClient(sock_path, **options)
    try:
        client.callback(20, pigpio.EITHER_EDGE, callback)
        assert fake.subscribed.wait(10)
        yield fake, client
    finally:
        client.close()
        fake.close()


@pytest.mark.parametrize("one_byte_at_a_time", [False, True])
def test_frames_cut_anywhere_and_mixed_with_lines_are_read_in_order(sock_path, edge_format,
                                                                    one_byte_at_a_time):
    """Binary and text edge frames and other lines, in one write or a byte at a
    time (every frame cut at every byte): every report reaches its callback, in
    order, and the lost counts are added up."""
    got = []
    with _callback_on_fake(sock_path, lambda g, lvl, t: got.append((lvl, t))) as (fake, client):
        one = EDGE_RECORD.pack(20, 1, 10) + EDGE_RECORD.pack(20, 0, 0x0A0AE5E5)
        two = EDGE_RECORD.pack(20, 1, 0xE50A)
        fake.send(binary_frame(1, 0, one) + b"*e 2 3 %" + two.hex().encode() + b"\n"
                  + binary_frame(3, 0, b"") + b"*later 1\n"
                  + binary_frame(4, 2, EDGE_RECORD.pack(20, 0, 7)),
                  one_byte_at_a_time)
        wait_until(lambda: len(got) == 4)
        assert got == [(1, 10), (0, 0x0A0AE5E5), (1, 0xE50A), (0, 7)]
        assert client.lost_reports == 5


def test_one_write_longer_than_the_read_buffer_is_read_whole(sock_path, edge_format):
    """Frames worth ten reads come in one write and nothing after it: the reader
    reads on until the socket is empty (edge-triggered, no later arrival would wake
    it for the rest), and every report reaches its callback, in order. The read
    buffer is the smallest there is, so that the write fits the socket's."""
    got = []
    with _callback_on_fake(sock_path, lambda g, lvl, t: got.append((lvl, t)),
                           buffer_size=4096) as (fake, client):
        size = len(client._resources.runtime.dispatcher._buffer)
        assert size == 4096
        frames, expected, seq = [], [], 0
        while sum(map(len, frames)) < 10 * size:
            seq += 1
            records = b"".join(EDGE_RECORD.pack(20, (seq + i) & 1, seq * 100 + i)
                               for i in range(50))
            expected += [((seq + i) & 1, seq * 100 + i) for i in range(50)]
            if edge_format == "binary":
                frames.append(binary_frame(seq, 0, records))
            else:
                frames.append(b"*e %d 0 %%%s\n" % (seq, records.hex().encode()))
        fake.send(b"".join(frames))
        wait_until(lambda: len(got) == len(expected))
        assert got == expected


def test_a_binary_frame_announcing_too_many_records_closes_the_connection(
        sock_path, caplog):
    got = []
    with _callback_on_fake(sock_path, lambda g, lvl, t: got.append(t)) as (fake, _):
        fake.subscribed.clear()
        with caplog.at_level(logging.ERROR):
            fake.send(binary_frame(1, 0, EDGE_RECORD.pack(20, 1, 5))
                      + binary_frame(2, 0, b"", protocol.MAX_BINARY_EDGE_RECORDS + 1))
            assert fake.subscribed.wait(10)  # it closed that connection and came back
        assert got == [5]
        assert (f"binary edge frame of {protocol.MAX_BINARY_EDGE_RECORDS + 1} records: "
                f"more than the {protocol.MAX_BINARY_EDGE_RECORDS} a frame may hold"
                ) in caplog.text


def test_a_connection_that_ends_inside_a_binary_frame_is_logged(sock_path, caplog):
    got = []
    with _callback_on_fake(sock_path, lambda g, lvl, t: got.append(t)) as (fake, _):
        fake.subscribed.clear()
        with caplog.at_level(logging.ERROR):
            whole = binary_frame(1, 0, EDGE_RECORD.pack(20, 1, 5))
            cut = binary_frame(2, 0, EDGE_RECORD.pack(20, 0, 6) * 2)[:-3]
            fake.send(whole + cut)
            wait_until(lambda: got == [5])
            fake.callback_conn.shutdown(socket.SHUT_RDWR)
            assert fake.subscribed.wait(10)  # it came back
        assert got == [5]
        assert (f"ended inside a binary edge frame ({len(cut)} bytes of it came)"
                in caplog.text)
