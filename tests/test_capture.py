"""Capturing edges (gpiosvr.capture): exact ticks on the simulated chip, the wrap,
summary, VCD out and back in (and through sigrok-cli), replay into the simulator,
the facade's pi.capture and the gpiosvr-capture command."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time

import pytest

from children import spawn_run
from conftest import extra_module, peer, wait_until

extra_module("vcd", "capture")  # pyvcd; the whole module needs the capture extra
extra_module("matplotlib", "capture")

import gpiosvr.capture as capture_module  # noqa: E402
import gpiosvr.pigpio as pigpio  # noqa: E402
from gpiosvr.blocking import BlockingClient  # noqa: E402
from gpiosvr.capture import Capture, CaptureError, read_vcd  # noqa: E402
from gpiosvr.errors import PigpioError  # noqa: E402
from gpiosvr.server.backends.sim import SimulatedChip  # noqa: E402
from gpiosvr.server.thread import ServerThread  # noqa: E402
from gpiosvr.simulator import Simulator  # noqa: E402

MASK = 0xFFFFFFFF


@pytest.fixture
def sim(server):
    with Simulator(server.socket_path) as s:
        yield s


def wait_for_tick(client: BlockingClient, tick: int) -> None:
    """Until the server's tick is past ``tick`` (within the next 2**31 µs)."""
    wait_until(lambda: (client.command("t") - tick) & MASK < 1 << 31, timeout=10)


def burst(client, sim, cap, gpio=20, count=20, interval=100, lead=1000):
    """Inject ``count`` edges on ``gpio`` after the start of ``cap``, wait until they
    are all in the past, and return their ticks."""
    first = (client.command("t") + lead) & MASK
    sim.inject(gpio, count, interval, first)
    ticks = [(first + k * interval) & MASK for k in range(count)]
    wait_for_tick(client, ticks[-1] + 1000)
    return ticks


# -- capture ------------------------------------------------------------------------


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "lists"])
def test_a_capture_has_the_exact_edges_and_ticks(server, client, sim, monkeypatch, numpy):
    if not numpy:
        monkeypatch.setattr(capture_module, "np", None)
    monkeypatch.setattr(capture_module, "HEARTBEAT_SECONDS", 0.005)  # tick references too
    cap = Capture([20, 21], socket_path=server.socket_path).start()
    ticks = burst(client, sim, cap)
    cap.stop()
    assert list(cap.gpio) == [20] * 20
    assert list(cap.level) == [1, 0] * 10
    assert list(cap.tick) == ticks
    assert list(cap.time) == [(t - cap.start_tick) & MASK for t in ticks]
    assert isinstance(cap.time, list) != numpy
    assert cap.initial == {20: 0, 21: 0}
    assert cap.duration == (cap.stop_tick - cap.start_tick) & MASK
    assert (cap.lost, cap.dropped, cap.edges) == (0, 0, 20)
    assert cap.edges_of(21) == []
    s = cap.summary()[20]
    assert (s.edges, s.rising, s.falling) == (20, 10, 10)
    assert (s.frequency, s.period_us, s.duty, s.high_us, s.low_us) == (5000.0, 200.0, 0.5, 100, 100)


def test_ticks_are_monotonic_across_the_wrap(sock_path, monkeypatch):
    offset = (1 << 32) - 300_000 - time.monotonic_ns() // 1000  # wraps in 0.3 s
    with ServerThread(sock_path, SimulatedChip(tick_offset=offset)) as server, \
            BlockingClient(server.socket_path) as client, Simulator(sock_path) as sim:
        cap = Capture([20], client=client).start()
        first = (cap.start_tick + (1 << 32) - cap.start_tick - 250) & MASK  # 2**32 - 250
        assert cap.start_tick < first
        sim.inject(20, 6, 100, first)
        wait_for_tick(client, 1000)
        cap.stop()
    assert list(cap.tick) == [(1 << 32) - 250, (1 << 32) - 150, (1 << 32) - 50, 50, 150, 250]
    base = (1 << 32) - 250 - cap.start_tick
    assert list(cap.time) == [base + 100 * k for k in range(6)]
    assert cap.stop_tick < cap.start_tick and cap.duration > base + 500


def test_memory_is_bounded_by_max_edges(server, client, sim):
    cap = Capture([20], socket_path=server.socket_path, max_edges=10).start()
    ticks = burst(client, sim, cap, count=100)
    cap.stop()
    assert list(cap.tick) == ticks[:10] and cap.dropped == 90


def test_run_for_a_number_of_edges(server, client, sim):
    cap = Capture([20], socket_path=server.socket_path)
    calls = []

    def progress(seconds, edges):  # called once the capture runs
        if not calls:
            calls.append((client.command("t") + 200_000) & MASK)
            sim.inject(20, 30, 100, calls[0])  # reported at once, ticks 0.2 s ahead
        calls.append(edges)

    cap.run(edges=7, timeout=10, progress=progress)
    first = calls[0]
    assert list(cap.tick) == [(first + 100 * k) & MASK for k in range(7)]
    assert cap.duration == (first + 600 - cap.start_tick) & MASK


def test_bad_captures_are_refused_with_reasons(server):
    with pytest.raises(CaptureError, match="user GPIOs 0-31"):
        Capture([40], socket_path=server.socket_path)
    with pytest.raises(CaptureError, match="no GPIOs"):
        Capture([])
    with pytest.raises(CaptureError, match="named twice"):
        Capture([3, 3])
    cap = Capture([4], socket_path=server.socket_path)
    with pytest.raises(CaptureError, match="not running"):
        cap.stop()
    cap.start()
    with pytest.raises(CaptureError, match="still running"):
        cap.summary()
    cap.stop()
    with pytest.raises(CaptureError, match="make a new one"):
        cap.start()


# -- through the facade: summary, plot ------------------------------------------------


@pytest.mark.permit(-1)
def test_pi_capture_measures_pwm_and_servo_exactly(server, monkeypatch, tmp_path):
    monkeypatch.setenv("GPIO_SOCKET_PATH", server.socket_path)
    pi = pigpio.pi()
    try:
        pi.set_PWM_dutycycle(18, 64)  # 800 Hz, range 255
        pi.set_servo_pulsewidth(17, 1500)
        cap = pi.capture([17, 18]).run(seconds=0.25)
        assert pi.read(18) in (0, 1)  # the pi still works
    finally:
        pi.stop()
    summary = cap.summary()
    pwm, servo = summary[18], summary[17]
    # The sim's edges are at start + round(k * period) and + round(k * period + high).
    assert (pwm.frequency, pwm.period_us, pwm.high_us) == (800.0, 1250.0, 314.0)
    assert abs(pwm.duty - 64 / 255) <= 5 / 1250  # one 5 µs PWM step
    assert (servo.frequency, servo.period_us, servo.high_us) == (50.0, 20000.0, 1500.0)
    assert servo.duty == 1500 / 20000
    table = str(summary)
    assert re.search(r"^\s+18\s+\d+\s+\d+\s+\d+\s+800\.000\s+1250\.00\s+25\.120\s+314\.00",
                     table, re.M), table
    fig = cap.plot(tmp_path / "timing.png")
    assert (tmp_path / "timing.png").stat().st_size > 1000
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["GPIO18", "GPIO17"]
    assert ax.get_xlabel() == "time (ms)"


# -- VCD ---------------------------------------------------------------------------------


@pytest.mark.permit(-1)
def test_vcd_round_trip_gives_the_same_edges(server, client, sim, tmp_path):
    client.command("p", 18, 100)
    cap = Capture([18, 20], socket_path=server.socket_path).start()
    burst(client, sim, cap)
    cap.stop()
    cap.to_vcd(tmp_path / "out.vcd")
    back = read_vcd(tmp_path / "out.vcd")
    for name in ("gpio", "level", "tick", "time"):
        assert list(getattr(back, name)) == list(getattr(cap, name)), name
    assert (back.gpios, back.initial, back.start_tick, back.duration) == \
           (cap.gpios, cap.initial, cap.start_tick, cap.duration)
    assert back.summary() == cap.summary()


@pytest.mark.permit(-1)
def test_a_streamed_capture_writes_the_vcd_as_it_goes(server, client, sim, tmp_path,
                                                      monkeypatch, caplog):
    monkeypatch.setattr(capture_module, "CHUNK_EDGES", 64)  # many drains
    monkeypatch.setattr(capture_module, "REORDER_US", 200_000)  # > the burst, 52 ms ahead
    client.command("p", 18, 100)
    path = tmp_path / "stream.vcd"
    cap = Capture([18, 20], socket_path=server.socket_path, path=path).start()
    ticks = burst(client, sim, cap, count=500)
    wait_until(lambda: path.stat().st_size > 2000)  # written while running
    cap.stop()
    with pytest.raises(CaptureError, match="read_vcd"):
        cap.plot()
    back = read_vcd(path)
    assert [t for g, t in zip(back.gpio, back.tick) if g == 20] == ticks
    assert back.summary() == cap.summary() and cap.late == 0
    assert back.summary()[18].frequency == 800.0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def uart_edges(data: bytes, first_tick: int, baud: int) -> list[tuple[int, int]]:
    """(level, tick) of a UART line sending ``data``, 8N1, idle high."""
    bit_us = 1e6 / baud
    bits = []
    for byte in data:
        bits += [0] + [byte >> i & 1 for i in range(8)] + [1]
    edges, level = [], 1
    for n, bit in enumerate(bits):
        if bit != level:
            edges.append((bit, (first_tick + round(n * bit_us)) & MASK))
            level = bit
    return edges


def test_sigrok_decodes_a_captured_uart_byte_stream(server, client, sim, tmp_path):
    sigrok = peer("sigrok-cli")
    data = b"gpiosvr \x00\xff\x55\xaa!"
    client.command("pud", 21, "u")  # the line idles high
    cap = Capture([21], socket_path=server.socket_path).start()
    first = (client.command("t") + 2000) & MASK
    edges = uart_edges(data, first, 9600)
    sim.play(21, edges)
    wait_for_tick(client, edges[-1][1] + 2000)
    cap.stop()
    assert [(lv, t) for lv, t in zip(cap.level, cap.tick)] == edges
    cap.to_vcd(tmp_path / "uart.vcd")
    out = subprocess.run(
        [sigrok, "-i", str(tmp_path / "uart.vcd"), "-P",
         "uart:rx=GPIO21:baudrate=9600:format=hex", "-A", "uart=rx-data"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    decoded = bytes(int(line.split()[-1], 16) for line in out.stdout.splitlines())
    assert decoded == data, out.stdout


@pytest.mark.permit(-1)
def test_sigrok_sees_the_pwm_edges(server, client, tmp_path):
    sigrok = peer("sigrok-cli")
    client.command("p", 18, 64)
    cap = Capture([18], socket_path=server.socket_path).run(seconds=0.1)
    cap.to_vcd(tmp_path / "pwm.vcd")
    out = subprocess.run([sigrok, "-i", str(tmp_path / "pwm.vcd"), "-P", "pwm:data=GPIO18",
                          "-A", "pwm=duty-cycle"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    duties = [float(re.search(r"([\d.]+)%", line)[1]) for line in out.stdout.splitlines()]
    assert len(duties) >= cap.summary()[18].rising - 2
    assert set(duties) == {25.12}  # 314 of 1250 µs, every period


# -- replay into the simulator ------------------------------------------------------------


def test_replay_plays_a_recording_back_at_its_timing(server, client, sim, tmp_path):
    cap = Capture([20], socket_path=server.socket_path).start()
    burst(client, sim, cap, count=12, interval=137)
    cap.stop()
    cap.to_vcd(tmp_path / "rec.vcd")
    seen = []
    cb = client.callback(22, 2, lambda g, level, tick: seen.append((level, tick)))
    start = sim.replay(tmp_path / "rec.vcd", {20: 22})
    wait_until(lambda: len(seen) == 12)
    client.cancel_callback(cb)
    assert seen == [(lv, (start + t) & MASK) for lv, t in cap.edges_of(20)]
    assert sim.replay(cap, {"GPIO20": 23}, start_tick=5) == 5  # by name, a Capture


def test_simplay_errors_name_the_problem(server, client, sim):
    client.command("w", 5, 1)
    with pytest.raises(PigpioError, match="GPIO 5 is an output") as exc:
        client.command("simplay", 5, [[0, 1]])
    assert exc.value.code == -41
    for bad in ([[2, 1]], [[0, -1]], [[0]], [1], 7):
        with pytest.raises(PigpioError, match="bad parameter") as exc:
            client.command("simplay", 6, bad)
        assert exc.value.code == -81
    # Pairs that change nothing are left out; a long list is handed on in chunks.
    assert client.command("simplay", 6, [[0, 10], [1, 20], [1, 30], [0, 40]]) == 3  # 6: up
    seen = []
    cb = client.callback(7, 2, lambda g, level, tick: seen.append(tick))
    assert sim.play(7, [(k & 1, k) for k in range(60_000)]) == 60_000  # 7: up
    wait_until(lambda: len(seen) == 60_000)
    client.cancel_callback(cb)
    assert seen == list(range(60_000)) and sim.read(7) == 1


# -- the command line ----------------------------------------------------------------------


@pytest.mark.permit(-1)
def test_gpiosvr_capture_command(server, client, tmp_path):
    client.command("p", 18, 64)
    out = subprocess.run(
        [sys.executable, "-m", "gpiosvr.capture_cli", "--gpios", "18,20", "--seconds",
         "0.3", "-o", str(tmp_path / "out.vcd"), "--socket", server.socket_path],
        capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "capturing GPIO 18,20: " in out.stderr and "0 lost" in out.stderr
    assert re.search(r"^\s+18\s.*800\.000", out.stdout, re.M), out.stdout
    assert read_vcd(tmp_path / "out.vcd").summary()[18].frequency == 800.0
    bad = subprocess.run([sys.executable, "-m", "gpiosvr.capture_cli", "--gpios", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a list of GPIO numbers" in bad.stderr


def test_the_capture_example_runs(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = spawn_run(
        [sys.executable, "-m", "gpiosvr.run", "--sim", "examples/capture_signals.py",
         str(tmp_path / "t.png"), str(tmp_path / "t.vcd")], cwd=root, capture_output=True,
        text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"})
    assert out.returncode == 0, out.stderr
    assert re.search(r"^\s+13\s.*50\.000\s+20000\.00\s+7\.500\s+1500\.00", out.stdout, re.M)
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert read_vcd(tmp_path / "t.vcd").summary()[13].high_us == 1500
