"""Real IR remote programs from PyPI against the simulated IR receiver
(``docs/board.md``): the ``irrp`` package (pigpio's irrp.py as a module), PiIR
(its ``piir`` command line) and ircodec (its README's CommandSet), unchanged, through
the ways in that apply to each.

The receiver on GPIO 4 replays a code the test sets (the key pressed); the IR LED on
GPIO 17 is what the receiver sees, so a code played back is received again and
compared with the one recorded. The test presses a key only once the program listens
(a notification on GPIO 4 it did not see before), as a person would after the prompt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time

import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.sim.board import load
from gpiosvr.server.thread import ServerThread
from gpiosvr.simulator import Simulator

from conftest import RunningProgram, extra_module, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(ROOT, "examples", "sensors.toml")
#: our driver of the irrp module: its README's record / compare / replay, as a script
IRRP_KEYS = os.path.join(ROOT, "tests", "peers", "irrp_keys.py")
RECEIVER, LED = 4, 17  # examples/sensors.toml

#: An NEC code (the bits 0x00FF45BA in the order sent: address 0x00, command 0xA2,
#: each then its complement, LSB first), marks and spaces in µs.
NEC = [9000, 4500] + [v for bit in f"{0x00FF45BA:032b}"
                      for v in ((560, 1690) if bit == "1" else (560, 560))] + [560]


def close_to(sent: list[int], code: list[int]) -> bool:
    """What the LED sent is ``code`` to within 3 %: the carrier sends whole 26.3 µs
    cycles (a 560 µs mark is 21 of them, 552 µs as the receiver sees it)."""
    return len(sent) == len(code) and all(abs(s - c) <= 0.03 * c for s, c in zip(sent, code))


#: how long a press may go unanswered (no new line, the program still listening)
#: before it is pressed again: the code (67 ms) and a 200 ms watchdog, with room
ANSWER_SECONDS = 3.0


class Board:
    """A server on the simulated board of examples/sensors.toml, with a Simulator and
    the notifications opened on it (to know when a program listens)."""

    def __init__(self, sock_path: str) -> None:
        chip = SimulatedChip()
        load(BOARD).attach(chip)
        self.thread = ServerThread(sock_path, chip).start()
        self.sim = Simulator(sock_path)
        # the watchdog reports on the receiver's GPIO (irrp sets a watchdog when it
        # takes a code's first edge), seen on a notification of our own
        self.timeouts = 0
        self.pi = pigpio.pi(sock_path)
        self.pi.callback(RECEIVER, pigpio.EITHER_EDGE, self._edge)
        self.ours: set[int] = set(wait_until(lambda: self.thread.call(self._listening)))
        self.seen: set[int] = set()

    def _edge(self, gpio: int, level: int, tick: int) -> None:
        if level == pigpio.TIMEOUT:
            self.timeouts += 1

    def _listening(self) -> list[int]:
        """The notification handles listening to the receiver's GPIO now."""
        hub = self.thread.server.hub
        return [h for h, sub in list(hub.subscriptions.items())
                if sub.bits >> RECEIVER & 1 and sub.active]

    def press(self, code: list[int], new: bool = False, timeout: float = 30) -> int:
        """Once a program listens to the receiver's GPIO (``new``: on a notification
        handle not seen listening before), the receiver gets ``code``; its first tick."""
        def listener():
            handles = [h for h in self._listening()
                       if h not in self.ours and not (new and h in self.seen)]
            return handles[0] if handles else None

        handle = wait_until(lambda: self.thread.call(listener), timeout=timeout)
        self.seen.add(handle)
        return self.sim.ir_send(RECEIVER, code)

    def press_until_taken(self, code: list[int], presses: int = 3) -> None:
        """:meth:`press` ``code`` for irrp's ``record``, and again while irrp did not
        take it: irrp listens (its callback) a moment before it reads what it hears
        (``fetching_code``), and a code that starts in between is missed whole (no
        edge of it is more than 200 ms after the last); irrp then waits for the next
        key as a person would press again. Taken: irrp's watchdog reports."""
        for _ in range(presses):
            before = self.timeouts
            self.press(code)
            try:
                wait_until(lambda: self.timeouts > before, timeout=5)
                return
            except AssertionError:
                continue
        raise AssertionError(f"irrp took none of {presses} presses")

    def listeners(self) -> list[int]:
        """The programs' notification handles listening to the receiver now."""
        return [h for h in self.thread.call(self._listening) if h not in self.ours]

    def close(self) -> None:
        self.pi.stop()
        self.sim.close()
        self.thread.stop()


@pytest.fixture
def board(sock_path):
    b = Board(sock_path)
    yield b
    b.close()


class Program(RunningProgram):
    """A program run one way in against the board's server; its output lines read
    as they come."""

    def __init__(self, way: str, argv: list[str], sock_path: str, cwd: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "GPIO_SOCKET_PATH"}
        env["PYTHONUNBUFFERED"] = "1"
        env["GPIO_SOCKET_PATH"] = sock_path
        if way == "gpiosvr-run":
            cmd = [sys.executable, "-m", "gpiosvr.run", "--socket", sock_path, *argv]
        else:
            if way == "PYTHONPATH=compat":
                env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "compat"),
                                                     env.get("PYTHONPATH", "")])
            cmd = [sys.executable, *argv]
        super().__init__(cmd, env, cwd)

    def finish(self, timeout: float = 30) -> None:
        """Wait for the program to end by itself, successfully and saying nothing on
        stderr (no exception in a callback thread, no warning)."""
        code = self.proc.wait(timeout)
        self._stderr.join(timeout)
        assert code == 0 and not self.errors, \
            f"exit {code}; out: {self.seen}; err: {''.join(self.errors)}"


@pytest.fixture
def run(board, sock_path, tmp_path):
    """``run(way, argv)``: a Program, stopped at the end of the test."""
    started: list[Program] = []

    def start(way: str, argv: list[str]) -> Program:
        started.append(Program(way, argv, sock_path, str(tmp_path)))
        return started[-1]

    yield start
    for program in started:
        program.stop()


# -- irrp (PyPI 1.0.1: pigpio's irrp.py as a module) ----------------------------------

IRRP_WAYS = ["one-line import", "PYTHONPATH=compat", "gpiosvr-run"]


def irrp_driver(way: str, tmp_path) -> str:
    """The driver script; for the one-line import its ``import pigpio`` is changed,
    while irrp.py's own ``import pigpio`` still gets pigpio 1.78 (its pulse,
    tickDiff, TIMEOUT), used with our ``pi``."""
    with open(IRRP_KEYS) as f:
        text = f.read()
    if way == "one-line import":
        assert re.search(r"^import pigpio$", text, re.M)
        text = re.sub(r"^import pigpio$", "import gpiosvr.pigpio as pigpio", text, flags=re.M)
    path = tmp_path / "irrp_keys.py"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("way", IRRP_WAYS)
def test_irrp_records_a_code_and_plays_it_back(way, board, run, tmp_path):
    extra_module("irrp", "test")
    if way == "one-line import":
        extra_module("pigpio", "test")
    driver = irrp_driver(way, tmp_path)
    codes = str(tmp_path / "codes.json")
    record = run(way, [driver, "record", str(RECEIVER), codes, "power"])
    for prompt in ("Press key for 'power'", "Press key for 'power' to confirm"):
        record.wait_for(re.escape(prompt))
        board.press_until_taken(NEC)  # record() cancelled its callback before the next prompt
    record.wait_for("Okay")
    record.finish()
    with open(codes) as f:
        assert json.load(f) == {"power": NEC}       # exact ticks: irrp's tidying keeps them

    play = run(way, [driver, "play", str(LED), codes, "power"])
    play.wait_for("key power")
    play.finish()
    sent = wait_until(lambda: board.sim.ir_sent(RECEIVER), timeout=10)
    assert close_to(sent, NEC), sent


def test_a_flash_too_short_for_irrp_is_logged_and_its_recording_goes_on(board, caplog):
    """irrp ends a code of 10 edges or fewer by raising ShortCodeError in its edge
    callback. pigpio's callback thread would end there (and record() wait for ever);
    the facade logs the callback's exception and goes on calling it, so the key
    pressed next is recorded."""
    irrp = extra_module("irrp", "test")
    pi = pigpio.pi(board.thread.socket_path)
    try:
        recorded: list[list[int]] = []
        recording = threading.Thread(
            target=lambda: recorded.append(irrp.RecordReplayer(pi).record(RECEIVER)),
            daemon=True)                  # a record() left waiting must not hang pytest
        recording.start()
        flash = [560, 560, 560, 560, 560]
        for _ in range(4):
            # irrp ignores edges until it sets fetching_code, after callback returns:
            # flash again, as in press_until_taken, while none was taken
            first = board.press(flash)
            end = (first + sum(flash)) & 0xFFFFFFFF
            try:
                wait_until(lambda: "ShortCodeError" in caplog.text, timeout=ANSWER_SECONDS)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"irrp raised no ShortCodeError for 4 flashes: {caplog.text}")
        # a code starts after 200 ms without an edge (irrp's --pre)
        wait_until(lambda: pigpio.tickDiff(end, pi.get_current_tick()) > 200_000, timeout=10)
        board.sim.ir_send(RECEIVER, NEC)
        recording.join(30)
        assert recorded == [NEC]
    finally:
        pi.stop()


# -- PiIR (PyPI 0.2.5: its piir command line) -----------------------------------------

#: PiIR's own modules ``import pigpio`` and call ``pigpio.pi()``: the one-line import
#: of a script does not reach them, so the two ways that bind the name apply.
PIIR_WAYS = ["PYTHONPATH=compat", "gpiosvr-run"]


def piir_command() -> str:
    """The ``piir`` command PiIR installs beside this Python."""
    piir = extra_module("piir", "test")
    path = shutil.which("piir", path=os.path.dirname(sys.executable))
    if path is None:
        pytest.fail(f"PiIR {piir.__version__} is installed without its piir command")
    return path


def answer_prompts(record: Program, board: Board, code: list[int], prompt: str,
                   last: str, presses: int = 6, timeout: float = 60) -> list[str]:
    """Press ``code`` at each line of ``record`` that starts with ``prompt`` until it
    prints ``last``, as a person would: once the program listens, and again when it
    printed nothing new within :data:`ANSWER_SECONDS` of a press while it listens
    still (or anew). PiIR and ircodec set the flag their wait loop watches
    (``recording``, ``fetching_code``) only after ``pi.callback`` returns, so a code
    that comes first is forgotten (PiIR: heard and ended by its watchdog) or half
    heard (ircodec), and they wait for the next: seen in CI on a loaded machine, and
    every time with the program's main thread held 0.4 s after ``callback`` returns.
    Returns the prompts seen."""
    prompts: list[str] = []
    deadline = time.monotonic() + timeout
    pressed_at: float | None = None   # the last press not answered yet
    wanted = False                    # a prompt waits for its press
    while time.monotonic() < deadline:
        line = record.next_line(0.05)
        if line is not None:
            if line == last:
                return prompts
            if line.startswith(prompt):
                prompts.append(line)
                wanted, pressed_at = True, None
            continue
        if record.ended:
            break
        now = time.monotonic()
        if pressed_at is not None and now - pressed_at > ANSWER_SECONDS:
            wanted = True                 # unanswered: press again
        if wanted and presses and board.listeners() and record.lines.empty():
            # the programs print before they listen again: an empty queue with a
            # listener means no line is on its way
            board.sim.ir_send(RECEIVER, code)
            wanted, pressed_at, presses = False, now, presses - 1
    raise AssertionError(f"no {last!r} within {timeout} s ({presses} presses left); "
                         f"out: {record.seen}; err: {''.join(record.errors)[-2000:]}")


@pytest.mark.parametrize("way", PIIR_WAYS)
def test_piir_dump_prints_the_raw_pulses_received(way, board, run):
    dump = run(way, [piir_command(), "dump", "-r", "-g", str(RECEIVER)])
    line, presses = None, 0
    while line is None and presses < 6:
        board.press(NEC)
        presses += 1
        line = dump.next_line(ANSWER_SECONDS)
    assert line is not None, f"piir dump printed nothing for {presses} presses; {dump.errors}"
    # a press piir forgot (see answer_prompts) stays in its list: the next one adds to it
    assert [int(v) for v in line.split()] == NEC * presses


@pytest.mark.parametrize("way", PIIR_WAYS)
def test_piir_records_a_key_and_plays_it_back(way, board, run, tmp_path):
    piir = piir_command()
    record = run(way, [piir, "record", "-g", str(RECEIVER), "-f", "remote.json", "power"])
    prompts = answer_prompts(record, board, NEC, "Press ", 'Saved to "remote.json".')
    assert prompts[:2] == ['Press the key named "power".',
                           "Press the same key again to verify."], record.seen
    record.finish()
    with open(tmp_path / "remote.json") as f:
        remote = json.load(f)
    assert remote["format"]["coding"] == "ppm", remote   # NEC: pulse-distance, decoded
    # NEC sends LSB first, each byte then its complement: address 0x00, command 0xA2
    assert remote["format"]["byte_by_byte_complement"] is True, remote
    assert remote["keys"] == {"power": "00 A2"}, remote

    play = run(way, [piir, "play", "-g", str(LED), "-f", "remote.json", "power"])
    play.finish()
    sent = wait_until(lambda: board.sim.ir_sent(RECEIVER), timeout=10)
    assert close_to(sent, NEC), sent


# -- ircodec (PyPI 0.3.0: its README's CommandSet, driven by tests/peers) -------------

#: our driver of ircodec: its README's quickstart (add, save_as; load, emit) as a script
IRCODEC_KEYS = os.path.join(ROOT, "tests", "peers", "ircodec_keys.py")
#: ircodec's own modules ``import pigpio`` and call ``pigpio.pi()``: the two ways
#: that bind the name apply, as for PiIR.
IRCODEC_WAYS = ["PYTHONPATH=compat", "gpiosvr-run"]
#: NEC's repeat code, 40 ms after the code: what a remote sends while the key is held
#: a little. ircodec ends a code at the first edge more than 15 ms after the last
#: (its watchdog is set to 15000 ms, not µs, so a lone code would end 15 s later).
REPEAT = [40_000, 9000, 2250, 560]


def ircodec_led_edges(code: list[int]) -> list[tuple[int, int]]:
    """The LED edges (level, µs from the first) that ircodec's ``emit`` asks for:
    each mark a wave of ircodec's own carrier cycles, each space a delay wave."""
    utils = extra_module("ircodec.utils", "test")
    edges, t = [], 0
    for i, length in enumerate(code):
        if i & 1:
            t += length
            continue
        for pulse in utils.carrier_square_wave_generator(LED, 38.0, length):
            if pulse.gpio_on:
                edges.append((1, t))
            if pulse.gpio_off:
                edges.append((0, t))
            t += pulse.delay
    return edges


@pytest.mark.parametrize("way", IRCODEC_WAYS)
def test_ircodec_records_a_code_and_plays_it_back(way, board, run, tmp_path):
    extra_module("ircodec", "test")
    codes = str(tmp_path / "remote.json")
    record = run(way, [IRCODEC_KEYS, "record", str(RECEIVER), codes, "power"])
    assert answer_prompts(record, board, NEC + REPEAT, "Detecting IR command",
                          "Received.") == ["Detecting IR command..."]
    record.finish()
    with open(codes) as f:
        saved = json.load(f)
    signals = saved["commands"]["power"]["signal_list"]
    # the code exactly (the sim's ticks), normalized by ircodec to the same lengths
    assert [s["length"] for s in signals] == NEC, signals
    assert [s["type"] for s in signals] == ["Pulse", "Gap"] * (len(NEC) // 2) + ["Pulse"]

    pi = pigpio.pi(board.thread.socket_path)
    try:
        led: list[tuple[int, int]] = []
        pi.callback(LED, pigpio.EITHER_EDGE, lambda g, level, tick: led.append((level, tick)))
        play = run(way, [IRCODEC_KEYS, "play", str(LED), codes, "power"])
        play.wait_for("key power")
        play.finish()
        expected = ircodec_led_edges(NEC)
        wait_until(lambda: len(led) >= len(expected), timeout=10)
        # exactly the edges of ircodec's wave chain, at their ticks
        first = led[0][1]
        assert [(level, (tick - first) & 0xFFFFFFFF) for level, tick in led] == expected
    finally:
        pi.stop()
    sent = wait_until(lambda: board.sim.ir_sent(RECEIVER), timeout=10)
    assert close_to(sent, NEC), sent
