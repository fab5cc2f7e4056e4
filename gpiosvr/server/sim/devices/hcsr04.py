"""An HC-SR04 ultrasonic ranger: a pulse of at least 10 µs on TRIG gives, after
:data:`ECHO_DELAY_US`, a pulse on ECHO as wide as the sound's round trip to the
object at the distance the test sets (``simsonar``, ``Simulator.set_distance``).

The width is ``2 * distance / speed_of_sound`` µs, rounded, with the speed of sound
gpiozero's ``DistanceSensor`` assumes (343.26 m/s) unless the board says otherwise.
With no object in range (distance ``None``, or past :data:`MAX_RANGE_M`) the echo
stays high :data:`NO_ECHO_US` µs, as the real module's time-out. A trigger while an
echo is under way is ignored, as the module does.
"""

from __future__ import annotations

import math

from gpiosvr.server.sim.devices.gpio_device import GpioDevice, OutputPin

#: The shortest trigger pulse the module answers, in µs (its data sheet's).
MIN_TRIGGER_US = 10
#: µs from the trigger's falling edge to the echo's rising edge (the module sends
#: its eight 40 kHz cycles meanwhile).
ECHO_DELAY_US = 450
#: The echo's width when nothing is in range, in µs.
NO_ECHO_US = 38_000
#: The farthest object the module sees, in metres.
MAX_RANGE_M = 4.0
#: The speed of sound by default, m/s (gpiozero's DistanceSensor's).
SPEED_OF_SOUND = 343.26


class HCSR04(GpioDevice):
    """An HC-SR04 on ``trigger`` (a Pi output) and ``echo`` (a Pi input)."""

    model = "hc-sr04"

    def __init__(self, trigger: int, echo: int, distance: float | None = 1.0,
                 speed_of_sound: float = SPEED_OF_SOUND) -> None:
        super().__init__()
        if trigger == echo:
            raise ValueError(f"trigger and echo must be two GPIOs, not both {trigger}")
        if not (isinstance(speed_of_sound, (int, float)) and 100 <= speed_of_sound <= 2000):
            raise ValueError(f"speed_of_sound must be 100-2000 m/s, not {speed_of_sound!r}")
        self.trigger, self.echo = trigger, echo
        self.speed_of_sound = float(speed_of_sound)
        self.distance: float | None = None
        self.set_distance(distance)
        self.watches = {trigger}
        self._rise: int | None = None
        self._pin: OutputPin | None = None
        self.pings = 0  # echoes sent

    @property
    def gpios(self) -> list[int]:
        return sorted({self.trigger, self.echo})

    def set_distance(self, metres: float | None) -> None:
        """The object's distance in metres (None: nothing in range)."""
        if metres is not None and not (isinstance(metres, (int, float))
                                       and math.isfinite(metres) and metres >= 0):
            raise ValueError(f"distance must be a number of metres >= 0 or none, "
                             f"not {metres!r}")
        self.distance = None if metres is None else float(metres)

    def echo_us(self) -> int:
        """The echo's width for the distance set, in µs."""
        if self.distance is None or self.distance > MAX_RANGE_M:
            return NO_ECHO_US
        return round(2e6 * self.distance / self.speed_of_sound)

    def start(self) -> None:
        self._pin = self.output_pin(self.echo, f"hc-sr04 echo GPIO {self.echo}")
        self._pin.idle(0)

    def on_edge(self, gpio: int, level: int, tick: int) -> None:
        if level:
            self._rise = tick
            return
        rise, self._rise = self._rise, None
        pin = self._pin
        if rise is None or tick - rise < MIN_TRIGGER_US or pin is None or pin.busy():
            return
        start = tick + ECHO_DELAY_US
        self.pings += 1
        pin.schedule([(1, start), (0, start + self.echo_us())])

    def describe(self) -> dict:
        return {"model": self.model, "trigger": self.trigger, "echo": self.echo,
                "distance_um": None if self.distance is None else round(self.distance * 1e6),
                "echo_us": self.echo_us(), "pings": self.pings}
