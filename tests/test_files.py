"""pigpio's files on a real server: the permits file decides (nothing without it),
the most specific pattern wins, traversal and symlinks out are refused, handles
belong to the client process, reads are bounded, nothing blocks the server."""

from __future__ import annotations

import os

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.server import files

from conftest import wait_until


@pytest.fixture
def tree(tmp_path):
    """A data directory, a place outside it, and the permits file for them."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "log.txt").write_bytes(b"line one\nline two\n")
    (data / "secret.txt").write_bytes(b"no")
    (data / "sub").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"root:x:0:0\n")
    os.symlink(outside / "passwd", data / "link.txt")
    access = tmp_path / "access"
    access.write_text(f"{data}/* r\n{data}/secret* n\n{data}/out/* u\n{data}/new* w\n"
                      f"{data}/sub r\n/etc/../etc/passwd r\n")
    (data / "out").mkdir()
    return data, outside, access


@pytest.fixture
def pi(server, tree, monkeypatch):
    server.server.file_access = str(tree[2])
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi()
    assert p.connected
    yield p
    p.stop()


def test_nothing_is_allowed_without_a_permits_file(server, tree, monkeypatch):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    p = pigpio.pi()
    try:
        with pytest.raises(pigpio.error, match="no permission to access file") as err:
            p.file_open(str(tree[0] / "log.txt"), pigpio.FILE_READ)
        assert err.value.code == pigpio.PI_NO_FILE_ACCESS
        assert "--file-access" in str(err.value.__cause__)
        assert p.file_list(str(tree[0] / "*")) == (pigpio.PI_NO_FILE_ACCESS, "")
    finally:
        p.stop()


def test_read_seek_and_close(pi, tree):
    h = pi.file_open(str(tree[0] / "log.txt"), pigpio.FILE_READ)
    assert pi.file_read(h, 4) == (4, bytearray(b"line"))
    assert pi.file_seek(h, 0, pigpio.FROM_END) == 18
    assert pi.file_read(h, 100) == (0, "")
    assert pi.file_seek(h, 5, pigpio.FROM_START) == 5
    assert pi.file_seek(h, 0, pigpio.FROM_CURRENT) == 5
    assert pi.file_read(h, 100) == (13, bytearray(b"one\nline two\n"))
    with pytest.raises(pigpio.error, match="file not open for write"):
        pi.file_write(h, b"x")
    with pytest.raises(pigpio.error, match="bad file seek"):
        pi.file_seek(h, 0, 3)
    assert pi.file_read(h, 0)[0] == pigpio.PI_BAD_PARAM
    assert pi.file_close(h) == 0
    assert pi.file_read(h, 1) == (pigpio.PI_BAD_HANDLE, "")  # returned, as pigpio
    with pytest.raises(pigpio.error, match="unknown handle"):
        pi.file_close(h)


def test_write_create_append_truncate(pi, tree):
    out = tree[0] / "out" / "a.bin"
    with pytest.raises(pigpio.error, match="file open failed"):
        pi.file_open(str(out), pigpio.FILE_WRITE)  # no FILE_CREATE: not there
    h = pi.file_open(str(out), pigpio.FILE_RW | pigpio.FILE_CREATE)
    assert pi.file_write(h, b"\x00\x01") == 0
    assert pi.file_write(h, [2, 3]) == 0
    assert pi.file_write(h, "\xff") == 0  # str: latin-1, as pigpio
    pi.file_seek(h, 0, pigpio.FROM_START)
    assert pi.file_read(h, 10) == (5, bytearray(b"\x00\x01\x02\x03\xff"))
    pi.file_close(h)
    assert out.read_bytes() == b"\x00\x01\x02\x03\xff"
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    h = pi.file_open(str(out), pigpio.FILE_WRITE | pigpio.FILE_APPEND)
    pi.file_write(h, b"!")
    pi.file_close(h)
    assert out.read_bytes().endswith(b"\xff!")
    h = pi.file_open(str(out), pigpio.FILE_WRITE | pigpio.FILE_TRUNC)
    pi.file_close(h)
    assert out.read_bytes() == b""
    with pytest.raises(pigpio.error, match="bad file mode"):
        pi.file_open(str(out), 32)
    with pytest.raises(pigpio.error, match="bad file mode"):
        pi.file_open(str(out), pigpio.FILE_APPEND)  # neither read nor write


def test_rights_and_the_most_specific_pattern(pi, tree):
    data = tree[0]
    with pytest.raises(pigpio.error, match="no permission"):
        pi.file_open(str(data / "log.txt"), pigpio.FILE_WRITE)  # r only
    with pytest.raises(pigpio.error, match="no permission"):
        pi.file_open(str(data / "secret.txt"), pigpio.FILE_READ)  # n wins over r
    with pytest.raises(pigpio.error, match="no permission"):
        pi.file_open(str(data / "newfile"), pigpio.FILE_READ)  # w only
    h = pi.file_open(str(data / "newfile"), pigpio.FILE_WRITE | pigpio.FILE_CREATE)
    pi.file_close(h)


def test_traversal_relative_paths_and_symlinks_out_are_refused(pi, tree):
    data, outside, _ = tree
    for name in (f"{data}/../outside/passwd", f"{data}/sub/../log.txt", "/etc/../etc/passwd",
                 "data/log.txt", f"{data}/\\.x"):
        with pytest.raises(pigpio.error, match="no permission") as err:
            pi.file_open(name, pigpio.FILE_READ)
        assert err.value.code == pigpio.PI_NO_FILE_ACCESS
    with pytest.raises(pigpio.error, match="no permission") as err:
        pi.file_open(str(data / "link.txt"), pigpio.FILE_READ)  # in data/, points out
    assert f"real path is {outside / 'passwd'}" in str(err.value.__cause__)


def test_directories_and_fifos(pi, tree):
    data = tree[0]
    with pytest.raises(pigpio.error, match="file is a directory"):
        pi.file_open(str(data / "sub"), pigpio.FILE_READ)
    os.mkfifo(data / "pipe")
    with pytest.raises(pigpio.error, match="file open failed") as err:
        pi.file_open(str(data / "pipe"), pigpio.FILE_READ)  # would block: refused
    assert "not a regular file" in str(err.value.__cause__)
    assert pi.get_current_tick() is not None  # and the server answers still


def test_list(pi, tree):
    data = tree[0]
    count, names = pi.file_list(str(data / "*.txt"))
    assert names.decode().splitlines() == [str(data / n) for n in
                                           ("link.txt", "log.txt", "secret.txt")]
    assert count == len(names)
    assert pi.file_list(str(data / "s*"))[1].decode().splitlines() == [
        str(data / "secret.txt"), str(data / "sub") + "/"]
    assert pi.file_list(str(data / "*.none")) == (pigpio.PI_NO_FILE_MATCH, "")
    assert pi.file_list(str(data / "secret*")) == (pigpio.PI_NO_FILE_ACCESS, "")


def test_handles_close_with_the_process(server, pi, tree):
    name = str(tree[0] / "log.txt")
    h = pi.file_open(name, pigpio.FILE_READ)
    assert pi.file_read(h, 4)[0] == 4
    table = files.service(server.server).handles
    assert len(table) == 1
    pi.stop()
    wait_until(lambda: len(table) == 0)


def test_a_client_cannot_use_another_clients_handle(server, tree):
    server.server.file_access = str(tree[2])
    name = str(tree[0] / "log.txt")
    with BlockingClient(server.socket_path) as one:
        h = one.command("fo", name, 1)
        # another process: the handle table keys on the kernel's pid
        table = files.service(server.server).handles
        stranger = type("S", (), {"pid": os.getpid() + 1, "uid": 0, "connection": None})()
        with pytest.raises(PigpioError) as err:
            table.get(stranger, h)
        assert err.value.code == pigpio.PI_BAD_HANDLE
        assert one.command("fc", h) == 0


def test_handles_run_out_as_pigpio(pi, tree):
    name = str(tree[0] / "log.txt")
    handles = [pi.file_open(name, pigpio.FILE_READ) for _ in range(8)]
    assert handles == list(range(8))
    with pytest.raises(pigpio.error, match="no handle available") as err:
        pi.file_open(name, pigpio.FILE_READ)  # 8 a uid
    assert err.value.code == pigpio.PI_NO_HANDLE
    for h in handles:
        pi.file_close(h)


def test_reads_are_bounded(pi, tree):
    big = tree[0] / "out" / "big"
    big.write_bytes(b"x" * 100_000)
    h = pi.file_open(str(big), pigpio.FILE_READ)
    assert pi.file_read(h, 100_000)[0] == 65535
    pi.file_close(h)


def test_path_rules_as_pigpio():
    assert files.path_bad("/a/../b") and files.path_bad("/x") and files.path_bad("a\\.b")
    assert not files.path_bad("/ram/p.c")
    rules = files.parse_access("/ram/*.c r\n/ram/w*.c u\nbad line here\n/x w\n/a/../b u\n"
                               "/ram/* u\n")  # one part only: risky, as in pigpio
    assert rules == [("/ram/*.c", 1), ("/ram/w*.c", 3)]
    assert files.approve(rules, "/ram/abc.c") == 1
    assert files.approve(rules, "/ram/wx.c") == 3
    assert files.approve(rules, "/ram/sub/deep.c") == 1  # * matches / as C's fnmatch
    assert files.approve(rules, "/ram/abc") == 0
    assert files.approve(rules, "/other/f.c") == 0
