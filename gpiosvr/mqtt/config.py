"""The bridge's configuration: a TOML file read with :mod:`tomllib`, checked whole.

Every mistake is a :class:`ConfigError` naming the file, the table and the key
(``mqtt.toml: [input.button] pull: "sideways" is not one of up, down, off``), so a
typo is found at start-up rather than as a GPIO that silently does nothing. The
layout is described in ``docs/mqtt.md`` and shown in ``examples/mqtt.toml``.
"""

from __future__ import annotations

import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The kinds of exposed GPIO, as the tables of the file name them.
KINDS = ("input", "output", "pwm", "servo")
#: How an input reports: its (debounced) state, each edge, or both.
REPORTS = ("state", "edges", "both")
PULLS = ("up", "down", "off")
#: A name becomes a topic level and part of Home Assistant's ids.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: What a topic prefix may hold: no MQTT wildcards, no empty levels.
_PREFIX = re.compile(r"^[^#+/\x00]+(/[^#+/\x00]+)*$")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class BrokerConfig:
    """How to reach the MQTT broker."""

    host: str = "localhost"
    port: int = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    keepalive: int = 60
    qos: int = 1
    #: Keep the broker session (subscriptions, QoS 1 commands) while disconnected.
    persistent_session: bool = True
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True)
class Exposed:
    """One GPIO the bridge exposes, as ``kind`` under the topic level ``name``."""

    kind: str
    name: str
    gpio: int
    title: str
    active_low: bool = False
    # inputs
    pull: str | None = None
    glitch_us: int = 0
    report: str = "state"
    device_class: str | None = None
    # outputs
    initial: bool | None = None
    # PWM
    range: int = 255
    frequency: int | None = None
    # servos
    min_us: int = 500
    max_us: int = 2500

    @property
    def reports_state(self) -> bool:
        return self.kind != "input" or self.report in ("state", "both")

    @property
    def reports_edges(self) -> bool:
        return self.kind == "input" and self.report in ("edges", "both")


@dataclass(frozen=True)
class BridgeConfig:
    """The whole configuration of one bridge (one board)."""

    broker: BrokerConfig
    prefix: str
    board_name: str
    node_id: str
    socket: str | None
    discovery: bool
    discovery_prefix: str
    exposed: tuple[Exposed, ...] = field(default_factory=tuple)

    def find(self, name: str) -> Exposed | None:
        for item in self.exposed:
            if item.name == name:
                return item
        return None


class _Table:
    """A TOML table being read: takes keys with checks, then refuses the rest."""

    def __init__(self, source: str, where: str, data: Any) -> None:
        self.source, self.where = source, where
        if not isinstance(data, dict):
            self.fail(None, f"must be a table, not {type(data).__name__}")
        self.data = dict(data)

    def fail(self, key: str | None, problem: str) -> None:
        place = f"[{self.where}] {key}" if key else f"[{self.where}]"
        raise ConfigError(f"{self.source}: {place}: {problem}")

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = None,
             required: bool = False) -> Any:
        if key not in self.data:
            if required:
                self.fail(key, "is required")
            return default
        value = self.data.pop(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            self.fail(key, f"must be {_kind_words(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            self.fail(key, f"must be {_kind_words(kinds)}, not {value!r}")
        return value

    def take_int(self, key: str, default: int | None, low: int, high: int,
                 required: bool = False) -> int | None:
        value = self.take(key, int, default, required)
        if value is not None and not low <= value <= high:
            self.fail(key, f"{value} is outside {low}-{high}")
        return value

    def take_choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.take(key, str, default)
        if value is not None and value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def done(self) -> None:
        if self.data:
            self.fail(None, "unknown key" + ("s" if len(self.data) > 1 else "") + ": "
                      + ", ".join(sorted(self.data)))


def _kind_words(kinds: tuple[type, ...]) -> str:
    words = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def default_node_id() -> str:
    """This machine's host name as a topic level (``gpiosvr/<host>``)."""
    host = socket.gethostname().split(".")[0] or "board"
    return re.sub(r"[^A-Za-z0-9_-]", "_", host)


def load(path: str | Path) -> BridgeConfig:
    """Read and check the configuration file at ``path``."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    return parse(text, source)


def parse(text: str, source: str = "<config>") -> BridgeConfig:
    """Check the TOML ``text`` (read from ``source``, for the messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    top = _Table(source, "top level", data)
    broker = _broker(_Table(source, "broker", top.take("broker", dict, {})))
    board = _Table(source, "board", top.take("board", dict, {}))
    node_id = board.take("node_id", str, default_node_id())
    if not _NAME.match(node_id):
        board.fail("node_id", f"{node_id!r} may hold only letters, digits, _ and -")
    prefix = board.take("prefix", str, f"gpiosvr/{node_id}")
    if not _PREFIX.match(prefix):
        board.fail("prefix", f"{prefix!r} is not a topic prefix (no +, #, empty levels "
                             "or a leading or trailing /)")
    board_name = board.take("name", str, node_id)
    sock = board.take("socket", str, None)
    board.done()
    ha = _Table(source, "homeassistant", top.take("homeassistant", dict, {}))
    discovery = ha.take("discovery", bool, True)
    discovery_prefix = ha.take("prefix", str, "homeassistant")
    if not _PREFIX.match(discovery_prefix):
        ha.fail("prefix", f"{discovery_prefix!r} is not a topic prefix")
    ha.done()
    exposed: list[Exposed] = []
    names: dict[str, str] = {}
    gpios: dict[int, str] = {}
    for kind in KINDS:
        group = _Table(source, kind, top.take(kind, dict, {}))
        for name, body in group.data.items():
            where = f"{kind}.{name}"
            if not _NAME.match(name):
                raise ConfigError(f"{source}: [{where}]: the name may hold only letters, "
                                  "digits, _ and - (it becomes a topic level)")
            item = _exposed(kind, name, _Table(source, where, body))
            if name in names:
                raise ConfigError(f"{source}: [{where}]: the name {name!r} is taken by "
                                  f"[{names[name]}]")
            if item.gpio in gpios:
                raise ConfigError(f"{source}: [{where}]: GPIO {item.gpio} is exposed "
                                  f"already by [{gpios[item.gpio]}]")
            names[name], gpios[item.gpio] = where, where
            exposed.append(item)
    top.done()
    return BridgeConfig(broker=broker, prefix=prefix, board_name=board_name,
                        node_id=node_id, socket=sock, discovery=discovery,
                        discovery_prefix=discovery_prefix, exposed=tuple(exposed))


def _broker(t: _Table) -> BrokerConfig:
    tls = t.take("tls", bool, False)
    password = t.take("password", str, None)
    password_file = t.take("password_file", str, None)
    if password is not None and password_file is not None:
        t.fail("password_file", "give password or password_file, not both")
    if password_file is not None:
        try:
            password = Path(password_file).read_text().strip()
        except OSError as exc:
            t.fail("password_file", f"cannot read {password_file}: {exc.strerror or exc}")
    username = t.take("username", str, None)
    if password is not None and username is None:
        t.fail("password", "a password needs a username")
    reconnect_min = float(t.take("reconnect_min_s", (int, float), 0.5))
    reconnect_max = float(t.take("reconnect_max_s", (int, float), 30.0))
    if not 0 < reconnect_min <= reconnect_max:
        t.fail("reconnect_min_s", "must be above 0 and at most reconnect_max_s")
    broker = BrokerConfig(
        host=t.take("host", str, "localhost"),
        port=t.take_int("port", 8883 if tls else 1883, 1, 65535),
        client_id=t.take("client_id", str, ""),
        username=username, password=password, tls=tls,
        ca_certs=t.take("ca_certs", str, None),
        certfile=t.take("certfile", str, None),
        keyfile=t.take("keyfile", str, None),
        keepalive=t.take_int("keepalive", 60, 5, 3600),
        qos=t.take_int("qos", 1, 0, 1),
        persistent_session=t.take("persistent_session", bool, True),
        reconnect_min_s=reconnect_min, reconnect_max_s=reconnect_max)
    if not tls and (broker.ca_certs or broker.certfile or broker.keyfile):
        t.fail("tls", "ca_certs, certfile and keyfile need tls = true")
    t.done()
    return broker


def _exposed(kind: str, name: str, t: _Table) -> Exposed:
    # Edge callbacks (inputs, outputs) and PWM/servo pulses take user GPIOs 0-31.
    gpio = t.take_int("gpio", None, 0, 31, required=True)
    common = dict(kind=kind, name=name, gpio=gpio, title=t.take("title", str, name))
    if kind == "input":
        item = Exposed(**common, active_low=t.take("active_low", bool, False),
                       pull=t.take_choice("pull", PULLS, None),
                       glitch_us=t.take_int("glitch_us", 0, 0, 300000),
                       report=t.take_choice("report", REPORTS, "state"),
                       device_class=t.take("device_class", str, None))
    elif kind == "output":
        initial = t.take("initial", (bool, str), None)
        if isinstance(initial, str):
            if initial.upper() not in ("ON", "OFF"):
                t.fail("initial", f"{initial!r} is not ON, OFF, true or false")
            initial = initial.upper() == "ON"
        item = Exposed(**common, active_low=t.take("active_low", bool, False),
                       initial=initial)
    elif kind == "pwm":
        item = Exposed(**common, range=t.take_int("range", 255, 25, 40000),
                       frequency=t.take_int("frequency", None, 1, 40000))
    else:
        min_us = t.take_int("min_us", 500, 500, 2500)
        max_us = t.take_int("max_us", 2500, 500, 2500)
        if min_us > max_us:
            t.fail("min_us", f"{min_us} is above max_us {max_us}")
        item = Exposed(**common, min_us=min_us, max_us=max_us)
    t.done()
    return item
