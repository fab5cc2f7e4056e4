"""``python -m gpiosvr.compat_path``: print the directory of the drop-in ``pigpio``
module, to put on ``PYTHONPATH``; ``--examples``: print where the examples are.

``PYTHONPATH=$(python -m gpiosvr.compat_path) python script.py`` runs an unchanged
pigpio script on gpiosvr, as ``gpiosvr-run script.py`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig

import gpiosvr.compat

#: Where the examples are installed, below the environment's data directory.
EXAMPLES_SUBDIR = os.path.join("share", "gpiosvr", "examples")


def compat_dir() -> str:
    """The directory holding the drop-in ``pigpio.py``."""
    return os.path.dirname(os.path.abspath(gpiosvr.compat.__file__))


def examples_dir() -> str | None:
    """The directory of the examples: running from a clone, the clone's
    ``examples``, else the installed copy (``share/gpiosvr/examples`` of this
    environment); None when neither exists."""
    clone = os.path.join(os.path.dirname(os.path.dirname(compat_dir())), "examples")
    installed = os.path.join(sysconfig.get_path("data"), EXAMPLES_SUBDIR)
    for candidate in (clone, installed):
        if os.path.isfile(os.path.join(candidate, "blink.py")):
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gpiosvr.compat_path``."""
    parser = argparse.ArgumentParser(
        prog="python -m gpiosvr.compat_path",
        description="Print the directory of gpiosvr's drop-in pigpio module (put it on "
                    "PYTHONPATH: an unchanged `import pigpio` then uses gpiosvr).")
    parser.add_argument("--examples", action="store_true",
                        help="print the directory of the example scripts instead")
    args = parser.parse_args(argv)
    if not args.examples:
        print(compat_dir())
        return 0
    found = examples_dir()
    if found is None:
        print("gpiosvr.compat_path: the examples are not installed in "
              f"{os.path.join(sysconfig.get_path('data'), EXAMPLES_SUBDIR)}",
              file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
