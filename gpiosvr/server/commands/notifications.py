"""Notification handles: ``no``, ``nb``, ``np``, ``nc``; the frames they come in: ``nfmt``."""

from __future__ import annotations

from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError
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


@command("nfmt", "int")
def _notify_format(session: Session, edge_format: int):
    """Send this connection's edge reports as ``*e`` text frames (0, the default) or
    as binary edge frames (1), from the next frame on (docs/protocol.md 7.2)."""
    if edge_format not in (protocol.EDGE_FORMAT_TEXT, protocol.EDGE_FORMAT_BINARY):
        raise PigpioError(errors.PI_BAD_PARAM, "bad parameter: the edge frame format is "
                          f"0 (text) or 1 (binary), not {edge_format}")
    session.connection.binary_reports = edge_format == protocol.EDGE_FORMAT_BINARY
    return 0
