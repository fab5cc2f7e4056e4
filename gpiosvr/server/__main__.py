"""``python -m gpiosvr.server``: the same as ``gpiosvr-server``."""

import sys

from gpiosvr.server.cli import main

sys.exit(main())
