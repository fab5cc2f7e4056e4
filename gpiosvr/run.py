"""``gpiosvr-run script.py [args]``: run an unchanged pigpio script on gpiosvr.

The script's ``import pigpio`` gets :mod:`gpiosvr.pigpio` (and so does gpiozero's
pigpio pin factory). With ``--sim`` a GPIO server on a simulated chip is started for
the script on a temporary socket (``--board FILE``: with the devices and wires of
that board file, ``docs/board.md``) and stopped at exit, after the exit handlers the
script registered (gpiozero closes its pins in one); otherwise the script talks to
the server at ``--socket``, ``$GPIO_SOCKET_PATH`` or the default socket.

An exception the script does not catch is printed as Python would print it for the
script alone: the script's own frames, not gpiosvr's (for a ``pigpio.error``, not the
gpiosvr error it was made from either), then the exit status is 1 (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import atexit
import os
import runpy
import shutil
import sys
import tempfile
import traceback
from typing import TYPE_CHECKING

from gpiosvr import config

if TYPE_CHECKING:
    from gpiosvr.server.backends import Backend

#: gpiosvr's own source directory: frames from it are left out of a pigpio.error's
#: traceback, as pigpio's own frames are the only ones a pigpio user would see.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class _PrintCompatPath(argparse.Action):
    """``--compat-path``: print it and exit, needing no script (as ``--help``)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from gpiosvr.compat_path import compat_dir

        print(compat_dir())
        parser.exit()


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
    parser.add_argument("--compat-path", action=_PrintCompatPath,
                        help="print the directory of the drop-in pigpio module (for "
                             "PYTHONPATH, as python -m gpiosvr.compat_path) and exit")
    parser.add_argument("script", help="the pigpio script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return parser


def install_alias() -> None:
    """Make ``import pigpio`` return :mod:`gpiosvr.pigpio` in this process."""
    import gpiosvr.pigpio as facade

    sys.modules["pigpio"] = facade


def start_simulator(socket_path: str | None, chip: Backend | None = None) -> str:
    """Start a server on ``chip`` (default: a bare simulated chip) on ``socket_path``
    (default: a temporary one) until this process exits; its socket path. Raises
    ``ServerStartError``."""
    from gpiosvr.server.thread import ServerThread

    tmp = tempfile.mkdtemp(prefix="gpiosvr-")
    try:
        server = ServerThread(socket_path or os.path.join(tmp, "gpio.sock"), chip).start()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    def stop() -> None:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    # Registered before the script runs, so it runs after every exit handler the
    # script registers (atexit is last in, first out): those still find the server.
    atexit.register(stop)
    return server.socket_path


def script_traceback(exc: BaseException, script: str) -> str:
    """``exc`` as Python prints an uncaught exception of ``script`` run directly:
    from the script's first frame on; a ``pigpio.error`` without gpiosvr's frames and
    without the gpiosvr error it was made from."""
    tb = exc.__traceback__
    path = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    facade = sys.modules.get("gpiosvr.pigpio")
    if facade is None or not isinstance(exc, facade.error):
        return "".join(traceback.format_exception(type(exc), exc, tb))
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(PACKAGE_DIR)]
    head = "Traceback (most recent call last):\n" if frames else ""
    return f"{head}{''.join(traceback.format_list(frames))}pigpio.error: {exc}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gpiosvr-run`` and ``python -m gpiosvr.run``."""
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.script):
        print(f"gpiosvr-run: no such script: {args.script}", file=sys.stderr)
        return 2
    if args.board is not None and not args.sim:
        print("gpiosvr-run: --board needs --sim (a board is simulated)", file=sys.stderr)
        return 2
    if args.sim:
        from gpiosvr.server.app import ServerStartError
        from gpiosvr.server.backends.sim import SimulatedChip
        from gpiosvr.server.cli import board_lines
        from gpiosvr.server.sim.board import BoardError, load

        chip = SimulatedChip()
        if args.board is not None:
            try:
                load(args.board).attach(chip)
            except BoardError as exc:
                print(f"gpiosvr-run: {exc}", file=sys.stderr)
                return 2
        try:
            path = start_simulator(args.socket, chip)
        except ServerStartError as exc:
            print(f"gpiosvr-run: {exc}", file=sys.stderr)
            return 1
        os.environ[config.SOCKET_ENV] = path
        print(f"gpiosvr-run: {args.script} runs on a simulated chip (GPIOs 0-53), "
              f"served on {path} until it ends", file=sys.stderr, flush=True)
        for line in board_lines(chip):
            print(f"gpiosvr-run: {line}", file=sys.stderr)
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
    except (Exception, KeyboardInterrupt) as exc:
        sys.stdout.flush()
        print(script_traceback(exc, args.script), end="", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
