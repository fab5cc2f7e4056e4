"""Telling systemd how the server is: ready, alive, stopping (``sd_notify``).

Under ``Type=notify`` systemd waits for ``READY=1`` before it counts the service as
started; with ``WatchdogSec=`` it restarts a service that stops sending
``WATCHDOG=1``. The heartbeat is a timer on the event loop, so a loop that hangs
stops it, and the hang becomes a restart. The protocol is one datagram per message
to the AF_UNIX socket named in ``$NOTIFY_SOCKET`` (abstract when it starts with
``@``); without that variable every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends sd_notify messages to the socket of ``$NOTIFY_SOCKET``, if any."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if address.startswith("@"):
            self.address = "\0" + address[1:]
        elif address.startswith("/"):
            self.address = address
        #: Seconds between heartbeats (half of ``$WATCHDOG_USEC``), or None.
        self.watchdog_interval = _watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._beat: asyncio.TimerHandle | None = None

    @property
    def enabled(self) -> bool:
        """Whether there is a systemd (or anyone) listening."""
        return self.address is not None

    def notify(self, message: str) -> None:
        """Send one message, e.g. ``"READY=1"``; a failure is logged, never raised."""
        if self.address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX,
                                           socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("sd_notify %s to %r failed: %s", message, self.address, exc)

    def ready(self) -> None:
        """Serving: ``READY=1``, and the heartbeat starts if systemd asked for one."""
        self.notify(f"READY=1\nMAINPID={os.getpid()}")
        if self.address is not None and self.watchdog_interval is not None:
            self._heartbeat()

    def _heartbeat(self) -> None:
        self.notify("WATCHDOG=1")
        self._beat = asyncio.get_running_loop().call_later(self.watchdog_interval,
                                                           self._heartbeat)

    def stopping(self) -> None:
        """Shutting down: ``STOPPING=1``; the heartbeat stops."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        self.notify("STOPPING=1")

    def close(self) -> None:
        """Stop the heartbeat and close the socket (idempotent)."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds, when it is meant for this process."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2_000_000
