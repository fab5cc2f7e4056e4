"""The callback dispatcher: runs edge callbacks on a thread of their own, in order.

The loop thread only queues the packed reports it receives; this thread unpacks them
and calls each callback that wants them. So a slow callback delays later callbacks
but never the loop or anybody's requests, a callback may call the client again, and
one that raises is logged while the others keep running.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

from gpiosvr.edge_reports import RECORD, EdgeCallback, run_callbacks

if TYPE_CHECKING:
    from gpiosvr.client_pigs import PigpioCallbackClient

log = logging.getLogger(__name__)

#: Reports the dispatcher may have waiting before new ones are dropped (and counted).
MAX_PENDING_REPORTS = 1_000_000


class Dispatcher:
    """Runs the callbacks of ``client`` for every batch handed to :meth:`submit`."""

    def __init__(self, client: PigpioCallbackClient) -> None:
        self._client = client
        self._queue: queue.SimpleQueue[bytes | threading.Event | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self.lost_reports = 0
        self.thread = threading.Thread(target=self._run, name="gpiosvr-callbacks",
                                       daemon=True)
        self.thread.start()

    def submit(self, records: bytes) -> None:
        """Queue packed reports (called on the loop thread; never blocks)."""
        count = len(records) // RECORD.size
        with self._lock:
            if self._pending + count > MAX_PENDING_REPORTS:
                self.lost_reports += count
                log.warning("callbacks are %d reports behind; dropped %d",
                            self._pending, count)
                return
            self._pending += count
        self._queue.put(records)

    def _run(self) -> None:
        client = self._client
        while True:
            records = self._queue.get()
            if records is None:
                return
            if type(records) is threading.Event:
                records.set()
                continue
            run_callbacks(client.callbacks, records, _log_error)
            with self._lock:
                self._pending -= len(records) // RECORD.size

    def barrier(self, timeout: float) -> bool:
        """Wait until what was submitted before this call has been through the
        callbacks; False if that took longer than ``timeout`` seconds."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Finish what is queued (bounded) and end the thread. Idempotent."""
        self._queue.put(None)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)


def _log_error(cb: EdgeCallback) -> None:
    log.exception("edge callback %r for GPIO %d raised", cb.func, cb.gpio)
