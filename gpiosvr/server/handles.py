"""Numbered handles (I2C, SPI, serial, files, ...): who opened them, and their end.

pigpio's daemon hands out small numbered handles for open devices and files and
keeps them until they are closed, so a script that dies leaks them until "no handle
available". Here a handle belongs to the client process that opened it (the kernel's
pid for its connection, ``SO_PEERCRED``): any connection of that process may use it
(the blocking client gives every thread a connection of its own), other processes get
``PI_BAD_HANDLE``, and the server closes it when the process's last connection goes.

A session that asked for pigpio's way (``session.persist``: ``pigs``, which says so
with the ``persist`` command, and every connection of the pigpiod front end) opens
handles that outlive it: they belong to its uid, any session that
:func:`~gpiosvr.server.ownership.may_touch` what that uid made may use and close
them (another uid gets ``PI_NOT_PERMITTED``), and they stay open until closed. They
count against the same caps, so what a tool forgets to close is bounded.

One :class:`HandleTable` per kind of handle, made by the module that serves that kind
and registered with :meth:`HandleTables.add`; the server tells every table when a
client is gone. Each table has pigpio's number of handles for its kind, and caps how
many one uid may hold (root included, so no single user can take them all).
"""

from __future__ import annotations

from typing import Any, Callable, Container, Generic, Iterator, TypeVar

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.ownership import Owner

PI_NO_HANDLE = errors.PI_NO_HANDLE

T = TypeVar("T")


def client_key(session: Any) -> Any:
    """The client a session belongs to: its process (kernel pid), or the connection
    itself where the kernel gave no pid (a script run by the server)."""
    return session.pid if session.pid is not None else id(session.connection)


#: The holder of what outlives its client: its owner's uid (see :func:`holder`).
PERSISTENT = None


def holder(session: Any) -> Any:
    """Whom a handle opened now by ``session`` belongs to: :data:`PERSISTENT` (its
    uid) for a session that asked for its handles to persist, else its client."""
    return PERSISTENT if getattr(session, "persist", False) else client_key(session)


def may_use(session: Any, owner: Owner, key: Any) -> bool:
    """Whether ``session`` may use a handle held by ``key`` (see :func:`holder`) and
    made by ``owner``: its own client's, or a persistent one of a uid it may touch."""
    if key is PERSISTENT:
        return ownership.may_touch(session, owner)
    return key == client_key(session)


class HandleTable(Generic[T]):
    """Handles ``first`` .. ``first + size - 1`` of one kind, each to one resource.

    ``on_close(resource)`` releases a resource when its handle is closed, by its
    client or because the client went away; it should not raise (what it raises is
    the closing call's answer, and a client that left has no one to tell).
    """

    def __init__(self, kind: str, size: int, per_uid: int,
                 on_close: Callable[[T], None] | None = None, first: int = 0,
                 bad_handle: int = errors.PI_BAD_HANDLE, no_handle: int = PI_NO_HANDLE
                 ) -> None:
        self.kind = kind
        self.size = size
        self.per_uid = per_uid
        self.first = first
        self._on_close = on_close
        self._bad_handle = bad_handle
        self._no_handle = no_handle
        self._open: dict[int, tuple[T, Owner, Any]] = {}  # handle -> resource, owner, key
        self._by_client: dict[Any, set[int]] = {}
        self._by_uid: dict[int | None, int] = {}

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[tuple[int, T]]:
        return iter([(h, entry[0]) for h, entry in self._open.items()])

    def open(self, session: Any, resource: T, avoid: Container[int] = ()) -> int:
        """A new handle for ``resource``, owned by ``session``'s client: the lowest
        free one not in ``avoid``, as pigpio gives them; ``PI_NO_HANDLE`` (with a
        message saying which cap) when none is left. The caller releases
        ``resource`` if this raises."""
        uid = session.uid
        if self._by_uid.get(uid, 0) >= self.per_uid:
            raise PigpioError(self._no_handle, f"no handle available: uid {uid} holds "
                                               f"{self.per_uid} {self.kind} handles, the "
                                               f"most one user may")
        handle = next((h for h in range(self.first, self.first + self.size)
                       if h not in self._open and h not in avoid), None)
        if handle is None:
            raise PigpioError(self._no_handle, f"no handle available: all {self.size} "
                                               f"{self.kind} handles are open")
        key = holder(session)
        self._open[handle] = (resource, Owner(uid, None if key is PERSISTENT
                                              else session.connection), key)
        if key is not PERSISTENT:
            self._by_client.setdefault(key, set()).add(handle)
        self._by_uid[uid] = self._by_uid.get(uid, 0) + 1
        return handle

    def get(self, session: Any, handle: Any) -> T:
        """The resource of ``handle`` if ``session``'s client opened it, or it
        persists and ``session`` may touch what its uid made; ``PI_NOT_PERMITTED``
        (naming the owner) for another uid's persistent handle, else
        ``PI_BAD_HANDLE``."""
        entry = self._open.get(handle) if type(handle) is int else None
        if entry is None:
            raise PigpioError(self._bad_handle)
        resource, owner, key = entry
        if key is PERSISTENT:
            ownership.check(session, owner, f"{self.kind} handle {handle}")
        elif key != client_key(session):
            raise PigpioError(self._bad_handle)
        return resource

    def usable(self, session: Any) -> list[tuple[int, Owner, bool]]:
        """The handles ``session`` may use, lowest first: (handle, owner, whether it
        persists): its own client's, and the persistent ones of every uid whose
        things it may touch."""
        return [(handle, owner, key is PERSISTENT)
                for handle, (_, owner, key) in sorted(self._open.items())
                if may_use(session, owner, key)]

    def close(self, session: Any, handle: Any) -> T:
        """Close ``session``'s ``handle`` (``PI_BAD_HANDLE`` if it is not its own)."""
        self.get(session, handle)
        return self._release(handle)

    def client_gone(self, key: Any) -> int:
        """Close every handle of the client ``key`` (see :func:`client_key`), which
        has no connection left; returns how many there were."""
        handles = self._by_client.pop(key, ())
        for handle in sorted(handles):
            try:
                self._release(handle)
            except Exception:  # noqa: BLE001 - logged by the caller's loop, goes on
                pass
        return len(handles)

    def _release(self, handle: int) -> T:
        resource, owner, key = self._open.pop(handle)
        handles = self._by_client.get(key) if key is not PERSISTENT else None
        if handles is not None:
            handles.discard(handle)
            if not handles:
                del self._by_client[key]
        count = self._by_uid.get(owner.uid, 1) - 1
        if count:
            self._by_uid[owner.uid] = count
        else:
            self._by_uid.pop(owner.uid, None)
        if self._on_close is not None:
            self._on_close(resource)
        return resource


class HandleTables:
    """The server's handle tables, and how many connections each client has, so that
    a client's handles close when its last connection goes (persistent ones stay)."""

    def __init__(self) -> None:
        self.tables: list[HandleTable[Any]] = []
        self._connections: dict[Any, int] = {}

    def add(self, table: HandleTable[Any]) -> HandleTable[Any]:
        """Register ``table`` (returned, for ``self.x = tables.add(HandleTable(...))``)."""
        self.tables.append(table)
        return table

    def listing(self, session: Any) -> list[dict[str, Any]]:
        """Every handle ``session`` may use and close, of every kind (the ``handles``
        command): kind, handle, owner's uid, and either ``persistent`` or the pid of
        the client process it closes with (``session``'s own)."""
        return [{"kind": table.kind, "handle": handle, "uid": owner.uid,
                 "persistent": persistent, "pid": None if persistent else session.pid}
                for table in self.tables
                for handle, owner, persistent in table.usable(session)]

    def connected(self, session: Any) -> None:
        """A connection of ``session``'s client was admitted."""
        key = client_key(session)
        self._connections[key] = self._connections.get(key, 0) + 1

    def disconnected(self, session: Any) -> None:
        """A connection of ``session``'s client went; its last one closes its handles."""
        key = client_key(session)
        left = self._connections.get(key, 1) - 1
        if left > 0:
            self._connections[key] = left
            return
        self._connections.pop(key, None)
        for table in self.tables:
            table.client_gone(key)
