"""How late the gpiod backend's software PWM toggles its lines, on this machine.

    python benchmarks/bench_gpiod_waveforms.py --seconds 5

Drives :class:`gpiosvr.server.backends.gpiod.SoftwareWaveforms` (the thread that
toggles every PWM and servo GPIO) for a 50 Hz servo pulse of 1500 µs and an 800 Hz
PWM at once, and measures each toggle's lateness: when the line was set, against the
exact time it was due. The line requests are stand-ins that note the time of each
``set_value`` (this measures the timing, not the ioctl, which costs a few µs on real
hardware). ``--load`` adds a busy Python thread, as a server busy answering requests.
The kernel's gpio-sim runs the real thing in QEMU (``tools/kernel_tests.py``).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from gpiosvr.server.backends.gpiod import SoftwareWaveforms


class _Request:
    def __init__(self) -> None:
        self.times: list[int] = []

    def set_value(self, offset, value) -> None:
        self.times.append(time.monotonic_ns())


class _Line:
    def __init__(self) -> None:
        self.request = _Request()


class _Chip:
    def __init__(self) -> None:
        self._lines = {12: _Line(), 18: _Line()}
        self._lock = threading.RLock()
        self._loop = None

    def _fast_switching(self, wanted: bool) -> None:
        pass


def lateness(times: list[int], start: int, period: float, high: float) -> list[float]:
    """µs each toggle came after it was due (toggles alternate rise, fall; periods
    the toggler skipped after a stall are not counted as lateness)."""
    late = []
    for n, t in enumerate(times):
        phase = start + (high if n % 2 else 0)
        late.append(((t - phase) % period) / 1000)
    return late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--load", action="store_true", help="a busy Python thread too")
    args = parser.parse_args()
    stop = threading.Event()
    if args.load:
        def busy() -> None:
            x = 0
            while not stop.is_set():
                x += 1
        threading.Thread(target=busy, daemon=True).start()
    chip = _Chip()
    waves = SoftwareWaveforms(chip)
    waves.start(12, 20000, 1500)        # servo: 50 Hz, 1500 µs
    waves.start(18, 1e6 / 800, 625)      # PWM: 800 Hz, half duty
    starts = {g: w[0] for g, w in waves._waves.items()}
    time.sleep(args.seconds)
    waves.close()
    stop.set()
    for gpio, period, high, what in ((12, 20e6, 1.5e6, "servo 50 Hz 1500 us"),
                                     (18, 1e9 / 800, 625e3, "PWM 800 Hz 50 %")):
        late = lateness(chip._lines[gpio].request.times, starts[gpio], period, high)
        late.sort()
        print(f"{what}: {len(late)} toggles, lateness median {statistics.median(late):.0f} "
              f"us, 99% {late[int(len(late) * 0.99)]:.0f} us, max {late[-1]:.0f} us"
              f"{' (with a busy thread)' if args.load else ''}")


if __name__ == "__main__":
    main()
