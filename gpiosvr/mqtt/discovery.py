"""Topics of one board and Home Assistant's MQTT discovery messages for them.

Home Assistant finds an entity when a JSON config is published (retained) at
``<discovery prefix>/<component>/<node id>/<object id>/config``. Each exposed GPIO
becomes one entity of one device (the board): an input a ``binary_sensor``, an
output a ``switch``, a PWM output a ``light`` with brightness (the PWM range is
the brightness scale), a servo a ``number`` (the pulse width in µs). The keys used
are those of Home Assistant's documentation for each component (MQTT Binary sensor,
Switch, Light with the default schema, Number).
"""

from __future__ import annotations

from typing import Any

import gpiosvr
from gpiosvr.mqtt.config import BridgeConfig, Exposed

ON, OFF = "ON", "OFF"
ONLINE, OFFLINE = "online", "offline"

#: The Home Assistant component of each kind of exposed GPIO.
COMPONENTS = {"input": "binary_sensor", "output": "switch", "pwm": "light",
              "servo": "number"}


class Topics:
    """The topics of one board, all under its prefix."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        base = config.prefix
        self.availability = f"{base}/availability"
        self.error = f"{base}/error"
        self.ha_status = f"{config.discovery_prefix}/status"

    def state(self, item: Exposed) -> str:
        return f"{self.config.prefix}/{item.name}/state"

    def edge(self, item: Exposed) -> str:
        return f"{self.config.prefix}/{item.name}/edge"

    def set(self, item: Exposed) -> str:
        return f"{self.config.prefix}/{item.name}/set"

    def brightness(self, item: Exposed) -> str:
        return f"{self.config.prefix}/{item.name}/brightness"

    def brightness_set(self, item: Exposed) -> str:
        return f"{self.config.prefix}/{item.name}/brightness/set"

    def commands(self) -> dict[str, tuple[Exposed, str]]:
        """Every command topic the bridge subscribes to: what and which command."""
        found: dict[str, tuple[Exposed, str]] = {}
        for item in self.config.exposed:
            if item.kind != "input":
                found[self.set(item)] = (item, "set")
            if item.kind == "pwm":
                found[self.brightness_set(item)] = (item, "brightness")
        return found

    def discovery(self, item: Exposed) -> str:
        c = self.config
        return f"{c.discovery_prefix}/{COMPONENTS[item.kind]}/{c.node_id}/{item.name}/config"


def device(config: BridgeConfig, model: str | None = None) -> dict[str, Any]:
    """The device block every entity of the board shares."""
    block: dict[str, Any] = {"identifiers": [f"gpiosvr_{config.node_id}"],
                             "name": config.board_name, "manufacturer": "gpiosvr",
                             "sw_version": gpiosvr.__version__}
    if model:
        block["model"] = model
    return block


def config_payload(topics: Topics, item: Exposed, model: str | None = None) -> dict[str, Any]:
    """The discovery config of ``item`` (a dict, published as JSON)."""
    config = topics.config
    payload: dict[str, Any] = {
        "name": item.title,
        "unique_id": f"gpiosvr_{config.node_id}_{item.name}",
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": device(config, model),
        "origin": {"name": "gpiosvr-mqtt", "sw_version": gpiosvr.__version__},
        "qos": config.broker.qos,
    }
    if item.kind == "input":
        payload.update(state_topic=topics.state(item), payload_on=ON, payload_off=OFF)
        if item.device_class:
            payload["device_class"] = item.device_class
    elif item.kind == "output":
        payload.update(state_topic=topics.state(item), command_topic=topics.set(item),
                       payload_on=ON, payload_off=OFF, state_on=ON, state_off=OFF)
    elif item.kind == "pwm":
        payload.update(state_topic=topics.state(item), command_topic=topics.set(item),
                       payload_on=ON, payload_off=OFF,
                       brightness_state_topic=topics.brightness(item),
                       brightness_command_topic=topics.brightness_set(item),
                       brightness_scale=item.range)
    else:
        payload.update(state_topic=topics.state(item), command_topic=topics.set(item),
                       min=item.min_us, max=item.max_us, step=1, mode="slider",
                       unit_of_measurement="µs")
    return payload
