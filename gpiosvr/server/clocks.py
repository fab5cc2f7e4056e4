"""pigpio's hardware clocks (``hardware_clock``): which GPIOs have one, the
frequencies allowed, the password clock 1 needs, and who started each clock.

The BCM283x has three general-purpose clocks, each on several GPIOs; as in pigpio,
the latest frequency set on one of a clock's GPIOs is the frequency of all its GPIOs
that run it. A running clock belongs to the uid that set it last
(:mod:`gpiosvr.server.ownership`): another uid gets ``PI_NOT_PERMITTED`` to change
or stop it.
"""

from __future__ import annotations

from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.ownership import Owner

PI_BAD_GPIO, PI_NOT_HCLK_GPIO, PI_BAD_HCLK_FREQ, PI_BAD_HCLK_PASS = -3, -94, -98, -99

#: GPIO -> its clock (0-2), from pigpio's clkDef table.
CLOCK_OF = {4: 0, 5: 1, 6: 2, 20: 0, 21: 1, 32: 0, 34: 0, 42: 1, 43: 2, 44: 1}
#: The upper byte that unlocks clock 1 (it likely crashes the Pi: reserved).
PASSWORD = 0x5A
#: Frequencies pigpio accepts: BCM283x, and BCM2711 (Pi 4).
FREQUENCY_RANGE = (4689, 250_000_000)
FREQUENCY_RANGE_2711 = (13184, 375_000_000)


def _is_2711(revision: int) -> bool:
    return bool(revision & 0x800000) and (revision >> 12) & 0xF == 3


class HardwareClocks:
    """The three clocks: their frequency, GPIOs and owner."""

    def __init__(self, backend) -> None:
        self.backend = backend
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
        low, high = (FREQUENCY_RANGE_2711 if _is_2711(self.backend.hardware_revision)
                     else FREQUENCY_RANGE)
        if frequency and not low <= frequency <= high:
            raise PigpioError(PI_BAD_HCLK_FREQ, f"bad hardware clock frequency: "
                                                f"{frequency}, not {low}-{high}")
        if clock == 1 and not password:
            raise PigpioError(PI_BAD_HCLK_PASS)
        if self.frequency[clock]:
            ownership.check(session, self.owner[clock], f"hardware clock {clock}")
        if frequency:
            gpios = self.gpios[clock] | {gpio}
            for g in sorted(gpios):
                self.backend.hardware_clock(g, frequency)
            self.gpios[clock] = gpios
            self.owner[clock] = ownership.owner_of(session)
        else:
            for g in sorted(self.gpios[clock]):
                self.backend.hardware_clock(g, 0)
            self.gpios[clock] = set()
            self.owner[clock] = None
        self.frequency[clock] = frequency
        return 0
