"""A GPS stand-in on a gpio-sim input line: ``tests/uart_source.c``, a UART
transmitter (8N1) that writes the line's sysfs ``pull`` at the exact times its bits
begin (absolute CLOCK_MONOTONIC deadlines, sleeping while far and busy-waiting the
last :data:`SPIN_US`), so the kernel stamps the input's edges as a real UART's.

It is C, built with the machine's ``cc`` when first used (:func:`build`): Python
under QEMU's emulation is too slow to place 104 µs bits (9600 baud) on time. Used by
``tests/test_backend_gpiod.py`` and ``benchmarks/bench_bb_serial.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from children import spawn

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "uart_source.c")
#: Busy-wait this long before each edge (µs): the guest's timer wake-ups come some
#: µs late, so the last stretch is spun.
SPIN_US = 30
#: SCHED_FIFO priority: above the server's threads (its wave thread has 10), below
#: the kernel's irq threads (50), which must run after every write to make its edge
#: event (two edges before they run would be reported as one).
PRIORITY = 40
#: The first start bit begins this long (µs) after ``go``.
LEAD_US = 20_000


def compiler() -> str | None:
    """The machine's C compiler, if it has one."""
    return shutil.which("cc") or shutil.which("gcc")


def build(directory: str) -> str:
    """Compile the source into ``directory``; the program's path."""
    cc = compiler()
    if cc is None:
        raise FileNotFoundError("no C compiler (cc) to build tests/uart_source.c")
    program = os.path.join(directory, "uart_source")
    subprocess.run([cc, "-O2", "-Wall", "-o", program, SOURCE], check=True, timeout=300)
    return program


class UartSource:
    """One transmission of ``data`` at ``baud`` into line ``line`` of the gpio-sim
    chip at ``sysfs``: :meth:`start` pulls the line to its idle level and returns the
    scheduling it got, :meth:`go` starts the bytes, :meth:`figures` waits for the
    end and returns the program's figures (edges, lateness in ns, ...). With
    ``invert`` every level is sent the other way round (idle low), as a UART behind
    an inverter, for ``bb_serial_invert``."""

    def __init__(self, program: str, sysfs: str, line: int, baud: int, data: bytes,
                 directory: str, spin_us: int = SPIN_US, priority: int = PRIORITY,
                 lead_us: int = LEAD_US, invert: bool = False) -> None:
        self.data_file = os.path.join(directory, f"uart-{line}-{baud}.bin")
        with open(self.data_file, "wb") as f:
            f.write(data)
        self.command = [program, f"{sysfs}/sim_gpio{line}/pull", str(baud), self.data_file,
                        str(spin_us), str(priority), str(lead_us), *(["invert"] * invert)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        self.proc = spawn(self.command, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
        idle = self.proc.stdout.readline().split()
        if not idle or idle[0] != "idle":
            self.proc.kill()
            raise RuntimeError(f"uart_source did not start: {idle}")
        return idle[1]

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def figures(self, timeout: float) -> dict[str, str | int]:
        out, _ = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"uart_source failed ({self.proc.returncode}): {out}")
        pairs = (item.split("=", 1) for item in out.split())
        return {k: int(v) if v.isdigit() else v for k, v in pairs}

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> "UartSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_serial(pi, rx: int, count: int, timeout: float = 120) -> bytes:
    """Read GPIO ``rx`` with ``bb_serial_read`` until ``count`` bytes came or
    ``timeout`` seconds passed: what came, for the caller to compare with what was
    sent (so that a failure shows the bytes, not a timeout)."""
    from conftest import wait_until

    got = bytearray()

    def all_read() -> bool:
        n, chunk = pi.bb_serial_read(rx)
        assert n >= 0, n
        got.extend(chunk if n else b"")
        return len(got) >= count

    try:
        wait_until(all_read, timeout=timeout, interval=0.02)
    except AssertionError:
        pass  # the caller's comparison says what came
    return bytes(got)
