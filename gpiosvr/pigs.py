"""``pigs``: pigpio's command-line tool, for a gpiosvr server.

``pigs w 18 1 r 18`` runs the commands in order (one request, one round trip; a
longer line than one request may carry goes as several, one after the other) and
prints what pigpio's ``pigs`` prints: nothing for a command that only sets
something, a number for one that reads (``br1``/``br2`` as 8 hex digits), and for a
failed command its negative code on stdout and ``ERROR: <pigpio's text>`` on stderr.
Exit status, as pigs: 0 all went well, 253 a command failed or did not parse (the
commands before one that does not parse still run, as in pigs), 255 no server could
be reached. ``pigs info`` prints what the server is; ``pigs h`` lists the commands.
pigpio's long command names (``write``, ``read``, ``modes``, ``modeg``, ``pwm``,
``servo``, ``tick``, ``help``) work as in pigs.

What a run opens outlives it, as with pigpio's daemon: pigs asks the server to keep
its handles (I2C, SPI, serial, files), notification pipes and watchdogs (the
``persist`` command, first in its first request), so ``pigs i2co 1 0x48 0`` in one
run and ``pigs i2crb 0 0`` in the next work, until ``pigs i2cc 0``; they are the
user's (another user's processes may not touch them). As pigpio's pigs, ``no``,
``nb``, ``np``, ``nc`` and ``evm`` are the notification pipe's (``pno`` ...): ``pigs
no`` opens the FIFO ``pigpioN`` next to the server's socket (``pigs pnpath N``),
which any program of the user reads, as pigpio's ``/dev/pigpioN``.

The socket is ``--socket``, else ``$PIGPIO_ADDR`` when it is a socket path (a local
host name there means the default, another host is refused, as ``pigpio.pi()``
does), else ``$GPIO_SOCKET_PATH``, else the default.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from gpiosvr import config, protocol
from gpiosvr._pigs_table import COMMANDS
from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import GpioServerError, error_text
from gpiosvr.pigs_args import MODE_LETTERS, PUD_LETTERS

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_COMMAND, EXIT_CONNECT = 0, 253, 255

#: Commands that only set something: pigs prints nothing when they succeed.
QUIET = {"m", "pud", "w", "bs1", "bs2", "bc1", "bc2", "wdog", "fg", "fn", "nb", "np",
         "nc", "simdrive", "simfloat", "simwire", "simunwire", "p", "s", "hp", "procr",
         "procu", "procs", "procd",
         "i2cc", "i2cwq", "i2cws", "i2cwb", "i2cww", "i2cwk", "i2cwi", "i2cwd", "spic",
         "spiw",
         "serc", "serwb", "serw", "simi2cset", "simi2cword", "simadc", "simserw",
         "wvclr", "wvnew", "wvdel", "wvhlt", "wvcha", "trig", "hc", "pnb", "pnp", "pnc",
         "evm", "pevm", "evt", "persist", "slro", "slrc", "slri", "bi2co", "bi2cc",
         "bspio", "bspic", "fc", "fw", "pads"}
#: Commands whose result pigs prints as 8 hex digits.
HEX = {"br1", "br2"}
#: pigpio's second names of commands, as pigs accepts them (command.c's cmdInfo).
LONG_NAMES = {"modes": "m", "modeg": "mg", "pwm": "p", "read": "r", "servo": "s",
              "tick": "t", "write": "w", "help": "h"}
#: pigpio's notification commands, as pigs means them: on a pipe (pigpio's
#: ``/dev/pigpioN``), not on a handle whose reports come to pigs' own connection.
PIPE_COMMANDS = {"no": "pno", "nb": "pnb", "np": "pnp", "nc": "pnc", "evm": "pevm"}
#: Commands whose one parameter is the rest of the command line, as pigpio's pigs
#: reads ``proc tag 1 w 4 1 jmp 1`` (command.c: the rest of the input).
REST_OF_LINE = {"proc"}
#: Commands of the server's table that are no pigs commands: pigs sends them itself.
HIDDEN = {"hello", "persist"}
#: What pigs takes for a mode or a pull, as pigpio's parser (command.c): one letter
#: of these, in either case; anything else is a bad parameter, sent to nobody.
LETTERS = {"mode": frozenset(MODE_LETTERS.values()), "pud": frozenset(PUD_LETTERS.values())}

DESCRIPTION = """\
pigpio's command-line tool, for a gpiosvr server: pigs w 18 1 r 18 runs the
commands in order and prints what pigpio's pigs prints."""

EPILOG = """\
pigs h (or pigs help) lists every command with its parameters. pigpio's long
names work too (write, read, modes, modeg, pwm, servo, tick). Exit status: 0;
253 a command failed or did not parse; 255 no server answered.

What a run opens stays until closed, as with pigpio's daemon: handles, pipes
(no/nb/nc: the FIFO pigs pnpath N names), bit-bang readers and watchdogs; they are
your user's.

The socket: --socket, else $PIGPIO_ADDR when it is a socket path (a local host
name there means the default), else $GPIO_SOCKET_PATH, else the default."""


class UsageError(Exception):
    """The command line does not parse."""


def parse_commands(words: list[str]) -> tuple[list[tuple[Any, ...]], UsageError | None]:
    """Split pigs words into commands with their arguments, as pigs does: the
    commands up to the first one that does not parse, and that one's error."""
    commands: list[tuple[Any, ...]] = []
    i = 0
    while i < len(words):
        typed = words[i]  # pigs names a command in its errors as it was typed
        name = typed.lower()
        name = LONG_NAMES.get(name, name)
        entry = COMMANDS.get(name)
        if entry is None or name in HIDDEN:
            return commands, UsageError(f"{typed}? unknown command, pigs h for help")
        kinds = entry[0]
        i += 1
        if name in REST_OF_LINE:  # as pigs (command.c): the words to the end, as one
            commands.append((name, " ".join(words[i:])))
            break
        args: list[Any] = []
        while len(args) < len(kinds):
            if kinds[len(args)].rstrip("?") == "bvs":
                values = []  # byte values, as pigs: the run of numbers 0-255 from here
                while i < len(words) and 0 <= _byte(words[i]) <= 255:
                    values.append(_byte(words[i]))
                    i += 1
                args.append(bytes(values))
                continue
            if kinds[len(args)].endswith("*"):  # as pigs: the numbers that follow
                while i < len(words) and isinstance(_arg(words[i]), int):
                    args.append(_arg(words[i]))
                    i += 1
                break
            optional = kinds[len(args)].endswith("?")
            if i >= len(words) or optional and _is_command(words[i]):
                break
            letters = LETTERS.get(kinds[len(args)].rstrip("?"))
            if letters is not None and words[i].lower() not in letters:
                return commands, UsageError(f"{typed}: bad parameter, pigs h for help")
            args.append(_arg(words[i]))
            i += 1
        if len(args) < sum(1 for kind in kinds if not kind.endswith(("?", "*"))):
            return commands, UsageError(f"{typed}: bad parameter, pigs h for help")
        commands.append((PIPE_COMMANDS.get(name, name), *args))
    return commands, None


def _byte(word: str) -> int:
    """A pigs byte value, or -1 for a word that is not one."""
    try:
        return int(word, 0)
    except ValueError:
        return -1


def _is_command(word: str) -> bool:
    word = word.lower()
    return word in COMMANDS or word in LONG_NAMES


def _arg(word: str) -> Any:
    try:
        return int(word, 0)
    except ValueError:
        return word


def format_result(name: str, value: Any) -> str | None:
    """What pigs prints for a successful command (None: nothing)."""
    if name in QUIET:
        return None
    if name in HEX:
        return f"{value:08X}"
    if name == "handles":  # one line each, or nothing
        return "\n".join(f"{h['kind']} {h['handle']}: uid {h['uid']}, "
                         + ("persistent" if h["persistent"] else f"pid {h['pid']}")
                         for h in value) or None
    if isinstance(value, (bytes, bytearray)):  # i2crd, spix, serr...: count, then bytes
        return " ".join([str(len(value)), *map(str, value)])
    if isinstance(value, list):  # procp: status and the 10 parameters
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v:#x}" if k == "hardware_revision" else f"{k}: {v}"
                         for k, v in value.items())
    return str(value)


def help_text(width: int = 100) -> str:
    """What ``pigs h`` prints: each command (and its long name), its parameters and
    what it does."""
    import textwrap

    short = {v: k for k, v in LONG_NAMES.items()}
    column = 28
    lines = []
    for name, (_, usage, doc) in sorted(COMMANDS.items()):
        if name in HIDDEN:
            continue
        if name in short:
            usage = f"{name}/{short[name]}{usage[len(name):]}"
        text = textwrap.wrap(doc, max(width - column, 40)) or [""]
        if len(usage) >= column:
            lines.append(usage)
        else:
            lines.append(f"{usage:<{column}}{text.pop(0)}")
        lines.extend(" " * column + rest for rest in text)
    return "\n".join(lines)


def default_socket() -> str | None:
    """The socket pigs talks to without ``--socket``: pigpio's ``$PIGPIO_ADDR`` as
    ``pigpio.pi()`` reads it, else the client default. None: a remote host."""
    return config.pigpio_host_socket(os.environ.get("PIGPIO_ADDR", ""))


def _parser() -> "argparse.ArgumentParser":
    import argparse

    parser = argparse.ArgumentParser(prog="pigs", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", default=None,
                        help=f"server socket (default: $PIGPIO_ADDR if a path, "
                             f"${config.SOCKET_ENV} or {config.DEFAULT_SOCKET_HELP})")
    parser.add_argument("words", nargs=argparse.REMAINDER,
                        help="commands and their arguments (pigs h lists them)")
    return parser


def split_command_line(argv: list[str]) -> tuple[str | None, list[str]] | None:
    """The ``--socket`` and the words of an everyday command line, as :func:`_parser`
    reads them, without importing argparse (a third of pigs' own start-up); None for
    anything else (``--help``, a mistake), which argparse then reads."""
    socket_path = None
    if argv[:1] == ["--socket"] and len(argv) > 1 and not argv[1].startswith("-"):
        socket_path, argv = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--socket="):
        socket_path, argv = argv[0][len("--socket="):], argv[1:]
    if argv[:1] and argv[0].startswith("-"):
        return None
    return socket_path, argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pigs`` and ``python -m gpiosvr.pigs``."""
    argv = sys.argv[1:] if argv is None else argv
    split = split_command_line(argv)
    if split is None:
        args = _parser().parse_args(argv)
        split = args.socket, args.words
    socket_path, words = split
    if words[:1] and words[0].lower() in ("h", "help"):
        import shutil

        try:
            print(help_text(shutil.get_terminal_size((100, 24)).columns), flush=True)
        except BrokenPipeError:  # pigs h | head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    commands, parse_error = parse_commands(words)
    if commands and socket_path is None:
        socket_path = default_socket()
        if socket_path is None:
            print(f"socket connect failed: PIGPIO_ADDR={os.environ['PIGPIO_ADDR']!r}: gpiosvr "
                  f"serves a Unix socket on this machine; give a socket path or a local "
                  f"name", file=sys.stderr)
            return EXIT_CONNECT
    status = _run(socket_path, commands) if commands else EXIT_OK
    if parse_error is not None:
        print(parse_error, file=sys.stderr)
        status = max(status, EXIT_COMMAND)
    return status


def requests(commands: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """``commands`` cut into requests the server takes: at most
    ``MAX_COMMANDS_PER_REQUEST`` commands and ``MAX_FRAME_BYTES`` bytes each (a
    single command too long for a frame goes alone, and the server refuses it)."""
    # room for the request id and the newline, which encode_command leaves out
    room = protocol.MAX_FRAME_BYTES - len("@%d \n" % protocol.MAX_ID)
    chunks: list[list[tuple[Any, ...]]] = []
    chunk: list[tuple[Any, ...]] = []
    size = 0
    for command in commands:
        length = len(protocol.encode_command(*command).encode("utf-8")) + 1  # and ";"
        if chunk and (len(chunk) == protocol.MAX_COMMANDS_PER_REQUEST
                      or size + length > room):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(command)
        size += length
    if chunk:
        chunks.append(chunk)
    return chunks


def _run(socket_path: str | None, commands: list[tuple[Any, ...]]) -> int:
    """Run ``commands``, printing their results as each request is answered (as
    pigs, a failing command does not stop the later ones); the exit status. What
    they open persists (``persist``, answered silently, goes first)."""
    status = EXIT_OK
    answered = False
    try:
        with BlockingClient(socket_path, name="pigs", connect_timeout=1.0) as client:
            for chunk in requests([("persist",), *commands]):
                status = max(status, _print_results(chunk, client.request(chunk)))
                answered = True
    except GpioServerError as exc:
        sys.stdout.flush()
        what = "receive" if answered else "connect"
        print(f"socket {what} failed: {exc}", file=sys.stderr)
        return EXIT_CONNECT
    sys.stdout.flush()
    return status


def _print_results(commands: list[tuple[Any, ...]], responses: list[Any]) -> int:
    """Print what pigs prints for each answered command; their exit status."""
    status = EXIT_OK
    for command, response in zip(commands, responses):
        if command[0] == "persist":
            continue
        exc = response.exception()
        if exc is None:
            text = format_result(command[0], response.result())
            if text is not None:
                print(text)
            continue
        code = getattr(exc, "code", None)
        if isinstance(code, int):
            print(code)
            print(f"ERROR: {error_text(code)}", file=sys.stderr)
        else:
            print(f"ERROR: {exc}", file=sys.stderr)
        status = EXIT_COMMAND
    return status


if __name__ == "__main__":
    sys.exit(main())
