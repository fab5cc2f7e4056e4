"""pigpio's file commands: ``fo``, ``fc``, ``fr``, ``fw``, ``fs``, ``fl`` (see
:mod:`gpiosvr.server.files` for the permits file and what is refused)."""

from __future__ import annotations

from gpiosvr.server import files
from gpiosvr.server.commands.table import ANSWERS_LATER, Session, command

ANSWERS_LATER.update(("fo", "fc", "fr", "fw", "fs", "fl"))


@command("fo", "text", "int")
def _file_open(session: Session, name: str, mode: int):
    """Open a file the permits file allows in mode 1-31 (1 read, 2 write, 3 both;
    +4 append, +8 create, +16 truncate); answers its handle."""
    return files.service(session.server).open(session, name, mode)


@command("fc", "int")
def _file_close(session: Session, handle: int):
    """Close a file handle."""
    return files.service(session.server).close(session, handle)


@command("fr", "int", "int")
def _file_read(session: Session, handle: int, count: int):
    """Read up to ``count`` bytes (at most 65535); answers them (empty at the end)."""
    return files.service(session.server).read(session, handle, count)


@command("fw", "int", "data")
def _file_write(session: Session, handle: int, data: bytes):
    """Write the bytes to a file handle."""
    return files.service(session.server).write(session, handle, data)


@command("fs", "int", "int", "int")
def _file_seek(session: Session, handle: int, offset: int, whence: int):
    """Seek to ``offset`` from 0 the start, 1 the current position, 2 the end;
    answers the new position."""
    return files.service(session.server).seek(session, handle, offset, whence)


@command("fl", "text", "int?")
def _file_list(session: Session, pattern: str, count: int = 60000):
    """The files matching ``pattern`` (a glob the permits file allows reading), one
    per line, directories with a trailing ``/``; at most ``count`` bytes."""
    return files.service(session.server).list(session, pattern, count)
