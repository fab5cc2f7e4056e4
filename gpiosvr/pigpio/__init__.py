"""The drop-in pigpio module: pigpio 1.78's API on top of a gpiosvr server.

``import gpiosvr.pigpio as pigpio`` (or ``compat/pigpio.py`` on ``PYTHONPATH``, or
``gpiosvr-run script.py``) lets an unchanged pigpio script run on gpiosvr. Names,
argument names, defaults, constants, return values and error texts follow pigpio
1.78; what differs is where ``pi()`` connects:

* ``pi()`` and ``pi('localhost', 8888)`` (gpiozero's default) reach the gpiosvr
  socket: ``$GPIO_SOCKET_PATH`` or the default (:mod:`gpiosvr.config`);
* ``host`` may be a socket path (anything containing ``/``);
* pigpio's ``PIGPIO_ADDR`` is honoured as pigpio does, as the default ``host``: a
  socket path, or a local name (``localhost``, ``127.0.0.1``, ``::1``, empty)
  meaning the gpiosvr socket, where ``PIGPIO_PORT`` and ``port`` are ignored;
* any other host is reached over TCP at ``port`` with pigpiod's own protocol
  (:mod:`gpiosvr.pigpiod_client`): a gpiosvr server's pigpiod front end
  (``--pigpiod-port``) or a real pigpiod, with per-call timeouts and callbacks
  restored after a reconnection. When it cannot be reached ``pi()`` prints why and
  ``connected`` is False.

Like pigpio, ``pi()`` never raises when there is no server. A failing call raises
:class:`error` whose text is pigpio's (``str(e)`` is ``repr(e.value)``) and whose
``code`` attribute is the pigpio error code; with ``pigpio.exceptions = False`` it
returns the negative code instead. A lost connection raises :class:`error` always.
"""

from __future__ import annotations

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.client_pigpio import tickDiff  # noqa: F401 - part of the pigpio API
from gpiosvr.pigpio._core import (  # noqa: F401 - part of the pigpio API
    PiBase, error, error_text, resolve_socket_path, u2i)
from gpiosvr.pigpio.callbacks import CallbacksPart, _callback  # noqa: F401
from gpiosvr.pigpio.gpio import GpioPart
from gpiosvr.pigpio.pwm import PwmPart
from gpiosvr.pigpio.scripts import ScriptsPart

globals().update(CONSTANTS)

VERSION = "1.78"

#: As in pigpio: when False, failing calls return the negative error code.
exceptions = True


class pi(GpioPart, PwmPart, ScriptsPart, CallbacksPart, PiBase):  # noqa: N801
    """Grants access to a Pi's GPIO through a gpiosvr server (see the module doc).

    Each concern of pigpio's API is a part of its own (:mod:`gpiosvr.pigpio.gpio`,
    ``pwm``, ``scripts``, ``callbacks``); :class:`~gpiosvr.pigpio._core.PiBase`
    holds the connection they share."""
