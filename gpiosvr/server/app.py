"""The asyncio GPIO server: a Unix socket, one protocol object per client.

Requests are executed as soon as a whole frame has arrived, in the order they came;
all commands of one request run back to back, so no other client's command can slip
between them. A client that sends garbage gets an error answer and nothing else
changes; a client that stops reading is paused, never buffered without bound.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import re
import socket
import stat
import struct
from typing import Any

from gpiosvr import config, protocol
from gpiosvr.errors import ProtocolError
from gpiosvr.protocol import Command
from gpiosvr.server import commands
from gpiosvr.server.backends import Backend, create
from gpiosvr.server.notify import EdgeHub
from gpiosvr.server.pwm import PwmController
from gpiosvr.server.scripts import ScriptEngine

log = logging.getLogger("gpiosvr.server")

#: Socket file mode: owner and group may connect.
SOCKET_MODE = 0o660
#: Connections the kernel queues before the server accepts them.
LISTEN_BACKLOG = 1024


class EdgeSettings:
    """Per-GPIO watchdog and filter settings (pigpio keeps them per GPIO, not per
    client). Edge notifications apply them."""

    def __init__(self) -> None:
        self.watchdog = [0] * 32
        self.watchdog_owner: list[object | None] = [None] * 32  # who set it
        self.glitch = [0] * 32
        self.noise = [(0, 0)] * 32


class ServerAlreadyRunning(RuntimeError):
    """Another live server already serves the socket path."""


#: A whole frame of one command with small non-negative int arguments, e.g. ``@7 r 4``.
_SIMPLE_FRAME = re.compile(rb"@([0-9]{1,18}) ([a-z][a-z0-9]*)((?: [0-9]{1,9})*)\n\Z")


class ClientConnection(asyncio.Protocol):
    """One connected client: frames in, answers and notifications out."""

    def __init__(self, server: "GpioServer") -> None:
        self.server = server
        self.session = commands.Session(server=server, backend=server.backend,
                                        connection=self)
        self.transport: asyncio.Transport | None = None
        self.subscriptions: set[int] = set()  # notification handles it opened
        self._buffer = bytearray()
        self._discarding = False  # skipping the rest of an over-long frame

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        pid = uid = gid = None
        if sock is not None and hasattr(socket, "SO_PEERCRED"):
            try:
                creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                pid, uid, gid = struct.unpack("3i", creds)
            except OSError:
                pass
        self.session.pid, self.session.uid = pid, uid
        self.server.clients.add(self)
        log.info("client connected: pid=%s uid=%s gid=%s", pid, uid, gid)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.clients.discard(self)
        self.server.hub.client_gone(self)
        self.server.backend.user_gone(self.session)
        log.info("client disconnected: %s pid=%s", self.session.name, self.session.pid)

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.server.hub.client_drained(self)

    def data_received(self, data: bytes) -> None:
        if self.server.log_requests:
            log.debug("%s pid=%s <- %r", self.session.name, self.session.pid, bytes(data))
        if not self._buffer and not self._discarding:
            simple = _SIMPLE_FRAME.match(data)
            if simple:  # one whole everyday frame: the short way, same answers
                request_id, name, args = simple.groups()
                command = Command(name.decode("ascii"), tuple(map(int, args.split())))
                answer = commands.execute(self.session, command)
                self._write(b"@%s %s\n" % (request_id, answer.encode("ascii")))
                return
        if b"\n" not in data:
            self._buffer += data
            self._check_length()
            return
        buffer = self._buffer + data if self._buffer else data
        *lines, rest = buffer.split(b"\n")
        self._buffer = bytearray(rest)
        out = []
        for line in lines:
            if self._discarding:
                self._discarding = False
                continue
            if len(line) >= protocol.MAX_FRAME_BYTES:
                out.append(_too_long(line))
            elif line:
                out.append(self.handle_frame(line))
        if out and self.transport is not None and not self.transport.is_closing():
            self._write("".join(out).encode("ascii"))
        self._check_length()

    def _write(self, data: bytes) -> None:
        if self.server.log_requests:
            log.debug("%s pid=%s -> %r", self.session.name, self.session.pid, data)
        self.transport.write(data)

    # -- frames ------------------------------------------------------------------

    def _check_length(self) -> None:
        if len(self._buffer) >= protocol.MAX_FRAME_BYTES:
            if not self._discarding:
                self._discarding = True
                self.send(_too_long(self._buffer))
            self._buffer.clear()

    def handle_frame(self, line: bytes) -> str:
        """Execute one request frame and return its encoded response frame."""
        try:
            request = protocol.decode_request(protocol.frame_text(bytes(line)))
        except ProtocolError as exc:
            return _error_response(exc, line)
        session = self.session
        answers = [commands.execute(session, cmd) for cmd in request.commands]
        return protocol.encode_response(answers, request.id)

    def send(self, frame: str) -> None:
        """Send a frame (an answer or a notification) to this client."""
        if self.transport is not None and not self.transport.is_closing():
            self._write(frame.encode("ascii"))


def _error_response(exc: Exception, frame: bytes) -> str:
    """The answer to a frame that could not be executed at all."""
    answer = protocol.encode_answer(None, (exc,))
    return protocol.encode_response([answer], protocol.salvage_id(frame))


def _too_long(frame: bytes) -> str:
    return _error_response(ProtocolError(
        f"frame longer than the limit of {protocol.MAX_FRAME_BYTES - 1} bytes; skipped"), frame)


class GpioServer:
    """Serves one backend on one Unix socket to any number of clients."""

    def __init__(self, socket_path: str | None = None, backend: Backend | None = None,
                 group: str | int | None = None, log_requests: bool = False) -> None:
        self.socket_path = config.socket_path(socket_path)
        self.backend = backend if backend is not None else create("sim")
        self.group = group
        self.clients: set[ClientConnection] = set()
        #: Log every request and response at DEBUG level (``--log-requests``).
        self.log_requests = log_requests
        self.edge_settings = EdgeSettings()
        self.hub = EdgeHub(self.edge_settings)
        self.pwm = PwmController(self.backend)
        self.scripts = ScriptEngine(self)
        self._server: asyncio.base_events.Server | None = None

    @property
    def client_count(self) -> int:
        """How many clients are connected now."""
        return len(self.clients)

    async def start(self) -> None:
        """Bind the socket (replacing a stale one) and start accepting clients."""
        _claim_socket_path(self.socket_path)
        loop = asyncio.get_running_loop()
        self.hub.attach(loop, self.backend)
        self.backend.attach(loop)
        self.backend.add_listener(self.hub.level_changed, self.hub.burst)
        old_umask = os.umask(0o117)
        try:
            self._server = await loop.create_unix_server(
                lambda: ClientConnection(self), self.socket_path, backlog=LISTEN_BACKLOG)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, SOCKET_MODE)
        if self.group is not None:
            gid = self.group if isinstance(self.group, int) else grp.getgrnam(self.group).gr_gid
            os.chown(self.socket_path, -1, gid)
        log.info("gpiosvr serving backend %s on %s", self.backend.name, self.socket_path)

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, reason: str = "server shutting down") -> None:
        """Stop scripts and accepting, tell every client why (a ``*bye`` notification)
        and drop it, remove the socket file."""
        running = self.scripts.close()
        if self._server is not None:
            log.info("shutting down: %d client(s), %d running script(s) stopped",
                     len(self.clients), running)
            self._server.close()
            bye = protocol.encode_notification("bye", reason)
            for client in list(self.clients):
                client.send(bye)
                if client.transport is not None:
                    client.transport.close()
            await self._server.wait_closed()
            self._server = None
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass
        self.backend.close()

    async def __aenter__(self) -> "GpioServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _claim_socket_path(path: str) -> None:
    """Refuse a socket a live server serves; remove a stale one left by a crash."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ServerAlreadyRunning(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log.warning("replacing stale socket %s", path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    except OSError as exc:
        raise ServerAlreadyRunning(f"cannot use {path}: {exc}") from exc
    finally:
        probe.close()
    raise ServerAlreadyRunning(f"another GPIO server is already serving {path}")
