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
  meaning the gpiosvr socket; ``PIGPIO_PORT`` and ``port`` are accepted and ignored,
  since gpiosvr serves a Unix socket, not TCP. Other hosts cannot be reached:
  ``pi()`` prints why and ``connected`` is False.

Like pigpio, ``pi()`` never raises when there is no server. A failing call raises
:class:`error` whose text is pigpio's (``str(e)`` is ``repr(e.value)``) and whose
``code`` attribute is the pigpio error code; with ``pigpio.exceptions = False`` it
returns the negative code instead. A lost connection raises :class:`error` always.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from gpiosvr import config
from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.blocking import BlockingClient, ThreadState
from gpiosvr.channel import frame_template
from gpiosvr.client_pigpio import tickDiff  # noqa: F401 - part of the pigpio API
from gpiosvr.client_pigs import mode_arg, pud_arg
from gpiosvr.errors import GpioServerError, PigpioError
from gpiosvr.errors import error_text as _error_text

globals().update(CONSTANTS)

VERSION = "1.78"

#: As in pigpio: when False, failing calls return the negative error code.
exceptions = True

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}

_except_a = "%" * 60 + "\n{}"
_except_z = "%" * 60
_except_hint = """
Did you start the gpiosvr server? E.g. gpiosvr-server

Is it serving the socket this script uses? pi() uses $GPIO_SOCKET_PATH
or {default}; pi(host) also accepts a socket path."""


class error(Exception):  # noqa: N801 - pigpio's name
    """pigpio module exception; ``value`` is the text, ``code`` the error code."""

    def __init__(self, value: Any, code: int | None = None) -> None:
        self.value = value
        self.code = code
        super().__init__(value)

    def __str__(self) -> str:
        return repr(self.value)


def error_text(errnum: int) -> str:
    """Returns a text description of a pigpio error."""
    return _error_text(errnum)


def u2i(uint32: int) -> int:
    """Converts a 32 bit unsigned number to signed."""
    mask = (2 ** 32) - 1
    if uint32 & (1 << 31):
        return uint32 | ~mask
    return uint32 & mask


def _failed(exc: GpioServerError) -> Any:
    """What a call that failed with ``exc`` gives: :class:`error` raised, or with
    ``exceptions = False`` the negative pigpio code (a lost connection always raises)."""
    if isinstance(exc, PigpioError):
        if exceptions:
            raise error(error_text(exc.code), exc.code) from exc
        return exc.code
    raise error(str(exc), getattr(exc, "code", None)) from exc


_READ = frame_template("r", 1)
_WRITE = frame_template("w", 2)
_NO_THREADS = ThreadState()  # a pi that is not connected never has a channel


def _u2i(value: int) -> int:
    """pigpio's check of a result: a negative one is an error (raised or returned)."""
    if value < 0 and exceptions:
        raise error(error_text(value), value)
    return value


class _socklock:  # noqa: N801 - gpiozero looks at pi.sl.s to see a live connection
    """Holds the connection (``s``) like pigpio's socket-and-lock pair."""

    def __init__(self) -> None:
        self.s: BlockingClient | None = None


def resolve_socket_path(host: Any) -> str | None:
    """The gpiosvr socket ``pi(host)`` means, or None for a host we cannot reach."""
    host = "" if host is None else str(host)
    if "/" in host:
        return host
    if host in _LOCAL_HOSTS:
        return config.socket_path()
    return None


class pi:  # noqa: N801 - pigpio's name
    """Grants access to a Pi's GPIO through a gpiosvr server (see the module doc)."""

    def __init__(self,
                 host=os.getenv("PIGPIO_ADDR", 'localhost'),
                 port=os.getenv("PIGPIO_PORT", 8888),
                 show_errors=True):
        self.connected = True
        self.sl = _socklock()
        self._threads = _NO_THREADS  # the client's per-thread state, for read()
        self._notify = None
        port = int(port)
        if host == '':
            host = "localhost"
        self._host = host
        self._port = port
        path = resolve_socket_path(host)
        problem = None
        if path is None:
            problem = (f"gpiosvr serves a Unix socket on this machine; "
                       f"the remote host {host!r} cannot be reached")
        else:
            client = BlockingClient(path, connect_timeout=_connect_timeout())
            try:
                client.connect()
            except GpioServerError as exc:
                client.close()
                problem = str(exc)
            else:
                self.sl.s = client
                self._threads = client.thread_state
        if problem is not None:
            self.connected = False
            if show_errors:
                print(_except_a.format(f"Can't connect to pigpio at {host}({port})"))
                print(f"\n{problem}")
                print(_except_hint.format(default=config.DEFAULT_SOCKET_HELP))
                print(_except_z)

    def __repr__(self) -> str:
        return "<pipio.pi host={} port={}>".format(self._host, self._port)

    # -- plumbing -----------------------------------------------------------------

    def _cmd(self, name: str, *args: Any) -> Any:
        client = self.sl.s
        if client is None:
            raise error("not connected to a gpiosvr server", None)
        try:
            return client.command(name, *args)
        except GpioServerError as exc:
            return _failed(exc)

    def _ints(self, template: bytes, name: str, *args: Any) -> Any:
        """``_u2i(self._cmd(name, *args))``, the short way when all ``args`` are ints
        (``template`` is their frame template)."""
        client = self.sl.s
        if client is not None:
            for arg in args:
                if type(arg) is not int:
                    break
            else:
                try:
                    return _u2i(client.call_ints(template, args))
                except GpioServerError as exc:
                    return _failed(exc)
        return _u2i(self._cmd(name, *args))

    @property
    def _client(self) -> BlockingClient:
        if self.sl.s is None:
            raise error("not connected to a gpiosvr server", None)
        return self.sl.s

    def stop(self):
        """Release pigpio resources."""
        self.connected = False
        self._threads = _NO_THREADS
        client, self.sl.s = self.sl.s, None
        if client is not None:
            client.close()

    # -- essential ---------------------------------------------------------------

    def set_mode(self, gpio, mode):
        """Sets the GPIO mode (INPUT, OUTPUT, ALT0-ALT5)."""
        return _u2i(self._cmd("m", gpio, mode_arg(mode)))

    def get_mode(self, gpio):
        """Returns the GPIO mode."""
        return _u2i(self._cmd("mg", gpio))

    def set_pull_up_down(self, gpio, pud):
        """Sets or clears the internal GPIO pull-up/down resistor."""
        return _u2i(self._cmd("pud", gpio, pud_arg(pud)))

    def read(self, gpio):
        """Returns the GPIO level."""
        channel = self._threads.channel  # this thread's connection, once it has one
        if channel is not None and channel.ready and type(gpio) is int:  # the short way
            try:
                value = channel.call_ints(_READ, (gpio,))
            except GpioServerError as exc:
                return _failed(exc)
            return value if value >= 0 else _u2i(value)
        return _u2i(self._cmd("r", gpio))

    def write(self, gpio, level):
        """Sets the GPIO level."""
        return self._ints(_WRITE, "w", gpio, level)

    # -- banks ---------------------------------------------------------------------

    def read_bank_1(self):
        """Returns the levels of the bank 1 GPIO (GPIO 0-31)."""
        return self._cmd("br1")

    def read_bank_2(self):
        """Returns the levels of the bank 2 GPIO (GPIO 32-53)."""
        return self._cmd("br2")

    def clear_bank_1(self, bits):
        """Clears GPIO 0-31 if the corresponding bit in bits is set."""
        return _u2i(self._cmd("bc1", bits))

    def clear_bank_2(self, bits):
        """Clears GPIO 32-53 if the corresponding bit (0-21) in bits is set."""
        return _u2i(self._cmd("bc2", bits))

    def set_bank_1(self, bits):
        """Sets GPIO 0-31 if the corresponding bit in bits is set."""
        return _u2i(self._cmd("bs1", bits))

    def set_bank_2(self, bits):
        """Sets GPIO 32-53 if the corresponding bit (0-21) in bits is set."""
        return _u2i(self._cmd("bs2", bits))

    # -- PWM and servo pulses ----------------------------------------------------

    def set_PWM_dutycycle(self, user_gpio, dutycycle):
        """Starts (non-zero dutycycle) or stops (0) PWM pulses on the GPIO."""
        return _u2i(self._cmd("p", user_gpio, int(dutycycle)))

    def get_PWM_dutycycle(self, user_gpio):
        """Returns the PWM dutycycle being used on the GPIO."""
        return _u2i(self._cmd("gdc", user_gpio))

    def set_PWM_range(self, user_gpio, range_):
        """Sets the range of PWM values (25-40000); returns the real range."""
        return _u2i(self._cmd("prs", user_gpio, range_))

    def get_PWM_range(self, user_gpio):
        """Returns the range of PWM values being used on the GPIO."""
        return _u2i(self._cmd("prg", user_gpio))

    def get_PWM_real_range(self, user_gpio):
        """Returns the real (underlying) range of PWM values being used on the GPIO."""
        return _u2i(self._cmd("prrg", user_gpio))

    def set_PWM_frequency(self, user_gpio, frequency):
        """Sets the frequency (closest available) of the PWM; returns it."""
        return _u2i(self._cmd("pfs", user_gpio, frequency))

    def get_PWM_frequency(self, user_gpio):
        """Returns the frequency of PWM being used on the GPIO."""
        return _u2i(self._cmd("pfg", user_gpio))

    def set_servo_pulsewidth(self, user_gpio, pulsewidth):
        """Starts (500-2500) or stops (0) servo pulses on the GPIO."""
        return _u2i(self._cmd("s", user_gpio, int(pulsewidth)))

    def get_servo_pulsewidth(self, user_gpio):
        """Returns the servo pulsewidth being used on the GPIO."""
        return _u2i(self._cmd("gpw", user_gpio))

    def hardware_PWM(self, gpio, PWMfreq, PWMduty):  # noqa: N803 - pigpio's names
        """Starts hardware PWM on a GPIO at the specified frequency and dutycycle."""
        return _u2i(self._cmd("hp", gpio, PWMfreq, PWMduty))

    # -- scripts ------------------------------------------------------------------

    def store_script(self, script):
        """Store a script for later execution; returns its id."""
        if isinstance(script, (bytes, bytearray)):
            script = bytes(script).decode("latin-1")
        return _u2i(self._cmd("proc", script))

    def run_script(self, script_id, params=None):
        """Runs a stored script with up to 10 parameters."""
        return _u2i(self._cmd("procr", script_id, *(params or ())))

    def update_script(self, script_id, params=None):
        """Sets the parameters of a script (running or not)."""
        return _u2i(self._cmd("procu", script_id, *(params or ())))

    def script_status(self, script_id):
        """Returns ``(status, params)``; on error ``(negative code, ())``, as pigpio."""
        client = self._client
        try:
            status, *params = client.command("procp", script_id)
        except PigpioError as exc:
            return exc.code, ()
        except GpioServerError as exc:
            raise error(str(exc), getattr(exc, "code", None)) from exc
        return status, tuple(params)

    def stop_script(self, script_id):
        """Stops a running script."""
        return _u2i(self._cmd("procs", script_id))

    def delete_script(self, script_id):
        """Deletes a stored script."""
        return _u2i(self._cmd("procd", script_id))

    # -- information -------------------------------------------------------------

    def get_current_tick(self):
        """Returns the current system tick (microseconds, wrapping at 2**32)."""
        return self._cmd("t")

    def get_hardware_revision(self):
        """Returns the Pi's hardware revision number."""
        return self._cmd("hwver")

    def get_pigpio_version(self):
        """Returns the pigpio software version."""
        return self._cmd("pigpv")

    # -- callbacks -------------------------------------------------------------------

    def callback(self, user_gpio, edge=RISING_EDGE, func=None):  # noqa: F821
        """Calls a user supplied function (a callback) whenever the specified GPIO
        edge is detected; without ``func`` the edges are only counted (``tally``).

        ``func(gpio, level, tick)`` runs on the client's callback thread, in edge
        order; it may call this ``pi`` again.
        """
        return _callback(self, self._async(lambda c: c.callback(user_gpio, edge, func)))

    def wait_for_edge(self, user_gpio, edge=RISING_EDGE, wait_timeout=60.0):  # noqa: F821
        """Wait up to ``wait_timeout`` seconds for ``edge`` on ``user_gpio``.

        Returns True if the edge was detected, otherwise False.
        """
        seen = threading.Event()
        cb = self._async(lambda c: c.callback(user_gpio, edge, lambda g, lvl, t: seen.set()))
        try:
            return seen.wait(max(0.0, float(wait_timeout)))
        finally:
            self._async(lambda c: c.cancel_callback(cb))

    @property
    def reconnects(self):
        """How many times this pi reconnected to a GPIO server that went away (a
        gpiosvr addition). Callbacks, watchdogs and filters come back by themselves,
        but the edges in between were not seen and levels may have changed: each
        time is also logged at WARNING ("reconnected to the GPIO server ...")."""
        client = self.sl.s
        return 0 if client is None else client.reconnects

    def _async(self, func):
        client = self._client
        try:
            return client.call_async(func)
        except PigpioError as exc:
            raise error(error_text(exc.code), exc.code) from exc
        except GpioServerError as exc:
            raise error(str(exc), getattr(exc, "code", None)) from exc

    # -- filters and watchdogs ---------------------------------------------------

    # These go over the callback connection, which lives as long as this pi does (a
    # server drops a client's watchdogs when it disconnects) and restores them after
    # a reconnection.

    def set_watchdog(self, user_gpio, wdog_timeout):
        """Sets a watchdog timeout (0-60000 ms, 0 = off) for a GPIO."""
        return _u2i(self._setting(lambda c: c.set_watchdog(user_gpio, wdog_timeout)))

    def set_glitch_filter(self, user_gpio, steady):
        """Sets a glitch filter (0-300000 µs, 0 = off) on a GPIO."""
        return _u2i(self._setting(lambda c: c.set_glitch_filter(user_gpio, steady)))

    def set_noise_filter(self, user_gpio, steady, active):
        """Sets a noise filter (steady 0-300000 µs, active 0-1000000 µs) on a GPIO."""
        return _u2i(self._setting(lambda c: c.set_noise_filter(user_gpio, steady, active)))

    def _setting(self, func):
        try:
            return self._async(func)
        except error as exc:
            if exc.code is not None and not exceptions:
                return exc.code
            raise


class _callback:  # noqa: N801 - pigpio's name
    """The object :meth:`pi.callback` returns: ``cancel``, ``tally``, ``reset_tally``."""

    def __init__(self, owner: pi, cb) -> None:
        self._owner = owner
        self._cb = cb
        self.gpio = cb.gpio
        self.edge = cb.edge
        self.func = cb.func

    def cancel(self):
        """Cancels a callback by removing it from the notification thread."""
        client = self._owner.sl.s
        if client is not None and not client.closed:
            self._owner._async(lambda c: c.cancel_callback(self._cb))

    def tally(self):
        """Provides a count of how many times the default tally callback has
        triggered."""
        return self._cb.tally()

    def reset_tally(self):
        """Resets the tally count to zero."""
        self._cb.reset_tally()


def _connect_timeout() -> float:
    """Seconds ``pi()`` waits for the server: ``$GPIOSVR_CONNECT_TIMEOUT`` or 3."""
    try:
        return float(os.environ.get("GPIOSVR_CONNECT_TIMEOUT", "3"))
    except ValueError:
        return 3.0

