"""What ``pigs`` opens outlives the run, as with pigpio's daemon: notification pipes
read by another process, I2C handles, watchdogs, each ``pigs`` a process of its own;
they are the uid's (another uid may not use or close them), the caps still hold, and
the facade's handles still close with its process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr import protocol
from gpiosvr.server.sim.devices import RegisterDevice
from gpiosvr.simulator import Simulator

from conftest import OTHER_UID, PipeReader, ask_as, needs_root, open_to_all, wait_until

def pigs(server, *args: str) -> tuple[str, str, int]:
    """One run of our pigs, a process of its own: stdout, stderr, exit status."""
    env = {**os.environ, "GPIO_SOCKET_PATH": server.socket_path}
    run = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=30)
    return run.stdout, run.stderr, run.returncode


@pytest.fixture
def sim(server):
    with Simulator(server.socket_path) as s:
        yield s


@pytest.fixture
def stub(server):
    """A register device at 0x48 of bus 1."""
    device = RegisterDevice()
    server.call(lambda: server.backend.buses().attach_i2c(1, 0x48, device))
    return device


def no_client_left(server) -> bool:
    return server.call(lambda: not server.server.clients)


def test_a_pipe_opened_by_one_pigs_is_begun_by_the_next_and_read_by_a_third_process(
        server, sim):
    assert pigs(server, "no") == ("0\n", "", 0)
    assert no_client_left(server)  # that pigs is gone; its pipe is not
    path, _, status = pigs(server, "pnpath", "0")
    path = path.strip()
    assert status == 0
    assert path == os.path.join(os.path.dirname(server.socket_path), "pigpio0")
    assert pigs(server, "nb", "0", "0x20000") == ("", "", 0)  # GPIO 17
    reader = PipeReader(path, 3)
    first = sim.inject(17, 3, 250)
    reports = reader.reports()
    assert [r[:3] for r in reports] == [(0, 0, first), (1, 0, first + 250),
                                        (2, 0, first + 500)]  # exact ticks
    assert [r[3] >> 17 & 1 for r in reports] == [1, 0, 1]
    assert pigs(server, "np", "0") == ("", "", 0)
    assert pigs(server, "nc", "0") == ("", "", 0)
    assert not os.path.exists(path)
    assert pigs(server, "nb", "0", "0x10") == ("-25\n", "ERROR: unknown handle\n", 253)


def test_an_i2c_handle_of_one_pigs_serves_the_next_until_closed(server, stub, sim):
    assert pigs(server, "i2co", "1", "0x48", "0") == ("0\n", "", 0)
    sim.i2c_set(1, 0x48, 0x10, [0x19])
    assert pigs(server, "i2crb", "0", "0x10") == ("25\n", "", 0)
    assert pigs(server, "i2cwb", "0", "0x11", "0xC5") == ("", "", 0)
    assert sim.i2c_get(1, 0x48, 0x11, 1) == b"\xc5"
    assert pigs(server, "i2cc", "0") == ("", "", 0)
    assert pigs(server, "i2crb", "0", "0x10") == ("-25\n", "ERROR: unknown handle\n", 253)


def test_a_watchdog_set_by_pigs_stays_on_until_turned_off(server):
    assert pigs(server, "wdog", "5", "20", "no", "nb", "0", "0x20") == ("0\n", "", 0)
    reader = PipeReader(pigs(server, "pnpath", "0")[0].strip(), 2)
    reports = reader.reports()  # reports of a watchdog whose setter is gone
    assert [flags for _, flags, _, _ in reports] == [pigpio.NTFY_FLAGS_WDOG | 5] * 2
    assert reports[1][2] - reports[0][2] == 20_000  # exactly its period apart
    assert pigs(server, "wdog", "5", "0", "nc", "0") == ("", "", 0)
    assert server.call(lambda: server.server.edge_settings.watchdog[5]) == 0


def test_the_caps_hold_across_runs(server):
    out, _, status = pigs(server, *["no"] * 16)
    assert (out.split(), status) == ([str(h) for h in range(16)], 0)
    # 16 pipes a uid (MAX_PIPE_HANDLES_PER_UID): a later run finds them all taken
    assert pigs(server, "no") == ("-24\n", "ERROR: no handle available\n", 253)
    assert pigs(server, "nc", "5") == ("", "", 0)
    assert pigs(server, "no") == ("5\n", "", 0)  # the lowest free, as pigpio
    assert pigs(server, *[word for h in range(16) for word in ("nc", h)])[2] == 0
    for h in range(16):
        assert not os.path.exists(os.path.join(os.path.dirname(server.socket_path),
                                               f"pigpio{h}"))


@needs_root
def test_another_uid_may_not_use_or_close_them(server, stub):
    open_to_all(server.socket_path)
    assert pigs(server, "i2co", "1", "0x48", "0", "no") == ("0\n0\n", "", 0)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 i2crb 0 16", "@2 i2cc 0",
                     "@3 pnb 0 1", "@4 pnc 0", "@5 i2co 1 0x48 0")
    assert answers[:4] == [
        '@1 null !PigpioError:-41:"not permitted: i2c handle 0 belongs to uid 0"',
        '@2 null !PigpioError:-41:"not permitted: i2c handle 0 belongs to uid 0"',
        '@3 null !PigpioError:-41:"not permitted: notification pipe handle 0 belongs to uid 0"',
        '@4 null !PigpioError:-41:"not permitted: notification pipe handle 0 belongs to uid 0"']
    assert answers[4] == "@5 1"  # its own, private to its process: gone with it
    assert pigs(server, "i2crb", "0", "16") == ("0\n", "", 0)  # root's still work
    assert pigs(server, "i2cc", "0", "nc", "0") == ("", "", 0)
    wait_until(lambda: server.call(lambda: len(server.server.i2c_handles)) == 0)


def test_the_facades_handles_still_close_with_its_process(server, stub):
    assert pigs(server, "i2co", "1", "0x48", "0") == ("0\n", "", 0)
    script = ("import gpiosvr.pigpio as pigpio; pi = pigpio.pi(); "
              "print(pi.i2c_open(1, 0x48), pi.notify_open())")  # and exits, not closing
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "GPIO_SOCKET_PATH": server.socket_path},
                         timeout=30)
    assert run.stdout == "1 0\n", run.stderr
    handles = server.server.i2c_handles
    wait_until(lambda: server.call(lambda: [h for h, _ in handles]) == [0])
    assert not os.path.exists(os.path.join(os.path.dirname(server.socket_path), "pigpio0"))
    assert pigs(server, "i2cc", "0") == ("", "", 0)


def test_a_bit_bang_serial_reader_of_one_pigs_is_read_by_the_next(server, sim, monkeypatch):
    assert pigs(server, "slro", 17, 9600, 8) == ("", "", 0)  # as pigs, nothing printed
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    pi = pigpio.pi()
    try:  # a sender of another process: a wave on GPIO 4, wired to 17
        pi.set_mode(4, pigpio.OUTPUT)
        pi.write(4, 1)
        sim.wire(4, 17)
        pi.wave_clear()
        pi.wave_add_serial(4, 9600, b"hello", 0, 8, 2)
        pi.wave_send_once(pi.wave_create())
        got: list[int] = []

        def all_read() -> bool:
            out, err, status = pigs(server, "slr", 17, 100)
            assert status == 0, err
            got.extend(map(int, out.split()[1:]))
            return len(got) >= 5
        wait_until(all_read, timeout=20)
        assert bytes(got) == b"hello"
    finally:
        pi.wave_clear()
        pi.stop()
    assert pigs(server, "slrc", 17) == ("", "", 0)
    assert pigs(server, "slr", 17, 100)[0] == f"{pigpio.PI_NOT_SERIAL_GPIO}\n"


def test_handles_lists_what_a_session_may_use_and_close(server, stub):
    """``pigs handles`` shows what earlier runs left open, to close what a script
    forgot; a connection sees its own process's handles with its pid, and another uid
    sees none of these."""
    assert pigs(server, "handles") == ("", "", 0)
    assert pigs(server, "i2co", "1", "0x48", "0", "no", "i2co", "1", "0x48", "0") == \
        ("0\n0\n1\n", "", 0)
    uid = os.geteuid()
    assert pigs(server, "handles") == (
        f"i2c 0: uid {uid}, persistent\ni2c 1: uid {uid}, persistent\n"
        f"notification pipe 0: uid {uid}, persistent\n", "", 0)
    pi = pigpio.pi(server.socket_path)  # not persistent: its process's own
    try:
        assert pi.i2c_open(1, 0x48) == 2
        listed = pi.sl.s.command("handles")
        assert [(h["kind"], h["handle"], h["persistent"], h["pid"]) for h in listed] == [
            ("i2c", 0, True, None), ("i2c", 1, True, None), ("i2c", 2, False, os.getpid()),
            ("notification pipe", 0, True, None)]
        assert {h["uid"] for h in listed} == {uid}
        assert "i2c 2" not in pigs(server, "handles")[0]  # another process's
    finally:
        pi.stop()
    assert pigs(server, "i2cc", "1", "handles") == (
        f"i2c 0: uid {uid}, persistent\nnotification pipe 0: uid {uid}, persistent\n", "", 0)
    assert pigs(server, "i2cc", "0", "nc", "0", "handles") == ("", "", 0)


@needs_root
def test_another_uid_sees_none_of_a_uids_persistent_handles(server, stub):
    open_to_all(server.socket_path)
    assert pigs(server, "i2co", "1", "0x48", "0") == ("0\n", "", 0)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 handles", "@2 i2co 1 0x48 0",
                     "@3 handles")
    assert answers[:2] == ["@1 []", "@2 1"]  # root's handle 0 is not listed
    (mine,) = protocol.decode_response(answers[2] + "\n")[1][0].value
    assert (mine["kind"], mine["handle"], mine["uid"], mine["persistent"]) == \
        ("i2c", 1, OTHER_UID, False)
    assert type(mine["pid"]) is int and mine["pid"] != os.getpid()
    assert pigs(server, "i2cc", "0") == ("", "", 0)
