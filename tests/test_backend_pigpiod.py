"""The pigpiod backend: gpiosvr relaying to a pigpio daemon through the pigpio package.

The chain under test: the facade -> a gpiosvr server on the ``pigpiod`` backend ->
the real ``pigpio`` package -> a pigpiod stand-in on loopback TCP
(``tests/pigpiod_standin.py``) -> a second gpiosvr server on the simulated chip,
which plays the Pi's GPIOs. Tests look at and drive that chip directly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.server.backends.pigpiod import PigpiodBackend
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from children import spawn
from conftest import wait_until
from pigpiod_standin import PigpiodStandIn


@pytest.fixture
def chip(sock_dir):
    """The 'Raspberry Pi': a gpiosvr server on the simulated chip."""
    with ServerThread(os.path.join(sock_dir, "chip.sock"), SimulatedChip()) as srv:
        yield srv


@pytest.fixture
def daemon(chip):
    """The 'pigpio daemon' on loopback, in front of ``chip``."""
    standin = PigpiodStandIn(chip.socket_path)
    yield standin
    standin.close()


@pytest.fixture
def relay(sock_dir, daemon):
    """gpiosvr on the pigpiod backend, connected to ``daemon``."""
    backend = PigpiodBackend("127.0.0.1", daemon.port, retry_interval=0.05, call_timeout=2)
    with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as srv:
        wait_until(lambda: backend.connected)
        yield srv


@pytest.fixture
def pi(relay):
    p = pigpio.pi(relay.socket_path)
    assert p.connected
    yield p
    p.stop()


@pytest.fixture
def sim(chip):
    s = Simulator(chip.socket_path)
    yield s
    s.close()


@pytest.fixture
def on_chip(chip):
    """Commands straight to the chip, to see what the relay did."""
    client = BlockingClient(chip.socket_path)
    yield client.command
    client.close()


def test_levels_modes_pulls_and_banks_are_relayed(pi, chip, on_chip, sim):
    pi.set_mode(17, pigpio.OUTPUT)
    assert on_chip("mg", 17) == pigpio.OUTPUT
    pi.write(17, 1)
    assert on_chip("r", 17) == 1 and pi.read(17) == 1
    pi.set_mode(17, pigpio.ALT3)
    assert pi.get_mode(17) == pigpio.ALT3 == on_chip("mg", 17)

    pi.set_mode(23, pigpio.INPUT)
    pi.set_pull_up_down(23, pigpio.PUD_UP)
    assert pi.read(23) == 1
    pi.set_pull_up_down(23, pigpio.PUD_DOWN)
    assert pi.read(23) == 0
    sim.drive(23, 1)
    assert pi.read(23) == 1

    pi.set_mode(5, pigpio.OUTPUT)
    pi.set_mode(6, pigpio.OUTPUT)
    pi.set_bank_1(1 << 5 | 1 << 6)
    assert on_chip("r", 5) == on_chip("r", 6) == 1
    pi.clear_bank_1(1 << 6)
    assert pi.read_bank_1() & (1 << 5 | 1 << 6) == 1 << 5 == on_chip("br1") & (1 << 5 | 1 << 6)
    assert pi.read_bank_2() == on_chip("br2")
    assert pi.get_hardware_revision() == on_chip("hwver") == 0xA02082
    assert pi.get_pigpio_version() == on_chip("pigpv")
    # the daemon's clock, not ours: with the Pi's clock standing still, the same tick
    still = chip.backend.one_tick()
    tick = chip.call(lambda: (still.__enter__(), chip.backend.tick())[1])
    try:
        assert pi.get_current_tick() == on_chip("t") == tick
    finally:
        chip.call(lambda: still.__exit__(None, None, None))


def test_the_daemons_errors_come_back_with_their_codes(pi, daemon):
    seen = daemon.commands_seen
    with pytest.raises(pigpio.error) as info:
        pi.set_mode(60, pigpio.OUTPUT)  # checked by gpiosvr: never reaches the daemon
    assert info.value.code == pigpio.PI_BAD_GPIO and daemon.commands_seen == seen
    pi.set_PWM_range(18, 100)
    with pytest.raises(pigpio.error) as info:
        pi.set_PWM_dutycycle(18, 101)  # the daemon's own check
    assert info.value.code == pigpio.PI_BAD_DUTYCYCLE
    assert str(info.value) == repr("dutycycle not 0-range (default 255)")
    with pytest.raises(pigpio.error) as info:
        pi.set_servo_pulsewidth(18, 3000)
    assert info.value.code == pigpio.PI_BAD_PULSEWIDTH
    pigpio.exceptions = False
    try:
        assert pi.hardware_PWM(4, 1000, 500_000) == pigpio.PI_NOT_HPWM_GPIO
    finally:
        pigpio.exceptions = True


def test_pwm_servo_and_hardware_pwm_run_on_the_daemon(pi, on_chip):
    assert pi.set_PWM_frequency(18, 800) == 800
    assert pi.get_PWM_frequency(18) == 800 == on_chip("pfg", 18)
    assert pi.set_PWM_range(18, 1000) == on_chip("prrg", 18)
    assert pi.get_PWM_range(18) == 1000
    pi.set_PWM_dutycycle(18, 250)
    assert pi.get_PWM_dutycycle(18) == 250 == on_chip("gdc", 18)
    assert pi.get_PWM_real_range(18) == on_chip("prrg", 18)
    pi.set_servo_pulsewidth(17, 1500)
    assert pi.get_servo_pulsewidth(17) == 1500 == on_chip("gpw", 17)
    pi.hardware_PWM(12, 10_000, 250_000)
    assert on_chip("gdc", 12) == 250_000
    pi.write(18, 0)  # ends PWM on the daemon, as pigpio does
    assert pi.read(18) == 0 and on_chip("r", 18) == 0


def test_a_failing_command_in_a_relayed_script_leaves_its_code_in_a(pi, on_chip):
    # the daemon's engine (pigpio 1.78's, or the stand-in's gpiosvr behind it):
    # W 70 1 gives PI_BAD_GPIO in A, JM branches on it, the script goes on
    sid = pi.store_script(b"w 70 1 sta p0 jm 1 ld p1 1 tag 1 w 21 1 ld p2 3")
    pi.run_script(sid)
    wait_until(lambda: pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED)
    assert pi.script_status(sid)[1][:3] == (pigpio.PI_BAD_GPIO, 0, 3)
    assert on_chip("r", 21) == 1
    pi.delete_script(sid)


def test_scripts_are_stored_and_run_by_the_daemon(pi, on_chip):
    sid = pi.store_script(b"m 21 w w 21 1 ld p0 p1 add 5 sta p0 mils 200")
    wait_until(lambda: pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED)
    assert pi.run_script(sid, [10, 7]) == 0
    wait_until(lambda: on_chip("r", 21) == 1)
    assert pi.script_status(sid)[0] == pigpio.PI_SCRIPT_RUNNING
    pi.update_script(sid, [1])
    pi.stop_script(sid)
    status, params = pi.script_status(sid)
    assert status == pigpio.PI_SCRIPT_HALTED and params[:2] == (1, 7)
    assert on_chip("procp", sid)[0] == pigpio.PI_SCRIPT_HALTED  # it lives in the daemon
    pi.delete_script(sid)
    with pytest.raises(pigpio.error) as info:
        pi.run_script(sid)
    assert info.value.code == pigpio.PI_BAD_SCRIPT_ID
    assert pi.script_status(sid) == (pigpio.PI_BAD_SCRIPT_ID, ())


def test_edges_arrive_in_order_with_the_daemons_ticks(pi, sim):
    got = []
    pi.set_pull_up_down(20, pigpio.PUD_DOWN)
    cb = pi.callback(20, pigpio.EITHER_EDGE, lambda g, lv, t: got.append((g, lv, t)))
    first = sim.inject(20, 40, 300)
    wait_until(lambda: len(got) == 40)
    assert got == [(20, (n + 1) % 2, (first + 300 * n) & 0xFFFFFFFF) for n in range(40)]
    cb.cancel()
    after = []  # a callback of its own sees the edges that the cancelled one must not
    pi.callback(20, pigpio.EITHER_EDGE, lambda g, lv, t: after.append(lv))
    sim.inject(20, 4, 300)
    wait_until(lambda: len(after) == 4)
    assert len(got) == 40


def test_only_the_gpios_clients_watch_are_asked_of_the_daemon(pi, relay, sim):
    backend = relay.backend
    assert backend._monitor == 0
    cb = pi.callback(7, pigpio.RISING_EDGE)
    wait_until(lambda: backend._monitor == 1 << 7)
    sim.inject(7, 6, 500)
    wait_until(lambda: cb.tally() == 3)
    cb.cancel()
    wait_until(lambda: backend._monitor == 0)


def test_watchdogs_and_filters_are_the_daemons(pi, sim):
    got = []
    pi.set_pull_up_down(24, pigpio.PUD_DOWN)
    pi.callback(24, pigpio.EITHER_EDGE, lambda g, lv, t: got.append(lv))
    pi.set_watchdog(24, 30)
    wait_until(lambda: got.count(pigpio.TIMEOUT) >= 2)
    pi.set_watchdog(24, 0)
    del got[:]

    pi.set_glitch_filter(24, 1000)  # pulses of 100 µs never pass
    first = sim.inject(24, 10, 100)
    sim.inject(24, 1, 1, (first + 5000) & 0xFFFFFFFF)  # a steady rise after them passes
    wait_until(lambda: got)
    assert got == [1]
    pi.set_glitch_filter(24, 0)
    with pytest.raises(pigpio.error) as info:
        pi.set_noise_filter(24, 400_000, 10)
    assert info.value.code == pigpio.PI_BAD_FILTER


def test_a_slow_daemon_does_not_hold_up_the_server(relay, daemon):
    """While one client waits for the daemon, the server answers others."""
    slow = BlockingClient(relay.socket_path)
    fast = BlockingClient(relay.socket_path)
    try:
        done = []
        seen = daemon.commands_seen
        daemon.hold()
        worker = threading.Thread(target=lambda: done.append(slow.command("r", 4)))
        worker.start()
        wait_until(lambda: daemon.commands_seen > seen)  # the daemon is sitting on it
        assert fast.command("info")["backend"] == "pigpiod"  # while it still sits
        assert done == []
        daemon.release()
        worker.join(5)
        assert done == [1]  # GPIO 4 is pulled up after reset
    finally:
        daemon.release()
        slow.close()
        fast.close()


def test_one_clients_answers_keep_their_order(pi, relay):
    client = BlockingClient(relay.socket_path)
    try:
        # one request mixing relayed commands and one the server answers itself
        answers = client.request([["w", 16, 1], ["r", 16], ["info"], ["w", 16, 0],
                                  ["r", 16]])
        values = [a.result() for a in answers]
        assert values[:2] + values[3:] == [0, 1, 0, 0]
        assert values[2]["backend"] == "pigpiod"
    finally:
        client.close()


def test_daemon_going_away_is_reported_and_recovered(pi, relay, daemon, chip, sim, caplog):
    caplog.set_level(logging.INFO, logger="gpiosvr.pigpiod")
    got = []
    pi.set_pull_up_down(22, pigpio.PUD_DOWN)
    pi.callback(22, pigpio.EITHER_EDGE, lambda g, lv, t: got.append(lv))
    port = daemon.port
    daemon.close()
    wait_until(lambda: not relay.backend.connected, timeout=5)
    with pytest.raises(pigpio.error) as info:
        pi.read(22)
    assert info.value.code == pigpio.PI_SOCK_READ_FAILED
    # an answer from what the backend knows (the daemon is away), no call tried
    assert f"pigpiod at 127.0.0.1:{port} is unreachable" in str(info.value.__cause__)
    assert any("went away" in r.getMessage() for r in caplog.records)

    back = PigpiodStandIn(chip.socket_path, port=port)
    try:
        wait_until(lambda: any("connected to pigpiod" in r.getMessage()
                               for r in caplog.records), timeout=5)
        assert pi.read(22) == 0
        sim.inject(22, 2, 200)  # the callbacks were asked for again
        wait_until(lambda: got == [1, 0])
    finally:
        back.close()


def test_unreachable_daemon_at_start(sock_dir, caplog):
    caplog.set_level(logging.INFO, logger="gpiosvr.pigpiod")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = PigpiodBackend("127.0.0.1", port, retry_interval=0.05)
    with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as relay:
        client = BlockingClient(relay.socket_path)
        try:
            wait_until(lambda: any("cannot reach pigpiod" in r.getMessage()
                                   for r in caplog.records))
            with pytest.raises(Exception) as info:
                client.command("w", 4, 1)
            assert getattr(info.value, "code", None) == pigpio.PI_SOCK_READ_FAILED
            assert "unreachable" in str(info.value)
            assert client.command("info")["backend"] == "pigpiod"  # the server itself is up
        finally:
            client.close()
    errors = [r for r in caplog.records if "cannot reach pigpiod" in r.getMessage()]
    assert len(errors) == 1  # said once, not every retry


def test_gpiosvr_server_command_line(sock_dir, chip, daemon, on_chip):
    sock = os.path.join(sock_dir, "cli.sock")
    proc = spawn(
        [sys.executable, "-m", "gpiosvr.server", "--socket", sock, "--backend", "pigpiod",
         "--pihost", "127.0.0.1", "--piport", str(daemon.port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving pigpiod" in proc.stdout.readline()
        wait_until(lambda: "connected to pigpiod" in _read_available(proc.stderr), timeout=10)
        out = subprocess.run([sys.executable, "-m", "gpiosvr.pigs", "w", "13", "1"],
                             env={**os.environ, "GPIO_SOCKET_PATH": sock},
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert on_chip("r", 13) == 1
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


_stderr_seen: list[str] = []


def _read_available(stream) -> str:
    """What a child wrote to ``stream`` so far (reads a line at a time)."""
    import select

    while select.select([stream], [], [], 0)[0]:
        line = stream.readline()
        if not line:
            break
        _stderr_seen.append(line)
    return "".join(_stderr_seen)


def test_without_the_pigpio_package_the_server_says_what_to_install(sock_dir):
    code = ("import sys; sys.modules['pigpio'] = None; from gpiosvr.server.cli import main; "
            f"main(['--socket', {os.path.join(sock_dir, 'x.sock')!r}, '--backend', 'pigpiod'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert "pip install pigpio==1.78 (from gpiosvr's clone: pip install '.[pigpiod]')" \
        in out.stderr


def test_a_daemon_that_stops_answering_fails_calls_after_the_timeout(sock_dir, daemon):
    backend = PigpiodBackend("127.0.0.1", daemon.port, retry_interval=0.05, call_timeout=0.5)
    with ServerThread(os.path.join(sock_dir, "relay.sock"), backend) as relay:
        wait_until(lambda: backend.connected)
        client = BlockingClient(relay.socket_path)
        try:
            daemon.hold()  # no answer comes until the call has given up
            with pytest.raises(Exception) as info:
                client.command("r", 4)
            assert getattr(info.value, "code", None) == pigpio.PI_SOCK_READ_FAILED
            assert "went away during 'r' (TimeoutError" in str(info.value)
            daemon.release()
            wait_until(lambda: backend.connected, timeout=10)
            assert client.command("r", 4) == 1
        finally:
            daemon.release()
            client.close()


def test_a_daemon_dying_halfway_through_an_answer(pi, relay, daemon, caplog):
    """pigpio 1.78 itself would spin for ever here (its ``_rxbuf`` on a closed peer):
    the call fails because the daemon went away, not after the call timeout."""
    caplog.set_level(logging.INFO, logger="gpiosvr.pigpiod")
    sid = pi.store_script(b"tag 1 mils 1 jmp 1")
    wait_until(lambda: pi.script_status(sid)[0] == pigpio.PI_SCRIPT_HALTED)
    daemon.die_halfway.add(real_pigpio._PI_CMD_PROCP)
    assert pi.script_status(sid) == (pigpio.PI_SOCK_READ_FAILED, ())  # pigpio never raises
    wait_until(lambda: not relay.backend.connected)
    went = [r.getMessage() for r in caplog.records if "went away" in r.getMessage()]
    assert went and not any("Timeout" in m or "timed out" in m for m in went), went


def test_the_first_edge_after_a_callback_starts_is_not_missed(pi, relay, sim, on_chip):
    """GPIO 20 changes while nobody watches it (no report comes), then a callback
    starts: pigpio's own callback thread compares the first report with its stale
    level and misses that edge; the relay reads the level when the GPIO joins."""
    assert on_chip("r", 20) == 0  # pulled down after reset
    sim.drive(20, 1)  # straight on the chip: the daemon reports nothing
    got = []
    pi.callback(20, pigpio.EITHER_EDGE, lambda g, level, tick: got.append((level, tick)))
    first = sim.inject(20, 4, 100)
    wait_until(lambda: len(got) == 4)
    assert got == [(0, first), (1, first + 100), (0, first + 200), (1, first + 300)]


def test_a_gpio_watched_again_after_it_changed_unwatched(pi, sim):
    got = []
    cb = pi.callback(21, pigpio.EITHER_EDGE, lambda g, level, tick: got.append(level))
    sim.inject(21, 2, 100)  # pulled down: up and down again, both seen
    wait_until(lambda: got == [1, 0])
    cb.cancel()
    sim.drive(21, 1)  # unwatched
    other = pi.callback(22, pigpio.EITHER_EDGE)  # another GPIO's reports keep coming
    pi.callback(21, pigpio.EITHER_EDGE, lambda g, level, tick: got.append(level))
    sim.inject(21, 3, 100)
    wait_until(lambda: len(got) == 5)
    assert got == [1, 0, 0, 1, 0] and other.tally() == 0


# -- banks, pipes, wait_for_edge and waves, relayed (docs/api-coverage.md) ------------

@pytest.fixture
def wide(sock_dir):
    """A chip, daemon and relay on which every GPIO may change (``--permit all``), so
    bank 2 (GPIO 32-53) can be written: (the relay's socket, a client of the chip)."""
    with ServerThread(os.path.join(sock_dir, "wide-chip.sock"), SimulatedChip(),
                      permit=-1) as chip:
        standin = PigpiodStandIn(chip.socket_path)
        try:
            backend = PigpiodBackend("127.0.0.1", standin.port, retry_interval=0.05,
                                     call_timeout=2)
            with ServerThread(os.path.join(sock_dir, "wide-relay.sock"), backend,
                              permit=-1) as relay, \
                    BlockingClient(chip.socket_path) as on_chip:
                wait_until(lambda: backend.connected)
                yield relay.socket_path, on_chip.command
        finally:
            standin.close()


def test_bank_2_is_set_and_cleared_on_the_daemon(wide):
    path, on_chip = wide
    p = pigpio.pi(path)
    try:
        for gpio in (40, 41):
            p.set_mode(gpio, pigpio.OUTPUT)
            p.write(gpio, 0)
        assert p.set_bank_2(1 << 8 | 1 << 9) == 0  # GPIO 40 and 41
        assert on_chip("r", 40) == on_chip("r", 41) == 1
        assert p.clear_bank_2(1 << 9) == 0
        assert (on_chip("r", 40), on_chip("r", 41)) == (1, 0)
        assert p.read_bank_2() & 0x300 == 1 << 8 == on_chip("br2") & 0x300
    finally:
        p.stop()


def test_notification_pipes_carry_the_daemons_edges(pi, relay, sim):
    from conftest import FifoReader

    h = pi.notify_open()
    path = pigpio.notify_path(pi, h)
    assert os.path.dirname(path) == os.path.dirname(relay.socket_path)
    reader = FifoReader(path)
    try:
        assert pi.notify_begin(h, 1 << 17) == 0
        first = sim.inject(17, 3, 250)
        reports = reader.reports(3)
        assert [r[:2] for r in reports] == [(0, 0), (1, 0), (2, 0)]  # seq, flags
        assert [r[2] for r in reports] == [first, first + 250, first + 500]  # the daemon's
        assert [r[3] >> 17 & 1 for r in reports] == [1, 0, 1]
        assert pi.notify_pause(h) == 0
        seen = pi.callback(17, pigpio.EITHER_EDGE)  # to know the paused edges came
        sim.inject(17, 2, 100)
        wait_until(lambda: seen.tally() == 2)
        assert pi.notify_begin(h, 1 << 17) == 0
        tick = sim.inject(17, 1, 100)
        assert reader.reports(1) == [(3, 0, tick, reports[0][3] & ~(1 << 17))]
        assert pi.notify_close(h) == 0
        assert not os.path.exists(path)
        with pytest.raises(pigpio.error):
            pi.notify_begin(h, 1 << 17)
    finally:
        reader.close()


def test_wait_for_edge_sees_the_daemons_edge(pi, relay, sim):
    pi.set_pull_up_down(23, pigpio.PUD_DOWN)
    result = []
    waiter = threading.Thread(
        target=lambda: result.append(pi.wait_for_edge(23, pigpio.RISING_EDGE, 30)))
    waiter.start()
    # the daemon was asked for GPIO 23's reports (not only the backend told to ask):
    # an edge before that is not reported, as with pigpio
    wait_until(lambda: relay.backend._asked >> 23 & 1)
    sim.drive(23, 1)
    waiter.join(30)
    assert result == [True]
    wait_until(lambda: not relay.backend._monitor >> 23 & 1)  # it stopped watching
    assert pi.wait_for_edge(23, pigpio.FALLING_EDGE, 0.05) is False  # no edge came


def test_wave_building_counters_and_padding_are_the_daemons(pi, on_chip):
    pi.set_mode(4, pigpio.OUTPUT)
    assert pi.wave_clear() == 0
    assert pi.wave_add_generic([pigpio.pulse(1 << 4, 0, 10), pigpio.pulse(0, 1 << 4, 10)]) == 2
    assert (pi.wave_get_pulses(), pi.wave_get_cbs()) == (2, 4)
    assert pi.wave_add_new() == 0 and (pi.wave_get_pulses(), pi.wave_get_cbs()) == (0, 0)
    assert pi.wave_get_max_micros() == 1_800_000_000 == on_chip("wvsm", 2)
    assert pi.wave_get_max_cbs() == 25_016 == on_chip("wvsc", 2)
    ids = []
    for _ in range(2):  # each takes half of the daemon's control blocks
        pi.wave_add_generic([pigpio.pulse(1 << 4, 0, 10)])
        ids.append(pi.wave_create_and_pad(50))
    assert ids == [0, 1]
    pi.wave_add_generic([pigpio.pulse(1 << 4, 0, 10)])
    with pytest.raises(pigpio.error) as info:
        pi.wave_create_and_pad(50)
    assert info.value.code == real_pigpio.PI_TOO_MANY_CBS
    # removed from pigpio long before 1.78: the daemon answers PI_DEPRECATED
    for deprecated in (pi.wave_tx_start, pi.wave_tx_repeat):
        with pytest.raises(pigpio.error) as info:
            deprecated()
        assert info.value.code == real_pigpio.PI_DEPRECATED
    pi.wave_clear()
