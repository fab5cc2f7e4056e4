"""The GPIO server: socket handling (:mod:`.app`), the pigs command table
(:mod:`.commands`) and the backends (:mod:`.backends`)."""

from __future__ import annotations

from typing import Any

__all__ = ["GpioServer", "ServerAlreadyRunning"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: a client that only reads a constant of gpiosvr.server.limits
    # must not import the whole server (and asyncio).
    if name in __all__:
        from gpiosvr.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
