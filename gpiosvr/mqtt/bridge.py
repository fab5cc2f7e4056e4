"""The bridge between one gpiosvr server and an MQTT broker.

It is a gpiosvr client like any other (:class:`~gpiosvr.blocking.BlockingClient`
over the Unix socket), so local programs share the board with it. Three threads do
the work, none of which ever waits without a bound:

* paho-mqtt's network thread: connects and reconnects to the broker by itself; on
  every connection it subscribes again and re-publishes availability, the discovery
  configs and every retained state (a broker that restarted has lost them); an
  incoming command is only queued.
* the worker thread: applies the queued commands to the board in order and
  acknowledges each QoS 1 command only once it was applied (or refused), so a
  command is never lost while the bridge runs: while gpiosvr is away the command
  waits and is retried, and the broker keeps the ones behind it. When gpiosvr comes
  back (a restart forgets modes, pulls and outputs) it sets up the board again,
  restores what the commands asked for and re-publishes the states.
* the client's callback thread: turns edges into state and edge messages.

A bad payload is answered on ``<prefix>/error`` and logged; nothing stops the bridge.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import ConnectionFailed, GpioServerError, PigpioError, ResponseTimeout
from gpiosvr.mqtt import discovery, payloads
from gpiosvr.mqtt.config import BridgeConfig, Exposed
from gpiosvr.mqtt.discovery import OFF, OFFLINE, ON, ONLINE, Topics
from gpiosvr.mqtt.payloads import PayloadError

log = logging.getLogger(__name__)

#: Commands received and not yet applied; past this, new ones are refused on the
#: error topic (the broker holds back QoS 1 ones anyway: its in-flight window).
MAX_PENDING_COMMANDS = 1000
#: Outgoing QoS 1 messages paho may hold (while the broker is slow or away); past
#: this an edge or state message is dropped and counted in ``stats["lost"]``.
MAX_QUEUED_PUBLISHES = 100_000
#: Seconds between tries while the GPIO server is unreachable.
SERVER_RETRY_SECONDS = 0.05
#: Seconds the worker waits for work before it looks at its flags again.
IDLE_SECONDS = 0.1
#: Seconds a call to the GPIO server may take (connecting, answering).
SERVER_TIMEOUT_SECONDS = 2.0

_EITHER_EDGE = 2
_WATCHDOG_LEVEL = 2
_PULL_LETTERS = {"up": "u", "down": "d", "off": "o"}
_SERVER_DOWN = (ConnectionFailed, ResponseTimeout)


class _Stopping(Exception):
    """The bridge is stopping: the work in hand is dropped (and not acknowledged)."""


class Bridge:
    """Bridges the GPIOs of ``config`` to the broker of ``config`` (see the module doc).

    ``start()`` returns at once: the broker and the GPIO server are reached (and
    reached again) in the background. ``stop()`` says offline and ends everything.
    """

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.topics = Topics(config)
        self.stats = {"commands": 0, "errors": 0, "edges": 0, "lost": 0,
                      "broker_connections": 0, "broker_syncs": 0, "server_setups": 0}
        self._commands = self.topics.commands()
        self._work: queue.Queue[tuple[Exposed, str, mqtt.MQTTMessage]] = \
            queue.Queue(MAX_PENDING_COMMANDS)
        self._stopping = threading.Event()
        self._resync = threading.Event()  # the GPIO server (re)connected
        self._lock = threading.Lock()
        # what the broker has still to acknowledge of this connection's subscription
        # and re-publishing (message ids); None when not connected or all acknowledged
        self._syncing: set[int] | None = None
        self._retained: dict[str, str] = {}  # topic -> payload, re-published per connection
        self._desired: dict[str, int] = {}  # name -> level / duty / pulse width asked for
        self._brightness: dict[str, int] = {}  # PWM name -> last duty above 0
        self._available = False
        self._callbacks_made = False
        self.broker_connected = threading.Event()
        self.board_ready = threading.Event()
        self._gpio = BlockingClient(config.socket, name="gpiosvr-mqtt",
                                    connect_timeout=SERVER_TIMEOUT_SECONDS,
                                    response_timeout=SERVER_TIMEOUT_SECONDS)
        self._mqtt = self._make_mqtt()
        self._worker = threading.Thread(target=self._run, name="gpiosvr-mqtt-worker",
                                        daemon=True)

    # -- life cycle ----------------------------------------------------------------

    def _make_mqtt(self) -> mqtt.Client:
        b = self.config.broker
        client_id = b.client_id or f"gpiosvr-mqtt-{self.config.node_id}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=not b.persistent_session,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        client.enable_logger(logging.getLogger("gpiosvr.mqtt.paho"))
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set(ca_certs=b.ca_certs, certfile=b.certfile, keyfile=b.keyfile)
        client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(b.reconnect_min_s, b.reconnect_max_s)
        client.max_queued_messages_set(MAX_QUEUED_PUBLISHES)
        # No in-flight window: with one, paho scans its whole queue at every
        # acknowledgement, so a burst of n edges would cost n squared.
        client.max_inflight_messages_set(0)
        client.on_connect = self._broker_connected
        client.on_disconnect = self._broker_disconnected
        client.on_message = self._message
        client.on_subscribe = lambda c, u, mid, *rest: self._acknowledged(mid)
        client.on_publish = lambda c, u, mid, *rest: self._acknowledged(mid)
        return client

    def start(self) -> "Bridge":
        """Start the threads; connections are made (and made again) in the background."""
        self._gpio.on_connect(self._server_connected)
        self._worker.start()
        b = self.config.broker
        self._mqtt.connect_async(b.host, b.port, b.keepalive)
        self._mqtt.loop_start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Publish offline, disconnect and end the threads, within about ``timeout``."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._worker.join(timeout)
        if self.broker_connected.is_set():
            info = self._mqtt.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass  # not sent: the will says offline for us
        self._mqtt.disconnect()
        self._mqtt.loop_stop()
        self._gpio.close()

    def __enter__(self) -> "Bridge":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the broker side (paho's thread) ---------------------------------------------

    def _broker_connected(self, client: mqtt.Client, userdata: Any, flags: Any,
                          reason: Any, properties: Any = None) -> None:
        if reason.is_failure:
            log.warning("the broker at %s:%d refused the connection: %s",
                        self.config.broker.host, self.config.broker.port, reason)
            return
        self.stats["broker_connections"] += 1
        sock = client.socket()
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # paho leaves Nagle on: an acknowledgement and the state message right
            # behind it would wait for the broker's delayed ACK (40 ms a command).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("connected to the broker at %s:%d", self.config.broker.host,
                 self.config.broker.port)
        qos = self.config.broker.qos
        subscriptions = [(topic, qos) for topic in self._commands]
        subscriptions.append((self.topics.ha_status, 0))
        # the broker's acknowledgements come on this thread, once this returns
        pending = {client.subscribe(subscriptions)[1], *self._publish_all()}
        with self._lock:
            self._syncing = pending
        self.broker_connected.set()

    def _broker_disconnected(self, client: mqtt.Client, userdata: Any, flags: Any,
                             reason: Any, properties: Any = None) -> None:
        self.broker_connected.clear()
        with self._lock:
            self._syncing = None
        if not self._stopping.is_set():
            log.warning("lost the broker at %s:%d (%s); reconnecting",
                        self.config.broker.host, self.config.broker.port, reason)

    def _acknowledged(self, mid: int) -> None:
        """The broker acknowledged message ``mid`` (paho's thread): once it has all
        of a connection's subscription and re-publishing, it holds the bridge's
        subscriptions and retained state again (``stats["broker_syncs"]``)."""
        if self._syncing is None:  # the everyday case: no lock for every edge's ack
            return
        with self._lock:
            syncing = self._syncing
            if syncing is None or mid not in syncing:
                return
            syncing.discard(mid)
            if not syncing:
                self._syncing = None
                self.stats["broker_syncs"] += 1

    def _publish_all(self) -> list[int]:
        """Availability, discovery and every retained state, as on a new broker;
        returns the message ids of those paho took."""
        mids = [self._mqtt.publish(self.topics.availability,
                                   ONLINE if self._available else OFFLINE,
                                   qos=1, retain=True).mid]
        if self.config.discovery:
            mids += self._publish_discovery()
        with self._lock:
            retained = list(self._retained.items())
        for topic, payload in retained:
            mids.append(self._send(topic, payload, retain=True))
        return [mid for mid in mids if mid]

    def _publish_discovery(self) -> list[int]:
        return [self._send(self.topics.discovery(item),
                           json.dumps(discovery.config_payload(self.topics, item)), retain=True)
                for item in self.config.exposed]

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.ha_status:
            if msg.payload == ONLINE.encode():  # Home Assistant restarted
                self._publish_all()
            client.ack(msg.mid, msg.qos)
            return
        target = self._commands.get(msg.topic)
        if target is None:
            client.ack(msg.mid, msg.qos)
            return
        if msg.retain:
            self._refuse(msg, "retained commands are ignored (a command is an event: "
                              "publish it without the retain flag)")
            return
        try:
            self._work.put_nowait((target[0], target[1], msg))
        except queue.Full:
            self._refuse(msg, f"{MAX_PENDING_COMMANDS} commands are waiting already "
                              "(MAX_PENDING_COMMANDS); try again later")

    def _refuse(self, msg: mqtt.MQTTMessage, problem: str) -> None:
        """Answer a command that is not applied on the error topic, log it, ack it."""
        self.stats["errors"] += 1
        log.warning("command on %s refused: %s (payload %s)", msg.topic, problem,
                    payloads.quote(msg.payload))
        body = {"topic": msg.topic, "payload": msg.payload.decode("utf-8", "replace")
                [:payloads.QUOTE_CHARS], "error": problem}
        self._send(self.topics.error, json.dumps(body), retain=False)
        self._mqtt.ack(msg.mid, msg.qos)

    def _send(self, topic: str, payload: str, retain: bool) -> int:
        """Publish at the configured QoS; its message id, or 0 (and counted) when
        paho's queue is full."""
        info = self._mqtt.publish(topic, payload, qos=self.config.broker.qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.stats["lost"] += 1
            if self.stats["lost"] == 1 or self.stats["lost"] % 1000 == 0:
                log.warning("%d messages dropped so far: the broker does not keep up "
                            "(MAX_QUEUED_PUBLISHES)", self.stats["lost"])
            return 0
        return info.mid

    def _retain(self, topic: str, payload: str) -> None:
        """Publish a retained state if it changed, and keep it for re-publishing."""
        with self._lock:
            if self._retained.get(topic) == payload:
                return
            self._retained[topic] = payload
        self._send(topic, payload, retain=True)

    def _set_available(self, available: bool) -> None:
        if available != self._available:
            self._available = available
            self._mqtt.publish(self.topics.availability, ONLINE if available else OFFLINE,
                               qos=1, retain=True)

    # -- the GPIO server side (the worker thread) --------------------------------------

    async def _server_connected(self) -> None:
        """On the client's loop after every (re)connection: only raise a flag."""
        self._resync.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self._callbacks_made:
                    self._on_server(self._make_callbacks)
                    self._callbacks_made = True
                if self._resync.is_set():
                    self._resync.clear()
                    self._on_server(self._set_up_board)
                try:
                    item, what, msg = self._work.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    self._watch_server()
                    continue
                self._handle(item, what, msg)
            except _Stopping:
                return
            except Exception:  # a bug of ours must not end the bridge
                log.exception("the bridge's worker failed; going on")
                self._stopping.wait(IDLE_SECONDS)

    def _watch_server(self) -> None:
        """While idle: notice a lost GPIO server (its callback connection is gone)
        and say offline; its return raises the resync flag."""
        if self._available and not self._gpio.call_async(_is_connected):
            log.warning("lost the GPIO server at %s; waiting for it", self._gpio.socket_path)
            self._set_available(False)
            self.board_ready.clear()

    def _on_server(self, func: Callable[[], Any]) -> Any:
        """``func()``, tried again while the GPIO server is unreachable; after an
        outage the board is set up again before ``func`` runs (it may be a new server)."""
        failed = False
        while True:
            if self._stopping.is_set():
                raise _Stopping
            try:
                if failed and func is not self._set_up_board:
                    self._set_up_board()
                return func()
            except _SERVER_DOWN as exc:
                if not failed:
                    log.warning("the GPIO server is unreachable (%s); waiting for it, "
                                "commands wait too", exc)
                    self._set_available(False)
                    self.board_ready.clear()
                failed = True
                self._stopping.wait(SERVER_RETRY_SECONDS)

    def _make_callbacks(self) -> None:
        """Edge callbacks and glitch filters: made once, the client restores them."""
        gpio = self._gpio
        for item in self.config.exposed:
            if item.kind == "input" and item.glitch_us:
                gpio.call_async(lambda c, g=item.gpio, us=item.glitch_us:
                                c.set_glitch_filter(g, us))
            if item.kind in ("input", "output"):
                gpio.callback(item.gpio, _EITHER_EDGE,
                              lambda g, level, tick, item=item: self._edge(item, level, tick))

    def _set_up_board(self) -> None:
        """What a (new) server does not know: modes, pulls, PWM settings, and the
        outputs as the commands left them; then every state, read and published."""
        cmd = self._gpio.command
        for item in self.config.exposed:
            if item.kind == "input":
                cmd("m", item.gpio, "r")
                if item.pull is not None:
                    cmd("pud", item.gpio, _PULL_LETTERS[item.pull])
            elif item.kind == "output":
                wanted = self._desired.get(item.name)
                if wanted is None and item.initial is not None:
                    wanted = self._desired[item.name] = int(item.initial)
                if wanted is not None:
                    cmd("w", item.gpio, wanted ^ item.active_low)
            elif item.kind == "pwm":
                cmd("prs", item.gpio, item.range)
                if item.frequency is not None:
                    cmd("pfs", item.gpio, item.frequency)
                if item.name in self._desired:
                    cmd("p", item.gpio, self._desired[item.name])
            elif item.name in self._desired:
                cmd("s", item.gpio, self._desired[item.name])
        for item in self.config.exposed:
            self._publish_read_state(item)
        self.stats["server_setups"] += 1
        self._set_available(True)
        self.board_ready.set()

    def _publish_read_state(self, item: Exposed) -> None:
        if item.kind in ("input", "output"):
            if item.reports_state:
                level = self._gpio.command("r", item.gpio)
                self._retain(self.topics.state(item), _on_off(level ^ item.active_low))
        elif item.kind == "pwm":
            duty = self._desired.get(item.name)
            if duty is None:
                duty = _unless_not(self._gpio.command, "gdc", item.gpio)
            self._publish_pwm(item, duty)
        else:
            width = self._desired.get(item.name)
            if width is None:
                width = _unless_not(self._gpio.command, "gpw", item.gpio)
            self._retain(self.topics.state(item), str(width))

    def _publish_pwm(self, item: Exposed, duty: int) -> None:
        if duty > 0:
            self._brightness[item.name] = duty
        self._retain(self.topics.state(item), _on_off(duty > 0))
        self._retain(self.topics.brightness(item), str(self._brightness.get(item.name, 0)))

    def _handle(self, item: Exposed, what: str, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_server(lambda: self._apply(item, what, msg.payload))
        except (PayloadError, PigpioError) as exc:
            self._refuse(msg, str(exc))
            return
        except GpioServerError as exc:
            self._refuse(msg, f"the GPIO server refused it: {exc}")
            return
        self.stats["commands"] += 1
        self._mqtt.ack(msg.mid, msg.qos)

    def _apply(self, item: Exposed, what: str, raw: bytes) -> None:
        """Carry out one command on the board and publish the state it leaves."""
        cmd = self._gpio.command
        if item.kind == "output":
            on = int(payloads.switch(raw))
            cmd("w", item.gpio, on ^ item.active_low)
            self._desired[item.name] = on
            self._retain(self.topics.state(item), _on_off(on))
        elif item.kind == "pwm":
            if what == "brightness":
                duty = payloads.number(raw, 0, item.range, "brightness")
            elif payloads.switch(raw):
                current = self._desired.get(item.name, 0)
                duty = current or self._brightness.get(item.name, item.range)
            else:
                duty = 0
            cmd("p", item.gpio, duty)
            self._desired[item.name] = duty
            self._publish_pwm(item, duty)
        else:
            if payloads.text(raw).lower() == "off":
                width = 0
            else:
                width = payloads.number(raw, item.min_us, item.max_us, "pulse width in µs",
                                        also=(0,))
            cmd("s", item.gpio, width)
            self._desired[item.name] = width
            self._retain(self.topics.state(item), str(width))

    # -- edges (the client's callback thread) -------------------------------------------

    def _edge(self, item: Exposed, level: int, tick: int) -> None:
        if level == _WATCHDOG_LEVEL:
            return
        self.stats["edges"] += 1
        if item.reports_edges:
            self._send(self.topics.edge(item),
                       json.dumps({"level": level ^ item.active_low, "tick": tick}),
                       retain=False)
        if item.reports_state:
            self._retain(self.topics.state(item), _on_off(level ^ item.active_low))


async def _is_connected(client: Any) -> bool:
    return client.is_connected


def _on_off(on: int | bool) -> str:
    return ON if on else OFF


def _unless_not(cmd: Callable[..., int], name: str, gpio: int) -> int:
    """A PWM duty or pulse width; 0 when the GPIO is not pulsing (pigpio's
    PI_NOT_PWM_GPIO / PI_NOT_SERVO_GPIO)."""
    try:
        return cmd(name, gpio)
    except PigpioError:
        return 0
