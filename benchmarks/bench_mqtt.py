"""The MQTT bridge through a real mosquitto: edges/s and command round trips.

``python3 benchmarks/bench_mqtt.py [--edges N] [--commands N]`` starts mosquitto
(Debian's, ``tools/install_peers.py``) on a free loopback port, a gpiosvr server on
the simulated chip and the bridge, then prints, side by side for QoS 0 and QoS 1:

* edges/s: a burst of N simulated edges, from ``siminject`` to the last edge
  message a subscriber receives (all in order is checked);
* command round trip: a subscriber publishes ``ON``/``OFF`` to ``.../led/set`` and
  waits for the bridge's new state message: median and 99th percentile.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from common import spawn, temporary_directory

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from gpiosvr.mqtt import config as bridge_config  # noqa: E402
from gpiosvr.mqtt.bridge import Bridge  # noqa: E402
from gpiosvr.simulator import Simulator  # noqa: E402

CONFIG = """
[broker]
host = "127.0.0.1"
port = {port}
qos = {qos}
client_id = "bench-bridge-{qos}"
[board]
node_id = "bench"
socket = "{socket}"
[homeassistant]
discovery = false
[input.button]
gpio = 4
report = "edges"
[output.led]
gpio = 17
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"mosquitto did not start on port {port}")
            time.sleep(0.02)


class Subscriber:
    def __init__(self, port: int) -> None:
        self.edges: list[dict] = []
        self.states: list[str] = []
        self.cond = threading.Condition()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not ready.wait(10):
            raise SystemExit("no subscription")

    def _connected(self, client, *args) -> None:
        # paho leaves Nagle on: an acknowledgement and a command right behind it
        # would wait for the broker's delayed ACK (40 ms)
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe([("gpiosvr/bench/button/edge", 1), ("gpiosvr/bench/led/state", 1)])

    def _message(self, client, userdata, msg) -> None:
        with self.cond:
            if msg.topic.endswith("/edge"):
                self.edges.append(json.loads(msg.payload))
            else:
                self.states.append(msg.payload.decode())
            self.cond.notify_all()

    def wait(self, pred, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run(qos: int, port: int, sock: str, edges: int, commands: int) -> dict:
    cfg = bridge_config.parse(CONFIG.format(port=port, qos=qos, socket=sock))
    bridge = Bridge(cfg).start()
    sub = Subscriber(port)
    try:
        if not (bridge.board_ready.wait(10) and bridge.broker_connected.wait(10)):
            raise SystemExit("the bridge did not come up")
        with Simulator(sock) as sim:
            start = time.perf_counter()
            first = sim.inject(4, edges, 100)
            complete = sub.wait(lambda: len(sub.edges) >= edges)
            took = time.perf_counter() - start
        got = sub.edges[:edges]
        in_order = [e["tick"] for e in got] == [(first + 100 * i) & 0xFFFFFFFF
                                                for i in range(len(got))]
        rtts = []
        for i in range(commands):
            want = "ON" if i % 2 == 0 else "OFF"
            count = len(sub.states)
            t0 = time.perf_counter()
            sub.client.publish("gpiosvr/bench/led/set", want, qos=qos)
            if not sub.wait(lambda: len(sub.states) > count and sub.states[-1] == want, 10):
                raise SystemExit(f"no state {want} after command {i}")
            rtts.append(time.perf_counter() - t0)
        rtts.sort()
        return {"edges/s": len(got) / took, "received": len(got), "complete": complete,
                "in order": in_order, "lost (counted)": bridge.stats["lost"],
                "rtt median ms": statistics.median(rtts) * 1000,
                "rtt p99 ms": rtts[int(len(rtts) * 0.99) - 1] * 1000}
    finally:
        sub.close()
        bridge.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=5000)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    binary = shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if binary is None:
        raise SystemExit("mosquitto is not installed: python3 tools/install_peers.py")
    tmp = temporary_directory("bench-mqtt-")
    port = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        # As docs/mqtt.md advises for bursts at QoS 1: no Nagle, and room on the
        # broker for what a subscriber has not taken yet (1,000 by default).
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                f"user {pwd.getpwuid(os.getuid()).pw_name}\nset_tcp_nodelay true\n"
                "max_queued_messages 100000\n")
    broker = spawn([binary, "-c", conf], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    sock = os.path.join(tmp, "gpio.sock")
    server = spawn([sys.executable, "-m", "gpiosvr.server", "--socket", sock,
                    "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    try:
        wait_port(port, broker)
        if "serving" not in server.stdout.readline():
            raise SystemExit("the gpiosvr server did not start")
        results = {qos: run(qos, port, sock, args.edges, args.commands) for qos in (0, 1)}
    finally:
        for proc in (server, broker):
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"MQTT bridge through mosquitto on loopback: {args.edges} edges (100 µs apart), "
          f"{args.commands} commands")
    print(f"{'':18}{'QoS 0':>14}{'QoS 1':>14}")
    for key in results[0]:
        cells = []
        for qos in (0, 1):
            value = results[qos][key]
            cells.append(f"{value:14.1f}" if isinstance(value, float) else f"{str(value):>14}")
        print(f"{key:18}{''.join(cells)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
