"""Device models for the simulated board, one module each, and the base classes a
user's own model starts from (:class:`I2CModel`, :class:`SPIModel`).

:data:`MODELS` names the built-in models as a board file does (``model = "..."``).
"""

from __future__ import annotations

from gpiosvr.server.sim.devices.base import I2CModel, SPIModel, SPIConfig  # noqa: F401
from gpiosvr.server.sim.devices.register import RegisterDevice
from gpiosvr.server.sim.devices.mcp3008 import MCP3008, MCP3208

#: Built-in models by the name a board file gives them, and the bus they sit on.
MODELS = {
    "register": ("i2c", RegisterDevice),
    "i2c-stub": ("i2c", RegisterDevice),
    "mcp3008": ("spi", MCP3008),
    "mcp3208": ("spi", MCP3208),
}
