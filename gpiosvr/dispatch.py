"""The callback dispatcher: reads the callback connection and runs edge callbacks,
in order, on two threads of its own (never on the client's loop thread).

An edge costs one thread wake-up, as with pigpio's client: the thread that reads
an edge is the one that runs its callbacks. So that a slow callback never stalls
reading, both threads wait for the connection in one ``epoll`` set, where it is
registered edge-triggered: the kernel wakes one of them for each arrival of data.
That thread reads, parses the frames, queues the edge reports in arrival order and
hands every other frame (answers to the commands the loop thread sends on this
connection, ``*bye``) to the loop thread holding a lock, so that what the other
thread reads next comes after them. If no thread is running callbacks, it then
runs the queue until it is empty, while the other thread waits for the next data
in the kernel: the reading passes from one thread to the other without a wake-up
of its own (a lock handed over would wake the other thread at every edge, and it
would wait for the GIL while the callbacks run), and with no system call to arm
the connection again. Only one thread runs callbacks at a time, in arrival order;
a callback may call the client again, and one that raises is logged while the
others keep running.

The loop thread keeps the connection's life (connect, hello, subscriptions,
reconnection, close): it :meth:`Dispatcher.attach`\\ es each new connection, whose
transport stops reading, and :meth:`Dispatcher.detach`\\ es it when it ends.
"""

from __future__ import annotations

import binascii
import collections
import logging
import os
import select
import socket
import threading
from typing import TYPE_CHECKING, Any

from gpiosvr import protocol
from gpiosvr.client import edge_note
from gpiosvr.edge_reports import RECORD, EdgeCallback, run_callbacks
from gpiosvr.errors import ProtocolError

if TYPE_CHECKING:
    import asyncio

    from gpiosvr.client_pigs import PigpioCallbackClient

log = logging.getLogger(__name__)

#: Reports the dispatcher may have waiting before new ones are dropped (and counted).
MAX_PENDING_REPORTS = 1_000_000
#: How long one wait for the callback connection lasts before it looks again
#: (seconds): a safety net only, since closing and replacing a connection wake it.
_READ_WAIT_SECONDS = 60.0
#: The connection's registration: edge-triggered, so that the kernel wakes one
#: waiting thread for each arrival and none needs to arm it again after reading
#: (a system call per edge, and one more moment the thread lets go of the GIL).
_WATCHED = select.EPOLLIN | select.EPOLLET
#: A binary edge frame (asked for with ``nfmt 1``): its first byte, its head.
_MARK = protocol.BINARY_EDGE_MARK
_MARK_BYTE = bytes([_MARK])
_HEAD = protocol.BINARY_EDGE_HEAD


class _Source:
    """One attached connection as the reader threads see it: a duplicate of its
    socket (read without blocking, when ``epoll`` says so), the frame begun in the
    last read."""

    __slots__ = ("sock", "fd", "conn", "transport", "loop", "pending", "detached", "failed")

    def __init__(self, sock: socket.socket, conn: Any, transport: Any,
                 loop: asyncio.AbstractEventLoop, pending: bytes) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.conn = conn
        self.transport = transport
        self.loop = loop
        self.pending = pending
        self.detached = False
        self.failed = False  # it sent what no frame can be: the loop closes it

    def shut(self) -> None:
        """End the connection for both sides and wake the thread reading it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed, or the peer went first


class Dispatcher:
    """Reads the callback connection of ``client`` and runs its callbacks."""

    #: Ask the server for binary edge frames (``nfmt 1``, docs/protocol.md 7.2): a
    #: frame's head and records are read with one ``struct`` call, where a text
    #: ``*e`` frame is split, checked and its hex decoded. Text frames are read too
    #: (a server that does not know ``nfmt`` sends them).
    binary_reports = True

    def __init__(self, client: PigpioCallbackClient, threads: int = 2) -> None:
        self._client = client
        self._lock = threading.Lock()  # the queue, _running, _pending
        # held from a read to its frames queued or handed on: what the next read
        # brings comes after them
        self._reading = threading.Lock()
        self._queue: collections.deque[bytes | threading.Event] = collections.deque()
        self._running = False
        self._pending = 0
        self.lost_reports = 0
        self._changed = threading.Lock()  # _source, _stopping
        self._source: _Source | None = None
        self._sources: dict[int, _Source] = {}  # by descriptor: the one being read
        self._stopping = False
        self._buffer = bytearray(max(4096, client.responseBufferSize))
        self._epoll = select.epoll()
        # written once, never read: wakes every waiting thread (level-triggered) to stop
        self._wake_read, self._wake_write = os.pipe()
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._alive = threads
        self.threads = [threading.Thread(target=self._work, name="gpiosvr-callbacks",
                                         daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Edge reports read and waiting for (or in) the callbacks."""
        return self._pending

    # -- the loop thread's side -------------------------------------------------------

    def attach(self, conn: Any, transport: asyncio.Transport) -> None:
        """Read ``conn`` (a keep-alive connection just made; called on the loop
        thread) from now on, instead of its transport, which stops reading."""
        transport.pause_reading()
        fd = os.dup(transport.get_extra_info("socket").fileno())
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)  # as the loop needs it: the descriptors share the flag
        pending = bytes(conn._pending)  # what the loop read before: nothing, as a rule
        conn._pending = bytearray()
        source = _Source(sock, conn, transport, self._client.loop, pending)
        with self._changed:
            old, self._source = self._source, source
            stopping = self._stopping
            if not stopping:
                self._sources[source.fd] = source
                self._epoll.register(source.fd, _WATCHED)
        if old is not None:
            old.shut()
        if stopping:
            source.shut()
            sock.close()

    def detach(self, conn: Any) -> None:
        """``conn`` ended (called on the loop thread): stop reading it. Idempotent."""
        with self._changed:
            source = self._source
            if source is None or source.conn is not conn:
                return
            self._source = None
        source.detached = True
        source.shut()

    def submit(self, records: bytes) -> None:
        """Queue packed reports that reached the loop thread, not the readers (only a
        connection's very first read can); a thread of its own runs them if nobody
        is running callbacks."""
        if self._enqueue(records):
            threading.Thread(target=self._run_queue, name="gpiosvr-callbacks",
                             daemon=True).start()

    def barrier(self, timeout: float) -> bool:
        """Wait until what was queued before this call has been through the
        callbacks; False if that took longer than ``timeout`` seconds."""
        done = threading.Event()
        with self._lock:
            if not self._queue and not self._running:
                return True
            self._queue.append(done)
        return done.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Finish what is queued (bounded) and end the threads. Idempotent."""
        with self._changed:
            stopping, self._stopping = self._stopping, True
            source, self._source = self._source, None
            if not stopping:
                os.write(self._wake_write, b"x")
        if source is not None:
            source.shut()
        current = threading.current_thread()
        for thread in self.threads:
            if thread is not current:
                thread.join(timeout)

    # -- the dispatcher threads ---------------------------------------------------------

    def _work(self) -> None:
        try:
            while True:
                direct = self._lead()
                if direct is None:
                    return
                if direct:  # a lone frame's reports, straight from the read
                    run_callbacks(self._client.callbacks, direct, _log_error)
                self._run_queue(len(direct) // RECORD.size)
        finally:
            self._thread_ended()

    def _thread_ended(self) -> None:
        """The last thread to end closes the ``epoll`` set and the wake-up pipe."""
        with self._changed:
            self._alive -= 1
            if self._alive:
                return
            for source in list(self._sources.values()):
                source.sock.close()
            self._sources.clear()
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _lead(self) -> bytes | None:
        """Read until there are reports to run and nobody runs them, or the
        dispatcher stops (None). One edge frame alone in a read, the everyday case,
        is read here in as few steps as can be (a thread that slept runs cold): when
        nothing is queued, its records come back for this thread to run at once
        (counted as pending, as if queued); else ``b""``: run the queue."""
        buffer = self._buffer
        view = memoryview(buffer)
        client, lock, queue = self._client, self._lock, self._queue
        handlers = client._notification_handlers
        unhexlify, hex_error, size_of = binascii.unhexlify, binascii.Error, RECORD.size
        mark, unpack_head, head_size = _MARK, _HEAD.unpack_from, _HEAD.size
        wait, sources, reading = self._epoll.poll, self._sources, self._reading
        full = len(buffer)
        while True:
            if self._stopping:
                return None
            events = wait(_READ_WAIT_SECONDS, 1)
            if self._stopping:
                return None
            if not events:
                continue
            source = sources.get(events[0][0])
            if source is None:
                continue  # gone meanwhile
            with reading:  # the other thread may be reading what came before
                error: OSError | None = None
                try:
                    size = source.sock.recv_into(buffer)
                except BlockingIOError:
                    continue  # the other thread read it first
                except OSError as exc:
                    size, error = 0, exc
                if not size:
                    self._source_lost(source, error)
                    continue
                run = direct = False
                records = None
                if source.pending or source.failed or len(handlers) != 1:
                    pass  # the general way
                elif buffer[0] == mark:  # a binary edge frame (nfmt 1)
                    if size >= head_size:
                        _, seq, lost, count = unpack_head(buffer)
                        if size == head_size + count * size_of:
                            records = bytes(view[head_size:size])
                elif buffer[:3] == b"*e " and buffer.find(b"\n") == size - 1:
                    words = bytes(view[:size]).split(b" ", 3)
                    if len(words) == 4:
                        _, seq, lost, hexed = words
                        if (seq.isdigit() and lost.isdigit() and hexed[:1] == b"%"
                                and len(seq) < 19 and len(lost) < 19):
                            try:
                                records = unhexlify(hexed[1:-1])
                            except hex_error:
                                records = None
                            if records is not None and len(records) % size_of:
                                records = None
                            seq, lost = int(seq), 0 if lost == b"0" else int(lost)
                if records is None:
                    run = self._take(source, bytes(view[:size]))
                else:
                    client._seq = seq
                    if lost:
                        self._count_lost(lost)
                    if records:
                        count = len(records) // size_of
                        with lock:
                            if self._pending + count <= MAX_PENDING_REPORTS:
                                self._pending += count
                                if not self._running and not queue:
                                    self._running = direct = True
                                else:
                                    queue.append(records)
                                    if not self._running:
                                        self._running = run = True
                                    records = b""
                        if records and not direct:  # over the bound: dropped and counted
                            self._enqueue(records)
                if size == full:  # more may be waiting, and no new edge would tell
                    try:
                        self._epoll.modify(source.fd, _WATCHED)
                    except OSError:
                        pass  # gone meanwhile: its end reaches the thread that reads it
            if direct:
                return records
            if run:
                return b""

    def _source_lost(self, source: _Source, error: OSError | None) -> None:
        """The connection being read ended (or was replaced): let it go, and tell the
        loop thread unless it ended it."""
        if source.pending[:1] == _MARK_BYTE and not source.detached:
            log.error("the connection to the GPIO server ended inside a binary edge "
                      "frame (%d bytes of it came)", len(source.pending))
        with self._changed:
            if self._source is source:
                self._source = None
            if self._sources.pop(source.fd, None) is source:
                try:
                    self._epoll.unregister(source.fd)
                except OSError:
                    pass
                source.sock.close()
        if not source.detached:
            try:
                source.loop.call_soon_threadsafe(_abort, source.transport)
            except RuntimeError:
                pass  # the loop is closed: the client is gone

    def _take(self, source: _Source, data: bytes) -> bool:
        """Queue the edge reports of the whole frames read, hand the other frames to
        the loop thread, in order; True if this thread must now run the queue."""
        if source.failed:
            return False  # the loop thread is closing it: nothing more of it counts
        if source.pending:
            data = source.pending + data
            source.pending = b""
        if _MARK_BYTE in data:
            return self._take_frames(source, data)
        if data[-1:] != b"\n":
            cut = data.rfind(b"\n") + 1
            data, source.pending = data[:cut], data[cut:]
            if len(source.pending) > protocol.MAX_FRAME_BYTES:
                self._fail(source, ProtocolError("response frame longer than the frame limit"))
                return False
            if not data:
                return False
        return self._take_lines(source, data.split(b"\n")[:-1], [])

    def _take_frames(self, source: _Source, data: bytes) -> bool:
        """:meth:`_take` of data that holds binary edge frames: frame by frame, text
        lines and binary frames in the order they came."""
        run = False
        lines: list[bytes] = []
        items: list[bytes | tuple[int, int, bytes]] = []
        at, end, head_size = 0, len(data), _HEAD.size
        while at < end:
            if data[at] == _MARK:
                if end - at < head_size:
                    break
                _, seq, lost, count = _HEAD.unpack_from(data, at)
                if count > protocol.MAX_BINARY_EDGE_RECORDS:
                    run = self._take_lines(source, lines, items) or run
                    self._fail(source, ProtocolError(
                        f"binary edge frame of {count} records: more than the "
                        f"{protocol.MAX_BINARY_EDGE_RECORDS} a frame may hold"))
                    return run
                stop = at + head_size + count * RECORD.size
                if stop > end:
                    break
                lines.append(b"")  # its place among the lines
                items.append((seq, lost, data[at + head_size:stop]))
                at = stop
                continue
            stop = data.find(b"\n", at)
            if stop < 0:
                break
            lines.append(data[at:stop])
            items.append(b"")
            at = stop + 1
        source.pending = data[at:]
        if len(source.pending) > protocol.MAX_FRAME_BYTES:  # a text frame without end
            run = self._take_lines(source, lines, items) or run
            self._fail(source, ProtocolError("response frame longer than the frame limit"))
            return run
        return self._take_lines(source, lines, items) or run

    def _take_lines(self, source: _Source, lines: list[bytes],
                    binary: list[bytes | tuple[int, int, bytes]]) -> bool:
        """Queue the edge reports of ``lines`` (text frames without their newline;
        where ``binary`` holds a binary frame's (seq, lost, records) at a line's
        index, that frame instead) and hand the other frames to the loop thread, in
        order; True if this thread must now run the queue."""
        client = self._client
        listeners = client.edge_listeners
        run = False
        records: list[bytes] = []
        others: list[bytes] = []
        for index, line in enumerate(lines):
            note = None
            if binary and binary[index]:
                note = binary[index]
                if listeners:  # the loop's own notification handlers read text
                    line = b"*e %d %d %%%s" % (note[0], note[1], binascii.hexlify(note[2]))
            elif line[:3] == b"*e ":
                note = _edge_report(line)
                if note is None:
                    general = edge_frame_note(line)
                    if general is not None:
                        note = general.args
            if note is not None:
                if others:
                    self._hand_over(source, others)
                    others = []
                packed = self._noted(*note)
                if packed:
                    records.append(packed)
                if listeners:
                    others.append(line)  # for the loop's own notification handlers
                continue
            if records:
                run = self._enqueue(b"".join(records)) or run
                records = []
            others.append(line)
        if records:
            run = self._enqueue(b"".join(records)) or run
        if others:
            self._hand_over(source, others)
        return run

    def _fail(self, source: _Source, error: ProtocolError) -> None:
        """The server sent what no frame can be: the loop thread closes the
        connection with ``error``, and nothing more is read from it."""
        source.failed = True
        source.pending = b""
        self._hand_over(source, error)

    def _count_lost(self, lost: int) -> None:
        """The server says it dropped ``lost`` reports for this client (LOST)."""
        if lost:
            self._client.lost_reports += lost
            log.warning("the server dropped %d edge reports for this client "
                        "(it was not reading fast enough)", lost)

    def _noted(self, seq: int, lost: int, records: Any) -> bytes | None:
        """Take an edge frame's SEQ and LOST; its records, unless they are malformed."""
        self._client._seq = seq
        self._count_lost(lost)
        if type(records) is not bytes or len(records) % RECORD.size:
            log.error("malformed edge report frame ignored")
            return None
        return records

    def _hand_over(self, source: _Source, lines: list[bytes] | ProtocolError) -> None:
        """Give frames to the loop thread (an error: it closes the connection)."""
        try:
            source.loop.call_soon_threadsafe(self._client._lines_from_reader,
                                             source.conn, lines)
        except RuntimeError:
            pass  # the loop is closed: the client is gone

    def _enqueue(self, records: bytes) -> bool:
        """Queue packed reports; True if the caller must now run the queue."""
        count = len(records) // RECORD.size
        with self._lock:
            if self._pending + count > MAX_PENDING_REPORTS:
                self.lost_reports += count
                behind = self._pending
            else:
                self._pending += count
                self._queue.append(records)
                if self._running:
                    return False
                self._running = True
                return True
        log.warning("callbacks are %d reports behind; dropped %d", behind, count)
        return False

    def _run_queue(self, done: int = 0) -> None:
        """Run the callbacks of everything queued, in order, until the queue is empty
        (``done``: reports this thread has just run, still counted as pending)."""
        client, lock, queue = self._client, self._lock, self._queue
        while True:
            with lock:
                self._pending -= done
                if not queue:
                    self._running = False
                    return
                item = queue.popleft()
            if type(item) is threading.Event:
                item.set()
                done = 0
                continue
            run_callbacks(client.callbacks, item, _log_error)
            done = len(item) // RECORD.size


def _edge_report(line: bytes) -> tuple[int, int, bytes] | None:
    """SEQ, LOST and the records of an ``*e SEQ LOST %HEX`` frame (no newline), as
    :func:`gpiosvr.client.edge_note` reads it but quicker (``unhexlify`` checks the
    hex digits); None for any other shape (the general decoder then reads it)."""
    words = line.split(b" ")
    if len(words) != 4:
        return None
    _, seq, lost, hexed = words
    if not (seq.isdigit() and lost.isdigit() and len(seq) < 19 and len(lost) < 19
            and hexed[:1] == b"%"):
        return None
    try:
        return int(seq), int(lost), binascii.unhexlify(memoryview(hexed)[1:])
    except binascii.Error:
        return None


def edge_frame_note(line: bytes) -> protocol.Command | None:
    """The edge report in an ``*e`` frame (no newline), the short way when it can
    (:func:`gpiosvr.client.edge_note`), else the general decoder's; None if it is not
    one (the loop thread then refuses it)."""
    note = edge_note(line)
    if note is not None:
        return note
    try:
        note = protocol.decode_notification(protocol.frame_text(line))
    except ProtocolError:
        return None
    return note if note.name == "e" and len(note.args) == 3 else None


def _abort(transport: Any) -> None:
    transport.abort()  # its protocol's connection_lost reports the loss, reconnects


def _log_error(cb: EdgeCallback) -> None:
    log.exception("edge callback %r for GPIO %d raised", cb.func, cb.gpio)
