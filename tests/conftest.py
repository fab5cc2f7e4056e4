"""Fixtures: a real gpiosvr server on a temporary socket, and helpers to wait."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Callable, Iterator

import pytest

from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short temporary directory (Unix socket paths must stay under 108 bytes)."""
    path = tempfile.mkdtemp(prefix="gs-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(sock_dir: str) -> str:
    """A socket path nobody serves yet."""
    return os.path.join(sock_dir, "gpio.sock")


@pytest.fixture
def server(sock_path: str) -> Iterator[ServerThread]:
    """A real server on the simulated chip, serving ``server.socket_path``."""
    with ServerThread(sock_path, SimulatedChip()) as srv:
        yield srv


def wait_until(condition: Callable[[], object], timeout: float = 5.0,
               interval: float = 0.005) -> object:
    """Poll ``condition`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
