"""``python -m gpiosvr.mqtt``: the same as ``gpiosvr-mqtt``."""

import sys

from gpiosvr.mqtt.cli import main

sys.exit(main())
