"""Who made a resource, and the one function that decides who may touch it.

Every resource a client can make (a script, a notification handle, a watchdog, a
filter, a waveform, a line) records its :class:`Owner`: the uid the kernel reported
for the connection (``SO_PEERCRED``) and the connection itself. :func:`check` is the
only place that decides whether a session may stop, delete or change it:

* the uid that made it may (so ``pigs`` run by the same user keeps working);
* root, the server's own uid, and members of the configured admin group
  (``gpiosvr-server --admin-group``) may touch everything;
* nobody else may: the answer is ``PI_NOT_PERMITTED`` with a message naming the owner.

A resource with no owner (made by the server itself) may be touched by anyone.
"""

from __future__ import annotations

import functools
import os
import pwd
from dataclasses import dataclass
from typing import Any

from gpiosvr import errors
from gpiosvr.errors import PigpioError


@dataclass(frozen=True, slots=True)
class Owner:
    """Who made a resource: the peer's uid (None when unknown) and its connection."""

    uid: int | None
    connection: Any = None


def owner_of(session: Any) -> Owner:
    """The owner a resource made now by ``session`` records."""
    return Owner(session.uid, session.connection)


@functools.lru_cache(maxsize=256)
def _groups_of(uid: int, gid: int) -> frozenset[int]:
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return frozenset({gid})
    return frozenset(os.getgrouplist(name, gid))


def is_admin(session: Any) -> bool:
    """True for root, the server's own uid, and members of the admin group."""
    uid = session.uid
    if uid is None:  # no SO_PEERCRED (a script, or a platform without it)
        return False
    if uid == 0 or uid == os.geteuid():
        return True
    admin_gid = getattr(session.server, "admin_gid", None)
    if admin_gid is None:
        return False
    gid = getattr(session, "gid", None)
    return gid == admin_gid or (gid is not None and admin_gid in _groups_of(uid, gid))


def may_touch(session: Any, owner: Owner | None) -> bool:
    """Whether ``session`` may stop, delete or change what ``owner`` made."""
    return owner is None or owner.uid is None or owner.uid == session.uid \
        or is_admin(session)


def check(session: Any, owner: Owner | None, what: str) -> None:
    """Raise ``PI_NOT_PERMITTED`` unless ``session`` may touch ``what`` (a few words
    naming the resource, e.g. ``"script 3"``), made by ``owner``."""
    if not may_touch(session, owner):
        raise PigpioError(errors.PI_NOT_PERMITTED,
                          f"not permitted: {what} belongs to uid {owner.uid}")
