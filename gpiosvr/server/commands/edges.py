"""Watchdogs and edge filters (glitch and noise), kept per GPIO as pigpio does."""

from __future__ import annotations

from gpiosvr.server import ownership
from gpiosvr.server.commands.table import Session, command


@command("wdog", "user_gpio", "wdog_ms")
def _watchdog(session: Session, gpio: int, timeout_ms: int):
    """Watchdog: report TIMEOUT after ``timeout_ms`` without an edge (0: off, for all).

    It stays on while a connection that set it is connected; one set by a session
    that persists (``pigs``, the pigpiod front end) stays until turned off, as
    pigpio's."""
    settings = session.server.edge_settings
    setters = settings.watchdog_setters[gpio]
    for owner in setters.values():
        ownership.check(session, owner, f"the watchdog of GPIO {gpio}")
    settings.watchdog[gpio] = timeout_ms
    if timeout_ms:
        owner = ownership.owner_of(session)
        setters[("persist", owner.uid) if session.persist else session.connection] = owner
    else:
        setters.clear()
    session.server.hub.watchdog_changed(gpio)
    return 0


@command("fg", "user_gpio", "steady_us")
def _glitch_filter(session: Session, gpio: int, steady: int):
    """Glitch filter: ignore level changes shorter than ``steady`` µs (0: off)."""
    settings = session.server.edge_settings
    ownership.check(session, settings.glitch_owner[gpio], f"the glitch filter of GPIO {gpio}")
    settings.glitch_owner[gpio] = ownership.owner_of(session) if steady else None
    if session.backend.set_debounce(gpio, steady):
        steady = 0  # the kernel filters: the server's own filter stays off
    settings.glitch[gpio] = steady
    session.server.hub.glitch_changed(gpio)
    return 0


@command("fn", "user_gpio", "steady_us", "active_us")
def _noise_filter(session: Session, gpio: int, steady: int, active: int):
    """Noise filter: after ``steady`` µs stable, report edges for ``active`` µs."""
    settings = session.server.edge_settings
    ownership.check(session, settings.noise_owner[gpio], f"the noise filter of GPIO {gpio}")
    settings.noise_owner[gpio] = ownership.owner_of(session) if steady else None
    settings.noise[gpio] = (steady, active)
    session.server.hub.noise_changed(gpio)
    return 0
