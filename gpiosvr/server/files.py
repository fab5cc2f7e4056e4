"""pigpio's files: who may open what (the permits file) and the open files.

As in pigpio, nothing is allowed without a permits file (pigpio's
``/opt/pigpio/access``, ``gpiosvr-server --file-access PATH``): each line is a path
pattern (``*`` and ``?`` wildcards, matching ``/`` too, as C's ``fnmatch``) and a
right, ``r`` (read), ``w`` (write), ``u`` (both) or ``n`` (none). The most specific
matching pattern decides (one that an earlier match's pattern itself matches), and a
name pigpio finds risky (``..``, ``\\.``, fewer than two path parts) is never allowed.
The file is read again at each open, as pigpio does.

Beyond pigpio: the path must be absolute, and its real path (symlinks resolved) must
be allowed as well, so a symlink under a permitted path cannot lead outside it; the
file is opened with ``O_NOFOLLOW`` and checked once open to be the file that was
approved and a regular file (a FIFO or device could block the server). File handles
belong to the client process (:mod:`gpiosvr.server.handles`), 16 in all as in pigpio.
Reads, writes, seeks and listings run on a worker thread of their own, in order,
never on the server's loop; a read or listing gives at most
:data:`MAX_FILE_READ_BYTES`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import glob
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gpiosvr._pigpio_tables import CONSTANTS
from gpiosvr.errors import PigpioError
from gpiosvr.server.handles import HandleTable
from gpiosvr.server.limits import (MAX_ACCESS_FILE_BYTES, MAX_FILE_HANDLES,
                                   MAX_FILE_HANDLES_PER_UID, MAX_FILE_READ_BYTES)

log = logging.getLogger(__name__)

#: pigpio's permits file, the server's default (``--file-access``).
DEFAULT_ACCESS_FILE = "/opt/pigpio/access"

FILE_READ, FILE_WRITE, FILE_RW = 1, 2, 3
FILE_APPEND, FILE_CREATE, FILE_TRUNC = 4, 8, 16
_RIGHTS = {"r": FILE_READ, "w": FILE_WRITE, "u": FILE_RW}


def _code(name: str) -> int:
    return int(CONSTANTS[name])


PI_BAD_FILE_MODE, PI_NO_FILE_ACCESS = _code("PI_BAD_FILE_MODE"), _code("PI_NO_FILE_ACCESS")
PI_FIL_OPEN_FAILED, PI_FILE_IS_A_DIR = _code("PI_FIL_OPEN_FAILED"), _code("PI_FILE_IS_A_DIR")
PI_BAD_FILE_READ, PI_BAD_FILE_WRITE = _code("PI_BAD_FILE_READ"), _code("PI_BAD_FILE_WRITE")
PI_FILE_NOT_ROPEN, PI_FILE_NOT_WOPEN = _code("PI_FILE_NOT_ROPEN"), _code("PI_FILE_NOT_WOPEN")
PI_BAD_FILE_SEEK, PI_NO_FILE_MATCH = _code("PI_BAD_FILE_SEEK"), _code("PI_NO_FILE_MATCH")
PI_BAD_PARAM, PI_NO_HANDLE = _code("PI_BAD_PARAM"), _code("PI_NO_HANDLE")
PI_BAD_HANDLE = _code("PI_BAD_HANDLE")


def path_bad(name: str) -> bool:
    """pigpio's ``myPathBad``: ``..``, ``\\.``, or fewer than two path parts (runs of
    characters other than ``/*?.``)."""
    if ".." in name or "\\." in name:
        return True
    parts, in_part = 0, False
    for c in name:
        if c in "/*?.":
            in_part = False
        elif not in_part:
            parts += 1
            in_part = True
    return parts < 2


def parse_access(text: str) -> list[tuple[str, int]]:
    """The (pattern, rights) lines of a permits file, risky patterns left out."""
    rules = []
    for line in text.splitlines():
        words = line.split()
        if len(words) != 2 or len(words[1]) != 1 or path_bad(words[0]):
            continue  # pigpio too takes only "pattern letter" lines
        rules.append((words[0], _RIGHTS.get(words[1].lower(), 0)))
    return rules


def approve(rules: list[tuple[str, int]], name: str) -> int:
    """The rights (0-3) ``rules`` give ``name``, as pigpio's ``fileApprove``."""
    if path_bad(name):
        return 0
    match, rights = None, 0
    for pattern, right in rules:
        if fnmatch.fnmatchcase(name, pattern):
            if match is None or fnmatch.fnmatchcase(pattern, match):
                match, rights = pattern, right
    return rights


class OpenFile:
    """One open file: its descriptor, pigpio mode and the real path approved."""

    __slots__ = ("fd", "mode", "path")

    def __init__(self, fd: int, mode: int, path: str) -> None:
        self.fd, self.mode, self.path = fd, mode, path


class FileService:
    """The server's files: the permits file, the handle table and the worker."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="gpiosvr-files")
        self.handles: HandleTable[OpenFile] = server.handles.add(HandleTable(
            "file", MAX_FILE_HANDLES, MAX_FILE_HANDLES_PER_UID, on_close=self._closed))

    @property
    def access_file(self) -> str | None:
        """The permits file (``--file-access``); None: files are off."""
        return getattr(self.server, "file_access", None)

    def rules(self) -> list[tuple[str, int]]:
        path = self.access_file
        if not path:
            return []
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_ACCESS_FILE_BYTES + 1)
        except OSError:
            return []  # as pigpio: no permits file, nothing allowed
        if len(data) > MAX_ACCESS_FILE_BYTES:
            log.warning("permits file %s is longer than %d bytes: the rest is ignored",
                        path, MAX_ACCESS_FILE_BYTES)
        return parse_access(data[:MAX_ACCESS_FILE_BYTES].decode("utf-8", "replace"))

    def _refuse(self, name: str, why: str) -> PigpioError:
        where = self.access_file or "no permits file (gpiosvr-server --file-access)"
        return PigpioError(PI_NO_FILE_ACCESS, f"no permission to access file {name!r}: "
                                              f"{why} ({where})")

    def rights(self, name: str) -> tuple[int, str]:
        """The rights on ``name`` and its real path, both checked (0 if either is
        refused); raises naming the problem when it is not a path allowed at all."""
        if not name.startswith("/"):
            raise self._refuse(name, "the path must be absolute")
        rules = self.rules()
        real = os.path.realpath(name)
        return approve(rules, name) & approve(rules, real), real

    # -- commands ---------------------------------------------------------------

    def open(self, session: Any, name: str, mode: int) -> asyncio.Future:
        if not 1 <= mode <= 31 or not mode & FILE_RW:
            raise PigpioError(PI_BAD_FILE_MODE, f"bad file mode {mode}")
        wanted = mode & FILE_RW
        rights, real = self.rights(name)
        if rights & wanted != wanted:
            raise self._refuse(name, "the permits file does not give "
                                     + {1: "read", 2: "write", 3: "read and write"}[wanted]
                                     + " access to it" + ("" if real == name else
                                                          f" (its real path is {real})"))
        if len(self.handles) >= self.handles.size:  # before a file is made or cut
            raise PigpioError(PI_NO_HANDLE, f"no handle available: all "
                                            f"{self.handles.size} file handles are open")
        return asyncio.ensure_future(self._open(session, name, real, mode))

    async def _open(self, session: Any, name: str, real: str, mode: int) -> int:
        file = await self._run(self._open_file, name, real, mode)
        try:
            if not getattr(session.connection, "_admitted", True):
                raise PigpioError(PI_BAD_HANDLE, "the client went away")
            return self.handles.open(session, file)
        except BaseException:
            self._worker.submit(os.close, file.fd)
            raise

    def _open_file(self, name: str, real: str, mode: int) -> OpenFile:
        flags = {FILE_READ: os.O_RDONLY, FILE_WRITE: os.O_WRONLY, FILE_RW: os.O_RDWR}[
            mode & FILE_RW] | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        if mode & FILE_APPEND:
            flags |= os.O_APPEND
        if mode & FILE_CREATE:
            flags |= os.O_CREAT
        if mode & FILE_TRUNC:
            flags |= os.O_TRUNC
        try:
            fd = os.open(real, flags, 0o600)
        except IsADirectoryError:
            raise PigpioError(PI_FILE_IS_A_DIR, f"file is a directory ({name})") from None
        except OSError as exc:
            raise PigpioError(PI_FIL_OPEN_FAILED,
                              f"file open failed: {name}: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise PigpioError(PI_FILE_IS_A_DIR, f"file is a directory ({name})")
            if not stat.S_ISREG(info.st_mode):
                raise PigpioError(PI_FIL_OPEN_FAILED, f"file open failed: {name} is not a "
                                                      f"regular file (gpiosvr opens only those)")
            if _fd_path(fd) not in (None, real):
                raise self._refuse(name, "it changed while being opened")
            os.set_blocking(fd, True)
            return OpenFile(fd, mode, real)
        except BaseException:
            os.close(fd)
            raise

    def close(self, session: Any, handle: int) -> int:
        self.handles.close(session, handle)
        return 0

    def _closed(self, file: OpenFile) -> None:
        # after the reads and writes already queued for it
        self._worker.submit(os.close, file.fd)

    def read(self, session: Any, handle: int, count: int) -> Any:
        file = self.handles.get(session, handle)
        if count <= 0:
            raise PigpioError(PI_BAD_PARAM, f"bad count {count}")
        if not file.mode & FILE_READ:
            raise PigpioError(PI_FILE_NOT_ROPEN, "file not open for read")
        count = min(count, MAX_FILE_READ_BYTES)
        return self._run(_io, PI_BAD_FILE_READ, os.read, file.fd, count)

    def write(self, session: Any, handle: int, data: bytes) -> Any:
        file = self.handles.get(session, handle)
        if not data:
            raise PigpioError(PI_BAD_PARAM, "bad count 0: nothing to write")
        if not file.mode & FILE_WRITE:
            raise PigpioError(PI_FILE_NOT_WOPEN, "file not open for write")
        return self._run(_write_all, file.fd, data)

    def seek(self, session: Any, handle: int, offset: int, whence: int) -> Any:
        file = self.handles.get(session, handle)
        if whence not in (0, 1, 2):
            raise PigpioError(PI_BAD_FILE_SEEK, f"bad seek from {whence} (0 start, "
                                                f"1 current, 2 end)")
        return self._run(_io, PI_BAD_FILE_SEEK, os.lseek, file.fd, offset, whence)

    def list(self, session: Any, pattern: str, count: int) -> Any:
        if not self.rights(pattern)[0] & FILE_READ:
            raise self._refuse(pattern, "the permits file does not give read access")
        return self._run(_list, pattern, max(0, min(count, MAX_FILE_READ_BYTES)))

    def _run(self, func, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._worker, func, *args)

    def close_all(self) -> None:
        """The server stops: the worker finishes and ends."""
        self._worker.shutdown(wait=False)


def _fd_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None  # no /proc: O_NOFOLLOW and the check before are what there is


def _io(code: int, func, *args) -> Any:
    """``func(*args)``; an OSError becomes pigpio's ``code``, with its reason."""
    try:
        return func(*args)
    except OSError as exc:
        raise PigpioError(code, f"{func.__name__} failed: {exc.strerror}") from None


def _write_all(fd: int, data: bytes) -> int:
    try:
        written = os.write(fd, data)
    except OSError as exc:
        raise PigpioError(PI_BAD_FILE_WRITE, f"write failed: {exc.strerror}") from None
    if written != len(data):
        raise PigpioError(PI_BAD_FILE_WRITE, f"write failed: {written} of {len(data)} "
                                             f"bytes written")
    return 0


def _list(pattern: str, count: int) -> bytes:
    names = glob.glob(pattern)
    if not names:
        raise PigpioError(PI_NO_FILE_MATCH, f"no file matches {pattern!r}")
    out = bytearray()
    for name in sorted(names):
        entry = (name + ("/" if os.path.isdir(name) else "") + "\n").encode(
            "utf-8", "surrogateescape")
        if len(out) + len(entry) < count:  # as pigpio: names that fit, each whole
            out += entry
    return bytes(out)


def service(server: Any) -> FileService:
    """The server's :class:`FileService`, made at its first use."""
    files = getattr(server, "_files", None)
    if files is None:
        files = server._files = FileService(server)
    return files
