"""An IR receiver module (a TSOP38238 or the like) on one GPIO: its output idles
high and is low while it sees the carrier (a mark), high between (a space).

It plays a recorded code when the test asks (``simir``, ``Simulator.ir_send``): a
list of mark and space lengths in µs, mark first, as ``irrp.py`` records them. With
``led`` set on the board it also sees what an IR LED on that GPIO sends (pigpio's
IR playback: waves of carrier cycles): a run of LED edges less than
:data:`CARRIER_GAP_US` apart is a mark, from its first edge to the end of its last cycle, and the
output follows it, so that a code played back is received again. What the LED sent
last is kept as marks and spaces (``simirsent``, ``Simulator.ir_sent``).
"""

from __future__ import annotations

import time

from gpiosvr.server.backends.precise_timer import Timer
from gpiosvr.server.limits import SIM_IR_MAX_CODE
from gpiosvr.server.sim.devices.gpio_device import GpioDevice, OutputPin, device_timer

#: LED edges closer than this (µs) belong to one mark: a carrier of 38 kHz has
#: edges 13 µs apart; the shortest space of common remotes is over 500 µs.
CARRIER_GAP_US = 200
#: µs without an LED edge after which the mark under way is taken as over when no
#: next edge says so, counted up to the edges the chip has handed on
#: (``SimulatedChip.handed_on_until``): a mark's edges never come further apart.
QUIET_US = 3000
#: Silence after a mark (µs) that ends a code sent by the LED.
CODE_GAP_US = 10_000
#: µs from now to a replayed code's first mark.
LEAD_US = 1000
#: The shortest wait (µs) before the quiet timer looks again when the LED's edges
#: due by now are still on their way (the loop is behind): they come on its next turns.
RECHECK_US = 200


def check_code(code: object, where: str = "code") -> list[int]:
    """``code`` as a list of mark/space µs (ints 1 to 10 s, at most
    :data:`SIM_IR_MAX_CODE`), or ValueError naming what is wrong."""
    if not isinstance(code, (list, tuple)) or not code or len(code) > SIM_IR_MAX_CODE:
        raise ValueError(f"{where} must be a list of 1-{SIM_IR_MAX_CODE} mark/space "
                         f"lengths in µs")
    for i, value in enumerate(code):
        if type(value) is not int or not 0 < value <= 10_000_000:
            raise ValueError(f"{where}[{i}] is {value!r}, not a length of 1-10000000 µs")
    return list(code)


class IRReceiver(GpioDevice):
    """An IR receiver with its output on ``gpio``, and optionally an IR LED on ``led``."""

    model = "ir-receiver"

    def __init__(self, gpio: int, led: int | None = None) -> None:
        super().__init__()
        if led == gpio:
            raise ValueError(f"the receiver and the LED must be two GPIOs, not both {gpio}")
        self.gpio, self.led = gpio, led
        self.watches = set() if led is None else {led}
        self._pin: OutputPin | None = None
        # the LED's mark under way: its first, last and last but one edges' ticks and
        # how many edges
        self._mark: list[int] | None = None
        self._marks: list[tuple[int, int]] = []  # the LED's code under way
        self._end_timer: Timer | None = None  # calls _quiet: the LED may be quiet
        self.sent: list[int] = []  # marks and spaces of the LED's last code
        self.codes_sent = 0

    @property
    def gpios(self) -> list[int]:
        return [self.gpio] if self.led is None else sorted({self.gpio, self.led})

    def start(self) -> None:
        self._pin = self.output_pin(self.gpio, f"ir-receiver GPIO {self.gpio}")
        self._pin.idle(1)

    def send(self, code: list[int], start: int | None = None) -> int:
        """Receive ``code`` (marks and spaces, µs) from :data:`LEAD_US` from now (or the
        unwrapped tick ``start``); returns the first mark's tick (32 bits)."""
        code = check_code(code)
        assert self._pin is not None
        if start is None:
            start = self.chip._now() + LEAD_US
            if self._pin.busy():  # after the code still being received
                start = max(start, self._pin.last_tick + CODE_GAP_US)
        t = start
        first = t
        edges = []
        for i, length in enumerate(code):
            edges.append((1 if i & 1 else 0, t))
            t += length
        if len(code) % 2:
            edges.append((1, t))
        self._pin.schedule(edges)
        return first & 0xFFFFFFFF

    # -- the IR LED, demodulated ---------------------------------------------------

    def on_edge(self, gpio: int, level: int, tick: int) -> None:
        mark, pin = self._mark, self._pin
        if pin is None:
            return
        if mark is not None and tick - mark[1] <= CARRIER_GAP_US:
            mark[2], mark[1] = mark[1], tick
            mark[3] += 1
        else:
            if mark is not None:
                self._end_mark()
            if not level:
                return  # a falling edge starts no mark (the LED switched off)
            self._mark = [tick, tick, tick, 1]
            pin.schedule([(0, tick)])
        self._arm(tick)

    def _arm(self, tick: int) -> None:
        """Look for the end of the mark :data:`QUIET_US` after its last edge so far,
        ``tick`` (a timer armed sooner is left: it looks again then)."""
        due = self.chip.monotonic_ns(tick + QUIET_US)
        timer = self._end_timer
        if timer is None or timer.when_ns is None or timer.when_ns > due:
            self._wake_at(due)

    def _look_again(self, left_us: int) -> None:
        """Call :meth:`_quiet` ``left_us`` from now, at least :data:`RECHECK_US`."""
        self._wake_at(time.monotonic_ns() + max(left_us, RECHECK_US) * 1000)

    def _wake_at(self, when_ns: int) -> None:
        self._end_timer = timer = device_timer(self.chip, self._end_timer, self._quiet)
        if timer is not None:
            timer.arm(when_ns)

    def close(self) -> None:
        super().close()
        if self._end_timer is not None:
            self._end_timer.close()
            self._end_timer = None

    def _quiet(self) -> None:
        """No LED edge for a while: the mark under way is over; after a longer
        silence, the code too. The silence is counted up to the LED edges handed on
        to us (the chip's time), not by the clock: on a loaded machine the loop is
        late and a wave's edges due by now may still be on their way."""
        chip = self.chip
        chip.play_due()  # the wave edges due by now first
        until = chip.handed_on_until(self.led)
        if self._mark is not None:
            if until - self._mark[1] < QUIET_US:
                timer = self._end_timer
                if timer is None or timer.when_ns is None:  # (play_due may have re-armed it)
                    self._look_again(self._mark[1] + QUIET_US - until)
                return
            self._end_mark()
        if self._marks and self._mark is None:
            if until - self._marks[-1][1] >= CODE_GAP_US:
                self._end_code()
            else:
                self._look_again(self._marks[-1][1] + CODE_GAP_US - until)

    def _end_mark(self) -> None:
        first, last, before, count = self._mark  # type: ignore[misc]
        self._mark = None
        # the mark lasts to the end of the carrier's last cycle, whose off part is
        # not seen: the mean period of the cycles before tells it
        cycles = count // 2
        if count % 2 == 0 and cycles >= 2:
            period = (before - first) / (cycles - 1)
            last = first + round(cycles * period)
        else:
            last += last - before
        assert self._pin is not None
        self._pin.schedule([(1, last)])
        if self._marks and first - self._marks[-1][1] >= CODE_GAP_US:
            self._end_code()
        if len(self._marks) * 2 < SIM_IR_MAX_CODE:
            self._marks.append((first, last))

    def _end_code(self) -> None:
        marks, self._marks = self._marks, []
        code: list[int] = []
        for i, (first, last) in enumerate(marks):
            if i:
                code.append(first - marks[i - 1][1])
            code.append(last - first)
        self.sent = code
        self.codes_sent += 1

    def describe(self) -> dict:
        return {"model": self.model, "gpio": self.gpio, "led": self.led,
                "codes_sent": self.codes_sent}
