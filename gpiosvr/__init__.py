"""gpiosvr: one asyncio daemon owns the GPIOs; any number of processes share them.

See ``README.md`` for a tour and ``docs/protocol.md`` for the wire protocol.
"""

__version__ = "0.1.0"
