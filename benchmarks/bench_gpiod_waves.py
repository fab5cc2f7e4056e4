#!/usr/bin/env python3
"""How far wave edges fall from the times they were asked for: on the simulated chip,
on the gpiod backend's wave thread on this machine, and on the kernel's gpio-sim in
a QEMU guest, side by side (tests assert edge order and levels, never these times).

    PYTHONPATH=$PWD python3 benchmarks/bench_gpiod_waves.py          # the host's figures
    python3 tools/kernel_tests.py -- -s benchmarks/bench_gpiod_waves.py  # in the guest too

One wave of :data:`EDGES` edges, delays cycling through :data:`DELAYS_US`, is sent
once; each edge's error is how late it came against the wave's schedule (its delays)
anchored at its least late edge, as the tick a send really started is not known:

* ``sim``: the simulated chip (a server thread), edges as a callback sees them;
* ``gpiod thread``: :class:`gpiosvr.server.backends.gpiod_pulses.PulseThread` on
  stand-in line requests that note when each ``set_value`` was called (the timing
  of the thread on this machine, without the ioctl);
* in the guest, the real server on ``--backend gpiod`` over gpio-sim: ``reported``
  is the tick the server gives each edge of the output line (taken just after its
  ``set_value``); ``kernel`` is the kernel's timestamp of the edge on a second line
  that a thread of this benchmark wires to the output (it polls the output's sysfs
  ``value`` and writes the input's ``pull``, in a process of its own), so it adds
  that wire's delay and misses edges when it is not scheduled in time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from common import GPIO_SIM, make_gpio_sim_chip, remove_gpio_sim_chip, spawn

EDGES = 200
DELAYS_US = (3000, 5000, 4000, 7000)
OUT, WIRED = 20, 21
LABEL = "gpiosvr-bench"
#: The wire, a process of its own (no GIL shared with the callbacks): it keeps the
#: sysfs files open and mirrors the output's level onto the input's pull.
WIRE = """
import os
src = os.open({source!r}, os.O_RDONLY)
dst = os.open({target!r}, os.O_WRONLY)
level = None
while True:
    now = os.pread(src, 1, 0)
    if now != level:
        level = now
        os.pwrite(dst, b"pull-up" if now == b"1" else b"pull-down", 0)
"""


def wave(gpio: int):
    import gpiosvr.pigpio as pigpio

    bit = 1 << gpio
    return [pigpio.pulse(0 if i % 2 else bit, bit if i % 2 else 0, DELAYS_US[i % len(DELAYS_US)])
            for i in range(EDGES)]


def errors(ticks: list[int], pulses) -> list[int]:
    """µs each edge came after its time: the wave's schedule (the delays) anchored at
    its least late edge, as the time a send really started is not known outside."""
    offsets, due = [], 0
    for tick, pulse in zip(ticks, pulses):
        offsets.append(((tick - ticks[0]) & 0xFFFFFFFF) - due)
        due += pulse.delay
    start = min(offsets, default=0)
    return [o - start for o in offsets]


def summary(name: str, errs: list[int], edges: int) -> str:
    if not errs:
        return f"{name:<28} no edges seen"
    a = sorted(abs(e) for e in errs)
    return (f"{name:<28} {len(errs):>4}/{edges} edges  error p50 {statistics.median(a):>7.0f} us"
            f"  p99 {a[min(len(a) - 1, int(len(a) * 0.99))]:>7.0f} us  max {a[-1]:>7.0f} us")


def run_wave(pi, gpio: int, watch: list[int], timeout: float) -> dict[int, list[int]]:
    """Send the wave once on ``gpio``; the ticks of each watched GPIO's edges."""
    import gpiosvr.pigpio as pigpio

    seen: dict[int, list[int]] = {g: [] for g in watch}
    cbs = [pi.callback(g, pigpio.EITHER_EDGE, lambda g, level, tick: seen[g].append(tick))
           for g in watch]
    pi.wave_clear()
    pulses = wave(gpio)
    pi.wave_add_generic(pulses)
    wid = pi.wave_create()
    pi.wave_send_once(wid)
    deadline = time.monotonic() + timeout
    while pi.wave_tx_busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    while any(len(t) < EDGES for t in seen.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for cb in cbs:
        cb.cancel()
    pi.wave_delete(wid)
    return seen


def bench_sim() -> str:
    import gpiosvr.pigpio as pigpio
    from gpiosvr.server.thread import ServerThread

    with tempfile.TemporaryDirectory() as d, ServerThread(os.path.join(d, "s")) as srv:
        pi = pigpio.pi(srv.socket_path)
        pi.set_mode(OUT, pigpio.OUTPUT)
        seen = run_wave(pi, OUT, [OUT], timeout=30)
        pi.stop()
    return summary("sim (exact ticks)", errors(seen[OUT], wave(OUT)), EDGES)


def bench_thread() -> str:
    from gpiosvr.server.backends.gpiod import OUTPUT, Line
    from gpiosvr.server.backends.gpiod_pulses import PulseThread

    times: list[int] = []

    class Request:
        def set_values(self, values) -> None:  # one ioctl for a pulse's lines
            times.append(time.monotonic_ns() // 1000)

        def set_value(self, offset, value) -> None:
            self.set_values({offset: value})

    class Chip:
        num_lines = 28
        _loop = None

        def __init__(self) -> None:
            self._lines = [Line(i) for i in range(self.num_lines)]
            self._lines[OUT].request, self._lines[OUT].mode = Request(), OUTPUT
            self._lock = threading.RLock()
            self._waves = type("W", (), {"running": staticmethod(lambda g: False)})()

        def _fast_switching(self, wanted: bool) -> None:
            pass

    thread = PulseThread(Chip())
    pulses = wave(OUT)
    playback = thread.play(iter([(p.gpio_on, p.gpio_off, p.delay) for p in pulses]))
    while playback.busy():
        time.sleep(0.05)
    fifo = "SCHED_FIFO" if thread.realtime else "normal thread"
    return summary(f"gpiod thread ({fifo})", errors(times, pulses), EDGES)


def bench_guest() -> list[str]:
    """The real server on gpio-sim (only where a gpio-sim chip can be made)."""
    import gpiosvr.pigpio as pigpio

    config, sysfs = make_gpio_sim_chip(f"bench-{os.getpid()}", LABEL)
    wire = WIRE.format(source=f"{sysfs}/sim_gpio{OUT}/value",
                       target=f"{sysfs}/sim_gpio{WIRED}/pull")

    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "s")
        proc = spawn([sys.executable, "-m", "gpiosvr.server", "--backend", "gpiod",
                      "--chip-label", LABEL, "--socket", sock, "--log-level",
                      "INFO"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
        try:
            assert "serving gpiod" in proc.stdout.readline()
            pi = pigpio.pi(sock)
            pi.write(OUT, 0)
            pi.set_mode(WIRED, pigpio.INPUT)
            wirer = spawn([sys.executable, "-c", wire])
            try:
                time.sleep(0.5)  # the wire settles the input's level
                seen = run_wave(pi, OUT, [OUT, WIRED], timeout=120)
            finally:
                wirer.kill()
                wirer.wait(30)
            pi.stop()
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=60)
        remove_gpio_sim_chip(config)
    fifo = "SCHED_FIFO" if "SCHED_FIFO thread" in err else "normal thread"
    pulses = wave(OUT)
    return [summary(f"gpio-sim reported ({fifo})", errors(seen[OUT], pulses), EDGES),
            summary("gpio-sim kernel, via wire", errors(seen[WIRED], pulses), EDGES)]


def main() -> None:
    print(f"one wave of {EDGES} edges, delays {'/'.join(map(str, DELAYS_US))} us, sent once")
    lines = [bench_sim(), bench_thread()]
    if os.path.isdir(GPIO_SIM) and os.access(GPIO_SIM, os.W_OK):
        lines += bench_guest()
    else:
        lines.append("gpio-sim: not here (run in the guest: python3 tools/kernel_tests.py "
                     "-- -s benchmarks/bench_gpiod_waves.py)")
    for line in lines:
        print(line, flush=True)


def test_guest_figures() -> None:
    """So that tools/kernel_tests.py (which runs pytest) can run it in the guest."""
    main()


if __name__ == "__main__":
    main()
