"""sd_notify: a real server process tells a datagram socket it is ready, alive and
stopping, as systemd's ``Type=notify`` and ``WatchdogSec=`` expect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from gpiosvr.server.sdnotify import SystemdNotifier

from children import spawn


def receive(sock: socket.socket) -> list[str]:
    """The lines of one datagram (10 s at most)."""
    return sock.recv(4096).decode().splitlines()


@pytest.mark.parametrize("abstract", [False, True])
def test_the_server_says_ready_beats_and_says_stopping(sock_dir, sock_path, abstract):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.settimeout(10)
    if abstract:
        name = f"gpiosvr-test-{os.getpid()}-{id(listener)}"
        listener.bind("\0" + name)
        address = "@" + name
    else:
        address = os.path.join(sock_dir, "notify.sock")
        listener.bind(address)
    env = dict(os.environ, NOTIFY_SOCKET=address, WATCHDOG_USEC="100000")
    proc = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", sock_path,
                  "--log-level", "WARNING"],
                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = receive(listener)
        assert ready == ["READY=1", f"MAINPID={proc.pid}"]
        assert os.path.exists(sock_path)  # ready means serving
        beats = [receive(listener) for _ in range(3)]
        assert beats == [["WATCHDOG=1"]] * 3
        proc.send_signal(signal.SIGTERM)
        while (message := receive(listener)) == ["WATCHDOG=1"]:
            pass
        assert message == ["STOPPING=1"]
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
        listener.close()


def test_without_notify_socket_nothing_is_sent():
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready()
    notifier.stopping()
    notifier.close()


def test_the_watchdog_is_for_the_pid_systemd_names():
    assert SystemdNotifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000"}) \
        .watchdog_interval == 2.0
    assert SystemdNotifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000",
                            "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert SystemdNotifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "junk"}) \
        .watchdog_interval is None
