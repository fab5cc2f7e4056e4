"""A blocking, thread-safe client that runs the async client on a private loop thread.

Any number of threads may share one :class:`BlockingClient`: each call is handed to
the loop thread, written at once as its own request (with its own id) and answered
to the thread that asked, so concurrent calls are in flight together. It works in
plain scripts, in threads, inside coroutines and in Jupyter, because the caller's
thread never runs the loop. Notifications (edge reports) reach ``notification``
handlers on the loop thread; the pigpio facade moves them to a dispatcher thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import weakref
from typing import Any, Callable, Sequence

from gpiosvr import protocol
from gpiosvr.client import Response
from gpiosvr.client_pigs import PigpioSocketClient
from gpiosvr.errors import ConnectionFailed, GpioServerError, ResponseTimeout
from gpiosvr.protocol import Command

log = logging.getLogger(__name__)

#: Extra seconds a caller waits beyond the response timeout before it gives up on
#: the loop itself (which should always answer first).
_GRACE = 2.0


class LoopThreadCallError(GpioServerError, RuntimeError):
    """A blocking call was made from the client's own loop thread (it would deadlock)."""


class _Runtime:
    """The loop thread and the async client living on it; everything a finalizer needs."""

    def __init__(self, make_client: Callable[[], PigpioSocketClient],
                 start_timeout: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.client: PigpioSocketClient | None = None
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(make_client, started),
                                       name="gpiosvr-loop", daemon=True)
        self.thread.start()
        started.result(start_timeout)
        self.thread_id = self.thread.ident
        self.closed = False

    def _run(self, make_client, started: concurrent.futures.Future) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            self.client = make_client()
            self.client.loop = loop
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        loop.call_soon(started.set_result, None)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def close(self, timeout: float = 2.0) -> None:
        """Close the connection and stop the loop thread, within ``timeout``. Idempotent."""
        if self.closed:
            return
        self.closed = True
        loop, client = self.loop, self.client
        if loop.is_closed():
            return
        if threading.get_ident() == self.thread_id:
            if client is not None:
                client._shutdown()
            loop.stop()
            return

        async def shut() -> None:
            if client is not None:
                await client.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError, ConnectionError):
            pass
        except Exception:
            log.exception("error while closing the client")
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # the loop closed already
        self.thread.join(timeout)


class BlockingClient:
    """Blocking calls to a gpiosvr server, safe to share between threads.

    * ``socket_path``: the server's socket (None: ``$GPIO_SOCKET_PATH`` or default).
    * ``name``: the name the server logs for this client.
    * ``connect_timeout`` / ``response_timeout``: seconds, as in :class:`SocketClient`.
    * ``keep_alive``: keep one connection open (needed for notifications).

    The connection is opened on the first call. After ``fork()`` the child gets a
    fresh loop thread and connection of its own on its first call.
    """

    def __init__(self, socket_path: str | None = None, name: str | None = None,
                 connect_timeout: float = 10.0, response_timeout: float = 10.0,
                 keep_alive: bool = True, buffer_size: int = 65536) -> None:
        self._options = dict(socketPath=socket_path, name=name,
                             connectTimeout_ms=connect_timeout * 1000,
                             responseBufferSize=buffer_size,
                             responseTimeout_ms=response_timeout * 1000,
                             isKeepAlive=keep_alive)
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._finalizer: weakref.finalize | None = None
        self._pid = os.getpid()
        self._closed = False
        self._notification_handlers: list[Callable[[Command], None]] = []
        self._connect_handlers: list[Callable[[], Any]] = []
        self._start()

    # -- life cycle ------------------------------------------------------------

    def _start(self) -> _Runtime:
        # The closure must not hold self: the loop thread keeps it alive, and a
        # client nobody references any more must still be finalized.
        options = self._options
        notification_handlers = self._notification_handlers
        connect_handlers = self._connect_handlers

        def make_client() -> PigpioSocketClient:
            client = PigpioSocketClient(None, **options)
            for handler in notification_handlers:
                client.on_notification(handler)
            for handler in connect_handlers:
                client.on_connect(handler)
            return client

        runtime = _Runtime(make_client, start_timeout=10.0)
        self._runtime = runtime
        self._finalizer = weakref.finalize(self, runtime.close)
        return runtime

    def _current(self) -> _Runtime:
        runtime = self._runtime
        if self._closed:
            raise ConnectionFailed("client is closed")
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    # The parent's loop thread does not exist in this child: start anew.
                    if self._finalizer is not None:
                        self._finalizer.detach()
                    self._pid = os.getpid()
                    runtime = self._start()
        assert runtime is not None
        return runtime

    @property
    def socket_path(self) -> str:
        """The socket this client talks to."""
        return self._current().client.socketPath  # type: ignore[union-attr]

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private event loop (for scheduling work on it, not for running it)."""
        return self._current().loop

    @property
    def server_info(self) -> dict[str, Any] | None:
        """What the server said in the handshake (None before the first call)."""
        runtime = self._runtime
        return runtime.client.server_info if runtime and runtime.client else None

    def connect(self) -> dict[str, Any]:
        """Connect now (calls do so on demand); returns the server's info."""
        self.call_async(lambda c: c.connect(), timeout=self.connect_timeout + _GRACE)
        return self.server_info  # type: ignore[return-value]

    def close(self) -> None:
        """Close the connection and stop the loop thread (bounded, idempotent)."""
        self._closed = True
        if self._finalizer is not None and self._pid == os.getpid():
            self._finalizer()

    stop = close

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> "BlockingClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- notifications -----------------------------------------------------------

    def on_notification(self, handler: Callable[[Command], None]) -> None:
        """Call ``handler(command)`` on the loop thread for every notification.

        Handlers must be quick and must not block; move work to another thread.
        """
        self._notification_handlers.append(handler)
        runtime = self._current()
        runtime.loop.call_soon_threadsafe(runtime.client.on_notification, handler)

    def on_connect(self, handler: Callable[[], Any]) -> None:
        """Await ``handler()`` on the loop after every (re)connection."""
        self._connect_handlers.append(handler)
        runtime = self._current()
        runtime.loop.call_soon_threadsafe(runtime.client.on_connect, handler)

    # -- calls -------------------------------------------------------------------------

    def request(self, commands: Sequence[Sequence[Any]],
                timeout: float | None = None) -> list[Response]:
        """Send ``commands`` in one request; one :class:`Response` per command."""
        return [Response._from_answer(a) for a in self._answers(commands, timeout)]

    def command(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        """Run one pigs command; return its result or raise its exception."""
        answer = self._answers(((name, *args),), timeout)[0]
        if answer.exceptions:
            raise answer.exceptions[-1]
        return answer.value

    def _answers(self, commands, timeout: float | None) -> list[protocol.Answer]:
        runtime = self._current()
        if threading.get_ident() == runtime.thread_id:
            raise LoopThreadCallError(
                "a blocking gpiosvr call was made on the client's own event-loop thread "
                "(for example from a notification handler); it would deadlock")
        seconds = self.response_timeout if timeout is None else timeout
        done = threading.Lock()
        done.acquire()
        box: list[asyncio.Future] = []

        def finished(_: asyncio.Future) -> None:
            done.release()

        def submit() -> None:
            try:
                fut = runtime.client.request_nowait(commands, seconds * 1000)
            except BaseException as exc:  # encoding errors and the like
                fut = runtime.loop.create_future()
                fut.set_exception(exc)
            box.append(fut)
            fut.add_done_callback(finished)

        try:
            runtime.loop.call_soon_threadsafe(submit)
        except RuntimeError:
            raise ConnectionFailed("client is closed") from None
        try:
            ok = done.acquire(timeout=seconds + self.connect_timeout + _GRACE)
        except BaseException:  # KeyboardInterrupt while blocked: forget the request
            self._cancel(runtime, box)
            raise
        if not ok:
            self._cancel(runtime, box)
            raise ResponseTimeout(f"no answer within {seconds:.3f} s")
        fut = box[0]
        if fut.cancelled():
            raise ConnectionFailed("request cancelled")
        exc = fut.exception()
        if exc is not None:
            raise exc
        return fut.result()

    @staticmethod
    def _cancel(runtime: _Runtime, box: list[Any]) -> None:
        def cancel() -> None:
            if box:
                box[0].cancel()

        try:
            runtime.loop.call_soon_threadsafe(cancel)
        except RuntimeError:
            pass

    def call_async(self, func: Callable[[PigpioSocketClient], Any],
                   timeout: float | None = None) -> Any:
        """Run ``await func(async_client)`` on the loop thread and return its result."""
        runtime = self._current()
        if threading.get_ident() == runtime.thread_id:
            raise LoopThreadCallError("blocking call on the client's own loop thread")

        async def run() -> Any:
            return await func(runtime.client)

        fut = asyncio.run_coroutine_threadsafe(run(), runtime.loop)
        try:
            return fut.result(self.response_timeout + _GRACE if timeout is None else timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise ResponseTimeout("no answer in time") from None
        except BaseException:
            fut.cancel()
            raise
