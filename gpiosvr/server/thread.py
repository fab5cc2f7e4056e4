"""Run a GPIO server on a background thread of the current process.

Used by ``gpiosvr-run --sim``, the examples, the notebook and the tests, which all
want a real server on a socket without managing a second process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, TypeVar

from gpiosvr.server.app import GpioServer
from gpiosvr.server.backends import Backend

T = TypeVar("T")


class ServerThread:
    """A :class:`GpioServer` served from a daemon thread with its own event loop."""

    def __init__(self, socket_path: str | None = None, backend: Backend | None = None,
                 start_timeout: float = 10.0, permit: int | None = None,
                 frontends: tuple[Callable[[GpioServer], Any], ...] = ()) -> None:
        self._socket_path = socket_path
        self._backend = backend
        self._start_timeout = start_timeout
        self._permit = permit  # the GPIOs clients may change (GpioServer's permit)
        self._frontends = frontends  # each makes a front end of the server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self.server: GpioServer | None = None

    @property
    def socket_path(self) -> str:
        """The socket the server listens on."""
        assert self.server is not None, "server not started"
        return self.server.socket_path

    @property
    def backend(self) -> Backend:
        """The backend the server drives (touch it only through :meth:`call`)."""
        assert self.server is not None, "server not started"
        return self.server.backend

    def start(self) -> "ServerThread":
        """Start serving; returns once the socket accepts connections."""
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(started,),
                                        name="gpiosvr-server", daemon=True)
        self._thread.start()
        started.result(self._start_timeout)
        return self

    def _run(self, started: concurrent.futures.Future) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            try:
                self.server = GpioServer(self._socket_path, self._backend, permit=self._permit)
                self.server.frontends.extend(make(self.server) for make in self._frontends)
                await self.server.start()
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            try:
                await self._stopped.wait()
            finally:
                await self.server.close()

        asyncio.run(main())

    def call(self, func: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run ``func(*args)`` on the server's loop thread and return its result."""
        assert self._loop is not None
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(func(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait (bounded) for the thread to end. Idempotent."""
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            try:
                self._loop.call_soon_threadsafe(self._stopped.set)
            except RuntimeError:
                pass  # loop already closed
            self._thread.join(timeout)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
