"""Record or play an IR key with the ``ircodec`` package (PyPI 0.3.0), as its README's
quickstart shows: a ``CommandSet``, ``add`` (receive, then normalize) and
``save_as``; ``CommandSet.load`` and ``emit``. ircodec has no command line, so this
is its README as a script; ircodec's own modules ``import pigpio`` and call
``pigpio.pi()``.

    ircodec_keys.py record RECEIVER_GPIO FILE KEY
    ircodec_keys.py play EMITTER_GPIO FILE KEY
"""

import sys

from ircodec.command import CommandSet

mode, gpio, path, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "record":
    controller = CommandSet("remote", receiver_gpio=gpio, description="test remote")
    controller.add(key)
    controller.save_as(path)
else:
    controller = CommandSet.load(path)
    controller.set_emitter_gpio(gpio)
    print(f"key {key}", flush=True)
    controller.emit(key)
