"""pigpio's ``shell`` command (see :mod:`gpiosvr.server.shell`)."""

from __future__ import annotations

from gpiosvr.server import shell
from gpiosvr.server.commands.table import ANSWERS_LATER, Session, command

ANSWERS_LATER.add("shell")


@command("shell", "text", "text?")
def _shell(session: Session, name: str, arguments: str = ""):
    """Run program ``name`` of the server's shell directory (--shell-dir) with the
    words of ``arguments``; answers its status as system() gives it (exit code x 256)."""
    return shell.runner(session.server).start(
        session, getattr(session.server, "shell_dir", None), name, arguments)
