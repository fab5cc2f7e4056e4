"""Runs inside the QEMU guest (started by tests/kernel/init): pytest on the gpiod
backend's tests, then pytest's exit status out through QEMU's isa-debug-exit port."""

import json
import os
import subprocess
import sys
import time

#: Must match tools/kernel_tests.py.
DEBUG_EXIT_PORT = 0xF4
MARKER = "gpiosvr-kernel-tests: pytest exit status"


def main() -> None:
    with open("/run/guest.json") as f:
        config = json.load(f)
    root = config["root"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
           "HOME": "/run/tmp", "LANG": "C.UTF-8", "TMPDIR": "/run/tmp",
           "PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1",
           "GPIOSVR_GUEST": "1", **config.get("env", {})}
    with open("/proc/uptime") as f:
        print(f"guest: booted in {float(f.read().split()[0]):.1f} s; running pytest with "
              f"{sys.executable} (sys.prefix {sys.prefix})", flush=True)
    started = time.monotonic()
    status = subprocess.call(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--color=no",
         *config["pytest_args"]], cwd=root, env=env)
    print(f"guest: pytest took {time.monotonic() - started:.1f} s", flush=True)
    print(f"{MARKER} {status}", flush=True)
    sys.stdout.flush()
    time.sleep(0.2)  # let the serial console drain before QEMU exits
    try:
        fd = os.open("/dev/port", os.O_WRONLY)
        os.pwrite(fd, bytes([status & 0x7F]), DEBUG_EXIT_PORT)
    except OSError as exc:
        print(f"guest: cannot write to isa-debug-exit: {exc}", flush=True)


if __name__ == "__main__":
    main()
