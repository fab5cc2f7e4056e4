"""Noticing at once that the GPIO server is back: what a reconnect loop waits on.

While the server is gone, a client's callback connection must come back the moment
a new server serves the socket: every millisecond in between is edges nobody sees.
Retrying to connect with a growing back-off leaves up to the longest pause unseen;
retrying every few milliseconds costs a connection attempt each time. So
:class:`SocketWatch` looks at the socket file every ``RECONNECT_POLL_SECONDS`` (one
``stat``, no connection) and tries to connect, without waiting, when the file was
made again (a new server binds a new socket), when a caller asks
(:meth:`SocketWatch.retry_now`, e.g. because its own connection just worked), and
every ``RECONNECT_RETRY_SECONDS`` otherwise (a server that kept its socket file).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket

#: How often a reconnect loop looks at the socket file (seconds): at most this much
#: of a new server's first moments goes unseen.
RECONNECT_POLL_SECONDS = 0.005
#: How often it tries to connect when the socket file did not change (seconds).
RECONNECT_RETRY_SECONDS = 0.1

#: connect() errors that mean "nobody serves this socket (yet)".
_NOBODY = {errno.ENOENT, errno.ECONNREFUSED}


def socket_identity(path: str) -> tuple[int, int, int] | None:
    """What tells one socket file from the next made at ``path`` (None: no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def accepts(path: str) -> bool:
    """Whether a connection to ``path`` would be taken now (without waiting). An
    error other than "nobody there" counts as yes: the real connection reports it."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except BlockingIOError:
        return True  # the backlog is full: somebody serves it
    except OSError as exc:
        return exc.errno not in _NOBODY
    finally:
        probe.close()
    return True


class SocketWatch:
    """Waits, cheaply, until the server's socket at ``path`` takes connections."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._now = False

    def retry_now(self) -> None:
        """Make the wait try to connect at its next look, whatever the file says."""
        self._now = True

    async def until_connectable(self) -> None:
        """Return once a connection to the socket would be taken (see the module doc)."""
        loop = asyncio.get_running_loop()
        seen: object = ()  # no identity: the first look tries at once
        next_try = fast_until = 0.0
        while True:
            identity = socket_identity(self.path)
            now = loop.time()
            if identity != seen:
                seen = identity
                # A new file: the server may not be listening yet; keep trying at
                # every look for a while rather than waiting for the next retry.
                fast_until = now + RECONNECT_RETRY_SECONDS
            if identity is not None and (self._now or now >= next_try or now < fast_until):
                self._now = False
                next_try = now + RECONNECT_RETRY_SECONDS
                if accepts(self.path):
                    return
            await asyncio.sleep(RECONNECT_POLL_SECONDS)
