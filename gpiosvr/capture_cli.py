"""``gpiosvr-capture --gpios 17,18 --seconds 2 -o out.vcd``: capture edges from the
shell (see :mod:`gpiosvr.capture`), with a progress line on stderr while it runs,
then the summary table on stdout.

``-o`` streams the edges to a VCD file as they come (GTKWave, PulseView,
``sigrok-cli -i out.vcd``); ``--plot`` saves a timing diagram (PNG, SVG, PDF).
"""

from __future__ import annotations

import argparse
import sys

from gpiosvr import config
from gpiosvr.capture import MAX_EDGES, Capture, CaptureError
from gpiosvr.errors import GpioServerError


def gpio_list(text: str) -> list[int]:
    """``17,18`` -> [17, 18]."""
    try:
        gpios = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of GPIO numbers: {text!r} "
                                         "(e.g. 17,18)") from None
    if not gpios:
        raise argparse.ArgumentTypeError("name at least one GPIO")
    return gpios


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gpiosvr-capture``."""
    parser = argparse.ArgumentParser(
        prog="gpiosvr-capture",
        description="Capture the edges of some GPIOs from a gpiosvr server: a VCD "
                    "file, a timing diagram, a summary (edges, frequency, duty).")
    parser.add_argument("--gpios", type=gpio_list, required=True,
                        help="GPIOs 0-31 to capture, comma-separated (e.g. 17,18)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="how long to capture (default: until --edges, or Ctrl-C)")
    parser.add_argument("--edges", type=int, default=None,
                        help="stop after this many edges")
    parser.add_argument("-o", "--output", default=None,
                        help="VCD file the edges stream to")
    parser.add_argument("--plot", default=None, help="save a timing diagram here")
    parser.add_argument("--max-edges", type=int, default=MAX_EDGES,
                        help=f"edges kept in memory without -o (default {MAX_EDGES})")
    parser.add_argument("--socket", default=None,
                        help=f"server socket (default: ${config.SOCKET_ENV} or "
                             f"{config.DEFAULT_SOCKET_HELP})")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.plot and args.output:
        print("gpiosvr-capture: --plot needs the edges in memory: use it without -o "
              "(or plot the VCD later with gpiosvr.capture.read_vcd)", file=sys.stderr)
        return 2
    cap = Capture(args.gpios, socket_path=args.socket, max_edges=args.max_edges,
                  path=args.output)
    show = not args.quiet

    def progress(seconds: float, edges: int) -> None:
        total = f" / {args.seconds:.1f}" if args.seconds is not None else ""
        sys.stderr.write(f"\rcapturing GPIO {','.join(map(str, args.gpios))}: "
                         f"{seconds:.1f}{total} s, {edges} edges ")
        sys.stderr.flush()

    try:
        forever = args.seconds is None and not args.edges  # until Ctrl-C
        cap.run(seconds=float("inf") if forever else args.seconds,
                edges=args.edges or None, progress=progress if show else None)
    except KeyboardInterrupt:
        pass  # run() stopped the capture on its way out
    except (GpioServerError, CaptureError, OSError) as exc:
        if show:
            sys.stderr.write("\n")
        print(f"gpiosvr-capture: {exc}", file=sys.stderr)
        return 1
    if show:
        sys.stderr.write(f"\rcaptured {cap.edges} edges in {cap.duration / 1e6:.3f} s, "
                         f"{cap.lost} lost, {cap.dropped} not kept"
                         + (f", written to {args.output}" if args.output else "") + "\n")
    print(cap.summary())
    if args.plot:
        cap.plot(args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
