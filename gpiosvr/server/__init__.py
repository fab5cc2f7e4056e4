"""The GPIO server: socket handling (:mod:`.app`), the pigs command table
(:mod:`.commands`) and the backends (:mod:`.backends`)."""

from gpiosvr.server.app import GpioServer, ServerAlreadyRunning

__all__ = ["GpioServer", "ServerAlreadyRunning"]
