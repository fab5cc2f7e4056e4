"""Where the server listens and how clients find it.

The socket path is, in order: an explicit argument (``--socket``, ``socketPath``,
``pi(host=...)``), the environment variable ``GPIO_SOCKET_PATH``, and
:data:`DEFAULT_SOCKET_PATH`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Environment variable naming the server's socket; the server, ``pigs`` and every
#: client honour it.
SOCKET_ENV = "GPIO_SOCKET_PATH"
#: The socket used when neither an argument nor the environment names one.
DEFAULT_SOCKET_PATH = "/tmp/gpiosvr.sock"


def socket_path(explicit: str | os.PathLike | None = None) -> str:
    """Return the socket path to use, given an optional explicit choice."""
    if explicit is not None and str(explicit) != "":
        return os.fspath(explicit)
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET_PATH


def default_client_name() -> str:
    """A client name for the handshake: the running program and its pid."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return f"{prog}[{os.getpid()}]"
