"""Where the server listens, how clients find it, and whom they trust to serve it.

The socket path is an explicit argument (``--socket``, ``socketPath``,
``pi(host=...)``), else the environment variable ``GPIO_SOCKET_PATH``, else a default
in a directory other users cannot write (``/tmp`` would let any local user serve the
socket first):

* the server: :data:`SERVICE_SOCKET_PATH` when run as root, else
  ``$XDG_RUNTIME_DIR/gpiosvr.sock``, else it asks for ``--socket``;
* a client: the first of those two that exists, else the one a server started by
  the same user would use (so a client started just before its server waits for it).

A client talks only to a server run by root, by its own user or by the service user
(``GPIOSVR_SERVER_USER``, a name or uid; default the user ``gpiosvr`` if it exists):
see :mod:`gpiosvr.peercred`.
"""

from __future__ import annotations

import os
import sys

#: Environment variable naming the server's socket; the server, ``pigs`` and every
#: client honour it.
SOCKET_ENV = "GPIO_SOCKET_PATH"
#: Environment variable naming the service user (a name or a uid) whose server
#: clients trust, besides root and themselves.
SERVER_USER_ENV = "GPIOSVR_SERVER_USER"
#: The service user trusted when :data:`SERVER_USER_ENV` is not set, if it exists.
DEFAULT_SERVER_USER = "gpiosvr"
#: The system-wide socket: a root server's default, the systemd unit's socket.
SERVICE_SOCKET_PATH = "/run/gpiosvr/gpiosvr.sock"
#: The socket's name in ``$XDG_RUNTIME_DIR``, the default of a server run by a user.
USER_SOCKET_NAME = "gpiosvr.sock"
#: Kept for callers of earlier versions: the system-wide default socket.
DEFAULT_SOCKET_PATH = SERVICE_SOCKET_PATH
#: A client's default in words, for ``--help`` texts and hints.
DEFAULT_SOCKET_HELP = (f"the first of {SERVICE_SOCKET_PATH} and $XDG_RUNTIME_DIR/"
                       f"{USER_SOCKET_NAME} that exists")


class NoSocketPath(ValueError):
    """No socket was named and this user has no default one."""


def user_socket_path() -> str | None:
    """``$XDG_RUNTIME_DIR/gpiosvr.sock``, or None when that variable is not set."""
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime_dir, USER_SOCKET_NAME) if runtime_dir else None


def _named(explicit: str | os.PathLike | None) -> str | None:
    if explicit is not None and str(explicit) != "":
        return os.fspath(explicit)
    return os.environ.get(SOCKET_ENV) or None


def server_socket_path(explicit: str | os.PathLike | None = None) -> str:
    """The socket a server started now should bind (see the module doc); raises
    :class:`NoSocketPath` for a user without ``$XDG_RUNTIME_DIR`` who named none."""
    path = _named(explicit)
    if path is not None:
        return path
    if os.geteuid() == 0:
        return SERVICE_SOCKET_PATH
    path = user_socket_path()
    if path is None:
        raise NoSocketPath(
            f"no socket named and no default for this user: XDG_RUNTIME_DIR is not "
            f"set; pass --socket PATH (or set {SOCKET_ENV}) to a socket in a directory "
            f"other users cannot write")
    return path


def _present(path: str) -> bool:
    """Whether ``path`` exists, or may: a directory this user cannot enter (the
    service's, for a user not in its group) hides it, and connecting then says
    "permission denied" rather than "no such file"."""
    try:
        os.stat(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def socket_path(explicit: str | os.PathLike | None = None) -> str:
    """The socket a client should connect to, given an optional explicit choice."""
    path = _named(explicit)
    if path is not None:
        return path
    user_path = user_socket_path()
    for candidate in (SERVICE_SOCKET_PATH, user_path):
        if candidate is not None and _present(candidate):
            return candidate
    if os.geteuid() != 0 and user_path is not None:
        return user_path
    return SERVICE_SOCKET_PATH


#: Host names ``pigpio.pi(host)`` (and ``$PIGPIO_ADDR``) may give for this machine.
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"})


def pigpio_host_socket(host: object) -> str | None:
    """The gpiosvr socket pigpio's ``host`` (``pi(host)``, ``$PIGPIO_ADDR``) means: a
    socket path as it is, a name of this machine the client default, None another
    machine (reached by pigpiod's protocol, or not at all)."""
    host = "" if host is None else str(host)
    if "/" in host:
        return host
    if host in LOCAL_HOSTS:
        return socket_path()
    return None


def default_client_name() -> str:
    """A client name for the handshake: the running program and its pid."""
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return f"{prog}[{os.getpid()}]"
