"""A minimal stand-in for the pigpiod daemon, for benchmarks against the real client.

It speaks pigpiod's socket protocol on loopback TCP well enough for pigpio 1.78's
``pi()``, ``read``/``write``/modes, ticks, and notifications (``NOIB``/``NB``/``NC``),
with plain blocking sockets and one thread per connection so that it is not the
slowest part of a measurement. :meth:`PigpiodStandIn.burst` sends a burst of edge
reports to every notification socket that asked for that GPIO.

Command frame: ``<IIII`` cmd, p1, p2, p3 (p3 extension bytes follow); reply: the
same four words with the result in the last. Notification report: ``<HHII`` seq,
flags (0 for a level change), tick, levels of GPIO 0-31 as a bit mask.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import threading
import time
from typing import Any

CMD = struct.Struct("<IIII")
REPORT = struct.Struct("<HHII")
MODES, MODEG, PUD, READ, WRITE = 0, 1, 2, 3, 4
BR1, TICK, HWVER, PIGPV, NB, NC, NOIB = 10, 16, 17, 26, 19, 21, 99


class PigpiodStandIn:
    """Serves pigpiod's protocol on ``127.0.0.1:port`` until :meth:`close`."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self.levels = 0
        self._modes = [0] * 54
        self._notify: dict[int, tuple[socket.socket, int]] = {}  # handle -> (sock, bits)
        self._next_handle = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def __enter__(self) -> "PigpiodStandIn":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and close every connection."""
        self._closed = True
        self._listener.close()
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._thread.join(2)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                cmd, p1, p2, p3 = CMD.unpack(self._recv_exact(conn, 16))
                if p3:
                    self._recv_exact(conn, p3)
                result = self._execute(conn, cmd, p1, p2)
                if result is None:  # NOIB: this socket now only receives reports
                    return
                conn.sendall(CMD.pack(cmd, p1, p2, result & 0xFFFFFFFF))
        except (ConnectionError, OSError):
            pass

    def _execute(self, conn: socket.socket, cmd: int, p1: int, p2: int) -> int | None:
        if cmd == READ:
            return self.levels >> p1 & 1
        if cmd == WRITE:
            self.levels = self.levels | 1 << p1 if p2 else self.levels & ~(1 << p1)
            return 0
        if cmd == MODES:
            self._modes[p1] = p2
            return 0
        if cmd == MODEG:
            return self._modes[p1]
        if cmd == BR1:
            return self.levels
        if cmd == TICK:
            return time.monotonic_ns() // 1000
        if cmd == HWVER:
            return 0xA02082
        if cmd == PIGPV:
            return 79
        if cmd == NOIB:
            with self._lock:
                handle = self._next_handle
                self._next_handle += 1
                self._notify[handle] = (conn, 0)
            conn.sendall(CMD.pack(cmd, p1, p2, handle))
            return None
        if cmd == NB:
            with self._lock:
                sock, _ = self._notify[p1]
                self._notify[p1] = (sock, p2)
            return 0
        if cmd == NC:
            with self._lock:
                self._notify.pop(p1, None)
            return 0
        return 0

    def burst(self, gpio: int, count: int, start_tick: int = 0, interval_us: int = 1) -> None:
        """Send ``count`` alternating edges of ``gpio`` to the sockets that want it,
        ticks ``start_tick + i * interval_us``; returns when all are sent."""
        with self._lock:
            targets = [s for s, bits in self._notify.values() if bits >> gpio & 1]
        levels, bit = self.levels, 1 << gpio
        chunk = []
        for i in range(count):
            levels ^= bit
            chunk.append(REPORT.pack(i & 0xFFFF, 0, (start_tick + i * interval_us)
                                     & 0xFFFFFFFF, levels))
            if len(chunk) == 4096 or i == count - 1:
                data = b"".join(chunk)
                for sock in targets:
                    sock.sendall(data)
                chunk = []
        self.levels = levels

    def paced(self, gpio: int, count: int, interval_us: int, start_tick: int,
              cycle_us: int = 0) -> threading.Thread:
        """Send ``count`` alternating edges of ``gpio`` one by one from a thread of
        its own, as edges that come by themselves: edge ``i`` is stamped
        ``start_tick + i * interval_us`` (CLOCK_MONOTONIC µs) and sent at that
        moment (the thread sleeps until then), nothing asked and nothing answered
        around it. With ``cycle_us``, as pigpiod's alert thread does instead
        (pigpio.c ``pthAlertThread``): the thread wakes once a cycle, sends the
        reports of the edges whose ticks have passed in one write, each stamped
        with its own tick, and sleeps 0.9 of the cycle (pigpiod's 900 µs of its
        default 1 ms cycle; its processing takes the rest). Returns the thread
        (started); its ``late`` lists how many µs after its tick each report was
        sent."""
        with self._lock:
            targets = [s for s, bits in self._notify.values() if bits >> gpio & 1]
        bit = 1 << gpio
        thread = threading.Thread(daemon=True)
        thread.late = []

        def run() -> None:
            _tight_timer_slack()
            for i in range(count):
                tick = start_tick + i * interval_us
                wait = tick - time.monotonic_ns() // 1000
                if wait > 0:
                    time.sleep(wait / 1e6)
                self.levels ^= bit
                data = REPORT.pack(i & 0xFFFF, 0, tick & 0xFFFFFFFF, self.levels)
                thread.late.append(time.monotonic_ns() // 1000 - tick)
                for sock in targets:
                    sock.sendall(data)

        def run_in_cycles() -> None:
            _tight_timer_slack()
            i, sleep = 0, cycle_us * 0.9 / 1e6
            while i < count:
                now = time.monotonic_ns() // 1000
                reports = []
                while i < count and start_tick + i * interval_us <= now:
                    tick = start_tick + i * interval_us
                    self.levels ^= bit
                    reports.append(REPORT.pack(i & 0xFFFF, 0, tick & 0xFFFFFFFF, self.levels))
                    thread.late.append(now - tick)
                    i += 1
                if reports:
                    data = b"".join(reports)
                    for sock in targets:
                        sock.sendall(data)
                time.sleep(sleep)

        thread.run = run_in_cycles if cycle_us else run
        thread.start()
        return thread


def _tight_timer_slack() -> None:
    """Let the paced thread's sleeps end on time (1 µs of timer slack, not Linux's
    50 µs), as the simulated chip's timerfd does: the paced mode then compares the
    paths to the callback, not the two timers."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass  # not Linux: the default slack


def measure_pigpio_read(seconds: float = 2.0) -> float:
    """Calls per second of the real pigpio client's ``read`` against a stand-in."""
    import pigpio

    with PigpiodStandIn() as standin:
        pi = pigpio.pi("127.0.0.1", standin.port)
        for _ in range(1000):
            pi.read(4)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                pi.read(4)
            n += 100
        rate = n / (time.perf_counter() - start)
        pi.stop()
        return rate
