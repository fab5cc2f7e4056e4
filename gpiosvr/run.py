"""``gpiosvr-run script.py [args]``: run an unchanged pigpio script on gpiosvr.

The script's ``import pigpio`` gets :mod:`gpiosvr.pigpio` (and so does gpiozero's
pigpio pin factory). With ``--sim`` a GPIO server on a simulated chip is started for
the script's lifetime on a temporary socket (``--board FILE``: with the devices and
wires of that board file, ``docs/board.md``); otherwise the script talks to the
server at ``--socket``, ``$GPIO_SOCKET_PATH`` or the default socket.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import tempfile
from contextlib import ExitStack

from gpiosvr import config


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gpiosvr-run``."""
    parser = argparse.ArgumentParser(
        prog="gpiosvr-run",
        description="Run a pigpio script with `import pigpio` bound to gpiosvr's facade.")
    parser.add_argument("--socket", default=None,
                        help=f"server socket (default: ${config.SOCKET_ENV} or "
                             f"{config.DEFAULT_SOCKET_HELP})")
    parser.add_argument("--sim", action="store_true",
                        help="start a server on a simulated chip for the script's lifetime")
    parser.add_argument("--board", default=None, metavar="FILE",
                        help="with --sim: the simulated board's TOML file (docs/board.md)")
    parser.add_argument("script", help="the pigpio script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return parser


def install_alias() -> None:
    """Make ``import pigpio`` return :mod:`gpiosvr.pigpio` in this process."""
    import gpiosvr.pigpio as facade

    sys.modules["pigpio"] = facade


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gpiosvr-run`` and ``python -m gpiosvr.run``."""
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.script):
        print(f"gpiosvr-run: no such script: {args.script}", file=sys.stderr)
        return 2
    if args.board is not None and not args.sim:
        print("gpiosvr-run: --board needs --sim (a board is simulated)", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        if args.sim:
            from gpiosvr.server.backends.sim import SimulatedChip
            from gpiosvr.server.cli import board_lines
            from gpiosvr.server.sim.board import BoardError, load
            from gpiosvr.server.thread import ServerThread

            chip = SimulatedChip()
            if args.board is not None:
                try:
                    load(args.board).attach(chip)
                except BoardError as exc:
                    print(f"gpiosvr-run: {exc}", file=sys.stderr)
                    return 2
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gpiosvr-"))
            path = args.socket or os.path.join(tmp, "gpio.sock")
            stack.enter_context(ServerThread(path, chip))
            for line in board_lines(chip):
                print(f"gpiosvr-run: {line}", file=sys.stderr)
            os.environ[config.SOCKET_ENV] = path
        elif args.socket:
            os.environ[config.SOCKET_ENV] = args.socket
        install_alias()
        sys.argv = [args.script, *args.args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code
            if code is None or isinstance(code, int):
                return code or 0
            print(code, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
