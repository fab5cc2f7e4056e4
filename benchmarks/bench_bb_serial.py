#!/usr/bin/env python3
"""The bit-bang serial read error rate (bytes wrong or lost / bytes sent): random
bytes sent with ``wave_add_serial`` on one GPIO, wired to a second that has
``bb_serial_read_open``, read back with ``bb_serial_read``; on the host's simulated
chip and on the kernel's gpio-sim in a QEMU guest, side by side (the tests assert
the bytes at a baud that works, never these rates).

    PYTHONPATH=$PWD python3 benchmarks/bench_bb_serial.py                  # the host
    python3 tools/kernel_tests.py -- -s benchmarks/bench_bb_serial.py      # the guest too

* ``sim``: a server thread on the simulated chip, its jumper wire
  (``Simulator.wire``): every edge at its exact tick, so the rate must be 0.
* in the QEMU guest, the real server on ``--backend gpiod`` over gpio-sim, the
  kernel stamping the input's edges and the server decoding them:

  - ``source`` (the main case): ``tests/uart_source.c``, a UART stand-in for a GPS,
    writes the input's sysfs ``pull`` at the exact times its bits begin, back to
    back as a real UART sends (absolute CLOCK_MONOTONIC deadlines, the last
    :data:`~uart_source.SPIN_US` µs busy-waited, ``SCHED_FIFO``). Beside the rate:
    how late it wrote its edges, the edges the kernel dropped (the line's event
    buffer was full: the server fell behind), the server's CPU per edge and how long
    after the last edge the last byte was read (the server's lag at the end);
  - ``wave+wire``: what the wave thread and a polled wire reach: the server's wave
    thread sets an output line and ``tests/gpio_sim_wire.py`` (a ``SCHED_FIFO``
    process polling the output's sysfs ``value`` every :data:`WIRE_POLL_US` µs) pulls
    the input to the same level, so the figures are the emulated machine's wave
    thread's and wire's, not the decoder's.

  Lower bauds are measured there too, to show where each starts to work.
"""

from __future__ import annotations

import difflib
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRE = os.path.join(ROOT, "tests", "gpio_sim_wire.py")
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the UART source (tests/uart_source.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # cpu.py
from uart_source import SPIN_US  # noqa: E402

from common import GPIO_SIM, make_gpio_sim_chip, remove_gpio_sim_chip, spawn  # noqa: E402

TX, RX, SRC = 20, 21, 22
BAUDS = (9600, 19200, 115200)
#: Also measured in the guest, where the rates above are out of the emulation's reach.
GUEST_SLOW_BAUDS = (100, 300, 1200)
#: The timed source's bauds in the guest: where its rate turns.
SOURCE_BAUDS = GUEST_SLOW_BAUDS + (9600, 19200, 38400, 57600, 115200)
LABEL = "gpiosvr-bench-serial"
WIRE_POLL_US = 100


def errors(sent: bytes, got: bytes) -> int:
    """Bytes wrong or lost (or made up) in ``got``, aligned on ``sent``."""
    wrong = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, sent, got,
                                                      autojunk=False).get_opcodes():
        if op != "equal":
            wrong += max(i2 - i1, j2 - j1)
    return wrong


def send_and_read(pi, baud: int, data: bytes, settle: float) -> bytes:
    """Send ``data`` on TX at ``baud`` (1 stop bit), return what RX read: everything
    that arrived until ``settle`` seconds passed without a byte after the wave."""
    pi.wave_clear()
    pi.wave_add_serial(TX, baud, data)
    wid = pi.wave_create()
    got = bytearray()
    pi.wave_send_once(wid)
    frame = 10 * len(data) / baud
    deadline = time.monotonic() + 30 + 20 * frame
    quiet_since = None
    while time.monotonic() < deadline:
        count, chunk = pi.bb_serial_read(RX)
        if count > 0:
            got += chunk
            quiet_since = None
        elif not pi.wave_tx_busy():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > settle:
                break
        time.sleep(0.02)
    pi.wave_delete(wid)
    return bytes(got)


def row(where: str, baud: int, sent: bytes, got: bytes) -> str:
    wrong = errors(sent, got)
    return (f"{where:<10} {baud:>7} {len(sent):>6} {len(got):>6} {wrong:>6} "
            f"{wrong / len(sent):>8.1%}")


def payload(baud: int, count: int) -> bytes:
    rng = random.Random(baud)
    return bytes(rng.randrange(256) for _ in range(count))


def bench_sim(count: int) -> list[str]:
    import gpiosvr.pigpio as pigpio
    from gpiosvr.server.thread import ServerThread
    from gpiosvr.simulator import Simulator

    lines = []
    with tempfile.TemporaryDirectory() as d, ServerThread(os.path.join(d, "s")) as srv, \
            Simulator(server=srv) as sim:
        pi = pigpio.pi(srv.socket_path)
        for baud in BAUDS:
            pi.set_mode(TX, pigpio.OUTPUT)
            pi.write(TX, 1)
            sim.wire(TX, RX)
            pi.bb_serial_read_open(RX, baud)
            data = payload(baud, count)
            lines.append(row("sim", baud, data, send_and_read(pi, baud, data, 0.2)))
            pi.bb_serial_read_close(RX)
        pi.stop()
    return lines


def bench_guest(count: int) -> list[str]:
    """The real server on gpio-sim (only where a gpio-sim chip can be made): the
    timed UART source first, then the wave thread and a polled wire."""
    import gpiosvr.pigpio as pigpio

    config, sysfs = make_gpio_sim_chip(f"bench-serial-{os.getpid()}", LABEL)
    lines = []
    try:
        with tempfile.TemporaryDirectory() as d:
            sock = os.path.join(d, "s")
            log_path = os.path.join(d, "server.log")
            with open(log_path, "w") as log:
                proc = spawn([sys.executable, "-m", "gpiosvr.server",
                              "--backend", "gpiod", "--chip-label", LABEL,
                              "--socket", sock, "--log-level", "INFO"],
                             stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                assert "serving gpiod" in proc.stdout.readline()
                pi = pigpio.pi(sock)
                lines += bench_source(pi, sysfs, d, proc.pid, log_path, count)
                lines += bench_wire(pi, sysfs, min(count, 200))
                pi.stop()
            finally:
                proc.terminate()
                proc.communicate(timeout=60)
            with open(log_path) as f:
                err = f.read()
    finally:
        remove_gpio_sim_chip(config)
    fifo = "SCHED_FIFO" if "SCHED_FIFO thread" in err else "a normal thread"
    lines.append(f" (the wave thread ran as {fifo})")
    return lines


def dropped(log_path: str, since: int) -> tuple[int, int]:
    """Edges the kernel dropped (its event buffer was full) as the server's log
    says after byte ``since`` of it; and the log's size now."""
    with open(log_path) as f:
        f.seek(since)
        text = f.read()
        end = f.tell()
    return sum(int(n) for n in re.findall(r"the kernel dropped (\d+) edges", text)), end


def bench_source(pi, sysfs: str, directory: str, server_pid: int, log_path: str,
                 count: int) -> list[str]:
    """``tests/uart_source.c`` on line SRC (a GPS stand-in: bits at exact times),
    read by bb_serial_read: the decoder on kernel-stamped edges."""
    import gpiosvr.pigpio as pigpio
    from cpu import process_cpu
    from uart_source import UartSource, build, compiler

    if compiler() is None:
        return ["gpio-sim source: no C compiler (cc) to build tests/uart_source.c"]
    program = build(directory)
    pi.set_mode(SRC, pigpio.INPUT)
    lines, notes = [], []
    log_pos = 0
    for baud in SOURCE_BAUDS:
        n = min(count, max(20, baud * 3 // 10))
        data = payload(baud, n)
        with UartSource(program, sysfs, SRC, baud, data, directory) as source:
            how = source.start()
            deadline = time.monotonic() + 30
            while pi.read(SRC) != 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            pi.bb_serial_read_open(SRC, baud)
            cpu_before = process_cpu(server_pid)
            source.go()
            got, last_byte_ns = read_until_quiet(pi, SRC, lambda: source.proc.poll() is None,
                                                 2.0, 30 + 20 * 10 * n / baud)
            cpu = process_cpu(server_pid) - cpu_before
            figures = source.figures(timeout=60)
            pi.bb_serial_read_close(SRC)
        lost, log_pos = dropped(log_path, log_pos)
        lines.append(row("source", baud, data, got))
        lag = (last_byte_ns - figures["end_ns"]) / 1e6 if last_byte_ns else float("nan")
        notes.append(f"  {baud:>6} baud: {figures['edges']} edges, late p50/p99/max "
                     f"{figures['late_p50_ns'] / 1000:.1f}/{figures['late_p99_ns'] / 1000:.1f}"
                     f"/{figures['late_max_ns'] / 1000:.1f} us, {figures['over_eighth_bit']} "
                     f"over 1/8 bit, {figures['over_quarter_bit']} over 1/4; kernel dropped "
                     f"{lost}; server CPU {cpu * 1e6 / max(1, figures['edges'] - lost):.0f} us per "
                     f"edge it got; last "
                     f"byte read {lag:.0f} ms after the last edge")
    return lines + [f" (source: tests/uart_source.c, {how}, spinning the last "
                    f"{SPIN_US} us before each edge)"] + notes


def bench_wire(pi, sysfs: str, count: int) -> list[str]:
    """The server's wave thread on TX, ``tests/gpio_sim_wire.py`` polling it onto RX:
    what the wave thread and a polled wire reach."""
    import gpiosvr.pigpio as pigpio

    lines = []
    pi.write(TX, 1)
    pi.set_mode(RX, pigpio.INPUT)
    wire = spawn([sys.executable, WIRE, sysfs, str(TX), str(RX),
                  str(WIRE_POLL_US)], stdout=subprocess.PIPE, text=True)
    try:
        how = wire.stdout.readline().strip()
        deadline = time.monotonic() + 30
        while pi.read(RX) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        for baud in GUEST_SLOW_BAUDS + BAUDS:
            # about 3 s of line time at the slow rates, `count` bytes beyond
            n = min(count, max(20, baud * 3 // 10))
            pi.bb_serial_read_open(RX, baud)
            data = payload(baud, n)
            lines.append(row("wave+wire", baud, data, send_and_read(pi, baud, data, 2.0)))
            pi.bb_serial_read_close(RX)
    finally:
        wire.terminate()
        wire_said = wire.communicate(timeout=30)[0].strip()
    return lines + [f" (wave+wire: {how}, polling every {WIRE_POLL_US} us: {wire_said})"]


def read_until_quiet(pi, gpio: int, sending, settle: float,
                     timeout: float) -> tuple[bytes, int]:
    """What ``gpio``'s reader gives until ``settle`` s passed without a byte once
    ``sending()`` is false; and when (CLOCK_MONOTONIC ns) the last byte came."""
    got = bytearray()
    last = 0
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        count, chunk = pi.bb_serial_read(gpio)
        if count > 0:
            got += chunk
            last = time.monotonic_ns()
            quiet_since = None
        elif not sending():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > settle:
                break
        time.sleep(0.02)
    return bytes(got), last


def main(count: int = 1000) -> None:
    print("random bytes 8N1, read by bb_serial_read: 'sim' the simulated chip (a wave "
          "through its jumper),")
    print("'source' a UART stand-in driving gpio-sim at exact times (the decoder on "
          "kernel-stamped edges),")
    print("'wave+wire' what the wave thread and a polled wire reach")
    print(f"{'where':<10} {'baud':>7} {'sent':>6} {'read':>6} {'wrong':>6} {'rate':>8}")
    for line in bench_sim(count):
        print(line, flush=True)
    if os.path.isdir(GPIO_SIM) and os.access(GPIO_SIM, os.W_OK):
        lines = bench_guest(count)
        print(side_by_side(lines), flush=True)
        for line in lines:
            print(line, flush=True)
    else:
        print("gpio-sim: not here (run in the guest: python3 tools/kernel_tests.py "
              "-- -s benchmarks/bench_bb_serial.py)")


def side_by_side(lines: list[str]) -> str:
    """The guest's error rates per baud: the source's beside the wave thread's."""
    rates: dict[str, dict[int, str]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 6 and parts[1].isdigit():
            rates.setdefault(parts[0], {})[int(parts[1])] = f"{parts[5]} ({parts[3]}/{parts[2]})"
    out = [f"{'baud':>7}  {'timed source':<22} {'wave thread + polled wire':<22}"]
    for baud in SOURCE_BAUDS:
        out.append(f"{baud:>7}  {rates.get('source', {}).get(baud, '-'):<22} "
                   f"{rates.get('wave+wire', {}).get(baud, '-'):<22}")
    return "\n".join(out)


def test_guest_figures() -> None:
    """So that tools/kernel_tests.py (which runs pytest) can run it in the guest."""
    main()


if __name__ == "__main__":
    main()
