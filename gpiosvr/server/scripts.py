"""pigpio scripts: stored, parsed and run inside the server.

A script is pigpio's little language: whitespace-separated instructions, an
accumulator ``A``, a flag ``F``, parameters ``p0``-``p9`` (set by the runner),
variables ``v0``-``v149`` and a 64 KiB byte buffer (both kept from one run to the
next). docs/scripts.md is the reference: every instruction, what a script may call,
the code a store answers for each kind of mistake, and where gpiosvr differs from
pigpio 1.78 and why. In short:

* data: ``LD``, ``LDA``, ``STA``, ``XA``, ``X``, ``PUSH``, ``POP``, ``PUSHA``,
  ``POPA``, ``LDAB``/``STAB`` (a byte of the buffer); none of them sets ``F``;
* arithmetic and logic (``F`` = the result): ``ADD``, ``SUB``, ``MLT``, ``DIV``,
  ``MOD``, ``AND``, ``OR``, ``XOR``, ``RLA``/``RRA`` (A), ``RL``/``RR`` (a register),
  ``INRA``, ``DCRA``, ``INR``, ``DCR``; ``CMP`` (``F`` = A - x);
* flow: ``TAG`` (50 at most), ``JMP``, ``JZ``/``JNZ``/``JP``/``JM``, ``CALL``,
  ``RET``, ``HALT``; timing and waits: ``MILS``, ``MICS``, ``WAIT``, ``EVTWT``;
* commands: pigpio's list of what a script may call (command.c's ``cmdInfo``), by
  either of pigpio's names (``W``/``WRITE`` ...), ``NO``/``NB``/``NP``/``NC``/``EVM``
  on a notification pipe, and gpiosvr's ``sim*`` commands; ``SYS`` runs a program of
  ``--shell-dir`` as ``shell`` does (refused at store without one).

The parser is pigpio's (``cmdParseScript``): the first mistake in the text refuses
the script with pigpio's code (PI_BAD_SCRIPT_CMD for nearly all; PI_DUP_TAG,
PI_TOO_MANY_TAGS; then PI_BAD_TAG) and a message naming the line. A run is pigpio's
``pthScript``: a command's result, an error code included, goes to ``A`` and ``F``
and the script goes on; a stack error FAILS it (after the instruction completes, so
one that leaves the program counter past the end reads HALTED); ``DIV``/``MOD`` by 0
and ``NOP``/``CMDR``/``CMDW`` (on which pigpio's engine spins for ever) FAIL it.
Numbers are ``int32`` and wrap, as in pigpio's C engine.

Scripts belong to the server, not to the client that stored them, but only the uid
that stored one (or root, the server's uid, the admin group) may run, update, stop or
delete it; its commands run as that uid, in a session that persists: the handles,
pipes and watchdogs a run opens are that uid's until closed (by any client of the uid,
``pigs`` included), as pigpio's; stopping or deleting the script closes none of them.

All running scripts share one scheduler: it runs the ready ones round-robin for at most
``SCRIPT_TURN_SECONDS`` (and ``SCRIPT_TURN_INSTRUCTIONS``) in all per turn, then lets
the event loop have one full iteration (I/O, clients' requests) before the next turn.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.backends.precise_timer import Timer, make_timer
from gpiosvr.server.limits import (MAX_SCRIPT_BYTES, MAX_SCRIPT_STACK, MAX_SCRIPTS,
                                   MAX_SCRIPTS_PER_UID, SCRIPT_TURN_INSTRUCTIONS,
                                   SCRIPT_GIL_PAUSE_SECONDS, SCRIPT_GIL_SECONDS,
                                   SCRIPT_TURN_SECONDS)
from gpiosvr.server.ownership import Owner

log = logging.getLogger(__name__)


def hand_over_the_gil() -> None:
    """Let go of the GIL long enough for a waiting thread to take it."""
    time.sleep(SCRIPT_GIL_PAUSE_SECONDS)

PI_BAD_SCRIPT, PI_BAD_SCRIPT_ID, PI_DUP_TAG, PI_TOO_MANY_TAGS = -47, -48, -53, -54
PI_BAD_SCRIPT_CMD, PI_NO_SCRIPT_ROOM = -55, -57
PI_TOO_MANY_PARAM, PI_BAD_TAG, PI_BAD_MICS_DELAY, PI_BAD_MILS_DELAY = -61, -63, -64, -65
INITING, HALTED, RUNNING, WAITING, FAILED = 0, 1, 2, 3, 4

#: Parameters a script has (p0-p9), variables (v0-v149) and tags, as pigpio.
NUM_PARAMS, NUM_VARIABLES, MAX_TAGS = 10, 150, 50
#: Bytes of the buffer LDAB and STAB address (pigpio's script thread's command buffer).
BUFFER_BYTES = 1 << 16

# What a script may call and the parameters each takes, as pigpio 1.78's parser
# (command.c: cmdParse's verification types, cmdInfo's "valid in a script" column):
# "n" a number: a literal or a register (p0-p9, v0-v149), any value; "+" the same,
# but a literal must be 0 or more; "r" a register, a bare 0-149 naming a variable;
# "t" a tag (a literal); "#" a literal 0 or more; "m" a mode letter (RW540123); "u" a
# pull letter (ODU); "s" a word (SYS's program name).
_SHAPE_GROUPS = {
    "": "dcra halt inra nop popa pusha ret br1 br2 cgi hwver no pigpv t wvbsy wvclr "
        "wvcre wvhlt wvnew wvtat",
    "n": "add and cmdr cmdw cmp div evtwt lda ldab mlt mod or rla rra stab sub wait xor "
         "bc1 bc2 bs1 bs2 csi",
    "+": "mics mils bi2cc bspic evt fc gdc gpw i2cc i2crs mg nc np padg pfg prg prrg r "
         "serc serda serrb slrc spic wvcap wvdel wvsc wvsm wvsp wvtx wvtxr",
    "r": "dcr inr pop push sta xa",
    "t": "call jm jmp jnz jp jz tag",
    "s": "sys",
    "++": "fg hc i2crb i2crw i2cwq i2cws p pads pfs prs s serwb slri w wdog wvtxm",
    "+n": "evm nb",
    "rn": "ld rl rr",
    "rr": "x",
    "+m": "m",
    "+u": "pud",
    "+++": "bi2co fn hp i2co i2cpc i2cwb i2cww slro spio trig",
    "+n#": "fs",
}
SHAPES: dict[str, str] = {name: shape for shape, names in _SHAPE_GROUPS.items()
                          for name in names.split()}
#: The instructions the engine runs itself; the other names of SHAPES are commands
#: of the server's table (pigpio's cgi and csi, which gpiosvr lacks, answer
#: PI_UNKNOWN_COMMAND in A).
SCRIPT_ONLY = frozenset(
    "add and call cmdr cmdw cmp dcr dcra div evtwt halt inr inra jm jmp jnz jp jz tag "
    "ld lda ldab mics mils mlt mod nop or pop popa push pusha ret rl rla rr rra sta stab "
    "sub sys wait x xa xor".split())
#: pigpio's second names (command.c) and, for its notification commands, the
#: server's names for them: in a script pigpio's NO opens a pipe (/dev/pigpioN).
ALIASES = {"read": "r", "write": "w", "modes": "m", "modeg": "mg", "pwm": "p",
           "servo": "s", "tick": "t", "no": "pno", "nb": "pnb", "np": "pnp", "nc": "pnc",
           "evm": "pevm"}
#: Commands whose third parameter pigpio passes in the script's buffer (bytes 0-3,
#: where LDAB reads it), as its parser puts it in the command's extension.
_THIRD_IN_BUFFER = frozenset(name for name, shape in SHAPES.items() if len(shape) == 3)
_LETTERS = {"m": ("a mode letter", "rw540123"), "u": ("a pull letter", "odu")}
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_JUMPS = frozenset(("jmp", "jz", "jnz", "jp", "jm", "call"))


def int32(value: int) -> int:
    """``value`` wrapped to a C ``int32``, as pigpio's script engine keeps numbers."""
    return ((value + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def is_32_bit(value: Any) -> bool:
    """Whether ``value`` is an int a 32-bit word holds, signed or unsigned."""
    return type(value) is int and -0x80000000 <= value <= 0xFFFFFFFF


@dataclass
class Instruction:
    """One parsed instruction: name, arguments and the line it came from."""

    name: str
    args: tuple[Any, ...]
    line: int


@dataclass
class Script:
    """A stored script: its code, who stored it, its state and its current run."""

    id: int
    code: list[Instruction]
    tags: dict[int, int]
    owner: Owner | None = None
    gid: int | None = None  # the owner's gid, for the session its commands run in
    status: int = HALTED
    params: list[int] = field(default_factory=lambda: [0] * NUM_PARAMS)
    variables: list[int] = field(default_factory=lambda: [0] * NUM_VARIABLES)
    run: "_Run | None" = None
    #: LDAB's and STAB's bytes, made at first use; as pigpio's, they outlive a run
    buffer: bytearray | None = None
    #: What ends its MILS and MICS, made at first use, closed when it is deleted: a
    #: timerfd (uvloop's call_later rounds to whole ms: ``mics 300`` lasted 16-226 µs)
    timer: Timer | None = None

    def bytes(self) -> bytearray:
        """The script's buffer of BUFFER_BYTES bytes (zeros at first)."""
        if self.buffer is None:
            self.buffer = bytearray(BUFFER_BYTES)
        return self.buffer


class _Run:
    """One run of a script: its registers and what it is blocked on, if anything."""

    __slots__ = ("script", "session", "a", "f", "pc", "stack", "pending")

    def __init__(self, script: Script, session: Any) -> None:
        self.script = script
        self.session = session
        self.a = self.f = self.pc = 0
        self.stack: list[int] = []
        # the script's timer (MILS, MICS) or a future (WAIT, a command answered
        # later); None while the run is ready or running
        self.pending: Timer | asyncio.Future | None = None


class ScriptFailed(Exception):
    """A script did something that fails it at run time (the message says what)."""


def _bad(message: str, line: int) -> PigpioError:
    return PigpioError(PI_BAD_SCRIPT_CMD, f"illegal script command: {message} at line {line}")


def c_number(word: str) -> int | None:
    """``word`` as C's ``%i`` reads a whole word (``0x1f`` hex, ``017`` octal, a
    sign), or None when it is not one."""
    if not _NUMBER.fullmatch(word):
        return None
    digits = word.lstrip("+-")
    base = 16 if digits[:2].lower() == "0x" else 8 if digits[0] == "0" else 10
    value = int(digits, base)
    return -value if word[0] == "-" else value


def _register(word: str, line: int) -> tuple[str, int] | None:
    """``p0``-``p9`` or ``v0``-``v149`` as a place; None when ``word`` is no register."""
    index = c_number(word[1:]) if word[:1] in ("p", "v") else None
    if index is None:
        if word[:1] in ("P", "V") and c_number(word[1:]) is not None:
            raise _bad(f"{word!r}: registers are lower case (p0-p9, v0-v149), as "
                       f"pigpio's parser reads them", line)
        return None
    if word[0] == "p" and not 0 <= index < NUM_PARAMS:
        raise _bad(f"{word!r}: script parameter id not 0-9", line)
    if word[0] == "v" and not 0 <= index < NUM_VARIABLES:
        raise _bad(f"{word!r}: script variable id not 0-149", line)
    return word[0], index


def _literal(word: str, line: int) -> int | None:
    value = c_number(word)
    if value is not None and not is_32_bit(value):
        raise _bad(f"{word} does not fit in 32 bits (-2**31 to 2**32-1)", line)
    return value


def _argument(shape: str, word: str, name: str, line: int) -> Any:
    """One parameter of ``name`` as pigpio's parser takes it (``shape``: see SHAPES)."""
    if shape in _LETTERS:
        what, letters = _LETTERS[shape]
        if len(word) != 1 or word.lower() not in letters:
            raise _bad(f"{name} needs {what} ({letters.upper()}), not {word!r}", line)
        return word.lower()
    if shape == "s":
        return word
    place = _register(word, line)
    value = _literal(word, line) if place is None else None
    if shape == "r":
        if place is None and value is not None and 0 <= value < NUM_VARIABLES:
            place = ("v", value)  # pigpio: a register given as a bare number is a variable
        if place is None:
            raise _bad(f"{name} needs a register (p0-p9, v0-v149, or 0-149 for a "
                       f"variable), not {word!r}", line)
        return place
    if place is not None:
        if shape in "t#":
            raise _bad(f"{name} needs a number, not the register {word!r}", line)
        return place
    if value is None:
        raise _bad(f"{name} needs a number or a register (p0-p9, v0-v149), not "
                   f"{word!r}", line)
    if shape in "+#" and int32(value) < 0:
        raise _bad(f"{name} takes 0 or more there, not {word}", line)
    return value


@functools.lru_cache(maxsize=4096)
def _known_argument(shape: str, word: str, name: str) -> Any:
    """:func:`_argument` of a word that parses (the same words recur through a
    script: a 64 KiB one parsed ~2x quicker); what it refuses is not remembered, and
    :func:`_argument` names the line then. Its values are ints, strings and tuples:
    shared safely."""
    return _argument(shape, word, name, 0)


def _operand(word: str, line: int) -> Any:
    """A parameter of one of gpiosvr's own commands: a register, a number, or a word
    (a letter argument such as the U of ``simdrive``'s pulls)."""
    place = _register(word, line)
    if place is not None:
        return place
    value = _literal(word, line)
    return word if value is None else value


def parse(text: str, *, shell: bool = False) -> tuple[list[Instruction], dict[int, int]]:
    """Parse a script as pigpio 1.78 does (command.c's cmdParseScript): the first
    mistake, in the order of the text, refuses it with pigpio's code (PI_BAD_SCRIPT_CMD
    for an unknown or forbidden command and for a bad, missing or extra parameter;
    PI_DUP_TAG; PI_TOO_MANY_TAGS), then an unresolved tag (PI_BAD_TAG); the message
    names the line. ``shell``: whether the server runs programs (SYS)."""
    from gpiosvr.server.commands import COMMANDS

    words = [(w, n) for n, line in enumerate(text.splitlines(), 1) for w in line.split()]

    def own_command(name: str) -> bool:  # gpiosvr's own commands of the simulator
        return name.startswith("sim") and name in COMMANDS

    def starts_instruction(word: str) -> bool:
        low = word.lower()
        return ALIASES.get(low, low) in SHAPES or low in SHAPES or own_command(low)

    code: list[Instruction] = []
    tags: dict[int, int] = {}
    tag_count = 0
    i = 0
    while i < len(words):
        word, line = words[i]
        low = word.lower()
        i += 1
        name = ALIASES.get(low, low)
        shape = SHAPES.get(low, SHAPES.get(name))
        args: list[Any] = []
        if shape is not None:
            for kind in shape:
                if i >= len(words):
                    raise _bad(f"{low} needs {len(shape)} parameter(s)", line)
                word_i = words[i][0]
                try:
                    args.append(_known_argument(kind, word_i, low))
                except PigpioError:
                    args.append(_argument(kind, word_i, low, line))  # raises, naming it
                i += 1
        elif own_command(low):
            spec = COMMANDS[low]
            for n in range(len(spec.params)):
                if n >= spec.required and (i >= len(words) or starts_instruction(words[i][0])):
                    break  # an optional parameter ends at the next instruction
                if i >= len(words):
                    raise _bad(f"{low} needs {spec.required} parameter(s)", line)
                args.append(_operand(words[i][0], line))
                i += 1
        elif low in COMMANDS or low in ("fl", "fo", "fr", "fw", "help", "h", "parse"):
            raise _bad(f"{word!r} may not be used in a script (pigpio 1.78 refuses it "
                       f"there)", line)
        else:
            raise _bad(f"unknown script command {word!r}", line)
        if name == "sys" and not shell:
            raise _bad("SYS runs a program of the server's shell directory, and this "
                       "server runs none (gpiosvr-server --shell-dir DIR turns it on)", line)
        if name == "tag":
            if tag_count >= MAX_TAGS:
                raise PigpioError(PI_TOO_MANY_TAGS, f"script has too many tags: more "
                                                    f"than {MAX_TAGS}, at line {line}")
            tag_count += 1
            if int32(args[0]) in tags:
                raise PigpioError(PI_DUP_TAG,
                                  f"script has duplicate tag {args[0]} at line {line}")
            tags[int32(args[0])] = len(code)
            continue
        if name in _JUMPS:
            args[0] = int32(args[0])
        code.append(Instruction(name, tuple(args), line))
    for ins in code:
        if ins.name in _JUMPS and ins.args[0] not in tags:
            raise PigpioError(PI_BAD_TAG, f"script has unresolved tag {ins.args[0]} "
                                          f"at line {ins.line}")
    return code, tags


def _script_params(params: list[Any]) -> list[int]:
    """Run or update parameters, checked (up to 10, each 32-bit) and wrapped to int32."""
    if len(params) > NUM_PARAMS:
        raise PigpioError(PI_TOO_MANY_PARAM,
                          f"too many script parameters: {len(params)}, at most 10")
    for n, value in enumerate(params):
        if not is_32_bit(value):
            shown = value if type(value) is not int or value.bit_length() < 80 \
                else f"a {value.bit_length()}-bit number"
            raise PigpioError(errors.PI_BAD_PARAM, f"bad parameter: script parameter "
                                                   f"p{n} ({shown}) is not 32-bit")
    return [int32(v) for v in params]


class ScriptEngine:
    """The server's scripts: store, run, update, status, stop, delete; and the one
    scheduler that runs them all."""

    def __init__(self, server) -> None:
        self.server = server
        self.scripts: dict[int, Script] = {}
        self._ready: deque[_Run] = deque()
        self._scheduler: asyncio.Task | None = None
        #: Turns the scheduler has run, and script instructions, all runs together.
        self.turns = self.instructions = 0

    # -- the commands ---------------------------------------------------------------

    def store(self, session: Any, text: str) -> int:
        """Parse and store a script for ``session``'s uid; its id, the lowest free."""
        if len(text) > MAX_SCRIPT_BYTES:
            raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {len(text)} characters, "
                                             f"longer than pigpio's {MAX_SCRIPT_BYTES}")
        if len(self.scripts) >= MAX_SCRIPTS:
            raise PigpioError(PI_NO_SCRIPT_ROOM, f"no room for scripts: {MAX_SCRIPTS} "
                                                 f"are stored")
        owner = ownership.owner_of(session)
        if not ownership.is_admin(session):
            mine = sum(1 for s in self.scripts.values()
                       if s.owner is not None and s.owner.uid == owner.uid)
            if mine >= MAX_SCRIPTS_PER_UID:
                raise PigpioError(PI_NO_SCRIPT_ROOM, f"no room for scripts: uid "
                                                     f"{owner.uid} has {mine} stored, "
                                                     f"the most one user may")
        code, tags = parse(text, shell=bool(getattr(self.server, "shell_dir", None)))
        script_id = next(i for i in range(MAX_SCRIPTS) if i not in self.scripts)
        self.scripts[script_id] = Script(script_id, code, tags, owner,
                                         getattr(session, "gid", None))
        return script_id

    def _get(self, script_id: int) -> Script:
        script = self.scripts.get(script_id)
        if script is None:
            raise PigpioError(PI_BAD_SCRIPT_ID, f"bad script id: no script {script_id}")
        return script

    def _mine(self, session: Any, script_id: int) -> Script:
        script = self._get(script_id)
        ownership.check(session, script.owner, f"script {script_id}")
        return script

    def run(self, session: Any, script_id: int, params: list[Any]) -> None:
        """Run a script with new values for its first ``len(params)`` parameters. As
        pigpio 1.78, a script already running is not restarted: it gets the
        parameters and goes on."""
        script = self._mine(session, script_id)
        values = _script_params(params)
        script.params[:len(values)] = values
        if script.run is not None:
            return
        from gpiosvr.server.commands import Session

        owner = script.owner
        # persist: what the run opens is its uid's until closed, as pigpio's handles
        # are the daemon's (a script has no client process to close them with)
        run = _Run(script, Session(server=self.server, backend=self.server.backend,
                                   name=f"script {script.id}",
                                   uid=owner.uid if owner is not None else None,
                                   gid=script.gid, persist=True))
        script.run = run
        script.status = RUNNING
        self._make_ready(run)

    def update(self, session: Any, script_id: int, params: list[Any]) -> None:
        """Set the first ``len(params)`` parameters of a script, running or not."""
        script = self._mine(session, script_id)
        values = _script_params(params)
        script.params[:len(values)] = values

    def status(self, script_id: int) -> list[int]:
        """``[status, p0, ..., p9]``; anyone may read it, as in pigpio."""
        script = self._get(script_id)
        return [script.status, *script.params]

    def stop(self, session: Any, script_id: int) -> None:
        """Stop a script now: a MILS, MICS or WAIT it is in is dropped at once."""
        script = self._mine(session, script_id)
        if script.run is not None:
            self._end(script, HALTED)

    def delete(self, session: Any, script_id: int) -> None:
        """Stop and forget a script; its id is free for the next one stored."""
        script = self._mine(session, script_id)
        self._end(script, HALTED)
        if script.timer is not None:
            script.timer.close()
        del self.scripts[script_id]

    def close(self) -> int:
        """Stop every running script; returns how many were running."""
        running = 0
        for script in self.scripts.values():
            if script.run is not None:
                running += 1
                self._end(script, HALTED)
            if script.timer is not None:
                script.timer.close()
                script.timer = None
        if self._scheduler is not None:
            self._scheduler.cancel()
            self._scheduler = None
        return running

    # -- the scheduler ----------------------------------------------------------------

    def _end(self, script: Script, status: int) -> None:
        run = script.run
        script.status = status
        if run is None:
            return
        script.run = None
        pending, run.pending = run.pending, None
        if isinstance(pending, asyncio.Future):
            # a WAIT's future leaves the hub now; a command's answer future (a native
            # backend) is only cancelled: the command itself goes on
            self.server.hub.cancel_wait(pending)
        elif pending is not None:
            pending.disarm()
        try:
            self._ready.remove(run)
        except ValueError:
            pass

    def _delay_over(self, script: Script) -> None:
        run = script.run
        if run is not None and run.pending is script.timer:
            self._make_ready(run)

    def _make_ready(self, run: _Run) -> None:
        run.pending = None
        self._ready.append(run)
        if self._scheduler is None:
            self._scheduler = asyncio.get_running_loop().create_task(
                self._schedule(), name="gpiosvr-scripts")

    async def _schedule(self) -> None:
        """Run turns while any script is ready; between two turns the loop runs one
        full iteration (it polls I/O in each), so a client's request waits behind at
        most one turn.

        Every :data:`SCRIPT_GIL_SECONDS` of turns back to back it also sleeps
        :data:`SCRIPT_GIL_PAUSE_SECONDS`, so that another thread of this process
        gets the GIL: the loop lets go of it only for the instant it polls I/O,
        and a thread woken for it then finds it taken again and, as the GIL was
        switched meanwhile, waits a whole switch interval more, again and again (in
        a server thread of a script's own process, ``gpiosvr-run --sim``, a
        notebook, that script's calls waited seconds each)."""
        clock = time.perf_counter
        try:
            handed = clock()
            while self._ready:
                self._turn()
                if clock() - handed >= SCRIPT_GIL_SECONDS:
                    hand_over_the_gil()
                    handed = clock()
                await asyncio.sleep(0)
        finally:
            if self._scheduler is asyncio.current_task():
                self._scheduler = None

    def _turn(self) -> None:
        """One turn: the ready runs, round-robin, until the turn's time or
        instructions are used up; each gets an equal share of the instructions."""
        self.turns += 1
        clock = time.perf_counter
        deadline = clock() + SCRIPT_TURN_SECONDS
        budget = SCRIPT_TURN_INSTRUCTIONS
        ready = self._ready
        while ready and budget > 0:
            run = ready.popleft()
            share = max(1, budget // (len(ready) + 1))
            try:
                used = self._step(run, share, deadline, clock)
            except (ScriptFailed, PigpioError) as exc:
                log.info("script %d failed: %s", run.script.id, exc)
                used = 1
                self._end(run.script, FAILED)
            except Exception:  # a bug must fail the script, not stop the scheduler
                log.exception("script %d failed", run.script.id)
                used = 1
                self._end(run.script, FAILED)
            budget -= used
            self.instructions += used
            if run.script.run is run and run.pending is None:
                ready.append(run)  # still runnable: to the back of the queue
            if clock() >= deadline:
                break

    def _step(self, run: _Run, limit: int, deadline: float, clock) -> int:  # noqa: C901
        """Run up to ``limit`` instructions of ``run`` (fewer when it blocks, ends or
        the turn's ``deadline`` passes); the number run."""
        from gpiosvr.server.commands import COMMANDS
        from gpiosvr.server.commands import run as run_command

        script = run.script
        params, variables = script.params, script.variables
        code, tags, stack = script.code, script.tags, run.stack
        a, f, pc = run.a, run.f, run.pc

        def get(x: Any) -> int:
            if type(x) is tuple:
                return params[x[1]] if x[0] == "p" else variables[x[1]]
            if type(x) is not int:
                raise ScriptFailed(f"{x!r} is not a number")
            return int32(x)

        def put(x: tuple[str, int], value: int) -> None:
            (params if x[0] == "p" else variables)[x[1]] = value

        # pigpio's scrPush/scrPop: a stack error marks the run failed and the
        # instruction completes (a pop gives 0); the end check then comes after it
        failure: str | None = None

        def push(value: int) -> None:
            nonlocal failure
            if len(stack) >= MAX_SCRIPT_STACK:
                failure = f"stack full ({MAX_SCRIPT_STACK} entries) at line {ins.line}"
            else:
                stack.append(value)

        def pop() -> int:
            nonlocal failure
            if not stack:
                failure = f"pop of an empty stack at line {ins.line}"
                return 0
            return stack.pop()

        done = 0
        try:
            while done < limit:
                if pc >= len(code):
                    self._end(script, HALTED)
                    break
                ins = code[pc]
                name, args = ins.name, ins.args
                pc += 1
                done += 1
                if name in _ALU:
                    a = f = _ALU[name](a, get(args[0]), ins.line)
                elif name == "jmp" or (name == "jz" and f == 0) or (name == "jnz" and f) \
                        or (name == "jp" and f >= 0) or (name == "jm" and f < 0):
                    pc = tags[args[0]]
                elif name in ("jz", "jnz", "jp", "jm"):
                    pass
                elif name == "ld":
                    put(args[0], get(args[1]))
                elif name == "lda":
                    a = get(args[0])
                elif name == "sta":
                    put(args[0], a)
                elif name == "xa":
                    old = get(args[0])
                    put(args[0], a)
                    a = old
                elif name == "x":
                    x, y = get(args[0]), get(args[1])
                    put(args[0], y)
                    put(args[1], x)
                elif name == "push":
                    push(get(args[0]))
                elif name == "pop":
                    put(args[0], pop())
                elif name == "pusha":
                    push(a)
                elif name == "popa":
                    a = pop()
                elif name == "inra":
                    a = f = int32(a + 1)
                elif name == "dcra":
                    a = f = int32(a - 1)
                elif name in ("inr", "dcr"):
                    f = int32(get(args[0]) + (1 if name == "inr" else -1))
                    put(args[0], f)
                elif name == "cmp":
                    f = int32(a - get(args[0]))
                elif name == "call":
                    push(pc)
                    pc = tags[args[0]]
                elif name == "ret":
                    pc = pop()
                    if pc < 0:
                        raise ScriptFailed(f"ret to {pc}, before the start, at line "
                                           f"{ins.line}")
                elif name in ("rl", "rr"):
                    f = (_shift_left if name == "rl" else _shift_right)(
                        get(args[0]), get(args[1]), ins.line)
                    put(args[0], f)
                elif name in ("ldab", "stab"):
                    # pigpio leaves A alone for an index out of its buffer; F as it was
                    index = get(args[0])
                    if 0 <= index < BUFFER_BYTES:
                        if name == "ldab":
                            a = script.bytes()[index]  # an unsigned char on the Pi
                        else:
                            script.bytes()[index] = a & 0xFF
                elif name in ("nop", "cmdr", "cmdw"):
                    raise ScriptFailed(
                        f"{name.upper()} at line {ins.line}: pigpio 1.78 parses it but its "
                        f"engine has no code for it and never moves past it (it spins "
                        f"there until stopped); the script fails here instead")
                elif name == "halt":
                    self._end(script, HALTED)
                    break
                elif name in ("mils", "mics"):
                    # pigpio's delay commands: their result (0, or the code of a bad
                    # delay, given at once) goes to A and F, as any command's
                    delay = get(args[0])
                    if name == "mils" and not 0 <= delay <= 60_000:
                        a = f = PI_BAD_MILS_DELAY
                    elif name == "mics" and not 0 <= delay <= 1_000_000:
                        a = f = PI_BAD_MICS_DELAY
                    else:
                        a = f = 0
                        script = run.script
                        timer = script.timer
                        if timer is None:
                            timer = script.timer = make_timer(
                                asyncio.get_running_loop(),
                                functools.partial(self._delay_over, script))
                        timer.arm(time.monotonic_ns()
                                  + delay * (1_000_000 if name == "mils" else 1000))
                        run.pending = timer
                        break
                elif name in ("wait", "evtwt"):
                    bits = get(args[0]) & 0xFFFFFFFF
                    hub = self.server.hub
                    future = (hub.wait_for_change if name == "wait"
                              else hub.wait_for_event)(bits)
                    script.status = WAITING
                    run.pending = future
                    future.add_done_callback(lambda fut, run=run: self._waited(run, fut))
                    break
                else:  # a command of the server: A = F = its result or error
                    try:
                        if name == "sys":
                            answer = self._sys(run, args[0], a)
                        else:
                            spec = COMMANDS.get(name)
                            values = tuple(_command_arg(x, kind, get) for x, kind in
                                           zip(args, spec.params if spec else ()))
                            if name in _THIRD_IN_BUFFER:
                                # pigpio copies a third parameter into the buffer
                                # before the command runs (bytes 0-3, little-endian)
                                script.bytes()[0:4] = (values[2] & 0xFFFFFFFF).to_bytes(
                                    4, "little")
                            answer = run_command(run.session,
                                                 protocol.Command(name, values))
                    except PigpioError as exc:
                        answer = exc.code
                    if isinstance(answer, asyncio.Future):
                        run.pending = answer
                        answer.add_done_callback(
                            lambda fut, run=run: self._answered(run, fut))
                        break
                    a = f = _result(answer)
                    if clock() >= deadline:
                        break
                if failure is not None:
                    # pigpio checks the end after the failing instruction: past the
                    # last one the script reads HALTED
                    log.info("script %d failed: %s", script.id, failure)
                    self._end(script, HALTED if pc >= len(code) else FAILED)
                    break
                if not done & 15 and clock() >= deadline:
                    break
        finally:
            run.a, run.f, run.pc = a, f, pc
        return done

    def _sys(self, run: _Run, program: str, a: int) -> Any:
        """pigpio's SYS: run ``program`` of the shell directory with A and the levels
        of GPIO 0-31 (both unsigned), as ``shell`` does; its status, later."""
        from gpiosvr.server import shell
        from gpiosvr.server.commands import run as run_command

        levels = run_command(run.session, protocol.Command("br1", ()))
        if isinstance(levels, asyncio.Future):  # a backend that answers later
            levels.cancel()
            levels = 0
        return shell.runner(self.server).start(
            run.session, getattr(self.server, "shell_dir", None), program,
            f"{a & 0xFFFFFFFF} {levels & 0xFFFFFFFF}")

    def _waited(self, run: _Run, future: asyncio.Future) -> None:
        if run.script.run is not run or run.pending is not future or future.cancelled():
            return
        run.a = run.f = int32(future.result())
        run.script.status = RUNNING
        self._make_ready(run)

    def _answered(self, run: _Run, future: asyncio.Future) -> None:
        if run.script.run is not run or run.pending is not future:
            return
        if future.cancelled():
            result: Any = errors.PI_CMD_INTERRUPTED
        elif isinstance(future.exception(), PigpioError):
            result = future.exception().code
        elif future.exception() is not None:  # a bug fails the script, not the loop
            log.error("script %d failed", run.script.id, exc_info=future.exception())
            self._end(run.script, FAILED)
            return
        else:
            result = future.result()
        run.a = run.f = _result(result)
        self._make_ready(run)


def _command_arg(x: Any, kind: str, get) -> Any:
    if type(x) is not tuple:
        return x  # a literal goes as written (0xFFFFFFFF stays a bit mask)
    # pigpio passes a place as a 32-bit word: where a command wants bits, a negative
    # int32 is the mask it stands for
    value = get(x)
    return value & 0xFFFFFFFF if kind.rstrip("?") == "bits" else value


def _result(value: Any) -> int:
    """A command's value as the script's ``A``: an int (an error's negative code
    included) as int32; anything else (nothing, data) as 0."""
    return int32(value) if isinstance(value, int) else 0


def _div(a: int, y: int, line: int) -> int:
    if y == 0:
        raise ScriptFailed(f"division by 0 at line {line}")
    q = abs(a) // abs(y)
    return int32(-q if (a < 0) != (y < 0) else q)


def _mod(a: int, y: int, line: int) -> int:
    if y == 0:
        raise ScriptFailed(f"modulus by 0 at line {line}")
    return int32(a - y * _div(a, y, line))


def _shift_left(a: int, n: int, line: int) -> int:
    n &= 0xFF
    return 0 if n >= 32 else int32(a << n)


def _shift_right(a: int, n: int, line: int) -> int:
    n &= 0xFF
    return a >> min(n, 31)


_ALU = {
    "add": lambda a, y, line: int32(a + y), "sub": lambda a, y, line: int32(a - y),
    "mlt": lambda a, y, line: int32(a * y), "div": _div, "mod": _mod,
    "and": lambda a, y, line: a & y, "or": lambda a, y, line: a | y,
    "xor": lambda a, y, line: a ^ y, "rla": _shift_left, "rra": _shift_right,
}
