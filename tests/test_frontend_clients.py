"""Real pigpiod clients nobody here wrote, against the pigpiod front end on the
simulated chip: Debian's C ``pigs`` (compared with our ``pigs``), a C program on
Debian's ``libpigpiod-if2``, gpiozero's remote pins on the real pigpio package, and
Node's ``pigpio-client`` from npm (``tools/peers.toml``)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from gpiosvr.blocking import BlockingClient
from gpiosvr.server.sim.devices import RegisterDevice
from gpiosvr.simulator import Simulator

from children import spawn
from conftest import PipeReader, peer, wait_until
from test_frontend_pigpiod import PigpiodServer

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture
def pigpiod_server(sock_path):
    with PigpiodServer(sock_path) as srv:
        yield srv


def _env(srv: PigpiodServer) -> dict[str, str]:
    return {**os.environ, "PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(srv.port),
            "GPIO_SOCKET_PATH": srv.socket_path}


# -- Debian's pigs --------------------------------------------------------------------

PIGS_LINES = [
    ["hwver"], ["pigpv"], ["m", "4", "w"], ["w", "4", "1"], ["r", "4"], ["mg", "4"],
    ["br1"], ["br2"], ["r", "60"], ["m", "4", "r", "pud", "4", "u", "r", "4"],
    ["pud", "4", "d", "r", "4"], ["m", "20", "w", "m", "21", "w"],
    ["pud", "4", "2"], ["pud", "4", "x", "r", "4"], ["w", "4", "0", "pud", "4", "O"],
    ["modes", "4", "9"], ["MODES", "4", "w", "M", "4"], ["WRITE", "4"], ["m", "4", "1"], ["m", "4", "q"], ["m", "4", "R", "mg", "4"],
    ["bs1", "0x300000", "r", "20", "r", "21"], ["bc1", "0x100000", "r", "20", "r", "21"],
    ["prs", "12", "1000"], ["p", "12", "100", "gdc", "12"],
    ["pfs", "12", "400", "pfg", "12", "prg", "12", "prrg", "12"],
    ["s", "13", "1500", "gpw", "13"], ["s", "13", "3000"],
    ["hp", "18", "1000", "250000", "gdc", "18"], ["wdog", "4", "70000"],
    ["fg", "4", "100"], ["fn", "4", "100", "200"], ["w", "4", "5"], ["mg", "99"],
    ["proc", "lda 7 sta p3"], ["slro", "17", "9600", "8", "slri", "17", "1", "slrc", "17"],
    ["bi2co", "5", "6", "100000", "bi2cc", "5"], ["pads", "0", "8", "padg", "0"],
    ["bspio", "8", "9", "10", "11", "20000", "0", "bspic", "8"], ["fc", "99"],
    # scripts: pigs.1's example (the rest of the line is the script), pigpio's codes
    ["proc", "tag", "999", "w", "22", "1", "w", "22", "0", "dcr", "p0", "jp", "999"],
    ["proc", "foo", "3"], ["proc", "w 4 -1"], ["proc", "i2crd 0 4"],
    ["proc", "ld v150 1"], ["proc", "tag", "1", "tag", "1"], ["proc", "jmp", "9"],
    ["proc", " ".join(f"tag {n}" for n in range(51))],
]


def test_debian_pigs_prints_what_our_pigs_prints(sock_path):
    c_pigs = peer("pigs")
    # TCP sessions act as our uid, so that both pigs may change the PWM either started
    with PigpiodServer(sock_path, uid=os.geteuid()) as srv:
        _compare_pigs(c_pigs, _env(srv))


def _compare_pigs(c_pigs: str, env: dict[str, str]) -> None:
    for line in PIGS_LINES:
        theirs = subprocess.run([c_pigs, *line], env=env, capture_output=True, text=True,
                                timeout=30)
        ours = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", *line], env=env,
                              capture_output=True, text=True, timeout=30)
        if line[0] == "proc" and ours.returncode == 0:
            # each stored a script: the ids differ, both numbers
            assert theirs.stdout.strip().isdigit() and ours.stdout.strip().isdigit()
            for sid in (theirs.stdout.strip(), ours.stdout.strip()):
                subprocess.run([c_pigs, "procd", sid], env=env, check=True, timeout=30)
            continue
        assert (theirs.stdout, theirs.stderr, theirs.returncode) == \
            (ours.stdout, ours.stderr, ours.returncode), line


def test_debian_pigs_reaches_a_script_and_sees_unknown_commands(pigpiod_server):
    c_pigs = peer("pigs")
    env = _env(pigpiod_server)
    sid = subprocess.run([c_pigs, "proc", "lda p0 add p1 sta p9"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([c_pigs, "procr", sid, "40", "2"], env=env, check=True)
    with Simulator(pigpiod_server.socket_path):
        out = ""
        for _ in range(200):
            out = subprocess.run([c_pigs, "procp", sid], env=env, capture_output=True,
                                 text=True).stdout
            if out.startswith("1 "):  # halted
                break
        assert out.split() == ["1", "40", "2", "0", "0", "0", "0", "0", "0", "0", "42"]
    subprocess.run([c_pigs, "procd", sid], env=env, check=True)
    from gpiosvr.server.commands import COMMANDS
    if "padg" not in COMMANDS:  # a pigpio command gpiosvr has not (yet)
        proc = subprocess.run([c_pigs, "padg", "0"], env=env, capture_output=True,
                              text=True)
        assert (proc.stdout, proc.stderr) == ("-88\n", "ERROR: unknown command\n")


# -- a C program on libpigpiod_if2 ---------------------------------------------------

C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <pigpiod_if2.h>

static volatile int seen = 0;

static void edge(int pi, unsigned gpio, unsigned level, uint32_t tick)
{
   printf("edge %u %u %u\n", gpio, level, tick);
   fflush(stdout);
   seen++;
}

int main(int argc, char *argv[])
{
   int pi = pigpio_start("127.0.0.1", argv[1]);
   int want = atoi(argv[2]);
   if (pi < 0) { printf("no daemon %d\n", pi); return 1; }
   printf("version %d\n", get_pigpio_version(pi));
   set_mode(pi, 4, 1);                 /* PI_OUTPUT */
   gpio_write(pi, 4, 1);
   printf("read %d\n", gpio_read(pi, 4));
   printf("bad %d\n", gpio_write(pi, 4, 7));
   set_mode(pi, 17, 0);                /* PI_INPUT */
   set_pull_up_down(pi, 17, 1);        /* PI_PUD_DOWN */
   int cb = callback(pi, 17, 2, edge); /* EITHER_EDGE */
   printf("ready %d\n", cb >= 0);
   fflush(stdout);
   for (int i = 0; i < 1000 && seen < want; i++) time_sleep(0.01);
   callback_cancel(cb);
   pigpio_stop(pi);
   return seen == want ? 0 : 2;
}
"""

# Debian's libpigpiod-if-dev ships pigpiod_if2.h, which includes pigpio.h, but not
# pigpio.h itself (it belonged to the daemon's package): the few types it needs.
PIGPIO_H = """
#include <stdint.h>
#include <pthread.h>
typedef struct { uint32_t gpioOn; uint32_t gpioOff; uint32_t usDelay; } gpioPulse_t;
typedef struct { uint32_t control; int rxCnt; char rxBuf[512]; int txCnt;
                 char txBuf[512]; } bsc_xfer_t;
typedef void *(gpioThreadFunc_t) (void *);
"""


def _edges_after_ready(proc: subprocess.Popen, srv: PigpiodServer, gpio: int,
                       count: int, interval: int) -> tuple[list[str], int]:
    """Read ``proc``'s lines up to "ready", inject ``count`` edges, return the lines
    before "ready" and the first edge's tick."""
    head = []
    for line in proc.stdout:
        head.append(line.strip())
        if line.startswith("ready"):
            break
    with Simulator(srv.socket_path) as sim:
        now = sim._client.command("t")
        first = sim.inject(gpio, count, interval, (now + 20000) & 0xFFFFFFFF)
    return head, first


def test_a_c_program_on_libpigpiod_if2(pigpiod_server, tmp_path):
    if not pathlib.Path("/usr/include/pigpiod_if2.h").exists():
        peer("libpigpiod-if2.h (libpigpiod-if-dev)")
    gcc = shutil.which("gcc") or pytest.skip("no gcc")
    (tmp_path / "pigpio.h").write_text(PIGPIO_H)
    (tmp_path / "prog.c").write_text(C_PROGRAM)
    subprocess.run([gcc, "-Wall", "-I", str(tmp_path), "-o", str(tmp_path / "prog"),
                    str(tmp_path / "prog.c"), "-lpigpiod_if2", "-lpthread"], check=True,
                   timeout=120)
    proc = spawn([str(tmp_path / "prog"), str(pigpiod_server.port), "6"],
                 stdout=subprocess.PIPE, text=True)
    try:
        head, first = _edges_after_ready(proc, pigpiod_server, 17, 6, 250)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert head == ["version 79", "read 1", "bad -5", "ready 1"]
    assert out.splitlines() == [f"edge 17 {(i + 1) % 2} {(first + 250 * i) & 0xFFFFFFFF}"
                                for i in range(6)]
    assert proc.returncode == 0


# -- gpiozero's remote pins ------------------------------------------------------------

GPIOZERO = textwrap.dedent(r"""
    import sys, threading
    import pigpio
    assert "gpiosvr" not in pigpio.__file__  # the real package
    from gpiozero import LED, PWMLED, Button, Device
    from gpiozero.pins.pigpio import PiGPIOFactory
    from gpiosvr.blocking import BlockingClient
    from gpiosvr.simulator import Simulator

    Device.pin_factory = PiGPIOFactory(host="127.0.0.1", port=int(sys.argv[1]))
    local = BlockingClient()
    led = LED(17)
    led.on()
    print("led", led.is_lit, local.command("r", 17))
    led.off()
    print("led", led.is_lit, local.command("r", 17))
    pwm = PWMLED(18)
    pwm.value = 0.25
    print("pwm", pwm.value, local.command("gdc", 18) / local.command("prg", 18))
    pressed = threading.Event()
    button = Button(4)
    button.when_pressed = pressed.set
    with Simulator() as sim:
        sim.drive(4, 0)
        print("pressed", pressed.wait(5), button.is_pressed)
        sim.release(4)
    Device.pin_factory.close()
    local.close()
""")


def test_gpiozero_remote_pins(pigpiod_server, tmp_path):
    pytest.importorskip("gpiozero")
    script = tmp_path / "remote.py"
    script.write_text(GPIOZERO)
    proc = subprocess.run([sys.executable, str(script), str(pigpiod_server.port)],
                          env=_env(pigpiod_server), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["led True 1", "led False 0", "pwm 0.25 0.25",
                                        "pressed True True"]


# -- Node's pigpio-client ------------------------------------------------------------------

def _node_with_pigpio_client() -> tuple[str, pathlib.Path]:
    """Node and the test peers' directory holding npm's pigpio-client; skips (or fails,
    when peers are required) where either is missing."""
    node = shutil.which("node") or pytest.skip("no node")
    peers = HERE / "peers"
    if not (peers / "node_modules" / "pigpio-client" / "package.json").exists():
        peer("pigpio-client")  # skips or fails: not installed
    return node, peers


def test_node_pigpio_client(pigpiod_server):
    node, peers = _node_with_pigpio_client()
    proc = spawn([node, str(peers / "pigpio_client_check.js"),
                  str(pigpiod_server.port), "4"],
                 stdout=subprocess.PIPE, text=True, cwd=peers)
    try:
        head, first = _edges_after_ready(proc, pigpiod_server, 17, 4, 500)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert head == ["read 1", "ready"]
    assert out.splitlines() == [f"edge {(i + 1) % 2} {(first + 500 * i) & 0xFFFFFFFF}"
                                for i in range(4)]
    assert proc.returncode == 0


def test_node_pigpio_client_gets_the_bsc_event(pigpiod_server):
    """pigpio-client's one event: it monitors event 31 (BSC) with EVM on its
    notification handle and emits ``EVENT_BSC`` for each report of it."""
    node, peers = _node_with_pigpio_client()
    hub = pigpiod_server.thread.server.hub
    proc = spawn([node, str(peers / "pigpio_client_event.js"),
                  str(pigpiod_server.port), "3"],
                 stdout=subprocess.PIPE, text=True, cwd=peers)
    try:
        assert proc.stdout.readline().split() == ["ready"]
        wait_until(lambda: pigpiod_server.thread.call(
            lambda: any(sub.events >> 31 & 1 for sub in hub.subscriptions.values())))
        with BlockingClient(pigpiod_server.socket_path) as local:
            for _ in range(3):
                assert local.command("evt", 31) == 0
            assert local.command("evt", 30) == 0  # not monitored: no EVENT_BSC
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert out.splitlines() == ["event 1", "event 2", "event 3"]
    assert proc.returncode == 0


def _c_pigs(env: dict[str, str], *args: object) -> tuple[str, str]:
    """One run of Debian's pigs, a process of its own: its stdout and stderr."""
    run = subprocess.run([peer("pigs"), *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=30)
    return run.stdout, run.stderr


def test_debian_pigs_runs_keep_a_pipe_as_with_pigpiod(pigpiod_server):
    """``pigs no`` in one run, ``pigs nb`` in the next, another process reading the
    FIFO (pigpiod's /dev/pigpio0 is ``pigpio0`` next to the server's socket), ``pigs
    nc`` in a third: the classic workflow, as pigpiod keeps handles."""
    env = _env(pigpiod_server)
    path = os.path.join(os.path.dirname(pigpiod_server.socket_path), "pigpio0")
    assert _c_pigs(env, "no") == ("0\n", "")
    assert _c_pigs(env, "nb", 0, 0x20000) == ("", "")  # GPIO 17
    reader = PipeReader(path, 3)
    with Simulator(pigpiod_server.socket_path) as sim:
        first = sim.inject(17, 3, 250)
    reports = reader.reports()
    assert [(seq, flags, tick, levels >> 17 & 1) for seq, flags, tick, levels in reports] \
        == [(0, 0, first, 1), (1, 0, first + 250, 0), (2, 0, first + 500, 1)]  # exact ticks
    assert _c_pigs(env, "np", 0) == ("", "")
    assert _c_pigs(env, "nc", 0) == ("", "")
    assert not os.path.exists(path)
    assert _c_pigs(env, "nb", 0, 1) == ("-25\n", "ERROR: unknown handle\n")


def test_debian_pigs_runs_keep_an_i2c_handle_as_with_pigpiod(pigpiod_server):
    env = _env(pigpiod_server)
    server = pigpiod_server.thread
    server.call(lambda: server.server.backend.buses().attach_i2c(1, 0x48, RegisterDevice()))
    with Simulator(pigpiod_server.socket_path) as sim:
        sim.i2c_set(1, 0x48, 0x10, [0x19])
        assert _c_pigs(env, "i2co", 1, 0x48, 0) == ("0\n", "")
        assert _c_pigs(env, "i2crb", 0, 0x10) == ("25\n", "")
        assert _c_pigs(env, "i2cwb", 0, 0x11, 0xC5) == ("", "")
        assert sim.i2c_get(1, 0x48, 0x11, 1) == b"\xc5"
    assert _c_pigs(env, "i2cc", 0) == ("", "")
    assert _c_pigs(env, "i2crb", 0, 0x10) == ("-25\n", "ERROR: unknown handle\n")
    # a local user's persistent handle is not the TCP sessions' (they have no uid)
    ours = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "i2co", "1", "0x48", "0"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert ours.stdout == "0\n"
    assert _c_pigs(env, "i2crb", 0, 0x10) == ("-41\n", "ERROR: no permission to update GPIO\n")
    assert _c_pigs(env, "i2cc", 0)[0] == "-41\n"
    ours = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "i2crb", "0", "0x10", "i2cc",
                           "0"], env=env, capture_output=True, text=True, timeout=30)
    assert (ours.stdout, ours.returncode) == ("25\n", 0)
