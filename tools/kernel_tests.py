#!/usr/bin/env python3
"""Run the gpiod backend's tests against the kernel's gpio-sim chip, under QEMU.

    python3 tools/kernel_tests.py              # build or reuse the kernel, boot, test
    python3 tools/kernel_tests.py --install    # first apt-get install what it needs
    python3 tools/kernel_tests.py --build-only # just build (or find) the kernel
    python3 tools/kernel_tests.py -- -k edges  # extra arguments go to pytest in the guest

Debian's kernels lack ``CONFIG_GPIO_SIM``, so this builds a small one from
``linux-source-6.1``: ``make tinyconfig`` plus ``tests/kernel/kernel.config``. The
bzImage is cached under ``~/.cache/gpiosvr-kernel/`` (``$GPIOSVR_KERNEL_CACHE``) by
the hash of that fragment, our modules' sources and the kernel source's version, so
it is built once.

The guest boots with ``qemu-system-x86_64 -accel tcg`` (never KVM), mounts the host's
root read-only over virtio-9p so the host's Python and packages run unchanged (the
interpreter that runs this command, as it is named: a virtualenv's ``bin/python``
keeps the virtualenv's packages), creates
a gpio-sim chip through configfs (see ``tests/kernel/init``), loads the modules
(:data:`MODULES`: ``i2c-stub``, at 0x48, for the gpiod backend's I2C; and
:data:`OWN_MODULES`, ours, built against that kernel: ``gpiosvr_spi``, an ``spi-gpio``
bus on a gpio-sim chip with ``/dev/spidev0.0`` on it, for its SPI), runs pytest
on :data:`GUEST_TESTS` and hands pytest's exit status back as QEMU's exit
status through the ``isa-debug-exit`` device. The exit status of this command is
pytest's (or 2 for a failure of the harness itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAGMENT = ROOT / "tests" / "kernel" / "kernel.config"
INIT = ROOT / "tests" / "kernel" / "init"
SOURCE_PACKAGE = "linux-source-6.1"
SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
APT_PACKAGES = ["qemu-system-x86", SOURCE_PACKAGE, "flex", "bison", "libelf-dev", "bc",
                "busybox-static", "build-essential", "xz-utils"]
#: Options the tests cannot do without; the build fails loudly if one got lost.
REQUIRED = ["CONFIG_GPIO_SIM", "CONFIG_GPIO_CDEV", "CONFIG_CONFIGFS_FS", "CONFIG_9P_FS",
            "CONFIG_NET_9P_VIRTIO", "CONFIG_VIRTIO_PCI", "CONFIG_SERIAL_8250_CONSOLE",
            "CONFIG_BLK_DEV_INITRD", "CONFIG_DEVTMPFS", "CONFIG_UNIX", "CONFIG_64BIT",
            "CONFIG_DEVPORT", "CONFIG_EPOLL", "CONFIG_TMPFS", "CONFIG_HIGH_RES_TIMERS",
            "CONFIG_ACPI", "CONFIG_HPET_TIMER", "CONFIG_MODULES", "CONFIG_I2C_CHARDEV",
            "CONFIG_UNIX98_PTYS", "CONFIG_SPI", "CONFIG_SPI_GPIO", "CONFIG_SPI_SPIDEV"]
#: Options built as modules (loaded by tests/kernel/init), and their parameters:
#: i2c-stub is "depends on m", so it cannot be built in.
MODULES = {"CONFIG_I2C_STUB": ("drivers/i2c/i2c-stub.ko", "chip_addr=0x48")}
#: Our own modules (C sources in tests/kernel/, built with ``make M=`` against the
#: kernel just built, loaded by init like :data:`MODULES`), and their parameters.
OWN_MODULES = {"gpiosvr_spi": (ROOT / "tests" / "kernel" / "gpiosvr_spi.c", "")}
#: What the guest runs when no test path is given.
GUEST_TESTS = ["tests/test_backend_gpiod.py", "tests/test_backend_gpiod_buses.py",
               "tests/test_backend_gpiod_api.py", "tests/test_frontend_gpiod.py"]
#: The guest's clock under TCG: -1 follows the host's clock, so every moment QEMU's
#: thread is not scheduled on a busy host shows in the guest as a stall of the whole
#: machine (tens of ms); N >= 0 (QEMU's ``-icount shift=N,sleep=off``) makes guest
#: time count the instructions run, 2**N ns each, and jump to the next timer while
#: the guest idles, so host load no longer shows in the guest.
ICOUNT_SHIFT = 0
#: pytest's status when the guest said nothing about the tests (the harness failed).
HARNESS_FAILED = 2
#: isa-debug-exit: the guest writes v to port 0xf4 and QEMU exits with (v << 1) | 1.
DEBUG_EXIT_PORT = 0xF4
#: The line tests/kernel/guest.py prints with pytest's status.
GUEST_MARKER = "gpiosvr-kernel-tests: pytest exit status"
#: Seconds between progress lines while the kernel builds.
PROGRESS_SECONDS = 30
#: The kernel build is stopped after this long (on 2 loaded cores it took 24 min),
#: so that .ci/run fails with a reason well inside CI's 90 minutes.
BUILD_TIMEOUT_SECONDS = 50 * 60


def log(message: str) -> None:
    print(f"kernel_tests: {message}", flush=True)


def cache_dir() -> Path:
    base = os.environ.get("GPIOSVR_KERNEL_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "gpiosvr-kernel"


def source_version() -> str:
    """The installed kernel source package's version (part of the cache key)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", SOURCE_PACKAGE],
                         capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"kernel_tests: {SOURCE_PACKAGE} is not installed; "
                         "run with --install (or apt-get install it)")
    return out.stdout.strip()


def kernel_key() -> str:
    sources = b"".join(source.read_bytes() for source, _ in OWN_MODULES.values())
    digest = hashlib.sha256(FRAGMENT.read_bytes() + sources
                            + source_version().encode()).hexdigest()
    return digest[:16]


def install() -> None:
    """apt-get install what building and booting the kernel needs and is missing;
    installed packages are left as they are (``--no-upgrade``)."""
    missing = [p for p in APT_PACKAGES
               if subprocess.run(["dpkg-query", "-W", "-f", "${Status}", p],
                                 capture_output=True, text=True).stdout
               != "install ok installed"]
    if not missing:
        log("every package it needs is installed")
        return
    log(f"apt-get install {' '.join(missing)} (missing; nothing else is upgraded)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "--no-upgrade", *missing], check=True, env=env)


def module_files() -> list[tuple[str, str]]:
    """(file name, parameters) of every module init loads."""
    return ([(Path(ko).name, args) for ko, args in MODULES.values()]
            + [(f"{name}.ko", args) for name, (_, args) in OWN_MODULES.items()])


def ensure_kernel() -> Path:
    """Path of a bzImage built from the fragment, building it when not cached."""
    key = kernel_key()
    image = cache_dir() / key / "bzImage"
    if image.exists() and all((image.parent / "modules" / name).exists()
                              for name, _ in module_files()):
        log(f"reusing kernel {image}")
        return image
    jobs = str(os.cpu_count() or 1)
    started = time.monotonic()
    build = cache_dir() / f"build-{key}"  # per key: two configs may build at once
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    log(f"unpacking {SOURCE_TARBALL} into {build}")
    subprocess.run(["tar", "-xf", str(SOURCE_TARBALL), "-C", str(build)], check=True)
    (src,) = [p for p in build.iterdir() if p.is_dir()]
    env = dict(os.environ, ARCH="x86_64")
    make = ["make", "-C", str(src), f"-j{jobs}"]
    subprocess.run([*make, "tinyconfig"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([str(src / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(src),
                    str(src / ".config"), str(FRAGMENT)], check=True, env=env, cwd=src,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*make, "olddefconfig"], check=True, env=env, stdout=subprocess.DEVNULL)
    config = (src / ".config").read_text()
    lost = [opt for opt in REQUIRED if f"{opt}=y" not in config]
    lost += [opt for opt in MODULES if f"{opt}=m" not in config]
    if lost:
        raise SystemExit(f"kernel_tests: the kernel config lost {', '.join(lost)}")
    log(f"building the kernel ({jobs} jobs; about 7 minutes on 2 idle cores, more when "
        f"they are busy; a line every {PROGRESS_SECONDS} s)")
    returncode = build_with_progress([*make, "bzImage", "modules"], env, build / "build.log")
    if returncode != 0:
        sys.stdout.write((build / "build.log").read_text()[-4000:])
        raise SystemExit("kernel_tests: the kernel build failed")
    own = build_own_modules(src, build / "own", env)
    image.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "arch/x86/boot/bzImage", image.with_suffix(".tmp"))
    shutil.copy(src / ".config", image.parent / "config")
    (image.parent / "modules").mkdir(exist_ok=True)
    for ko, _ in MODULES.values():
        shutil.copy(src / ko, image.parent / "modules" / Path(ko).name)
    for ko in own:
        shutil.copy(ko, image.parent / "modules" / ko.name)
    os.replace(image.with_suffix(".tmp"), image)
    shutil.rmtree(build, ignore_errors=True)
    log(f"built {image} in {time.monotonic() - started:.0f} s")
    return image


def build_own_modules(src: Path, directory: Path, env: dict) -> list[Path]:
    """Build :data:`OWN_MODULES` out of tree against the kernel built in ``src``
    (a copy of each source and a Kbuild line in ``directory``); their .ko files."""
    directory.mkdir()
    for name, (source, _) in OWN_MODULES.items():
        shutil.copy(source, directory / f"{name}.c")
    (directory / "Kbuild").write_text(
        "".join(f"obj-m += {name}.o\n" for name in OWN_MODULES))
    out = subprocess.run(["make", "-C", str(src), f"M={directory}", "modules"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.stdout.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise SystemExit("kernel_tests: building our modules failed")
    return [directory / f"{name}.ko" for name in OWN_MODULES]


def build_with_progress(command: list[str], env: dict, log_path: Path) -> int:
    """Run the kernel build, its output in ``log_path``, saying every
    :data:`PROGRESS_SECONDS` how far it got (files compiled, the last one); its exit
    status, or a stop after :data:`BUILD_TIMEOUT_SECONDS`."""
    started = time.monotonic()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        while True:
            try:
                return proc.wait(PROGRESS_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - started
            if elapsed > BUILD_TIMEOUT_SECONDS:
                proc.kill()
                proc.wait()
                raise SystemExit(f"kernel_tests: the kernel build took more than "
                                 f"{BUILD_TIMEOUT_SECONDS // 60} minutes; stopped "
                                 f"(its log: {log_path})")
            lines = log_path.read_text(errors="replace").splitlines()
            compiled = [line for line in lines if line.lstrip().startswith("CC ")]
            last = compiled[-1].split()[-1] if compiled else "configuring"
            log(f"building: {elapsed / 60:.1f} min, {len(compiled)} files compiled, "
                f"last {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true",
                        help="apt-get install the kernel source, build tools and QEMU first")
    parser.add_argument("--build-only", action="store_true", help="build the kernel, no tests")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds the guest may run before it is killed (default 1200)")
    parser.add_argument("--icount", type=int, default=ICOUNT_SHIFT, metavar="SHIFT",
                        help="guest time counts instructions, 2**SHIFT ns each (default "
                             f"{ICOUNT_SHIFT}); -1: the host's clock")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for pytest (after --)")
    args = parser.parse_args(argv)
    if args.install:
        install()
    image = ensure_kernel()
    if args.build_only:
        return 0
    return run_guest(image, args.pytest_args, args.timeout, args.icount)


def cpio_newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """An uncompressed initramfs: (name, mode, data, rdev) entries, newc format."""
    out = bytearray()

    def add(name: str, mode: int, data: bytes, rdev: int, ino: int) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF,
                  len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        add(name, mode, data, rdev, ino)
    add("TRAILER!!!", 0, b"", 0, 0)
    return bytes(out)


def guest_python() -> str:
    """The interpreter the guest runs the tests with: this one, with the packages
    it has (a virtualenv's ``bin/python`` is kept as named: resolving its symlink
    would give the base interpreter, without the virtualenv's packages)."""
    return os.path.abspath(sys.executable)


def make_initramfs(path: Path, guest_config: dict, modules: Path) -> None:
    busybox = shutil.which("busybox") or "/bin/busybox"
    with open(busybox, "rb") as f:
        busybox_data = f.read()
    if b"ld-linux" in busybox_data[:4096]:
        raise SystemExit(f"kernel_tests: {busybox} is not static; apt-get install busybox-static")
    directory, regular, char = 0o040755, 0o100755, 0o020600
    entries = [("bin", directory, b"", 0), ("dev", directory, b"", 0),
               ("dev/console", char, b"", (5 << 8) | 1), ("proc", directory, b"", 0),
               ("sys", directory, b"", 0), ("host", directory, b"", 0),
               ("bin/busybox", regular, busybox_data, 0),
               ("init", regular, INIT.read_bytes(), 0),
               ("guest.json", 0o100644, json.dumps(guest_config).encode(), 0),
               # as named, not resolved: a virtualenv's python finds its pyvenv.cfg
               ("python", 0o100644, guest_python().encode(), 0),
               ("modules", directory, b"", 0)]
    for name, args in module_files():  # init insmods each with its .args
        entries.append((f"modules/{name}", 0o100644, (modules / name).read_bytes(), 0))
        entries.append((f"modules/{name[:-3]}.args", 0o100644, args.encode(), 0))
    path.write_bytes(cpio_newc(entries))


def run_guest(image: Path, pytest_args: list[str], timeout: float,
              icount: int = ICOUNT_SHIFT) -> int:
    """Boot ``image`` under QEMU (TCG) and run the in-guest tests; pytest's status.
    Without a test path among ``pytest_args`` :data:`GUEST_TESTS` run: the
    gpiod backend's tests, and the real pigpio package through the pigpiod front end
    on it."""
    if not any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists()
               for arg in pytest_args):
        pytest_args = [*pytest_args, *GUEST_TESTS]
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise SystemExit("kernel_tests: qemu-system-x86_64 is missing; "
                         "run with --install (or apt-get install qemu-system-x86)")
    guest_config = {"root": str(ROOT), "runner": str(ROOT / "tests/kernel/guest.py"),
                    "pytest_args": pytest_args,
                    "env": {"GPIOSVR_REQUIRE_GPIO_SIM": "1"}}
    with tempfile.TemporaryDirectory(prefix="gpiosvr-kernel-") as tmp:
        initrd = Path(tmp) / "initramfs.cpio"
        make_initramfs(initrd, guest_config, image.parent / "modules")
        command = [
            qemu, "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "1",
            "-kernel", str(image), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 loglevel=4",
            *(["-icount", f"shift={icount},sleep=off"] if icount >= 0 else []),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
                       "readonly=on,multidevs=remap",
        ]
        log(f"booting the guest (timeout {timeout:.0f} s)")
        started = time.monotonic()
        output = []
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                output.append(line)
                sys.stdout.write(line)
                sys.stdout.flush()
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - started
    if elapsed >= timeout:
        log(f"the guest did not finish in {timeout:.0f} s; killed")
        return HARNESS_FAILED
    reported = None
    for line in output:
        if line.startswith(GUEST_MARKER):
            reported = int(line.split()[-1])
    log(f"guest ran {elapsed:.1f} s; QEMU exit status {code}, pytest said {reported}")
    summary = [line for line in output if re.search(r"\d+ (passed|failed|error)", line)]
    if summary:  # pytest's counts as a plain closing line, for whoever reads the log
        counts = dict((kind, int(n)) for n, kind in
                      re.findall(r"(\d+) (passed|failed|skipped|error)", summary[-1]))
        failed = counts.get("failed", 0) + counts.get("error", 0)
        print(f"gpiod: {counts.get('passed', 0)} passed, {failed} failed, "
              f"{counts.get('skipped', 0)} skipped", flush=True)
    if code & 1 and (code > 1 or reported == 0):  # isa-debug-exit: (value << 1) | 1
        return code >> 1
    if reported is not None:
        return reported
    return HARNESS_FAILED


if __name__ == "__main__":
    sys.exit(main())
