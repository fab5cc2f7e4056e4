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
* ``gpio-sim``: the real server on ``--backend gpiod`` over gpio-sim in the guest;
  the wave thread sets the output line, ``tests/gpio_sim_wire.py`` (a ``SCHED_FIFO``
  process polling the output's sysfs ``value`` every :data:`WIRE_POLL_US` µs) pulls
  the input to the same level, and the kernel stamps the input's edges, which the
  server decodes. So the figures are those of the emulated machine's wave thread and
  wire, not of the decoder (it is exact on exact edges). Lower bauds are measured
  there too, to show where it starts to work.
"""

from __future__ import annotations

import difflib
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRE = os.path.join(ROOT, "tests", "gpio_sim_wire.py")
TX, RX = 20, 21
BAUDS = (9600, 19200, 115200)
#: Also measured in the guest, where the rates above are out of the emulation's reach.
GUEST_SLOW_BAUDS = (100, 300, 1200)
GPIO_SIM = "/sys/kernel/config/gpio-sim"
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


def make_chip() -> tuple[str, str]:
    """A gpio-sim chip of 28 lines labelled LABEL: its configfs and sysfs dirs."""
    config = os.path.join(GPIO_SIM, f"bench-serial-{os.getpid()}")
    os.mkdir(config)
    os.mkdir(os.path.join(config, "bank0"))
    for path, text in (("bank0/num_lines", "28"), ("bank0/label", LABEL), ("live", "1")):
        with open(os.path.join(config, path), "w") as f:
            f.write(text)
    with open(os.path.join(config, "dev_name")) as f:
        dev_name = f.read().strip()
    with open(os.path.join(config, "bank0/chip_name")) as f:
        return config, f"/sys/devices/platform/{dev_name}/{f.read().strip()}"


def remove_chip(config: str) -> None:
    with open(os.path.join(config, "live"), "w") as f:
        f.write("0")
    os.rmdir(os.path.join(config, "bank0"))
    os.rmdir(config)


def bench_guest(count: int) -> list[str]:
    """The real server on gpio-sim (only where a gpio-sim chip can be made)."""
    import gpiosvr.pigpio as pigpio

    config, sysfs = make_chip()
    lines = []
    try:
        with tempfile.TemporaryDirectory() as d:
            sock = os.path.join(d, "s")
            proc = subprocess.Popen([sys.executable, "-m", "gpiosvr.server", "--backend",
                                     "gpiod", "--chip-label", LABEL, "--socket", sock,
                                     "--log-level", "INFO"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                assert "serving gpiod" in proc.stdout.readline()
                pi = pigpio.pi(sock)
                pi.write(TX, 1)
                pi.set_mode(RX, pigpio.INPUT)
                wire = subprocess.Popen([sys.executable, WIRE, sysfs, str(TX), str(RX),
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
                        lines.append(row("gpio-sim", baud, data,
                                         send_and_read(pi, baud, data, 2.0)))
                        pi.bb_serial_read_close(RX)
                finally:
                    wire.terminate()
                    wire_said = wire.communicate(timeout=30)[0].strip()
                pi.stop()
            finally:
                proc.terminate()
                _, err = proc.communicate(timeout=60)
    finally:
        remove_chip(config)
    fifo = "SCHED_FIFO" if "SCHED_FIFO thread" in err else "a normal thread"
    lines.append(f"(gpio-sim: wave thread {fifo}; {how}, polling every {WIRE_POLL_US} us:")
    lines.append(f" {wire_said})")
    return lines


def main(count: int = 1000) -> None:
    print("random bytes by wave_add_serial (8N1), read by bb_serial_read through a wire")
    print(f"{'where':<10} {'baud':>7} {'sent':>6} {'read':>6} {'wrong':>6} {'rate':>8}")
    for line in bench_sim(count):
        print(line, flush=True)
    if os.path.isdir(GPIO_SIM) and os.access(GPIO_SIM, os.W_OK):
        for line in bench_guest(min(count, 200)):
            print(line, flush=True)
    else:
        print("gpio-sim: not here (run in the guest: python3 tools/kernel_tests.py "
              "-- -s benchmarks/bench_bb_serial.py)")


def test_guest_figures() -> None:
    """So that tools/kernel_tests.py (which runs pytest) can run it in the guest."""
    main()


if __name__ == "__main__":
    main()
