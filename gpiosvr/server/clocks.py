"""pigpio's hardware clocks (``hardware_clock``): which GPIOs have one, the
frequencies allowed, the password clock 1 needs, and who started each clock.

The BCM283x has three general-purpose clocks, each on several GPIOs; as in pigpio,
the latest frequency set on one of a clock's GPIOs is the frequency of all its GPIOs
that run it. A running clock belongs to the uid that set it last
(:mod:`gpiosvr.server.ownership`): another uid gets ``PI_NOT_PERMITTED`` to change
or stop it. A clock runs at the frequency its divisor really gives (pigpio's
chooseBestClock over the oscillator and PLLD), which is what
``get_PWM_frequency`` answers on its GPIOs.
"""

from __future__ import annotations

from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.ownership import Owner
from gpiosvr.server.pwm import is_bcm2711

PI_BAD_GPIO, PI_NOT_HCLK_GPIO, PI_BAD_HCLK_FREQ, PI_BAD_HCLK_PASS = -3, -94, -98, -99

#: GPIO -> its clock (0-2), from pigpio's clkDef table.
CLOCK_OF = {4: 0, 5: 1, 6: 2, 20: 0, 21: 1, 32: 0, 34: 0, 42: 1, 43: 2, 44: 1}
#: The upper byte that unlocks clock 1 (it likely crashes the Pi: reserved).
PASSWORD = 0x5A
#: Frequencies pigpio accepts: BCM283x, and BCM2711 (Pi 4).
FREQUENCY_RANGE = (4689, 250_000_000)
FREQUENCY_RANGE_2711 = (13184, 375_000_000)
#: The clock sources pigpio chooses from: the oscillator and PLLD (Hz).
SOURCES, SOURCES_2711 = (19_200_000, 500_000_000), (54_000_000, 750_000_000)
#: Below this frequency pigpio uses a fractional divisor (MASH).
MASH_MAX_HZ = 23_800_000


def real_frequency(frequency: int, sources: tuple[int, ...]) -> int | None:
    """The frequency a clock really runs at when ``frequency`` is asked for, as
    pigpio's chooseBestClock picks the source and divisor (None: no divisor fits)."""
    best: tuple[float, float] | None = None
    for source in sources:
        fdiv = source / frequency
        if frequency < MASH_MAX_HZ:
            fdiv += 0.5 / 4096.0
            div = int(fdiv)
            frac = int((fdiv - div) * 4096.0)
        else:
            div, frac = int(fdiv + 0.5), 0
        if 1 < div < 4096:
            real = source / (div + frac / 4096.0)
            off = abs(frequency - real)
            if best is None or off <= best[0]:
                best = (off, real)
    return None if best is None else int(best[1] + 0.5)


class HardwareClocks:
    """The three clocks: their frequency, GPIOs and owner."""

    def __init__(self, backend, pwm=None) -> None:
        self.backend = backend
        #: The PWM state (:class:`gpiosvr.server.pwm.PwmController`): a clock's GPIOs
        #: answer the PWM getters with the clock's frequency, as in pigpio.
        self.pwm = pwm
        self.frequency = [0, 0, 0]
        self.gpios: list[set[int]] = [set(), set(), set()]
        self.owner: list[Owner | None] = [None, None, None]

    def set(self, session, gpio: int, frequency: int, password: bool) -> int:
        """pigpio's gpioHardwareClock, its checks in its order (permission first,
        by the caller)."""
        if not 0 <= gpio <= 53:
            raise PigpioError(PI_BAD_GPIO)
        clock = CLOCK_OF.get(gpio)
        if clock is None:
            raise PigpioError(PI_NOT_HCLK_GPIO)
        pi4 = is_bcm2711(self.backend.hardware_revision)
        low, high = FREQUENCY_RANGE_2711 if pi4 else FREQUENCY_RANGE
        if frequency and not low <= frequency <= high:
            raise PigpioError(PI_BAD_HCLK_FREQ, f"bad hardware clock frequency: "
                                                f"{frequency}, not {low}-{high}")
        if clock == 1 and not password:
            raise PigpioError(PI_BAD_HCLK_PASS)
        if self.frequency[clock]:
            ownership.check(session, self.owner[clock], f"hardware clock {clock}")
        if frequency:
            real = real_frequency(frequency, SOURCES_2711 if pi4 else SOURCES)
            if real is None:
                raise PigpioError(PI_BAD_HCLK_FREQ, f"bad hardware clock frequency: "
                                                    f"{frequency}, no divisor gives it")
            gpios = self.gpios[clock] | {gpio}
            for g in sorted(gpios):
                self.backend.hardware_clock(g, real)
            self.gpios[clock] = gpios
            self.owner[clock] = ownership.owner_of(session)
            if self.pwm is not None:
                self.pwm.clock_started(gpio, clock, real)
        else:
            for g in sorted(self.gpios[clock]):
                self.backend.hardware_clock(g, 0)
            self.gpios[clock] = set()
            self.owner[clock] = None
            if self.pwm is not None:
                self.pwm.clock_stopped(gpio)
        self.frequency[clock] = frequency
        return 0

    def check_leave(self, session, gpio: int) -> None:
        """``PI_NOT_PERMITTED`` unless ``session`` may take ``gpio`` off its running
        clock (a write, a mode, PWM or servo pulses do)."""
        clock = CLOCK_OF.get(gpio)
        if clock is not None and gpio in self.gpios[clock]:
            ownership.check(session, self.owner[clock], f"hardware clock {clock}")

    def leave(self, gpio: int) -> None:
        """``gpio`` shows its clock no more (the clock runs on for its other GPIOs)."""
        clock = CLOCK_OF.get(gpio)
        if clock is not None:
            self.gpios[clock].discard(gpio)
