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
from gpiosvr.pigpio.bitbang import BitBangPart
from gpiosvr.pigpio.callbacks import CallbacksPart, _callback  # noqa: F401
from gpiosvr.pigpio.capture import CapturePart
from gpiosvr.pigpio.events import EventsPart, _event  # noqa: F401
from gpiosvr.pigpio.files import FilesPart
from gpiosvr.pigpio.gpio import GpioPart
from gpiosvr.pigpio.i2c import I2CPart
from gpiosvr.pigpio.misc import MiscPart
from gpiosvr.pigpio.notify import NotifyPart, notify_path  # noqa: F401 - an addition
from gpiosvr.pigpio.pwm import PwmPart
from gpiosvr.pigpio.scripts import ScriptsPart
from gpiosvr.pigpio.serial import SerialPart
from gpiosvr.pigpio.spi import SPIPart
from gpiosvr.pigpio.waves import WavesPart, pulse  # noqa: F401 - pulse: pigpio's API

globals().update(CONSTANTS)

VERSION = "1.78"

#: As in pigpio: when False, failing calls return the negative error code.
exceptions = True


def xref():
    """pigpio's glossary of parameter names (what ``active``, ``bits``, ``handle``
    ... mean): a function that does nothing, kept for ``help(pigpio.xref)``; see
    pigpio 1.78's own docstring for the text."""


class pi(GpioPart, PwmPart, ScriptsPart, WavesPart, CallbacksPart, EventsPart, I2CPart,
         SPIPart, SerialPart, MiscPart, FilesPart, NotifyPart, CapturePart,
         BitBangPart, PiBase):  # noqa: N801
    """Grants access to a Pi's GPIO through a gpiosvr server (see the module doc).

    Each concern of pigpio's API is a part of its own (:mod:`gpiosvr.pigpio.gpio`,
    ``pwm``, ``scripts``, ``waves``, ``callbacks``, ``events``, ``i2c``, ``spi``,
    ``serial``, ``misc``, ``files``, ``notify``, ``capture``, ``bitbang``); :class:`~gpiosvr.pigpio._core.PiBase`
    holds the connection they share."""
