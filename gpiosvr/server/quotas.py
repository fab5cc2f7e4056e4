"""How many connections the server takes: per uid, in total, and below the fd limit.

Every connection costs a file descriptor; at the process's fd limit ``accept()``
fails and nobody, root included, gets in. So the server raises its soft fd limit to
the hard one at start, keeps connections of ordinary users below the limit minus
:data:`RESERVED_FDS`, and lets root and its own uid use half of that reserve: they
can always get in to look or to stop things while the others' share is full.
"""

from __future__ import annotations

import collections
import os
import resource

from gpiosvr.server.limits import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_UID, RESERVED_FDS


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (as far as the kernel
    allows); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        try:
            with open("/proc/sys/fs/nr_open") as nr_open:
                target = int(nr_open.read())
        except (OSError, ValueError):
            target = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed (a sandbox): keep what we have
    return soft


def privileged(uid: int | None) -> bool:
    """Whether ``uid`` is exempt from the per-uid cap and may use the reserve: root
    and the server's own uid."""
    return uid == 0 or uid == os.getuid()


class ConnectionQuotas:
    """Counts connections per uid and decides whether a new one may stay."""

    def __init__(self) -> None:
        self.per_uid: collections.Counter[int | None] = collections.Counter()
        self.total = 0
        #: The process's soft fd limit, as :meth:`start` left it.
        self.fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    def start(self) -> None:
        """Raise the fd limit as far as allowed (once, at server start)."""
        self.fd_limit = raise_fd_limit()

    def limit_for_others(self) -> int:
        """Connections that all ordinary users together may hold."""
        return max(0, min(MAX_CONNECTIONS, self.fd_limit - RESERVED_FDS))

    def admit(self, uid: int | None) -> str | None:
        """Count a new connection of ``uid`` and return None, or return why it may
        not stay (and count nothing)."""
        if privileged(uid):
            limit = self.fd_limit - RESERVED_FDS // 2
            if self.total >= limit:
                return f"too many connections: file descriptors nearly used up (limit {limit})"
        else:
            limit = self.limit_for_others()
            if self.total >= limit:
                return f"too many connections (limit {limit})"
            if self.per_uid[uid] >= MAX_CONNECTIONS_PER_UID:
                return f"too many connections for uid {uid} (limit {MAX_CONNECTIONS_PER_UID})"
        self.per_uid[uid] += 1
        self.total += 1
        return None

    def release(self, uid: int | None) -> None:
        """Forget one admitted connection of ``uid``."""
        self.total -= 1
        self.per_uid[uid] -= 1
        if self.per_uid[uid] <= 0:
            del self.per_uid[uid]
