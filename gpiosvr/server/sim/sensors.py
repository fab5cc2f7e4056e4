"""The GPIO-level sensors of the simulated board (``[[sensor]]`` in a board file):
which models exist, how an entry is read, and finding a sensor by its GPIO.

::

    [[sensor]]
    model = "hc-sr04"        # trigger, echo; distance in metres (default 1.0)
    trigger = 23
    echo = 24
    distance = 0.5

    [[sensor]]
    model = "dht22"          # also "am2302"; gpio; temperature °C, humidity %
    gpio = 4
    temperature = 21.5
    humidity = 45.0

    [[sensor]]
    model = "ir-receiver"    # gpio: the receiver's output; led: an IR LED it sees
    gpio = 17
    led = 18
"""

from __future__ import annotations

from typing import Any

from gpiosvr.server.limits import SIM_MAX_SENSORS
from gpiosvr.server.sim.devices.dht22 import DHT22
from gpiosvr.server.sim.devices.gpio_device import GpioDevice
from gpiosvr.server.sim.devices.hcsr04 import HCSR04
from gpiosvr.server.sim.devices.ir_receiver import IRReceiver

#: Built-in sensor models by their board-file name: the class, its GPIO keys and
#: its other keys (the constructor's arguments).
SENSORS: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    "hc-sr04": (HCSR04, ("trigger", "echo"), ("distance", "speed_of_sound")),
    "dht22": (DHT22, ("gpio",), ("temperature", "humidity")),
    "am2302": (DHT22, ("gpio",), ("temperature", "humidity")),
    "ir-receiver": (IRReceiver, ("gpio", "led"), ()),
}
_OPTIONAL_GPIOS = {"led"}


def from_entry(entry: Any) -> GpioDevice:
    """The sensor a ``[[sensor]]`` entry describes; ValueError saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("this entry must be a table")
    name = entry.get("model")
    if name not in SENSORS:
        raise ValueError(f"model {name!r} is not a sensor model "
                         f"({', '.join(SENSORS)})")
    cls, gpio_keys, other_keys = SENSORS[name]
    unknown = sorted(set(entry) - {"model", *gpio_keys, *other_keys})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} for a {name} (known: "
                         f"{', '.join(('model',) + gpio_keys + other_keys)})")
    args: dict[str, Any] = {}
    for key in gpio_keys:
        if key not in entry:
            if key in _OPTIONAL_GPIOS:
                continue
            raise ValueError(f"missing {key} (the GPIO of the {name}'s {key} pin)")
        value = entry[key]
        if type(value) is not int or not 0 <= value <= 31:
            raise ValueError(f"{key} must be a GPIO 0-31, not {value!r}")
        args[key] = value
    for key in other_keys:
        if key in entry:
            args[key] = entry[key]
    return cls(**args)


def check_free(sensors: list[GpioDevice], new: GpioDevice) -> None:
    """ValueError when ``new`` would be one sensor too many, or share a GPIO."""
    if len(sensors) >= SIM_MAX_SENSORS:
        raise ValueError(f"a board has at most {SIM_MAX_SENSORS} sensors (SIM_MAX_SENSORS)")
    for other in sensors:
        shared = set(other.gpios) & set(new.gpios)
        if shared:
            raise ValueError(f"GPIO {min(shared)} is already the {other.model}'s")


def find(sensors: list[GpioDevice], gpio: int, kind: type | tuple[type, ...]) -> Any:
    """The sensor of class ``kind`` wired to ``gpio``; ValueError naming what is there."""
    for sensor in sensors:
        if gpio in sensor.gpios:
            if isinstance(sensor, kind):
                return sensor
            raise ValueError(f"GPIO {gpio} is wired to a {sensor.model}, not a "
                             f"{_names(kind)}")
    raise ValueError(f"no {_names(kind)} is wired to GPIO {gpio} (the board has "
                     f"{', '.join(f'{s.model} on {s.gpios}' for s in sensors) or 'no sensors'})")


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.model for k in kinds)
