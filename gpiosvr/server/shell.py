"""pigpio's ``shell``: run an executable of the configured directory (pigpio's
``/opt/pigpio/cgi``; ``gpiosvr-server --shell-dir DIR``, off without it).

The name must be letters, digits, ``_`` and ``-`` (pigpio's rule), so it never leaves
the directory. Unlike pigpio, which hands ``"DIR/name string"`` to ``/bin/sh``, the
argument string is only split into words as a shell would (quotes group words, a
backslash escapes) and nothing else is interpreted: ``$``, ``;``, ``|``, ``>``, ``*``
and backquotes reach the program as they are. The program runs as the server's user
in the directory, with no input, its output discarded, and a PATH-only environment,
without blocking the server's loop; one still running after :data:`SHELL_SECONDS` is
killed. The answer is pigpio's: ``system()``'s status (exit code times 256; a signal's
number; 32512 when there is no such program).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
from typing import Any

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server import limits

PI_BAD_SCRIPT_NAME = int(CONSTANTS["PI_BAD_SCRIPT_NAME"])
PI_BAD_SHELL_STATUS = int(CONSTANTS["PI_BAD_SHELL_STATUS"])
PI_NOT_PERMITTED = int(CONSTANTS["PI_NOT_PERMITTED"])

_NAME = re.compile(r"[A-Za-z0-9_-]+")
#: system()'s status when the shell finds no such program (exit 127), or cannot run it.
NOT_FOUND, NOT_EXECUTABLE = 127 << 8, 126 << 8
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}


class ShellRunner:
    """Runs ``shell`` commands, counting those running (in all and per uid)."""

    def __init__(self) -> None:
        self.running = 0
        self._per_uid: dict[int | None, int] = {}

    def start(self, session: Any, directory: str | None, name: str,
              arguments: str) -> "asyncio.Future[int]":
        if not directory:
            raise PigpioError(PI_NOT_PERMITTED, "shell is off: the server was started "
                                                "without --shell-dir")
        if not _NAME.fullmatch(name):
            raise PigpioError(PI_BAD_SCRIPT_NAME, f"bad script name {name!r}: letters, "
                                                  f"digits, _ and - only")
        try:
            argv = shlex.split(arguments)
        except ValueError as exc:
            raise PigpioError(PI_BAD_SHELL_STATUS, f"bad shell arguments {arguments!r}: "
                                              f"{exc}") from None
        uid = session.uid
        if self.running >= limits.MAX_SHELLS or \
                self._per_uid.get(uid, 0) >= limits.MAX_SHELLS_PER_UID:
            raise PigpioError(PI_BAD_SHELL_STATUS, f"too many shell commands running "
                                                   f"({limits.MAX_SHELLS} in all, "
                                                   f"{limits.MAX_SHELLS_PER_UID} a user)")
        self.running += 1
        self._per_uid[uid] = self._per_uid.get(uid, 0) + 1
        return asyncio.ensure_future(self._run(uid, os.path.join(directory, name), argv,
                                               directory))

    async def _run(self, uid: int | None, program: str, argv: list[str],
                   directory: str) -> int:
        try:
            if not os.path.isfile(program):
                return NOT_FOUND
            try:
                proc = await asyncio.create_subprocess_exec(
                    program, *argv, cwd=directory, env=_ENV, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True)
            except OSError:  # not executable, not a program
                return NOT_EXECUTABLE
            try:
                code = await asyncio.wait_for(proc.wait(), limits.SHELL_SECONDS)
            except asyncio.TimeoutError:
                _kill(proc)
                code = await proc.wait()
            except asyncio.CancelledError:  # the server stops: so does the program
                _kill(proc)
                raise
            return (code << 8) if code >= 0 else -code  # as system(): status, or signal
        finally:
            self.running -= 1
            left = self._per_uid.get(uid, 1) - 1
            if left:
                self._per_uid[uid] = left
            else:
                self._per_uid.pop(uid, None)


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its children too
    except (ProcessLookupError, PermissionError):
        pass


def runner(server: Any) -> ShellRunner:
    """The server's :class:`ShellRunner`, made at its first use."""
    shell = getattr(server, "_shell", None)
    if shell is None:
        shell = server._shell = ShellRunner()
    return shell
