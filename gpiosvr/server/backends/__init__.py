"""GPIO backends: each in a module of its own, chosen by name with :func:`create`."""

from __future__ import annotations

from typing import Any

from gpiosvr.server.backends.base import Backend, BackendUnavailable

__all__ = ["Backend", "BackendUnavailable", "NAMES", "create"]

#: Backend names ``--backend`` accepts.
NAMES = ("sim", "pigpiod", "gpiod")


def create(name: str, **options: Any) -> Backend:
    """Build the backend called ``name`` with its options."""
    if name == "sim":
        from gpiosvr.server.backends.sim import SimulatedChip

        return SimulatedChip(**options)
    if name == "pigpiod":
        from gpiosvr.server.backends.pigpiod import PigpiodBackend

        return PigpiodBackend(**options)
    if name == "gpiod":
        from gpiosvr.server.backends.gpiod import GpiodChip

        return GpiodChip(**options)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
