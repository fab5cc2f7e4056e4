"""The session commands: the ``hello`` handshake, ``info``, ``persist`` and
``handles``."""

from __future__ import annotations

from typing import Any

from gpiosvr import protocol
from gpiosvr._version import __version__
from gpiosvr.errors import ProtocolError
from gpiosvr.server import logsafe
from gpiosvr.server.commands.table import PIGPIO_VERSION, Session, command, log
from gpiosvr.server.limits import MAX_CLIENT_NAME_CHARS


@command("hello", "int", "text?", "int?")
def _hello(session: Session, version: int, name: str = "?", pid: int | None = None):
    """Handshake: the client's protocol version, name and pid; answers server info.

    The name is kept (and logged, escaped) up to :data:`MAX_CLIENT_NAME_CHARS`.

    The pid a client claims is not trusted: the session keeps the kernel's (SO_PEERCRED).
    """
    if version != protocol.PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version} not supported; this server speaks "
            f"{protocol.PROTOCOL_VERSION}"
        )
    session.protocol_version = version
    session.name = logsafe.cut(name, MAX_CLIENT_NAME_CHARS)
    conn_log = getattr(session.server, "conn_log", None)
    (conn_log or log).info("client hello: name=%s pid=%s uid=%s",
                           logsafe.printable(session.name), session.pid, session.uid)
    return server_info(session)


@command("persist", "int?")
def _persist(session: Session, on: int = 1):
    """From now on, the handles, pipes and watchdogs this connection makes outlive
    it, as pigpio's do: its uid's until closed (0: they close with its process)."""
    session.persist = bool(on)
    return 0


@command("handles")
def _handles(session: Session):
    """List the numbered handles you may use and close (I2C, SPI, serial, files,
    notification pipes): your process's, and what persists of your uid's (all
    uids' for root and the admin group), to find what a script forgot to close."""
    return session.server.handles.listing(session)


@command("info")
def _info(session: Session):
    """What the server is: version, protocol, backend, hardware revision, clients."""
    return server_info(session)


def server_info(session: Session) -> dict[str, Any]:
    """The server-info answer shared by ``hello`` and ``info``."""
    return {
        "server": "gpiosvr",
        "version": __version__,
        "protocol": protocol.PROTOCOL_VERSION,
        "backend": session.backend.name,
        "hardware_revision": session.backend.hardware_revision,
        "pigpio_version": PIGPIO_VERSION,
        "clients": session.server.client_count if session.server is not None else 0,
        "notify_handles": len(session.server.hub.subscriptions) if session.server else 0,
    }
