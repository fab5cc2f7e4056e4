"""Who serves a socket: the client's check that the server is one it may trust.

Any local user able to create the socket file first (or to replace it) could answer
root's ``pigs w 17 1`` and log it. So every client asks the kernel which uid the
serving process runs as (``SO_PEERCRED``, one ``getsockopt`` per connect, none per
call) and talks only to root, its own user, or the service user:
``$GPIOSVR_SERVER_USER`` (a name or uid), else the user ``gpiosvr`` if it exists.
Anyone else gets :class:`~gpiosvr.errors.ConnectionFailed` saying who serves it and
how to trust them.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import socket
import stat
import struct

from gpiosvr import config
from gpiosvr.errors import ConnectionFailed

_CREDS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(sock: socket.socket) -> tuple[int, int, int] | None:
    """The (pid, uid, gid) of the process at the other end of a connected Unix
    socket, or None where the platform cannot tell."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size)
    return _CREDS.unpack(data)


def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


@functools.lru_cache(maxsize=8)
def _service_user(setting: str | None) -> tuple[int | None, str]:
    """The service user's uid (None: there is none) and how to name it, from the
    value of ``$GPIOSVR_SERVER_USER`` (None: not set)."""
    if setting is None:
        try:
            return pwd.getpwnam(config.DEFAULT_SERVER_USER).pw_uid, config.DEFAULT_SERVER_USER
        except KeyError:
            return None, config.DEFAULT_SERVER_USER
    if setting.isdigit():
        uid = int(setting)
        return uid, _user_name(uid) or setting
    try:
        return pwd.getpwnam(setting).pw_uid, setting
    except KeyError:
        raise ConnectionFailed(f"{config.SERVER_USER_ENV}={setting!r} names no user "
                               f"of this machine") from None


def trusted_uids() -> frozenset[int]:
    """The uids a client trusts to serve it: root, its own, the service user's."""
    service_uid, _ = _service_user(os.environ.get(config.SERVER_USER_ENV) or None)
    uids = {0, os.geteuid()}
    if service_uid is not None:
        uids.add(service_uid)
    return frozenset(uids)


def check_server(sock: socket.socket, path: str) -> None:
    """Raise :class:`ConnectionFailed` unless the process serving ``sock`` (connected
    to ``path``) runs as a trusted uid (see the module doc)."""
    creds = peer_credentials(sock)
    if creds is None:
        return
    pid, uid, _ = creds
    if uid in trusted_uids():
        return
    service_uid, service_name = _service_user(os.environ.get(config.SERVER_USER_ENV) or None)
    name = _user_name(uid)
    who = f"uid {uid} ({name}, pid {pid})" if name else f"uid {uid} (pid {pid})"
    trusted = ("not root, you or the service user " + service_name if service_uid is not None
               else "not root or you (there is no service user " + service_name + ")")
    raise ConnectionFailed(
        f"refusing the GPIO server at {path}: it is served by {who}, "
        f"{trusted}; set {config.SERVER_USER_ENV} to trust it")


def permission_denied(path: str) -> str:
    """Why connecting to ``path`` was refused with EACCES, for an error message."""
    directory = os.path.dirname(path) or "."
    if not os.access(directory, os.X_OK):
        return f"permission denied: this user may not enter {directory}"
    try:
        st = os.stat(path)
    except OSError:
        return "permission denied"
    owner = _user_name(st.st_uid) or str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return (f"permission denied: the socket is {stat.filemode(st.st_mode)} {owner}:"
            f"{group}, and this user (uid {os.geteuid()}) is not allowed to connect "
            f"(ask to be added to group {group})")
