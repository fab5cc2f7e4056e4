"""pigpio's command numbers, each with its pigs name and its wire shape: the one table
that says which of our commands a pigpiod socket command is.

pigpiod's socket protocol (``docs/pigpiod-protocol.md``) sends a command as four
little-endian 32-bit words ``cmd p1 p2 p3`` and, when ``p3`` is not 0, ``p3``
extension bytes. :data:`NUMBERS` maps each pigpio 1.78 command number (``_PI_CMD_*``
in ``pigpio.py``, ``PI_CMD_*`` in ``pigpio.h``) to its pigs name (``command.c``'s
``cmdInfo`` table: the shortest of a command's names, as in our command table) and to
how the words and the extension become the pigs command's arguments, in pigs'
order, and how its answer becomes pigpiod's 32-bit result and extension bytes.

``tests/test_frontend_numbers.py`` checks the numbers against the real ``pigpio``
package and the names against ``command.c``. A number whose pigs name our command
table does not have (yet) answers ``PI_UNKNOWN_COMMAND``, as pigpiod does for a
command it does not know; once the command is registered it is reached.

Request shapes are tuples of argument tokens, in pigs' argument order:

``p1``, ``p2``
    the word as an unsigned int
``mode``, ``pud``
    ``p2``, a pigpio mode (0-7) or pull (0-2) number, as the pigs letter our table takes
``u0``, ``u4``, ... (``uN``)
    the unsigned 32-bit int at byte ``N`` of the extension
``ext``, ``ext12`` (``extN``)
    the extension bytes (from byte ``N``), for a ``data`` parameter
``text``
    the extension as text (a script, a file name, a device), up to a NUL byte
``ints``
    the extension as unsigned 32-bit ints, each one argument (script parameters,
    pulses)
``shell``
    ``SHELL``'s two texts: ``p1`` bytes of name, a NUL, then the arguments
``args``
    the extension is the arguments as text, as gpiosvr's own protocol writes them
    (``docs/protocol.md``: ``17 3 250``, ``ttyAMA0 %00ff``, ``[[1,100],[0,200]]``)

A token ending in ``?`` is left out when absent (a ``uN`` beyond the extension, a
``p2`` of 0 with nothing after it): pigpio's variadic ``WVCAP``.

Answer shapes:

``int``
    the value is the 32-bit result (negative: a pigpio error code)
``ext``
    the value (bytes, text or a list of byte values) is sent as extension bytes
    after the answer, whose result is their count
``procp``
    ``[status, p0, ..., p9]``: result 44, extension ``status`` then the ten
    parameters, as 32-bit ints
``bscx``
    ``[status, data]``: extension ``status`` (32-bit) then ``data``
``value``
    any value, sent as extension bytes in gpiosvr's protocol (``docs/protocol.md``:
    ``0``, ``"text"``, ``%00ff``, JSON lists and objects), the result their count

gpiosvr's own commands, which pigpio has no number for (``hello``, ``info``, the
notification pipes' ``pn*``, the simulator's ``sim*``), have numbers of
:data:`GPIOSVR_FIRST` and up (:data:`GPIOSVR_NUMBERS`), where pigpio has none: its
socket commands are 0-118, its script-only instructions 800-842. Their order is
fixed: a new command gets the next number.
"""

from __future__ import annotations

from typing import NamedTuple


class CommandNumber(NamedTuple):
    """One pigpio command number: pigs name, request and answer shapes."""

    number: int
    name: str
    request: tuple[str, ...]
    answer: str = "int"


#: pigpiod-only numbers the front end answers itself (no pigs command).
NOIB = 99  #: open a notification handle whose reports come on this socket
HELP = 25  #: pigs' help: pigpiod answers 0

_P1 = ("p1",)
_P12 = ("p1", "p2")
_P12U = ("p1", "p2", "u0")

_TABLE: tuple[CommandNumber, ...] = (
    CommandNumber(0, "m", ("p1", "mode")),
    CommandNumber(1, "mg", _P1),
    CommandNumber(2, "pud", ("p1", "pud")),
    CommandNumber(3, "r", _P1),
    CommandNumber(4, "w", _P12),
    CommandNumber(5, "p", _P12),
    CommandNumber(6, "prs", _P12),
    CommandNumber(7, "pfs", _P12),
    CommandNumber(8, "s", _P12),
    CommandNumber(9, "wdog", _P12),
    CommandNumber(10, "br1", ()),
    CommandNumber(11, "br2", ()),
    CommandNumber(12, "bc1", _P1),
    CommandNumber(13, "bc2", _P1),
    CommandNumber(14, "bs1", _P1),
    CommandNumber(15, "bs2", _P1),
    CommandNumber(16, "t", ()),
    CommandNumber(17, "hwver", ()),
    CommandNumber(18, "no", ()),
    CommandNumber(19, "nb", _P12),
    CommandNumber(20, "np", _P1),
    CommandNumber(21, "nc", _P1),
    CommandNumber(22, "prg", _P1),
    CommandNumber(23, "pfg", _P1),
    CommandNumber(24, "prrg", _P1),
    CommandNumber(HELP, "h", ()),
    CommandNumber(26, "pigpv", ()),
    CommandNumber(27, "wvclr", ()),
    CommandNumber(28, "wvag", ("ints",)),
    CommandNumber(29, "wvas", ("p1", "p2", "u0", "u4", "u8", "ext12")),
    CommandNumber(30, "wvgo", ()),
    CommandNumber(31, "wvgor", ()),
    CommandNumber(32, "wvbsy", ()),
    CommandNumber(33, "wvhlt", ()),
    CommandNumber(34, "wvsm", _P1),
    CommandNumber(35, "wvsp", _P1),
    CommandNumber(36, "wvsc", _P1),
    CommandNumber(37, "trig", _P12U),
    CommandNumber(38, "proc", ("text",)),
    CommandNumber(39, "procd", _P1),
    CommandNumber(40, "procr", ("p1", "ints")),
    CommandNumber(41, "procs", _P1),
    CommandNumber(42, "slro", _P12U),
    CommandNumber(43, "slr", _P12, "ext"),
    CommandNumber(44, "slrc", _P1),
    CommandNumber(45, "procp", _P1, "procp"),
    CommandNumber(46, "mics", _P1),
    CommandNumber(47, "mils", _P1),
    CommandNumber(48, "parse", ("text",)),
    CommandNumber(49, "wvcre", ()),
    CommandNumber(50, "wvdel", _P1),
    CommandNumber(51, "wvtx", _P1),
    CommandNumber(52, "wvtxr", _P1),
    CommandNumber(53, "wvnew", ()),
    CommandNumber(54, "i2co", _P12U),
    CommandNumber(55, "i2cc", _P1),
    CommandNumber(56, "i2crd", _P12, "ext"),
    CommandNumber(57, "i2cwd", ("p1", "ext")),
    CommandNumber(58, "i2cwq", _P12),
    CommandNumber(59, "i2crs", _P1),
    CommandNumber(60, "i2cws", _P12),
    CommandNumber(61, "i2crb", _P12),
    CommandNumber(62, "i2cwb", _P12U),
    CommandNumber(63, "i2crw", _P12),
    CommandNumber(64, "i2cww", _P12U),
    CommandNumber(65, "i2crk", _P12, "ext"),
    CommandNumber(66, "i2cwk", ("p1", "p2", "ext")),
    CommandNumber(67, "i2cri", _P12U, "ext"),
    CommandNumber(68, "i2cwi", ("p1", "p2", "ext")),
    CommandNumber(69, "i2cpc", _P12U),
    CommandNumber(70, "i2cpk", ("p1", "p2", "ext"), "ext"),
    CommandNumber(71, "spio", _P12U),
    CommandNumber(72, "spic", _P1),
    CommandNumber(73, "spir", _P12, "ext"),
    CommandNumber(74, "spiw", ("p1", "ext")),
    CommandNumber(75, "spix", ("p1", "ext"), "ext"),
    CommandNumber(76, "sero", ("text", "p1", "p2")),
    CommandNumber(77, "serc", _P1),
    CommandNumber(78, "serrb", _P1),
    CommandNumber(79, "serwb", _P12),
    CommandNumber(80, "serr", _P12, "ext"),
    CommandNumber(81, "serw", ("p1", "ext")),
    CommandNumber(82, "serda", _P1),
    CommandNumber(83, "gdc", _P1),
    CommandNumber(84, "gpw", _P1),
    CommandNumber(85, "hc", _P12),
    CommandNumber(86, "hp", _P12U),
    CommandNumber(87, "cf1", ("p1", "p2", "ext")),
    CommandNumber(88, "cf2", ("p1", "p2", "ext"), "ext"),
    CommandNumber(89, "bi2cc", _P1),
    CommandNumber(90, "bi2co", _P12U),
    CommandNumber(91, "bi2cz", ("p1", "ext"), "ext"),
    CommandNumber(92, "i2cz", ("p1", "ext"), "ext"),
    CommandNumber(93, "wvcha", ("ext",)),
    CommandNumber(94, "slri", _P12),
    CommandNumber(95, "cgi", ()),
    CommandNumber(96, "csi", _P1),
    CommandNumber(97, "fg", _P12),
    CommandNumber(98, "fn", _P12U),
    CommandNumber(NOIB, "noib", ()),
    CommandNumber(100, "wvtxm", _P12),
    CommandNumber(101, "wvtat", ()),
    CommandNumber(102, "pads", _P12),
    CommandNumber(103, "padg", _P1),
    CommandNumber(104, "fo", ("text", "p1")),
    CommandNumber(105, "fc", _P1),
    CommandNumber(106, "fr", _P12, "ext"),
    CommandNumber(107, "fw", ("p1", "ext")),
    CommandNumber(108, "fs", _P12U),
    CommandNumber(109, "fl", ("text", "p1"), "ext"),
    CommandNumber(110, "shell", ("shell",)),
    CommandNumber(111, "bspic", _P1),
    CommandNumber(112, "bspio", ("p1", "u0", "u4", "u8", "u12", "u16")),
    CommandNumber(113, "bspix", ("p1", "ext"), "ext"),
    CommandNumber(114, "bscx", ("p1", "ext"), "bscx"),
    CommandNumber(115, "evm", _P12),
    CommandNumber(116, "evt", _P1),
    CommandNumber(117, "procu", ("p1", "ints")),
    CommandNumber(118, "wvcap", ("p1", "p2?", "u0?")),
)

#: The first of gpiosvr's own numbers (pigpio's end at 118; 800-842 are its
#: script-only instructions).
GPIOSVR_FIRST = 1000

_ARGS = ("args",)

#: gpiosvr's own commands, numbered from GPIOSVR_FIRST in this order (append only).
_GPIOSVR: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("hello", _ARGS, "value"),
    ("info", (), "value"),
    ("pno", (), "int"),
    ("pnb", _P12, "int"),
    ("pnp", _P1, "int"),
    ("pnc", _P1, "int"),
    ("pevm", _P12, "int"),
    ("pnpath", _P1, "ext"),
    ("pnlost", _P1, "int"),
    ("simadc", _ARGS, "value"),
    ("simboard", (), "value"),
    ("simbscr", _ARGS, "value"),
    ("simbscw", _ARGS, "value"),
    ("simdht", _ARGS, "value"),
    ("simdrive", _ARGS, "value"),
    ("simfloat", _ARGS, "value"),
    ("simi2cget", _ARGS, "value"),
    ("simi2cset", _ARGS, "value"),
    ("simi2cword", _ARGS, "value"),
    ("siminject", _ARGS, "value"),
    ("simir", _ARGS, "value"),
    ("simirsent", _ARGS, "value"),
    ("simplay", _ARGS, "value"),
    ("simserinfo", _ARGS, "value"),
    ("simserr", _ARGS, "value"),
    ("simserw", _ARGS, "value"),
    ("simsonar", _ARGS, "value"),
    ("simunwire", _ARGS, "value"),
    ("simwire", _ARGS, "value"),
    ("persist", _ARGS, "value"),
    ("nfmt", _P1, "int"),
    ("handles", (), "value"),
)

#: Every pigpio 1.78 command number -> its :class:`CommandNumber`.
NUMBERS: dict[int, CommandNumber] = {c.number: c for c in _TABLE}
#: gpiosvr's own numbers (GPIOSVR_FIRST and up) -> their :class:`CommandNumber`.
GPIOSVR_NUMBERS: dict[int, CommandNumber] = {
    GPIOSVR_FIRST + i: CommandNumber(GPIOSVR_FIRST + i, name, request, answer)
    for i, (name, request, answer) in enumerate(_GPIOSVR)}
#: Every number the pigpiod front end answers: pigpio's and gpiosvr's own.
ALL_NUMBERS: dict[int, CommandNumber] = {**NUMBERS, **GPIOSVR_NUMBERS}
#: pigs (or gpiosvr) command name -> its number.
BY_NAME: dict[str, int] = {c.name: c.number for c in ALL_NUMBERS.values()}

#: Numbers whose first word is a notification handle: the front end runs them as
#: the connection that owns the handle (the NOIB stream), wherever they come from.
HANDLE_COMMANDS = frozenset({19, 20, 21, 115})  # nb, np, nc, evm
