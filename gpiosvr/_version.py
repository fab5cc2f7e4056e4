"""The version of gpiosvr (the distribution gpiosvr-server)."""

__version__ = "0.1.0"
