"""``gpiosvr-mqtt --config FILE``: run the MQTT bridge until SIGTERM or SIGINT.

Prints one line, ``gpiosvr-mqtt: bridging ...``, once it runs (the broker and the
GPIO server are reached in the background, and again whenever they come back);
a configuration that cannot be used is one line on stderr and exit status 2.
``--check`` prints the topics and discovery configs the file gives, and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from gpiosvr.mqtt.config import ConfigError, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpiosvr-mqtt",
        description="Bridge a gpiosvr server's GPIOs to an MQTT broker, with Home "
                    "Assistant discovery (docs/mqtt.md).")
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="the bridge's TOML configuration (see examples/mqtt.toml)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--check", action="store_true",
                        help="print the topics and discovery configs, then exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"gpiosvr-mqtt: {exc}", file=sys.stderr)
        return 2
    try:
        from gpiosvr.mqtt import discovery
        from gpiosvr.mqtt.bridge import Bridge
    except ImportError as exc:
        print(f"gpiosvr-mqtt: {exc}: install the mqtt extra, "
              "python3 -m pip install '<the gpiosvr clone>[mqtt]'", file=sys.stderr)
        return 2
    if args.check:
        topics = discovery.Topics(config)
        for item in config.exposed:
            print(topics.discovery(item), json.dumps(discovery.config_payload(topics, item)))
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    bridge = Bridge(config).start()
    b = config.broker
    print(f"gpiosvr-mqtt: bridging {len(config.exposed)} GPIOs of "
          f"{config.socket or 'the default socket'} to {b.host}:{b.port} "
          f"under {config.prefix}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        bridge.stop()
    return 0
