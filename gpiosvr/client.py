"""Classes for communicating with a GPIO server via a Unix socket.

This is the seed API: :class:`Response`, :class:`SocketClient` and the constant
enums keep their names and signatures exactly. For a pigpio-shaped async client see
:mod:`gpiosvr.client_pigs`; for a blocking one see :mod:`gpiosvr.blocking`; for the
drop-in ``pigpio`` module see :mod:`gpiosvr.pigpio`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from enum import IntEnum
from typing import Any, Callable, Sequence

from gpiosvr import config, peercred, protocol
from gpiosvr.channel import bye_reason, lost_message
from gpiosvr.errors import ConnectionFailed, ProtocolError, ResponseTimeout
from gpiosvr.protocol import Command, RequestDelimiters
from gpiosvr.reconnect import RECONNECT_RETRY_SECONDS, SocketWatch
from gpiosvr.response import Response

__all__ = [
    "Response", "SocketClient", "GpioDirection", "GpioLevel", "GpioPull",
    "RequestDelimiters",
]

log = logging.getLogger(__name__)

class GpioDirection(IntEnum):
    """Constants representing the input/output direction of a GPIO."""

    INPUT = 0
    OUTPUT = 1


class GpioLevel(IntEnum):
    """Constants representing the level of a GPIO (TIMEOUT as reported by watchdogs)."""

    LOW = 0
    HIGH = 1
    TIMEOUT = 2


class GpioPull(IntEnum):
    """Constants corresponding to the internal pull resistors of a GPIO."""

    OFF = 0
    DOWN = 1
    UP = 2


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def edge_note(line: bytes | bytearray) -> Command | None:
    """An edge report frame ``*e <seq> <lost> %<hex>`` (no newline) decoded the short
    way: the :class:`Command` ``protocol.decode_notification`` gives for it, or None
    for any other shape (which the general decoder then reads, or refuses)."""
    words = line.split(b" ")
    if len(words) != 4:
        return None
    _, seq, lost, data = words
    if not (seq.isdigit() and lost.isdigit() and len(seq) < 19 and len(lost) < 19
            and data[:1] == b"%" and len(data) % 2 and _HEX_DIGITS.issuperset(data[1:])):
        return None
    return Command("e", (int(seq), int(lost), bytes.fromhex(data[1:].decode("ascii"))))


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection: reads frames in ``responseBufferSize`` chunks."""

    def __init__(self, client: "SocketClient") -> None:
        self._client = client
        self._chunk = bytearray(max(1, client.responseBufferSize))
        self._pending = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.bye: str | None = None  # the reason the server gave for closing

    def connection_made(self, transport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._chunk

    def buffer_updated(self, nbytes: int) -> None:
        data = self._chunk[:nbytes]
        self._pending += data
        if b"\n" not in data:
            if len(self._pending) > protocol.MAX_FRAME_BYTES:
                self._fail(ProtocolError("response frame longer than the frame limit"))
            return
        *lines, rest = self._pending.split(b"\n")
        self._pending = rest
        for line in lines:
            if line.startswith(b"*e "):
                note = edge_note(line)
                if note is not None:  # the everyday edge report, read the short way
                    self._client._notify(note)
                    continue
            if line.startswith(b"*bye"):
                self.bye = bye_reason(line)
            try:
                self._client._frame_received(protocol.frame_text(bytes(line)))
            except ProtocolError as exc:
                self._fail(exc)
                return

    def _fail(self, exc: BaseException) -> None:
        log.error("closing connection to %s: %s", self._client.socketPath, exc)
        self._client._connection_failed(self, exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        self._client._connection_failed(
            self, ConnectionFailed(lost_message(self._client.socketPath, exc, self.bye)))
        if not self.closed.done():
            self.closed.set_result(None)


class SocketClient:
    """Base class for establishing and operating a connection with a GPIO server via
    a Unix socket.

    * ``loop``: the event loop the client runs on (None: the running loop).
    * ``socketPath``: the server's socket (None: ``$GPIO_SOCKET_PATH`` or the default).
    * ``name``: told to the server in the handshake, shown in its log.
    * ``connectTimeout_ms``: how long connecting retries before it gives up.
    * ``responseBufferSize``: how many bytes one read from the socket takes; longer
      responses arrive whole over several reads.
    * ``responseTimeout_ms``: how long a request waits for its answer before it
      raises :class:`~gpiosvr.errors.ResponseTimeout`.
    * ``isKeepAlive``: keep one connection open across requests (requests are then
      multiplexed with ids, and notifications can flow); otherwise each request
      opens and closes a connection of its own.
    """

    PROTOCOL_VERSION = protocol.PROTOCOL_VERSION

    def __init__(self, loop, socketPath, name=None, connectTimeout_ms=10000,
                 responseBufferSize=256, responseTimeout_ms=1000, isKeepAlive=False):
        self.loop: asyncio.AbstractEventLoop | None = loop
        self.socketPath: str = config.socket_path(socketPath)
        self.name: str = name if name is not None else config.default_client_name()
        self.connectTimeout_ms = connectTimeout_ms
        self.responseBufferSize = int(responseBufferSize)
        self.responseTimeout_ms = responseTimeout_ms
        self.isKeepAlive = bool(isKeepAlive)
        if self.responseBufferSize < 1:
            raise ValueError("responseBufferSize must be at least 1")
        self.server_info: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future | None = None
        self._closed = False
        self._notification_handlers: list[Callable[[Command], None]] = []
        self._connection_handlers: list[Callable[[], Any]] = []
        #: Reconnect by itself when a keep-alive connection is lost (and restore what
        #: the on_connect handlers restore); off by default.
        self.auto_reconnect = False
        self._reconnecting: asyncio.Future | None = None
        self._watch = SocketWatch(self.socketPath)
        #: When the keep-alive connection was lost (loop time), while reconnecting.
        self._lost_at: float | None = None
        #: How many times the keep-alive connection was lost and made again (with
        #: the on_connect handlers' state restored); see :meth:`_reconnected`.
        self.reconnects = 0

    # -- public ------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while a keep-alive connection is open."""
        return self._conn is not None

    async def connect(self) -> None:
        """Open the keep-alive connection now (requests do so on demand)."""
        self._closed = False
        await self._ensure_connection()

    async def request(self, commands: Sequence[Sequence[Any]],
                      timeout_ms: float | None = None) -> list[Response]:
        """Send pigs ``commands`` (each ``(name, *args)``) in one request frame.

        Returns one :class:`Response` per command, in order; errors of a command are
        in its response. Raises :class:`ResponseTimeout` or :class:`ConnectionFailed`
        when no answer comes at all.
        """
        if self._closed and self.isKeepAlive:
            raise ConnectionFailed("client is closed")
        timeout = (self.responseTimeout_ms if timeout_ms is None else timeout_ms) / 1000
        if not self.isKeepAlive:
            answers = await self._one_shot(commands, timeout)
        else:
            answers = await self._multiplexed(commands, timeout)
        if len(answers) != len(commands):
            raise ProtocolError(f"{len(answers)} answers to {len(commands)} commands")
        return [Response._from_answer(a) for a in answers]

    async def command(self, name: str, *args: Any) -> Any:
        """Run one pigs command and return its result, raising its exception."""
        return (await self.request(((name, *args),)))[0].result()

    def on_notification(self, handler: Callable[[Command], None]) -> None:
        """Call ``handler(command)`` on the loop for every notification frame."""
        self._notification_handlers.append(handler)

    def on_connect(self, handler: Callable[[], Any]) -> None:
        """Await ``handler()`` after each (re)connection's handshake, before use."""
        self._connection_handlers.append(handler)

    async def ensure_restored(self, timeout: float) -> None:
        """Return once the keep-alive connection is open, greeted, restored by the
        on_connect handlers, and answers; connect or reconnect at once if need be.

        For a caller whose own connection to the server just came back (the blocking
        client's): the server may be a new one, which the keep-alive connection may
        not have reached yet. Raises :class:`ConnectionFailed` after ``timeout``
        seconds.
        """
        if not self.isKeepAlive:
            return
        self._watch.retry_now()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if self._closed:
                        raise ConnectionFailed("client is closed")
                    connecting = self._connecting
                    if connecting is not None and not connecting.done():
                        try:
                            await asyncio.shield(connecting)
                        except (ConnectionFailed, ResponseTimeout, ProtocolError):
                            pass
                        continue
                    try:
                        conn = await self._ensure_connection()
                        # It may still be the old server's connection, its loss not
                        # yet seen: only a live one answers.
                        await self._exchange(conn, (("t",),), timeout)
                        return
                    except (ConnectionFailed, ProtocolError):
                        await asyncio.sleep(0)  # a loss being noticed: try again
        except TimeoutError:
            raise ConnectionFailed(
                f"the connection to {self.socketPath} that restores callbacks, "
                f"watchdogs and filters was not back within {timeout * 1000:.0f} ms"
            ) from None

    async def close(self) -> None:
        """Close the connection; requests still waiting fail with ConnectionFailed."""
        conn = self._shutdown()
        if conn is not None:
            try:
                await asyncio.wait_for(asyncio.shield(conn.closed), 1.0)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        """A non-async variant of close() for compatibility with PigpioMinimalApi.

        Safe from any thread, and from inside the client's own loop.
        """
        loop = self._conn_loop()
        if loop is None or loop.is_closed() or not loop.is_running():
            self._shutdown()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._shutdown()
            return
        done = threading.Event()

        def _stop() -> None:
            try:
                self._shutdown()
            finally:
                done.set()

        loop.call_soon_threadsafe(_stop)
        done.wait(2.0)

    # -- internals -----------------------------------------------------------

    def _conn_loop(self) -> asyncio.AbstractEventLoop | None:
        return self.loop

    def _shutdown(self) -> "_Connection | None":
        self._closed = True
        # Both, or a connection being made would outlive the client (and its task be
        # destroyed pending when the loop ends).
        for task in (self._reconnecting, self._connecting):
            if task is not None:
                task.cancel()
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        self._fail_waiting(ConnectionFailed("client closed"))
        return conn

    def _fail_waiting(self, exc: BaseException) -> None:
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(exc)

    def _connection_failed(self, conn: _Connection, exc: BaseException) -> None:
        if self._conn is conn:
            self._conn = None
            self._fail_waiting(exc)
            if self.auto_reconnect and not self._closed:
                if self._lost_at is None and self.server_info is not None:
                    self._lost_at = asyncio.get_running_loop().time()
                    log.warning("lost the connection to the GPIO server at %s: %s; "
                                "reconnecting", self.socketPath, exc)
                self._start_reconnecting()

    def _start_reconnecting(self) -> None:
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        """Reconnect (restoring state through the on_connect handlers) until it works
        or the client is closed. It connects the moment the socket takes connections
        again (:class:`~gpiosvr.reconnect.SocketWatch`), and idles meanwhile."""
        last_problem = None
        while not self._closed and self._conn is None:
            await self._watch.until_connectable()
            try:
                await self._ensure_connection()
            except (ConnectionFailed, ResponseTimeout, ProtocolError) as exc:
                if str(exc) != last_problem:  # not the same line ten times a second
                    log.warning("reconnecting to %s: %s", self.socketPath, exc)
                    last_problem = str(exc)
                await asyncio.sleep(RECONNECT_RETRY_SECONDS)
            except Exception:
                log.exception("reconnecting to %s failed", self.socketPath)
                await asyncio.sleep(0.5)

    def _reconnected(self, gap: float) -> None:
        """The keep-alive connection is back, ``gap`` seconds after it was lost:
        count it and say so, since what the server sent meanwhile is gone."""
        self.reconnects += 1
        log.warning("reconnected to the GPIO server at %s after %.0f ms: %s",
                    self.socketPath, gap * 1000, self.GAP_NOTE)

    #: What a reconnection lost, for the log line of :meth:`_reconnected`.
    GAP_NOTE = "notifications in between were not seen"

    def _frame_received(self, text: str) -> None:
        if text.startswith("*"):
            self._notify(protocol.decode_notification(text))
            return
        request_id, answers = protocol.decode_response(text)
        fut = self._waiting.pop(request_id, None) if request_id is not None else None
        if fut is None:
            log.debug("dropping an answer nobody waits for: %.80s", text)
        elif not fut.done():
            fut.set_result(answers)

    def _notify(self, note: Command) -> None:
        for handler in self._notification_handlers:
            try:
                handler(note)
            except Exception:  # a handler's bug must not kill the connection
                log.exception("notification handler failed")

    def _hello(self) -> tuple[Any, ...]:
        return ("hello", self.PROTOCOL_VERSION, self.name, os.getpid())

    def _greeting(self) -> tuple[tuple[Any, ...], ...]:
        """The commands a new keep-alive connection begins with: the hello first
        (the answer to the others is not looked at)."""
        return (self._hello(),)

    async def _open(self, protocol_factory) -> tuple[asyncio.BaseTransport, Any]:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        deadline = time.monotonic() + self.connectTimeout_ms / 1000
        delay = 0.005
        while True:
            try:
                transport, conn = await loop.create_unix_connection(protocol_factory,
                                                                    self.socketPath)
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError) as exc:
                # not there yet, or its backlog is full (EAGAIN): try again shortly
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectionFailed(
                        f"cannot connect to the GPIO server at {self.socketPath} "
                        f"within {self.connectTimeout_ms} ms: {exc.strerror}"
                    ) from exc
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.1)
            except PermissionError as exc:
                raise ConnectionFailed(
                    f"cannot connect to the GPIO server at {self.socketPath}: "
                    f"{peercred.permission_denied(self.socketPath)}") from exc
            except OSError as exc:
                raise ConnectionFailed(
                    f"cannot connect to the GPIO server at {self.socketPath}: "
                    f"{exc.strerror or exc}") from exc
            else:
                try:
                    peercred.check_server(transport.get_extra_info("socket"),
                                          self.socketPath)
                except BaseException:
                    transport.abort()
                    raise
                return transport, conn

    async def _ensure_connection(self) -> _Connection:
        if self._conn is not None:
            return self._conn
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect_and_greet())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if connecting.cancelled() and not (task is not None and task.cancelling()):
                raise ConnectionFailed("client closed") from None  # not our cancel
            raise

    async def _connect_and_greet(self) -> _Connection:
        _, conn = await self._open(lambda: _Connection(self))
        self._conn = conn
        try:
            answers = await self._exchange(conn, self._greeting(),
                                           self.connectTimeout_ms / 1000)
            self.server_info = Response._from_answer(answers[0]).result()
            for handler in self._connection_handlers:
                await handler()
            if self._lost_at is not None:
                lost_at, self._lost_at = self._lost_at, None
                self._reconnected(asyncio.get_running_loop().time() - lost_at)
        except BaseException:
            self._connection_failed(conn, ConnectionFailed("handshake failed"))
            if conn.transport is not None:
                conn.transport.abort()
            raise
        return conn

    async def _multiplexed(self, commands, timeout: float) -> list[protocol.Answer]:
        conn = await self._ensure_connection()
        return await self._exchange(conn, commands, timeout)

    async def _exchange(self, conn: _Connection, commands, timeout: float):
        request_id = next(self._ids)
        frame = protocol.encode_request(commands, request_id).encode("ascii")
        fut = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = fut
        try:
            conn.transport.write(frame)
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise ResponseTimeout(
                f"no answer from {self.socketPath} within {timeout * 1000:.0f} ms") from None
        finally:
            # a late answer finds no waiter and is dropped, never given to another
            self._waiting.pop(request_id, None)

    async def _one_shot(self, commands, timeout: float) -> list[protocol.Answer]:
        reader_protocol = _OneShot(self.responseBufferSize)
        transport, _ = await self._open(lambda: reader_protocol)
        try:
            frame = protocol.encode_request((self._hello(), *commands), 1)
            transport.write(frame.encode("ascii"))
            async with asyncio.timeout(timeout):
                line = await reader_protocol.line
        except TimeoutError:
            raise ResponseTimeout(
                f"no answer from {self.socketPath} within {timeout * 1000:.0f} ms"
            ) from None
        finally:
            transport.close()
        _, answers = protocol.decode_response(protocol.frame_text(line))
        if answers:
            self.server_info = Response._from_answer(answers[0]).result()
        return answers[1:]


class _OneShot(asyncio.BufferedProtocol):
    """Reads exactly one response frame for a connection that is not kept alive."""

    def __init__(self, buffer_size: int) -> None:
        self._chunk = bytearray(buffer_size)
        self._data = bytearray()
        self.line = asyncio.get_running_loop().create_future()
        self.bye: str | None = None  # the reason the server gave for closing

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._chunk

    def buffer_updated(self, nbytes: int) -> None:
        self._data += self._chunk[:nbytes]
        end = self._data.find(b"\n")
        while end >= 0 and self._data.startswith(b"*"):  # a notification: not the answer
            self.bye = bye_reason(self._data[:end]) or self.bye
            del self._data[:end + 1]
            end = self._data.find(b"\n")
        if end >= 0 and not self.line.done():
            self.line.set_result(bytes(self._data[:end]))
        elif len(self._data) > protocol.MAX_FRAME_BYTES and not self.line.done():
            self.line.set_exception(ProtocolError("response frame longer than the frame limit"))

    def connection_lost(self, exc) -> None:
        if not self.line.done():
            self.line.set_exception(ConnectionFailed(
                f"server closed the connection before answering: {self.bye}" if self.bye
                else "server closed the connection before answering"))
