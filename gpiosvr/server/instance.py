"""One server per socket path: the socket's directory, its lock, its file.

A server that starts (:func:`claim`):

1. refuses a socket directory that is missing, or that every user may write without
   the sticky bit (anyone could replace the socket there); it creates the service's
   own directory, :data:`~gpiosvr.config.SERVICE_SOCKET_PATH`'s, with mode 0755;
2. takes an ``flock`` on ``<socket>.lock`` for its whole life, so a second server on
   the same path fails, naming the holder's pid, even after the socket file was
   deleted under the first one;
3. removes a stale socket left by a crash (refusing one a live server answers, and
   any file that is not a socket).

After binding it records the socket's device and inode (:meth:`Instance.bound`), so
that on exit it removes its own socket only, never one another server made since.
Every failure is a :class:`ServerStartError` whose message names the problem, and
leaves nothing behind.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import logging
import os
import socket
import stat

from gpiosvr import config
from gpiosvr.server.limits import STALE_PROBE_SECONDS

log = logging.getLogger("gpiosvr.server")

#: Mode of the service's socket directory when the server creates it.
SERVICE_DIR_MODE = 0o755
#: Mode of the lock file: others must not open it (holding its lock would keep the
#: server from starting).
LOCK_MODE = 0o600


class ServerStartError(RuntimeError):
    """The server cannot serve its socket; the message says why."""


class ServerAlreadyRunning(ServerStartError):
    """Another live server already serves the socket path."""


def lock_path(socket_path: str) -> str:
    """The lock file of the server serving ``socket_path``."""
    return socket_path + ".lock"


def group_id(group: str | int) -> int:
    """A group's id, from its name or id (a number in a string too)."""
    if isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise ServerStartError(f"unknown group {group!r}") from None


def check_directory(socket_path: str) -> None:
    """Refuse a socket directory that is missing or writable by anyone without the
    sticky bit; create the service's own directory when it is missing."""
    directory = os.path.dirname(os.path.abspath(socket_path))
    if (directory == os.path.dirname(config.SERVICE_SOCKET_PATH)
            and not os.path.isdir(directory)):
        try:
            os.mkdir(directory, SERVICE_DIR_MODE)
            os.chmod(directory, SERVICE_DIR_MODE)  # whatever the umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise ServerStartError(f"cannot create the socket directory {directory}: "
                                   f"{exc.strerror}") from None
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise ServerStartError(f"the socket directory {directory} does not exist") from None
    except OSError as exc:
        raise ServerStartError(f"cannot use the socket directory {directory}: "
                               f"{exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ServerStartError(f"{directory} (the socket's directory) is not a directory")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise ServerStartError(
            f"refusing the socket directory {directory}: every user may write it and it "
            f"has no sticky bit, so anyone could replace the socket; use a directory "
            f"other users cannot write (or chmod +t it)")


class Instance:
    """The lock and the socket file of one running server (see the module doc)."""

    def __init__(self, socket_path: str, lock_fd: int) -> None:
        self.socket_path = socket_path
        self.lock_file = lock_path(socket_path)
        self._lock_fd: int | None = lock_fd
        self._socket_id: tuple[int, int] | None = None

    def bound(self) -> None:
        """Record the socket file this server just bound, to remove only it on exit."""
        st = os.stat(self.socket_path)
        self._socket_id = (st.st_dev, st.st_ino)

    def release(self) -> None:
        """Remove this server's socket file (if it is still the one it bound) and its
        lock file, then let the lock go. Idempotent."""
        if self._socket_id is not None:
            try:
                st = os.stat(self.socket_path)
            except OSError:
                pass  # gone already
            else:
                if (st.st_dev, st.st_ino) == self._socket_id:
                    try:
                        _unlink(self.socket_path)
                    except OSError as exc:
                        log.warning("cannot remove %s: %s", self.socket_path, exc.strerror)
                else:
                    log.warning("leaving %s alone: it is not the socket this server bound",
                                self.socket_path)
            self._socket_id = None
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            try:
                _unlink(self.lock_file)  # while holding the lock: see _lock
            except OSError as exc:
                log.warning("cannot remove %s: %s", self.lock_file, exc.strerror)
            os.close(fd)


def claim(socket_path: str) -> Instance:
    """Make ``socket_path`` this server's to bind (see the module doc)."""
    check_directory(socket_path)
    fd = _lock(lock_path(socket_path), socket_path)
    instance = Instance(socket_path, fd)
    try:
        _remove_stale_socket(socket_path)
    except BaseException:
        instance.release()
        raise
    return instance


def _lock(path: str, socket_path: str) -> int:
    """Open and ``flock`` the lock file; write our pid in it."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         LOCK_MODE)
        except OSError as exc:
            reason = exc.strerror
            if exc.errno == errno.ENOENT:  # the directory is there: it takes no files
                reason = "this directory does not take new files"
            elif exc.errno == errno.ELOOP:
                reason = "it is a symbolic link"
            raise ServerStartError(f"cannot create the lock file {path}: {reason}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            gone = "" if os.path.exists(socket_path) else \
                " (its socket file was deleted: stop it and start again)"
            raise ServerAlreadyRunning(f"another GPIO server ({who}) holds {path}: it "
                                       f"serves {socket_path}{gone}") from None
        except OSError as exc:
            os.close(fd)
            raise ServerStartError(f"cannot lock {path}: {exc.strerror}") from None
        # A server that exits unlinks its lock file while holding it: if we locked
        # such a file, it is no longer the one at the path; take the new one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full file system: the lock itself still holds
            log.warning("cannot write the pid into %s: %s", path, exc.strerror)
        return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _remove_stale_socket(path: str) -> None:
    """Refuse a socket a live server answers and any other file; remove a stale
    socket left by a crash."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ServerAlreadyRunning(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(STALE_PROBE_SECONDS)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log.warning("replacing stale socket %s", path)
        try:
            _unlink(path)
        except OSError as exc:
            raise ServerStartError(f"cannot remove the stale socket {path}: "
                                   f"{exc.strerror}") from None
        return
    except OSError as exc:
        raise ServerAlreadyRunning(f"cannot use {path}: {exc.strerror or exc}") from None
    finally:
        probe.close()
    raise ServerAlreadyRunning(f"another GPIO server is already serving {path} "
                               f"(without holding {lock_path(path)})")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
