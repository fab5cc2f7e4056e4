"""pigpio's ``shell`` on a real server: only programs of the configured directory,
off without one, words split but never interpreted, pigpio's statuses, a time limit,
and the server answering others meanwhile."""

from __future__ import annotations

import os
import stat
import threading

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server import limits

from children import spawn
from conftest import wait_until


def _program(directory, name, body):
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def cgi(tmp_path):
    directory = tmp_path / "cgi"
    directory.mkdir()
    out = tmp_path / "args"
    _program(directory, "args", f'for a in "$@"; do echo "[$a]"; done > {out}\nexit 0\n')
    _program(directory, "fail", "exit 3\n")
    _program(directory, "slow", f"touch {tmp_path}/started\nexec sleep 30\n")
    (directory / "plain").write_text("#!/bin/sh\nexit 0\n")  # not executable
    return directory, out


def test_off_without_a_shell_directory(pi):
    with pytest.raises(pigpio.error) as err:
        pi.shell("args", "x")
    assert err.value.code == pigpio.PI_NOT_PERMITTED
    assert "--shell-dir" in str(err.value.__cause__)


def test_words_are_split_as_pigpio_documents_and_nothing_is_interpreted(server, pi, cgi):
    server.server.shell_dir = str(cgi[0])
    assert pi.shell("args", "hello world") == 0
    assert cgi[1].read_text() == "[hello]\n[world]\n"
    assert pi.shell("args", "hello 'string with spaces' world") == 0
    assert cgi[1].read_text() == "[hello]\n[string with spaces]\n[world]\n"
    assert pi.shell("args", '"hello string with spaces world"') == 0
    assert cgi[1].read_text() == "[hello string with spaces world]\n"
    assert pi.shell("args", "$HOME; touch /tmp/x | cat > y `id` *") == 0
    assert cgi[1].read_text() == "[$HOME;]\n[touch]\n[/tmp/x]\n[|]\n[cat]\n[>]\n[y]\n" \
                                 "[`id`]\n[*]\n"
    assert pi.shell("args") == 0 and cgi[1].read_text() == ""


def test_statuses_as_pigpio(server, pi, cgi):
    server.server.shell_dir = str(cgi[0])
    assert pi.shell("fail") == 3 * 256
    assert pi.shell("nosuch") == 32512  # pigpio's "script not found"
    assert pi.shell("plain") == 126 * 256
    for name in ("../fail", "a/b", "x y", "", "fail;id"):
        with pytest.raises(pigpio.error, match="bad script name"):
            pi.shell(name)
    with pytest.raises(pigpio.error, match="bad shell return status"):
        pi.shell("args", "'unclosed")


def test_a_program_past_its_time_is_killed_and_the_server_answers_meanwhile(
        server, pi, cgi, monkeypatch, tmp_path):
    server.server.shell_dir = str(cgi[0])
    monkeypatch.setattr(limits, "SHELL_SECONDS", 1.0)
    result = []
    runner = threading.Thread(target=lambda: result.append(pi.shell("slow")))
    runner.start()
    wait_until(lambda: (tmp_path / "started").exists())
    assert pi.read(4) in (0, 1)  # another call is answered while it runs
    runner.join(20)
    assert result == [9]  # killed by SIGKILL: system()'s status is the signal
    assert server.server._shell.running == 0


def test_at_most_so_many_at_once(server, pi, cgi, monkeypatch, tmp_path):
    server.server.shell_dir = str(cgi[0])
    monkeypatch.setattr(limits, "MAX_SHELLS_PER_UID", 1)
    monkeypatch.setattr(limits, "SHELL_SECONDS", 2.0)
    other = pigpio.pi(server.socket_path)
    try:
        first = threading.Thread(target=lambda: other.shell("slow"))
        first.start()
        wait_until(lambda: (tmp_path / "started").exists())
        with pytest.raises(pigpio.error, match="bad shell return status") as err:
            pi.shell("fail")
        assert "too many shell commands" in str(err.value.__cause__)
        first.join(20)
        assert pi.shell("fail") == 768
    finally:
        other.stop()
    assert os.path.exists(tmp_path / "started")


def test_the_server_command_line_sets_the_permits_file_and_the_shell_dir(
        sock_path, cgi, tmp_path):
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_bytes(b"hi")
    access = tmp_path / "access"
    access.write_text(f"{data}/*.txt r\n")
    proc = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock_path, "--log-level",
         "WARNING", "--file-access", str(access), "--shell-dir", str(cgi[0])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in proc.stdout.readline()
        p = pigpio.pi(sock_path)
        try:
            h = p.file_open(str(data / "hello.txt"), pigpio.FILE_READ)
            assert p.file_read(h, 10) == (2, bytearray(b"hi"))
            assert p.shell("fail") == 768
        finally:
            p.stop()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
