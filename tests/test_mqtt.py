"""The MQTT bridge against a real mosquitto (Debian's), on a loopback port the OS
chose, and a real gpiosvr on the simulated chip."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from children import spawn, spawn_run
from conftest import extra_module

extra_module("paho.mqtt", "mqtt")

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from conftest import ServerProcess, peer, wait_until  # noqa: E402
from gpiosvr.blocking import BlockingClient  # noqa: E402
from gpiosvr.mqtt import config as bridge_config  # noqa: E402
from gpiosvr.mqtt.bridge import Bridge  # noqa: E402
from gpiosvr.mqtt.config import ConfigError  # noqa: E402
from gpiosvr.simulator import Simulator  # noqa: E402

PREFIX = "gpiosvr/testboard"


def free_port() -> int:
    """A loopback TCP port the OS says is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    """A real mosquitto on 127.0.0.1:``port``, without persistence (so a restart
    loses retained messages and sessions: the bridge must bring them back)."""

    def __init__(self, directory: str) -> None:
        self.binary = peer("mosquitto")
        self.port = free_port()
        self.conf = os.path.join(directory, "mosquitto.conf")
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        with open(self.conf, "w") as conf:
            conf.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                       f"persistence false\nuser {user}\nlog_dest stderr\n"
                       "set_tcp_nodelay true\nmax_queued_messages 10000\n")
        self.log = open(os.path.join(directory, "mosquitto.log"), "ab")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Mosquitto":
        self.proc = spawn([self.binary, "-c", self.conf],
                          stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"mosquitto did not start on port {self.port}")
                time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class Watcher:
    """A test's own MQTT client: records every message, publishes commands."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",)) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{id(self)}")
        self.client.on_message = self._message
        self.client.on_connect = lambda c, u, f, r, p=None: (
            c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
            c.subscribe([(t, 1) for t in topics]))
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            self.close()
            raise AssertionError(f"no subscription to the broker on port {port}")

    def _message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((msg.topic, msg.payload.decode("utf-8", "replace"),
                                  bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, pred: Callable[[list[tuple[str, str, bool]]], Any],
             timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = pred(self.messages)
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = self.messages[-10:]
                    raise AssertionError(f"no such message within {timeout} s; last: {tail}")
                self.cond.wait(left)

    def last(self, topic: str, timeout: float = 10.0, payload: str | None = None) -> str:
        """Wait until the latest message on ``topic`` is ``payload`` (or, without
        ``payload``, for any message on it); return it."""
        def pred(msgs):
            for t, p, _ in reversed(msgs):
                if t == topic:
                    return (p or "<empty>") if payload is None or p == payload else None
            return None
        return self.wait(pred, timeout)

    def clear(self) -> None:
        with self.cond:
            self.messages.clear()

    def publish(self, topic: str, payload: str, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


CONFIG = """
[broker]
host = "127.0.0.1"
port = {port}
client_id = "bridge-under-test"
reconnect_min_s = 0.1
reconnect_max_s = 0.5

[board]
node_id = "testboard"
name = "Test board"
socket = "{socket}"

[input.button]
gpio = 4
pull = "up"
active_low = true
report = "both"
device_class = "occupancy"

[input.door]
gpio = 5
pull = "down"
glitch_us = 1000

[output.led]
gpio = 17

[pwm.lamp]
gpio = 18
range = 100
frequency = 800

[servo.arm]
gpio = 12
min_us = 1000
max_us = 2000
"""


@pytest.fixture
def broker(sock_dir: str) -> Iterator[Mosquitto]:
    """A real mosquitto on a free loopback port."""
    server = Mosquitto(sock_dir).start()
    yield server
    server.stop()


def make_config(broker: Mosquitto, sock_path: str, extra: str = ""):
    return bridge_config.parse(CONFIG.format(port=broker.port, socket=sock_path) + extra)


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    w = Watcher(broker.port)
    yield w
    w.close()


@pytest.fixture
def bridge(server, broker: Mosquitto, sock_path: str, watcher: Watcher) -> Iterator[Bridge]:
    b = Bridge(make_config(broker, sock_path)).start()
    assert b.board_ready.wait(10) and b.broker_connected.wait(10)
    watcher.last(f"{PREFIX}/availability", payload="online")
    yield b
    b.stop()


# -- the everyday: states, commands, discovery ---------------------------------------


def test_button_press_arrives_as_state_and_edge(bridge, watcher, sock_path):
    assert watcher.last(f"{PREFIX}/button/state") == "OFF"  # pulled up, active low
    with Simulator(sock_path) as sim:
        tick = sim.inject(4, 1, 100)  # one falling edge: pressed
        assert watcher.last(f"{PREFIX}/button/state", payload="ON")
        edge = json.loads(watcher.last(f"{PREFIX}/button/edge"))
        assert edge == {"level": 1, "tick": tick}
        sim.inject(4, 1, 100)
        assert watcher.last(f"{PREFIX}/button/state", payload="OFF")


def test_commands_drive_output_pwm_and_servo(bridge, watcher, sock_path):
    with BlockingClient(sock_path) as gpio:
        watcher.publish(f"{PREFIX}/led/set", "ON")
        watcher.last(f"{PREFIX}/led/state", payload="ON")
        assert gpio.command("r", 17) == 1
        watcher.publish(f"{PREFIX}/lamp/brightness/set", "40")
        watcher.last(f"{PREFIX}/lamp/brightness", payload="40")
        assert watcher.last(f"{PREFIX}/lamp/state") == "ON"
        assert gpio.command("gdc", 18) == 40
        assert gpio.command("prg", 18) == 100
        watcher.publish(f"{PREFIX}/lamp/set", "OFF")
        watcher.last(f"{PREFIX}/lamp/state", payload="OFF")
        assert gpio.command("gdc", 18) == 0
        watcher.publish(f"{PREFIX}/lamp/set", "ON")  # back to the last brightness
        watcher.last(f"{PREFIX}/lamp/state", payload="ON")
        assert gpio.command("gdc", 18) == 40
        watcher.publish(f"{PREFIX}/arm/set", "1500.0")  # as Home Assistant sends it
        watcher.last(f"{PREFIX}/arm/state", payload="1500")
        assert gpio.command("gpw", 12) == 1500
        watcher.publish(f"{PREFIX}/led/set", "OFF")
        watcher.last(f"{PREFIX}/led/state", payload="OFF")
        assert gpio.command("r", 17) == 0


def test_output_changed_by_a_local_program_is_published(bridge, watcher, sock_path):
    with BlockingClient(sock_path) as gpio:
        gpio.command("w", 17, 1)
        watcher.last(f"{PREFIX}/led/state", payload="ON")


def test_mosquitto_clients_drive_the_bridge(bridge, broker, sock_path):
    """Debian's mosquitto_pub and mosquitto_sub, the real command-line clients."""
    sub = spawn([peer("mosquitto_sub"), "-p", str(broker.port), "-h",
                 "127.0.0.1", "-t", f"{PREFIX}/led/state", "-C", "2", "-W", "10",
                 "-q", "1"], stdout=subprocess.PIPE, text=True)
    try:
        # the retained state arrives once it has subscribed (mosquitto_sub's -W bounds
        # the wait); publishing before that would leave it only the new state
        first = sub.stdout.readline()
        subprocess.run([peer("mosquitto_pub"), "-p", str(broker.port), "-h", "127.0.0.1",
                        "-t", f"{PREFIX}/led/set", "-m", "ON", "-q", "1"],
                       check=True, timeout=10)
        rest, _ = sub.communicate(timeout=15)
        out = first + rest
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait(5)
    assert out.split() == ["OFF", "ON"]  # the retained state, then the new one
    with BlockingClient(sock_path) as gpio:
        assert gpio.command("r", 17) == 1


@pytest.mark.parametrize("topic, payload, problem", [
    ("led/set", "maybe", "expected ON or OFF, got 'maybe'"),
    ("lamp/brightness/set", "101", "brightness 101 is outside 0-100"),
    ("lamp/brightness/set", "half", "expected a brightness 0-100, got 'half'"),
    ("arm/set", "3000", "pulse width in µs 3000 is outside 1000-2000 or 0"),
    ("arm/set", "1500.5", "expected a whole pulse width in µs 1000-2000"),
    ("led/set", "\udcff", "payload is not UTF-8 text"),
])
def test_bad_payloads_are_answered_on_the_error_topic_and_logged(
        bridge, watcher, caplog, topic, payload, problem):
    raw = payload.encode("utf-8", "surrogateescape")
    watcher.client.publish(f"{PREFIX}/{topic}", raw, qos=1).wait_for_publish(5)
    error = json.loads(watcher.last(f"{PREFIX}/error"))
    assert error["topic"] == f"{PREFIX}/{topic}"
    assert problem in error["error"]
    wait_until(lambda: any(problem in r.getMessage() for r in caplog.records))
    # and the bridge goes on
    watcher.publish(f"{PREFIX}/led/set", "ON")
    watcher.last(f"{PREFIX}/led/state", payload="ON")


def test_a_gpio_the_server_refuses_is_an_error_message(server, broker, sock_path, watcher):
    cfg = make_config(broker, sock_path, "\n[output.high]\ngpio = 30\n")  # not a user GPIO
    with Bridge(cfg) as b:
        assert b.broker_connected.wait(10)
        watcher.last(f"{PREFIX}/availability", payload="online", timeout=10)
        watcher.publish(f"{PREFIX}/high/set", "ON")
        error = json.loads(watcher.last(f"{PREFIX}/error"))
        assert "no permission to update GPIO" in error["error"]


def test_retained_commands_are_not_replayed(server, broker, sock_path, watcher):
    """A command left retained on the broker would be replayed at every subscription
    (each reconnection): such a replay is refused; a live command is taken."""
    watcher.client.publish(f"{PREFIX}/led/set", "ON", qos=1, retain=True).wait_for_publish(5)
    with Bridge(make_config(broker, sock_path)) as b:
        error = json.loads(watcher.last(f"{PREFIX}/error"))
        assert "retained commands are ignored" in error["error"]
        assert b.board_ready.wait(10)
        with BlockingClient(sock_path) as gpio:
            assert gpio.command("r", 17) == 0
    watcher.client.publish(f"{PREFIX}/led/set", "", qos=1, retain=True).wait_for_publish(5)


# -- Home Assistant discovery --------------------------------------------------------

# The keys Home Assistant's documentation gives each MQTT component (the ones a
# discovery config of ours may use), with their types; "required" as documented.
_COMMON = {"name": str, "unique_id": str, "availability_topic": str,
           "payload_available": str, "payload_not_available": str, "device": dict,
           "origin": dict, "qos": int, "state_topic": str}
HA_SCHEMA = {
    "binary_sensor": ({"state_topic"}, {**_COMMON, "payload_on": str, "payload_off": str,
                                        "device_class": str}),
    "switch": ({"command_topic"}, {**_COMMON, "command_topic": str, "payload_on": str,
                                   "payload_off": str, "state_on": str, "state_off": str}),
    "light": ({"command_topic"}, {**_COMMON, "command_topic": str, "payload_on": str,
                                  "payload_off": str, "brightness_state_topic": str,
                                  "brightness_command_topic": str,
                                  "brightness_scale": int}),
    "number": ({"command_topic"}, {**_COMMON, "command_topic": str, "min": int, "max": int,
                                   "step": int, "mode": str, "unit_of_measurement": str}),
}
HA_DEVICE = {"identifiers": list, "name": str, "manufacturer": str, "model": str,
             "sw_version": str}
HA_ORIGIN = {"name": str, "sw_version": str, "support_url": str}
BINARY_SENSOR_CLASSES = {"occupancy", "door", "motion", "opening", "window", "moisture"}


def check_ha_config(component: str, payload: dict) -> None:
    required, allowed = HA_SCHEMA[component]
    assert required <= payload.keys(), (component, required - payload.keys())
    for key, value in payload.items():
        assert key in allowed, f"{component}: {key} is not a documented key"
        assert isinstance(value, allowed[key]), (component, key, value)
    for key, value in payload["device"].items():
        assert isinstance(value, HA_DEVICE[key]), ("device", key)
    for key, value in payload["origin"].items():
        assert isinstance(value, HA_ORIGIN[key]), ("origin", key)
    if component == "binary_sensor" and "device_class" in payload:
        assert payload["device_class"] in BINARY_SENSOR_CLASSES
    if component == "number":
        assert payload["mode"] in ("auto", "box", "slider")
    if component == "light":
        assert 1 <= payload["brightness_scale"]
    assert payload["qos"] in (0, 1, 2)


def test_discovery_configs_follow_home_assistants_schema(bridge, broker):
    expected = {"binary_sensor": {"button", "door"}, "switch": {"led"}, "light": {"lamp"},
                "number": {"arm"}}

    def configs(msgs):
        found = {(t.split("/")[1], t.split("/")[3]): json.loads(p) for t, p, r in msgs
                 if t.startswith("homeassistant/") and t.endswith("/config") and r}
        return found if len(found) == 5 else None

    fresh = Watcher(broker.port)  # subscribing afterwards: it sees what is retained
    try:
        found = fresh.wait(configs)
    finally:
        fresh.close()
    assert {k for k in found} == {(c, n) for c, names in expected.items() for n in names}
    for (component, name), payload in found.items():
        check_ha_config(component, payload)
        assert payload["availability_topic"] == f"{PREFIX}/availability"
        assert payload["unique_id"] == f"gpiosvr_testboard_{name}"
        assert payload["device"]["identifiers"] == ["gpiosvr_testboard"]
        assert payload["state_topic"] == f"{PREFIX}/{name}/state"
        if component != "binary_sensor":
            assert payload["command_topic"] == f"{PREFIX}/{name}/set"
    assert found[("light", "lamp")]["brightness_scale"] == 100
    assert found[("number", "arm")]["min"] == 1000
    assert found[("binary_sensor", "button")]["device_class"] == "occupancy"


def test_home_assistant_restart_gets_discovery_again(bridge, watcher):
    watcher.wait(lambda m: any(t.endswith("/lamp/config") for t, _, _ in m))
    watcher.clear()
    watcher.publish("homeassistant/status", "online")
    watcher.wait(lambda m: any(t.endswith("/lamp/config") for t, _, _ in m))


# -- restarts ------------------------------------------------------------------------


def test_broker_restart_brings_back_subscriptions_and_retained_state(
        bridge, broker, watcher):
    watcher.publish(f"{PREFIX}/led/set", "ON")
    watcher.last(f"{PREFIX}/led/state", payload="ON")
    before = bridge.stats["broker_syncs"]
    broker.kill()
    wait_until(lambda: not bridge.broker_connected.is_set(), 10)
    broker.start()  # the same port, nothing remembered
    # the broker acknowledged the bridge's new subscription and re-publishing: a
    # watcher subscribing before that would get the states live, not retained
    wait_until(lambda: bridge.stats["broker_syncs"] > before, 15)
    fresh = Watcher(broker.port)  # sees only what is retained now
    try:
        assert fresh.last(f"{PREFIX}/led/state") == "ON"
        assert fresh.last(f"{PREFIX}/availability") == "online"
        fresh.wait(lambda m: sum(t.endswith("/config") for t, _, r in m if r) == 5)
        fresh.publish(f"{PREFIX}/led/set", "OFF")  # subscribed again
        fresh.last(f"{PREFIX}/led/state", payload="OFF")
    finally:
        fresh.close()


def test_gpiosvr_restart_loses_no_command_and_restores_the_board(
        broker, sock_path, watcher):
    server = ServerProcess(sock_path).start()
    b = Bridge(make_config(broker, sock_path)).start()
    try:
        assert b.board_ready.wait(10) and b.broker_connected.wait(10)
        watcher.last(f"{PREFIX}/availability", payload="online")
        watcher.publish(f"{PREFIX}/lamp/brightness/set", "30")
        watcher.last(f"{PREFIX}/lamp/brightness", payload="30")
        server.kill()
        watcher.last(f"{PREFIX}/availability", payload="offline")
        # sent while gpiosvr is away: they wait, in order
        for payload in ("ON", "OFF", "ON"):
            watcher.publish(f"{PREFIX}/led/set", payload)
        watcher.publish(f"{PREFIX}/arm/set", "1200")
        server.start()
        watcher.last(f"{PREFIX}/arm/state", payload="1200", timeout=15)
        watcher.last(f"{PREFIX}/availability", payload="online")
        with BlockingClient(sock_path) as gpio:
            assert gpio.command("r", 17) == 1
            assert gpio.command("gdc", 18) == 30  # restored
            assert gpio.command("prg", 18) == 100  # set up again
            assert gpio.command("gpw", 12) == 1200
            assert gpio.command("mg", 4) == 0  # input, pulled up again
            assert gpio.command("r", 4) == 1
        led = [p for t, p, _ in watcher.messages if t == f"{PREFIX}/led/state"]
        assert led[-3:] == ["ON", "OFF", "ON"]
        # the edge callbacks came back with the new server
        with Simulator(sock_path) as sim:
            sim.inject(4, 1, 100)
            watcher.last(f"{PREFIX}/button/state", payload="ON")
        assert b.stats["errors"] == 0
    finally:
        b.stop()
        server.stop()


# -- bursts --------------------------------------------------------------------------


def test_a_burst_of_1000_edges_arrives_in_order_at_qos_1(bridge, watcher, sock_path):
    with Simulator(sock_path) as sim:
        first = sim.inject(4, 1000, 100)
    edges = watcher.wait(lambda m: (lambda e: e if len(e) >= 1000 else None)(
        [json.loads(p) for t, p, _ in m if t == f"{PREFIX}/button/edge"]), timeout=30)
    assert [e["tick"] for e in edges] == [(first + 100 * i) & 0xFFFFFFFF
                                          for i in range(1000)]
    # the button was released (level 1, active low: 0) and alternates from pressed
    assert [e["level"] for e in edges] == [1, 0] * 500
    assert bridge.stats["lost"] == 0


# -- configuration and the command line ------------------------------------------------


@pytest.mark.parametrize("text, problem", [
    ("[input.b]\n", "[input.b] gpio: is required"),
    ("[input.b]\ngpio = 40\n", "[input.b] gpio: 40 is outside 0-31"),
    ("[input.b]\ngpio = 4\npull = \"sideways\"\n", "pull: 'sideways' is not one of up"),
    ("[input.b]\ngpio = 4\ncolour = 1\n", "[input.b]: unknown key: colour"),
    ("[input.b]\ngpio = 4\n[output.c]\ngpio = 4\n", "GPIO 4 is exposed already by [input.b]"),
    ("[input.b]\ngpio = 4\n[output.b]\ngpio = 5\n", "the name 'b' is taken by [input.b]"),
    ("[input.\"a b\"]\ngpio = 4\n", "the name may hold only letters"),
    ("[servo.s]\ngpio = 4\nmin_us = 2000\nmax_us = 1000\n", "2000 is above max_us 1000"),
    ("[broker]\nport = \"x\"\n", "[broker] port: must be an integer"),
    ("[broker]\npassword = \"p\"\n", "a password needs a username"),
    ("[board]\nprefix = \"a/#\"\n", "is not a topic prefix"),
    ("[relay.x]\ngpio = 1\n", "[top level]: unknown key: relay"),
    ("[input.b\n", "not valid TOML"),
])
def test_config_errors_name_the_problem(text, problem):
    with pytest.raises(ConfigError) as info:
        bridge_config.parse(text, "bridge.toml")
    assert problem in str(info.value)
    assert str(info.value).startswith("bridge.toml: ")


def test_the_example_config_is_valid():
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "mqtt.toml")
    cfg = bridge_config.load(path)
    assert {item.kind for item in cfg.exposed} == {"input", "output", "pwm", "servo"}


def test_cli_runs_until_sigterm_and_says_offline(server, broker, sock_path, sock_dir,
                                                 watcher):
    path = os.path.join(sock_dir, "bridge.toml")
    with open(path, "w") as f:
        f.write(CONFIG.format(port=broker.port, socket=sock_path))
    proc = spawn([sys.executable, "-m", "gpiosvr.mqtt", "--config", path,
                  "--log-level", "WARNING"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "gpiosvr-mqtt: bridging 5 GPIOs" in proc.stdout.readline()
        watcher.last(f"{PREFIX}/availability", payload="online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        watcher.last(f"{PREFIX}/availability", payload="offline")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


def test_last_will_says_offline_when_the_bridge_dies(server, broker, sock_path,
                                                     sock_dir, watcher):
    path = os.path.join(sock_dir, "bridge.toml")
    with open(path, "w") as f:
        f.write(CONFIG.format(port=broker.port, socket=sock_path))
    proc = spawn([sys.executable, "-m", "gpiosvr.mqtt", "--config", path,
                  "--log-level", "WARNING"],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert "gpiosvr-mqtt: bridging" in proc.stdout.readline()
        watcher.last(f"{PREFIX}/availability", payload="online")
        proc.kill()  # no goodbye: the broker publishes the will
        proc.wait(10)
        watcher.last(f"{PREFIX}/availability", payload="offline")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


def test_cli_refuses_a_bad_config_in_one_line(sock_dir):
    path = os.path.join(sock_dir, "bad.toml")
    with open(path, "w") as f:
        f.write("[output.x]\ngpio = 99\n")
    proc = spawn_run([sys.executable, "-m", "gpiosvr.mqtt", "--config", path],
                     capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"gpiosvr-mqtt: {path}: [output.x] gpio: 99 is "
                                   "outside 0-31")
