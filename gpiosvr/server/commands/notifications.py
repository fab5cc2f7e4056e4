"""Notification handles: ``no``, ``nb``, ``np``, ``nc``."""

from __future__ import annotations

from gpiosvr.server.commands.table import Session, command


@command("no")
def _notify_open(session: Session):
    """Open a notification handle; reports come on this connection as ``*e`` frames."""
    return session.server.hub.open(session.connection)


@command("nb", "int", "bits")
def _notify_begin(session: Session, handle: int, bits: int):
    """Report the GPIOs whose bits are set in ``bits`` on ``handle``."""
    return session.server.hub.begin(session.connection, handle, bits)


@command("np", "int")
def _notify_pause(session: Session, handle: int):
    """Pause the reports of ``handle``."""
    return session.server.hub.pause(session.connection, handle)


@command("nc", "int")
def _notify_close(session: Session, handle: int):
    """Close ``handle``."""
    return session.server.hub.close(session.connection, handle)
