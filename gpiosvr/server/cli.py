"""``gpiosvr-server``: run a GPIO server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from gpiosvr import config
from gpiosvr.server.app import GpioServer, ServerStartError
from gpiosvr.server.backends import NAMES, create
from gpiosvr.server.backends.sim import DEFAULT_HARDWARE_REVISION
from gpiosvr.server.frontends.pigpiod import DEFAULT_LISTEN, PigpiodFrontend, parse_allow
from gpiosvr.server.permits import parse_mask
from gpiosvr.server.sdnotify import SystemdNotifier


def _permit_mask(text: str) -> int:
    try:
        return parse_mask(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _hardware_revision(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give a hardware revision such as 0xa02082 "
            f"(hex with 0x, or decimal)") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a 32-bit hardware revision")
    return value


def _allow_list(text: str) -> list:
    try:
        return parse_allow(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gpiosvr-server``."""
    parser = argparse.ArgumentParser(
        prog="gpiosvr-server",
        description="Serve the GPIOs of this machine (or a simulated chip) on a Unix "
                    "socket. SIGTERM or SIGINT stop it gracefully: running scripts stop, "
                    "clients get a '*bye' notification, the socket file is removed.",
    )
    parser.add_argument(
        "--socket", default=None,
        help=f"socket path (default: ${config.SOCKET_ENV}, else "
             f"{config.SERVICE_SOCKET_PATH} when run as root, its directory made if "
             f"missing, else $XDG_RUNTIME_DIR/{config.USER_SOCKET_NAME}); its directory "
             f"must exist and, if every user may write it, have the sticky bit. "
             f"<socket>.lock is held while the server runs: one server per socket")
    parser.add_argument("--backend", choices=NAMES, default="sim",
                        help="GPIO backend: sim, a simulated chip (the default); pigpiod, "
                             "relay to a pigpio daemon (Raspberry Pi up to 4B); gpiod, "
                             "the Linux GPIO character device (Pi 5, any board)")
    parser.add_argument("--hwrev", type=_hardware_revision, default=DEFAULT_HARDWARE_REVISION,
                        help="sim, gpiod: the hardware revision reported to clients "
                             f"(default: {DEFAULT_HARDWARE_REVISION:#x})")
    parser.add_argument("--board", default=None, metavar="FILE",
                        help="sim: the simulated board's TOML file: the devices on its "
                             "I2C and SPI buses and serial ports, and jumper wires "
                             "(docs/board.md); default: a bare Raspberry Pi")
    parser.add_argument("--pihost", default="localhost",
                        help="pigpiod: host the pigpio daemon runs on (default: localhost)")
    parser.add_argument("--piport", type=int, default=8888,
                        help="pigpiod: the daemon's TCP port (default: 8888)")
    parser.add_argument("--piretry", type=float, default=1.0, metavar="SECONDS",
                        help="pigpiod: seconds between attempts to reach the daemon "
                             "while it is unreachable (default: 1)")
    gpiod = parser.add_argument_group("gpiod backend (Linux GPIO character device)")
    gpiod.add_argument("--chip", default=None,
                       help="GPIO chip: /dev/gpiochipN, gpiochipN or N (default: "
                            "/dev/gpiochip0); GPIO N is its line offset N")
    gpiod.add_argument("--chip-label", default=None, metavar="LABEL",
                       help="the chip with this label, e.g. pinctrl-rp1 on a Pi 5")
    parser.add_argument("--group", default=None,
                        help="group that owns the socket (mode 0660); default: yours")
    parser.add_argument("--admin-group", default=None, metavar="GROUP",
                        help="members of GROUP may stop, delete or change every "
                             "client's scripts, watchdogs, filters and handles (root "
                             "and the server's own user always may; others only "
                             "their own)")
    parser.add_argument("--permit", type=_permit_mask, default=None, metavar="MASK",
                        help="the GPIOs clients may change, as pigpiod -x MASK: bit n "
                             "is GPIO n (e.g. 0x0FFFFFFC: GPIO 2-27), -1 or 'all' for "
                             "every one; writes to others answer PI_NOT_PERMITTED. "
                             "Default: pigpio's user GPIOs of the board, from its "
                             "hardware revision (GPIO 2-27 for a board pigpio does not "
                             "know: give --permit on other boards). Any GPIO may be read")
    parser.add_argument("--file-access", default="/opt/pigpio/access", metavar="PATH",
                        help="pigpio's permits file for file_open and file_list: lines of "
                             "'PATTERN r|w|u|n'; without it no file may be opened "
                             "(default: pigpio's %(default)s; 'none': files off)")
    parser.add_argument("--shell-dir", default=None, metavar="DIR",
                        help="the programs pigpio's shell() may run (pigpio: "
                             "/opt/pigpio/cgi); without it shell() is refused")
    pigpiod = parser.add_argument_group(
        "pigpiod front end (pigpiod's own socket protocol, for every pigpio client)",
        "pigpio's protocol has NO AUTHENTICATION: whoever reaches the port drives the "
        "GPIOs. It is off unless --pigpiod-port is given and listens on loopback "
        "(127.0.0.1) unless --pigpiod-listen says otherwise, so every user of this "
        "machine can reach it. To drive a remote board, keep the default and tunnel: "
        "ssh -N -L 8888:127.0.0.1:8888 pi@board, then point the client at "
        "localhost:8888. See docs/pigpiod-protocol.md.")
    pigpiod.add_argument("--pigpiod-port", type=int, default=None, metavar="PORT",
                         help="serve pigpiod's protocol on TCP port PORT (pigpiod's "
                              "default is 8888; 0: any free port)")
    pigpiod.add_argument("--pigpiod-listen", default=DEFAULT_LISTEN, metavar="ADDR",
                         help="address to listen on (default: 127.0.0.1; 0.0.0.0 or :: "
                              "for every interface, which lets the network in)")
    pigpiod.add_argument("--pigpiod-allow", type=_allow_list, default=None,
                         metavar="PEERS",
                         help="as pigpiod -n: only these peers may connect, a "
                              "comma-separated list of addresses, networks "
                              "(192.168.1.0/24) or host names; others are closed at once")
    pigpiod.add_argument("--pigpiod-uid", type=int, default=None, metavar="UID",
                         help="the uid TCP sessions act as, for what they make and may "
                              "touch (TCP has no peer credentials; default: none, so "
                              "they touch only what TCP sessions made)")
    parser.add_argument("--loop", choices=["auto", "uvloop", "asyncio"], default="auto",
                        help="event loop: uvloop when installed (auto, the default) "
                             "roughly doubles requests per second")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="least important messages to log (default: INFO: one line "
                             "per client connect, handshake and disconnect)")
    parser.add_argument("--log-requests", action="store_true",
                        help="log every request and response (sets --log-level DEBUG)")
    return parser


def backend_options(args: argparse.Namespace) -> dict:
    """The options of the chosen backend, from the command line."""
    if args.backend == "pigpiod":
        return {"host": args.pihost, "port": args.piport, "retry_interval": args.piretry}
    if args.backend == "gpiod":
        return {"chip": args.chip, "chip_label": args.chip_label,
                "hardware_revision": args.hwrev}
    return {"hardware_revision": args.hwrev}


async def serve(args: argparse.Namespace) -> None:
    """Run the server described by ``args`` until SIGINT or SIGTERM, telling systemd
    (``$NOTIFY_SOCKET``) when it is ready, alive and stopping."""
    if args.board is not None and args.backend != "sim":
        raise SystemExit(f"gpiosvr-server: --board is for the sim backend, not {args.backend}")
    try:
        backend = create(args.backend, **backend_options(args))
    except (ValueError, RuntimeError) as exc:  # no daemon package, no such chip: say so
        raise SystemExit(f"gpiosvr-server: {exc}") from None
    if args.board is not None:
        from gpiosvr.server.sim.board import BoardError, load

        try:
            load(args.board).attach(backend)
        except BoardError as exc:
            raise SystemExit(f"gpiosvr-server: {exc}") from None
    server = GpioServer(args.socket, backend, group=args.group,
                        log_requests=args.log_requests, admin_group=args.admin_group,
                        permit=args.permit)
    server.file_access = None if args.file_access == "none" else args.file_access
    server.shell_dir = args.shell_dir
    if args.pigpiod_port is not None:
        server.frontends.append(PigpiodFrontend(
            server, args.pigpiod_port, args.pigpiod_listen, args.pigpiod_allow,
            args.pigpiod_uid))
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop_name = type(loop).__module__.split(".")[0]
    print(f"gpiosvr: serving {backend.name} on {server.socket_path} ({loop_name} loop)",
          flush=True)
    for line in board_lines(backend):
        print(f"gpiosvr: {line}", flush=True)
    for frontend in server.frontends:
        print(f"gpiosvr: pigpiod protocol on {frontend.listen} port {frontend.port}",
              flush=True)
    systemd = SystemdNotifier()
    systemd.ready()
    try:
        await stop.wait()
    finally:
        systemd.stopping()
        try:
            await server.close()
        finally:
            systemd.close()


def board_lines(backend) -> list[str]:
    """What to tell a person about the simulated board: the far end of each serial
    port that is a pty (nothing for other backends)."""
    if backend.name != "sim" or backend.bus_provider is None:
        return []
    return [f"serial port {' '.join(port.names)}: far end {port.pty_path}"
            for port in backend.bus_provider.serial if port.pty_path]


def run(coro, loop: str = "auto") -> None:
    """Run ``coro`` on uvloop (if ``loop`` allows and it is installed) or asyncio."""
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise SystemExit("gpiosvr-server: --loop uvloop, but uvloop is not installed")
        else:
            uvloop.run(coro)
            return
    asyncio.run(coro)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gpiosvr-server`` and ``python -m gpiosvr.server``."""
    args = build_parser().parse_args(argv)
    if args.log_requests:
        args.log_level = "DEBUG"
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        run(serve(args), args.loop)
    except (ServerStartError, config.NoSocketPath) as exc:
        print(f"gpiosvr-server: {exc}", file=sys.stderr)
        return 1
    return 0
