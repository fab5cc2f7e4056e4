"""A DHT22 (AM2302) temperature and humidity sensor on one GPIO, its data line
pulled up on the board.

The Pi starts a reading by driving the line low for at least :data:`MIN_START_US`
(pigpio's DHT22 example: ``write(gpio, 0)``, 17 ms, then ``set_mode(gpio, INPUT)``).
When the Pi lets go, the line goes high (the pull-up) and the sensor answers as its
data sheet says: after :data:`RESPONSE_DELAY_US`, 80 µs low and 80 µs high, then 40
bits, each 50 µs low and then high 27 µs (a 0) or 70 µs (a 1), then 50 µs low
and it lets go. The bits are the humidity (16 bits, tenths of a %), the
temperature (16 bits, tenths of a °C, the top bit the sign) and a checksum, the low
byte of the sum of the four bytes: the values the test set (``simdht``,
``Simulator.set_climate``), rounded to tenths.
"""

from __future__ import annotations

import math

from gpiosvr.server.sim.devices.gpio_device import GpioDevice, OutputPin

#: The shortest start signal the sensor answers, in µs (data sheet: at least 1 ms).
MIN_START_US = 1000
#: µs from the Pi letting go to the sensor pulling the line low (data sheet 20-40).
RESPONSE_DELAY_US = 30
#: The sensor's answer: its response, a bit's low part, a 0's and a 1's high part.
RESPONSE_US = 80
BIT_LOW_US = 50
ZERO_HIGH_US = 27
ONE_HIGH_US = 70


def frame(temperature: float, humidity: float) -> bytes:
    """The five bytes a DHT22 sends for ``temperature`` °C and ``humidity`` %."""
    rh = round(humidity * 10)
    t = round(abs(temperature) * 10) | (0x8000 if temperature < 0 else 0)
    data = bytes([rh >> 8, rh & 0xFF, t >> 8, t & 0xFF])
    return data + bytes([sum(data) & 0xFF])


class DHT22(GpioDevice):
    """A DHT22/AM2302 on ``gpio``."""

    model = "dht22"

    def __init__(self, gpio: int, temperature: float = 20.0, humidity: float = 50.0) -> None:
        super().__init__()
        self.gpio = gpio
        self.set_climate(temperature, humidity)
        self.watches = {gpio}
        self._low_since: int | None = None
        self._pin: OutputPin | None = None
        self.readings = 0  # answers sent

    def set_climate(self, temperature: float, humidity: float) -> None:
        """What the next readings answer: °C (-40 to 80) and % relative humidity (0-100)."""
        for name, value, low, high in (("temperature", temperature, -40, 80),
                                       ("humidity", humidity, 0, 100)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and low <= value <= high):
                raise ValueError(f"{name} must be {low} to {high}, not {value!r}")
        self.temperature, self.humidity = float(temperature), float(humidity)

    def start(self) -> None:
        self._pin = self.output_pin(self.gpio, f"dht22 GPIO {self.gpio}")
        self._pin.idle(1)  # the pull-up resistor

    def on_edge(self, gpio: int, level: int, tick: int) -> None:
        pin = self._pin
        if pin is None or pin.busy() or tick <= pin.last_tick:
            return  # our own answer coming back
        if level == 0:
            self._low_since = tick if self.chip.get_mode(gpio) == 1 else None
            return
        low_since, self._low_since = self._low_since, None
        if low_since is None or tick - low_since < MIN_START_US or self.chip.get_mode(gpio) == 1:
            return
        self.readings += 1
        pin.schedule(self.answer(tick))

    def answer(self, released: int) -> list[tuple[int, int]]:
        """The edges of the answer to a start signal the Pi let go of at ``released``."""
        t = released + RESPONSE_DELAY_US
        edges = [(0, t), (1, t + RESPONSE_US)]
        t += 2 * RESPONSE_US
        for byte in frame(self.temperature, self.humidity):
            for bit in range(7, -1, -1):
                edges.append((0, t))
                t += BIT_LOW_US
                edges.append((1, t))
                t += ONE_HIGH_US if byte >> bit & 1 else ZERO_HIGH_US
        edges += [(0, t), (1, t + BIT_LOW_US)]
        return edges

    def describe(self) -> dict:
        return {"model": self.model, "gpio": self.gpio,
                "temperature_mdeg": round(self.temperature * 1000),
                "humidity_mpct": round(self.humidity * 1000), "readings": self.readings}
