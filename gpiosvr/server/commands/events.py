"""pigpio's events: ``evm`` (which events a notification handle reports) and
``evt`` (trigger one). Any client may trigger an event; every handle monitoring it
gets a report, as in pigpio."""

from __future__ import annotations

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server.commands.table import Session, command
from gpiosvr.server.notify import NUM_EVENTS

PI_BAD_EVENT_ID = int(CONSTANTS["PI_BAD_EVENT_ID"])


@command("evm", "int", "bits")
def _event_monitor(session: Session, handle: int, bits: int):
    """Report the events whose bits are set in ``bits`` (0: none) on notification
    ``handle``, as gpio byte 128+event reports (level 0)."""
    return session.server.hub.monitor_events(session.connection, handle, bits)


@command("evt", "int")
def _event_trigger(session: Session, event: int):
    """Trigger event 0-31: every handle monitoring it gets one report."""
    if not 0 <= event < NUM_EVENTS:
        raise PigpioError(PI_BAD_EVENT_ID, f"event not 0-31 (got {event})")
    session.server.hub.trigger_event(event)
    return 0
