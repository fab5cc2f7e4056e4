"""Stored-script calls of :class:`gpiosvr.pigpio.pi`."""

from __future__ import annotations

from gpiosvr.errors import GpioServerError, PigpioError
from gpiosvr.pigpio._core import _u2i, error


class ScriptsPart:
    """pigpio's script methods: store, run, update, status, stop, delete."""

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
