"""gpiosvr: one asyncio daemon owns the GPIOs; any number of processes share them.

See ``README.md`` for a tour and ``docs/protocol.md`` for the wire protocol.
"""

# In a module of its own, so that code never reads it from this package: a
# directory named gpiosvr in the current directory (a clone's parent, with an
# editable install) can shadow this package as an empty namespace.
from gpiosvr._version import __version__

__all__ = ["__version__"]
