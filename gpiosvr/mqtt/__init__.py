"""gpiosvr-mqtt: one board's GPIOs on an MQTT broker, with Home Assistant discovery.

``gpiosvr-mqtt --config FILE`` (:mod:`gpiosvr.mqtt.cli`) reads the configuration
(:mod:`gpiosvr.mqtt.config`) and runs a :class:`~gpiosvr.mqtt.bridge.Bridge`; the
topics and discovery messages are in :mod:`gpiosvr.mqtt.discovery`. Needs the
``mqtt`` extra (``python3 -m pip install '.[mqtt]'`` in the clone, for paho-mqtt). See ``docs/mqtt.md``.
"""
