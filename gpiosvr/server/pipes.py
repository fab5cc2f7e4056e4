"""pigpio's notification pipes: a handle whose reports a program reads from a FIFO.

pigpio's ``notify_open`` makes ``/dev/pigpioN``, from which any program reads 12-byte
reports (``<HHII``: seq, flags, tick, levels of GPIO 0-31). Here the FIFO is
``pigpioN`` in the server's runtime directory, next to its socket (``pnpath N``
answers the path); N is the handle, 0-31 as pigpio's. The FIFO is made for the
client's uid (mode 0600; owned by it when the server runs as root).

A pipe handle rides on the server's edge hub as a subscription of its own, so
watchdogs, glitch and noise filters and events (``pevm``) shape its reports as they
do a socket's. It is a numbered handle (:mod:`gpiosvr.server.handles`): it belongs
to the client process that opened it (any of its connections may begin, pause or
close it) and closes, FIFO removed, when that process's last connection goes; one
opened by a session that persists (``pigs``, the pigpiod front end) is its uid's
and stays until closed, as pigpio's. The FIFO is written without ever blocking: reports
a reader does not take while the pipe is full are dropped and counted
(``pnlost N``), as pigpio drops them.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import struct
from typing import Any, Container

from gpiosvr import errors, protocol
from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server.handles import HandleTable
from gpiosvr.server.limits import MAX_PIPE_HANDLES, MAX_PIPE_HANDLES_PER_UID

REPORT = struct.Struct("<HHII")
_RECORD = protocol.EDGE_RECORD
NTFY_FLAGS_WDOG = int(CONSTANTS["NTFY_FLAGS_WDOG"])
NTFY_FLAGS_EVENT = int(CONSTANTS["NTFY_FLAGS_EVENT"])
PI_BAD_HANDLE = errors.PI_BAD_HANDLE
PI_NO_HANDLE = errors.PI_NO_HANDLE
#: Reports written to the FIFO at once: whole ones, at most PIPE_BUF bytes (atomic).
_CHUNK = (4096 // REPORT.size) * REPORT.size


class _Transport:
    """What the hub sees of a pipe's "connection": it takes frames at once."""

    def __init__(self, pipe: "Pipe") -> None:
        self._pipe = pipe

    def write(self, data: bytes) -> None:
        self._pipe.frames(data)

    def is_closing(self) -> bool:
        return self._pipe.fd is None

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return 0, 1 << 16


class Pipe:
    """One notification pipe: its FIFO, hub subscription and GPIO levels."""

    def __init__(self, path: str, fd: int, session: Any, levels: int) -> None:
        self.path = path
        self.fd: int | None = fd
        # the hub's client must look like a ClientConnection; the pipe may outlive
        # the connection, so it keeps the session without it
        self.session = dataclasses.replace(session, connection=None)
        self.subscriptions: set[int] = set()
        self.binary_reports = False  # the hub writes it *e text frames (frames() reads)
        self.encode_reports = None  # (a ClientConnection's: our frames)
        self.transport = _Transport(self)
        self.levels = levels
        self.seq = 0
        self.lost = 0
        self.sub: int | None = None  # the hub handle

    def frames(self, data: bytes) -> None:
        """``*e`` frames from the hub, turned into pigpio's reports on the FIFO."""
        out = bytearray()
        for line in data.decode("ascii").splitlines():
            _, lost, records = protocol.decode_notification(line).args
            self.lost += lost
            for gpio, level, tick in _RECORD.iter_unpack(records):
                if gpio & NTFY_FLAGS_EVENT:
                    flags = NTFY_FLAGS_EVENT | (gpio & 31)
                elif level == 2:
                    flags = NTFY_FLAGS_WDOG | gpio
                else:
                    flags = 0
                    self.levels = self.levels | 1 << gpio if level else \
                        self.levels & ~(1 << gpio)
                out += REPORT.pack(self.seq, flags, tick, self.levels)
                self.seq = (self.seq + 1) & 0xFFFF
        self._write(bytes(out))

    def _write(self, data: bytes) -> None:
        for start in range(0, len(data), _CHUNK):
            chunk = data[start:start + _CHUNK]
            try:
                os.write(self.fd, chunk)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise
                self.lost += len(data[start:]) // REPORT.size  # the reader is behind
                return

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class PipeService:
    """The server's notification pipes and their handle table."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.handles: HandleTable[Pipe] = server.handles.add(HandleTable(
            "notification pipe", MAX_PIPE_HANDLES, MAX_PIPE_HANDLES_PER_UID,
            on_close=self._closed))

    def directory(self) -> str:
        return os.path.dirname(os.path.abspath(self.server.socket_path))

    def open(self, session: Any, avoid: Container[int] = ()) -> int:
        """A new pipe of ``session``'s client, its handle the lowest free one not in
        ``avoid`` (the pigpiod front end's NOIB handles, which share pigpio's
        numbers with pipes)."""
        taken = dict(iter(self.handles))
        free = next((h for h in range(MAX_PIPE_HANDLES)
                     if h not in taken and h not in avoid), None)
        if free is None:
            raise PigpioError(PI_NO_HANDLE, f"no handle available: all "
                                            f"{MAX_PIPE_HANDLES} notification pipes are open")
        path = os.path.join(self.directory(), f"pigpio{free}")
        try:
            os.unlink(path)  # a stale one, left by a server that died
        except FileNotFoundError:
            pass
        os.mkfifo(path, 0o600)
        try:
            if os.geteuid() == 0 and session.uid is not None:
                os.chown(path, session.uid, session.gid if session.gid is not None else -1)
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)  # never blocks
        except BaseException:
            os.unlink(path)
            raise
        levels = self.server.backend.read_bank(1)
        pipe = Pipe(path, fd, session, levels if type(levels) is int else 0)
        try:
            pipe.sub = self.server.hub.open(pipe)
            handle = self.handles.open(session, pipe, avoid)
        except BaseException:
            if pipe.sub is not None:
                self.server.hub.close(pipe, pipe.sub)
            pipe.close()
            raise
        assert handle == free, (handle, free)
        return handle

    def get(self, session: Any, handle: int) -> Pipe:
        return self.handles.get(session, handle)

    def _closed(self, pipe: Pipe) -> None:
        if pipe.sub is not None:
            self.server.hub.close(pipe, pipe.sub)
        pipe.close()


def service(server: Any) -> PipeService:
    """The server's :class:`PipeService`, made at its first use."""
    pipes = getattr(server, "_pipes", None)
    if pipes is None:
        pipes = server._pipes = PipeService(server)
    return pipes
