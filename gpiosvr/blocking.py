"""A blocking, thread-safe client: direct calls per thread, a private loop thread
for everything asynchronous.

Any number of threads may share one :class:`BlockingClient`. Each calling thread
gets a :class:`~gpiosvr.channel.Channel` of its own, so a call is one ``send`` and
one ``recv`` on the caller's thread and concurrent callers are concurrent requests
(no global lock, no hand-off between threads on the hot path: that hand-off cost
more than the whole round trip, see ``docs/performance.md``). The private asyncio
loop thread runs the async :class:`~gpiosvr.client_pigs.PigpioCallbackClient` for
what has to wait for the server rather than for the caller: notifications (edge
reports), reconnection, and :meth:`BlockingClient.call_async`. Nothing ever runs a
loop on the caller's thread, so it works in plain scripts, threads, coroutines and
Jupyter alike.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

from gpiosvr import channel as _channel_module
from gpiosvr import config
from gpiosvr.channel import Channel
from gpiosvr.errors import ConnectionFailed, GpioServerError, ResponseTimeout
from gpiosvr.protocol import Command
from gpiosvr.response import Response

if TYPE_CHECKING:  # imported when the loop thread starts: a plain call needs no asyncio
    import asyncio
    import concurrent.futures

    from gpiosvr.client_pigs import EdgeCallback, PigpioCallbackClient

#: Extra seconds a caller waits beyond the response timeout before it gives up on
#: the loop itself (which should always answer first).
_GRACE = 2.0


class ThreadState(threading.local):
    """Per-thread state of a client: ``channel`` is this thread's connection (None
    before the thread's first call)."""

    channel: Channel | None = None


class LoopThreadCallError(GpioServerError, RuntimeError):
    """A blocking call was made from the client's own loop thread (it would deadlock)."""


class _Runtime:
    """The loop thread and the async client living on it; everything a finalizer needs."""

    def __init__(self, make_client: Callable[[], PigpioCallbackClient],
                 start_timeout: float) -> None:
        import concurrent.futures

        from gpiosvr.dispatch import Dispatcher

        self.loop = _new_loop()
        self.client: PigpioCallbackClient | None = None
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(make_client, started),
                                       name="gpiosvr-loop", daemon=True)
        self.thread.start()
        started.result(start_timeout)
        self.thread_id = self.thread.ident
        self.closed = False
        self.dispatcher = Dispatcher(self.client)
        self.client.edge_sink = self.dispatcher.submit
        self.client.edge_reader = self.dispatcher  # before anything connects

    def _run(self, make_client, started: concurrent.futures.Future) -> None:
        import asyncio

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
                _finish_tasks(loop)
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
            self.dispatcher.stop(0)
            return

        import asyncio

        async def shut() -> None:
            if client is not None:
                await client.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout)
        except (TimeoutError, RuntimeError, ConnectionError):
            pass
        except Exception:
            import logging  # only here: importing the facade must not load logging

            logging.getLogger(__name__).exception("error while closing the client")
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # the loop closed already
        self.thread.join(timeout)
        self.dispatcher.stop(timeout)


def _new_loop() -> "asyncio.AbstractEventLoop":
    """uvloop's loop when it is installed, as the server uses: an edge report reaches
    the dispatcher 10-25 % sooner than through asyncio's own loop, whose event
    handling is Python (``benchmarks/bench_latency.py``); else asyncio's."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _finish_tasks(loop: asyncio.AbstractEventLoop, timeout: float = 1.0) -> None:
    """Cancel the tasks still pending on the stopped ``loop`` and let them end
    (bounded), as ``asyncio.run`` does: a task destroyed while pending is a warning
    at exit, and one that connects after the close would leak its connection."""
    import asyncio

    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: ending with an error is no news at close


class _Resources:
    """What a client holds open: channels and the loop runtime. Closing it is what
    :meth:`BlockingClient.close` and the garbage-collection finalizer do."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.channels: weakref.WeakSet[Channel] = weakref.WeakSet()
        self.runtime: _Runtime | None = None

    def close(self) -> None:
        with self.lock:
            channels, self.channels = list(self.channels), weakref.WeakSet()
            runtime, self.runtime = self.runtime, None
        for channel in channels:
            channel.close()
        if runtime is not None:
            runtime.close()


class BlockingClient:
    """Blocking calls to a gpiosvr server, safe to share between threads.

    * ``socket_path``: the server's socket (None: ``$GPIO_SOCKET_PATH`` or default).
    * ``name``: the name the server logs for this client.
    * ``connect_timeout`` / ``response_timeout``: seconds; a call that gets no
      answer in time raises :class:`ResponseTimeout`, and its late answer is dropped.
    * ``keep_alive`` and ``buffer_size``: for the async client on the loop thread.

    Connections open on first use. After ``fork()`` the child opens connections of
    its own on its first call; the parent's are never used there.
    """

    def __init__(self, socket_path: str | None = None, name: str | None = None,
                 connect_timeout: float = 10.0, response_timeout: float = 10.0,
                 keep_alive: bool = True, buffer_size: int = 262144) -> None:
        self._path = config.socket_path(socket_path)
        self._name = name if name is not None else config.default_client_name()
        self._options = dict(socketPath=self._path, name=self._name,
                             connectTimeout_ms=connect_timeout * 1000,
                             responseBufferSize=buffer_size,
                             responseTimeout_ms=response_timeout * 1000,
                             isKeepAlive=keep_alive)
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self._pid = os.getpid()
        self._closed = False
        #: This thread's connection: ``thread_state.channel`` (see :class:`ThreadState`);
        #: hot paths such as the pigpio facade's ``read`` call it directly while it is
        #: ``ready``. The same object for the client's whole life, forks included.
        self.thread_state = ThreadState()
        self._server_info: dict[str, Any] | None = None
        self._notification_handlers: list[Callable[[Command], None]] = []
        self._connect_handlers: list[Callable[[], Any]] = []
        self._resources = _Resources()
        self._finalizer = weakref.finalize(self, self._resources.close)

    # -- life cycle ------------------------------------------------------------

    def _forget_parent(self) -> None:
        """In a forked child: drop the parent's connections and loop thread."""
        with self._resources.lock:
            if self._pid == os.getpid():
                return
            self._finalizer.detach()
            old = self._resources
            self._resources = _Resources()
            self._finalizer = weakref.finalize(self, self._resources.close)
            self._pid = os.getpid()
        for channel in list(old.channels):
            channel.close()  # closes the child's copies of the descriptors only

    def _loop_runtime(self) -> _Runtime:
        """The loop thread with the async client, started on first need."""
        if self._closed:
            raise ConnectionFailed("client is closed")
        if self._pid != os.getpid():
            self._forget_parent()
        resources = self._resources
        with resources.lock:
            if resources.runtime is None:
                # The closure must not hold self: the loop thread keeps it alive,
                # and a client nobody references any more must still be finalized.
                options = self._options
                notification_handlers = self._notification_handlers
                connect_handlers = self._connect_handlers

                from gpiosvr.client_pigs import PigpioCallbackClient

                def make_client() -> PigpioCallbackClient:
                    client = PigpioCallbackClient(None, **options)
                    for handler in notification_handlers:
                        client.on_notification(handler)
                    for handler in connect_handlers:
                        client.on_connect(handler)
                    return client

                resources.runtime = _Runtime(make_client, start_timeout=10.0)
            return resources.runtime

    @property
    def socket_path(self) -> str:
        """The socket this client talks to."""
        return self._path

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private event loop (for scheduling work on it, not for running it)."""
        return self._loop_runtime().loop

    @property
    def server_info(self) -> dict[str, Any] | None:
        """What the server said in the handshake (None before the first call)."""
        return self._server_info

    def connect(self) -> dict[str, Any]:
        """Connect this thread now (calls do so on demand); returns the server info."""
        self._channel()
        return self._server_info  # type: ignore[return-value]

    def close(self) -> None:
        """Close every connection and stop the loop thread (bounded, idempotent)."""
        self._closed = True
        if self._pid == os.getpid():
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
        with self._resources.lock:
            self._notification_handlers.append(handler)
            runtime = self._resources.runtime
        if runtime is None:
            self._loop_runtime()  # its client starts with every handler of the list
        else:
            runtime.loop.call_soon_threadsafe(runtime.client.on_notification, handler)

    def on_connect(self, handler: Callable[[], Any]) -> None:
        """Await ``handler()`` on the loop after every (re)connection."""
        with self._resources.lock:
            self._connect_handlers.append(handler)
            runtime = self._resources.runtime
        if runtime is None:
            self._loop_runtime()
        else:
            runtime.loop.call_soon_threadsafe(runtime.client.on_connect, handler)

    # -- calls -------------------------------------------------------------------------

    def request(self, commands: Sequence[Sequence[Any]],
                timeout: float | None = None) -> list[Response]:
        """Send ``commands`` in one request; one :class:`Response` per command."""
        return self._channel().responses(commands, timeout)

    def command(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        """Run one pigs command; return its result or raise its exception."""
        return self._channel().call(name, args, timeout)

    def call_ints(self, template: bytes, args: tuple[int, ...]) -> Any:
        """:meth:`command` the short way, for hot paths such as the pigpio facade's
        ``read``: ``args`` must all be ints (``type(a) is int``) and ``template`` their
        :func:`gpiosvr.channel.frame_template`; the response timeout applies."""
        channel = self.thread_state.channel
        if channel is None or not channel.ready:
            channel = self._channel()
        return channel.call_ints(template, args)

    def _channel(self) -> Channel:
        """This thread's connection, opened (again) when there is none that works."""
        channel = self.thread_state.channel
        if (channel is None or channel.closed
                or channel.generation != _channel_module.generation()):
            channel = self._new_channel()
        return channel

    def _new_channel(self) -> Channel:
        if self._closed:
            raise ConnectionFailed("client is closed")
        if self._pid != os.getpid():
            self._forget_parent()
        runtime = self._resources.runtime
        if runtime is not None and threading.get_ident() == runtime.thread_id:
            raise LoopThreadCallError(
                "a blocking gpiosvr call was made on the client's own event-loop thread "
                "(for example from a notification handler); it would block the loop, "
                "and everything waiting on it")
        channel = Channel(self._path, self._name, self.connect_timeout,
                          self.response_timeout)
        self.thread_state.channel = channel
        self._server_info = channel.server_info
        with self._resources.lock:
            self._resources.channels.add(channel)
        if self._closed:  # closed while we connected
            channel.close()
            raise ConnectionFailed("client is closed")
        if runtime is not None and not runtime.closed:
            self._await_restored(channel)
        return channel

    def _await_restored(self, channel: Channel) -> None:
        """Return once the callback connection is back too, with its callbacks,
        watchdogs and filters: this thread's new connection may be to a server that
        just restarted, and a call that succeeds must not return while edges still
        go unseen. Bounded by the connect timeout; the new channel is closed again
        when it runs out, so that the next call waits again."""
        try:
            self.call_async(lambda c: c.ensure_restored(self.connect_timeout),
                            timeout=self.connect_timeout + _GRACE)
        except GpioServerError as exc:
            channel.close()
            raise ConnectionFailed(
                f"connected to {self._path}, but the callbacks are not back: {exc}"
            ) from exc

    # -- edge callbacks ------------------------------------------------------------

    def callback(self, user_gpio: int, edge: int = 0,
                 func: Callable[[int, int, int], Any] | None = None) -> EdgeCallback:
        """Call ``func(gpio, level, tick)`` on a callback thread for each ``edge``
        (0 rising, 1 falling, 2 either) of ``user_gpio``; see :class:`EdgeCallback`."""
        return self.call_async(lambda c: c.callback(user_gpio, edge, func))

    def cancel_callback(self, cb: EdgeCallback) -> None:
        """Stop ``cb``; reports already queued for it are not delivered to it."""
        self.call_async(lambda c: c.cancel_callback(cb))

    def wait_callbacks(self, timeout: float | None = None) -> None:
        """Return once every edge report the server sent before this call has been
        through the callbacks: a round trip on the callback connection (reports sent
        before its answer are in), then a barrier on the dispatcher thread. For a
        capture that stops, and for tests. Raises :class:`ResponseTimeout`."""
        timeout = self.response_timeout if timeout is None else timeout
        runtime = self._loop_runtime()
        if runtime.client is not None and runtime.client.is_connected:
            self.call_async(lambda c: c.command("t"), timeout=timeout)
        if not runtime.dispatcher.barrier(timeout):
            raise ResponseTimeout("the callbacks did not catch up in time")

    @property
    def reconnects(self) -> int:
        """How many times the callback connection was lost and made again; each time
        the edges in between were not seen (and levels may have changed)."""
        runtime = self._resources.runtime
        return 0 if runtime is None else runtime.client.reconnects

    @property
    def lost_reports(self) -> int:
        """Edge reports dropped for this client, by the server or by the dispatcher."""
        runtime = self._resources.runtime
        if runtime is None:
            return 0
        return runtime.client.lost_reports + runtime.dispatcher.lost_reports

    def call_async(self, func: Callable[[PigpioCallbackClient], Any],
                   timeout: float | None = None) -> Any:
        """Run ``await func(async_client)`` on the loop thread and return its result."""
        runtime = self._loop_runtime()
        if threading.get_ident() == runtime.thread_id:
            raise LoopThreadCallError("blocking call on the client's own loop thread")

        import asyncio

        async def run() -> Any:
            return await func(runtime.client)

        fut = asyncio.run_coroutine_threadsafe(run(), runtime.loop)
        try:
            return fut.result(self.response_timeout + _GRACE if timeout is None else timeout)
        except TimeoutError:  # concurrent.futures.TimeoutError since Python 3.11
            fut.cancel()
            raise ResponseTimeout("no answer in time") from None
        except BaseException:
            fut.cancel()
            raise
