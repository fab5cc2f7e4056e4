"""pigpio scripts: stored, parsed and run inside the server.

A script is pigpio's little language: whitespace-separated instructions, an
accumulator ``A``, a flag ``F``, parameters ``p0``-``p9`` (set by the runner) and
variables ``v0``-``v149``. Supported here:

* data: ``LD x y``, ``LDA y``, ``STA x``, ``XA x``, ``X x y``, ``PUSH x``, ``POP x``,
  ``PUSHA``, ``POPA`` (none of them sets ``F``);
* arithmetic and logic on ``A`` (each sets ``F`` to the new ``A``): ``ADD``, ``SUB``,
  ``MLT``, ``DIV``, ``MOD``, ``AND``, ``OR``, ``XOR``, ``RLA n``, ``RRA n``, ``INRA``,
  ``DCRA``; ``INR x``/``DCR x`` (``F`` = the variable); ``CMP y`` (``F`` = A - y);
* flow: ``TAG n``, ``JMP n``, ``JZ``/``JNZ``/``JP``/``JM n`` (on ``F`` zero, non-zero,
  >= 0, < 0), ``CALL n``, ``RET``, ``HALT``;
* timing: ``MILS n``, ``MICS n`` (pigpio's delay commands: ``A`` = 0 after the delay,
  or, for a delay out of range, ``A`` = PI_BAD_MILS_DELAY/PI_BAD_MICS_DELAY at once),
  ``WAIT bits`` (until a GPIO in ``bits`` changes; ``A`` = the bits that did),
  ``EVTWT bits`` (until an event in ``bits`` is triggered; ``A`` = its bit);
* GPIO: any pigs command of the server by name (``W 4 1``, ``R 4``, ``M 4 W``,
  ``PUD 4 U``, ``P 18 128``, ``S 18 1500``, ``T``, ``BR1`` ...).

What happens when something goes wrong follows pigpio 1.78's engine (``pthScript``
in pigpio.c):

* a command's result goes to ``A`` and ``F``, whatever it is: a failing command
  (``W 70 1``) leaves its negative error code there (PI_BAD_GPIO) and the script goes
  on, so ``JM`` after it branches on the failure;
* the script's own errors FAIL it: a push (``PUSH``, ``PUSHA``, ``CALL``) onto a full
  stack of 256 entries, a pop (``POP``, ``POPA``, ``RET``) of an empty one. As in
  pigpio the failing instruction still completes (a pop gives 0, ``CALL`` jumps) and
  the end-of-script check comes after it: when the failing instruction leaves the
  program counter past the last instruction, the script ends HALTED, not FAILED;
* ``RET`` to a popped place past the end ends the script (HALTED), as pigpio; one
  before the start FAILS it (pigpio would read outside its program);
* ``DIV``/``MOD`` by 0 FAIL the script: on the 32-bit Raspberry Pi OS pigpio is built
  for, the division traps (SIGFPE) and pigpiod exits; failing the one script is the
  nearest a shared server can do;
* a jump to a tag the script lacks is refused when it is stored (PI_BAD_TAG), as
  pigpio resolves tags then.

Numbers are 32-bit, as in pigpio's C engine: ``A``, ``F``, parameters and variables
are ``int32`` and wrap on overflow; ``DIV``/``MOD`` truncate toward zero (the
remainder has the sign of ``A``); ``RLA``/``RRA``
shift (arithmetic right shift), as pigpio's ``A<<=x``/``A>>=x`` do on the Pi's ARM
CPU: only the low 8 bits of the count matter and 32 or more shifts every bit out. A
literal must fit in 32 bits (-2**31 to 2**32-1; 0xFFFFFFFF is -1).
Variables keep their values from one run to the next, as pigpio's do.

A script that does not parse is refused with pigpio's code and a message naming the
line. Scripts belong to the server, not to
the client that stored them, but only the uid that stored one (or root, the server's
uid, the admin group) may run, update, stop or delete it; its commands run as that uid.

All running scripts share one scheduler: it runs the ready ones round-robin for at most
``SCRIPT_TURN_SECONDS`` (and ``SCRIPT_TURN_INSTRUCTIONS``) in all per turn, then lets
the event loop have one full iteration (I/O, clients' requests) before the next turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gpiosvr import errors, protocol
from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.limits import (MAX_SCRIPT_BYTES, MAX_SCRIPT_STACK, MAX_SCRIPTS,
                                   MAX_SCRIPTS_PER_UID, SCRIPT_TURN_INSTRUCTIONS,
                                   SCRIPT_TURN_SECONDS)
from gpiosvr.server.ownership import Owner

log = logging.getLogger(__name__)

PI_BAD_SCRIPT, PI_BAD_SCRIPT_ID, PI_BAD_PARAM_NUM, PI_DUP_TAG = -47, -48, -52, -53
PI_BAD_SCRIPT_CMD, PI_BAD_VAR_NUM, PI_NO_SCRIPT_ROOM = -55, -56, -57
PI_TOO_MANY_PARAM, PI_BAD_TAG, PI_BAD_MICS_DELAY, PI_BAD_MILS_DELAY = -61, -63, -64, -65
INITING, HALTED, RUNNING, WAITING, FAILED = 0, 1, 2, 3, 4

#: Parameters a script has (p0-p9) and variables (v0-v149), as pigpio.
NUM_PARAMS, NUM_VARIABLES = 10, 150

# instruction -> (argument kinds): "v" a writable place (p or v), "y" any value
_INSTRUCTIONS: dict[str, str] = {
    "ld": "vy", "lda": "y", "sta": "v", "xa": "v", "x": "vv", "push": "v", "pop": "v",
    "pusha": "", "popa": "", "add": "y", "sub": "y", "mlt": "y", "div": "y", "mod": "y",
    "and": "y", "or": "y", "xor": "y", "rla": "y", "rra": "y", "inra": "", "dcra": "",
    "inr": "v", "dcr": "v", "cmp": "y", "tag": "n", "jmp": "n", "jz": "n", "jnz": "n",
    "jp": "n", "jm": "n", "call": "n", "ret": "", "halt": "", "mils": "y", "mics": "y",
    "wait": "y", "evtwt": "y",
}
#: Server commands a script may not use: they act on the connection or on scripts.
_NOT_IN_SCRIPTS = frozenset(("hello", "persist", "proc", "procr", "procu", "procp", "procs",
                             "procd", "no", "nb", "np", "nc", "evm", "pno", "pnb", "pnp",
                             "pnc", "pevm"))


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


class _Run:
    """One run of a script: its registers and what it is blocked on, if anything."""

    __slots__ = ("script", "session", "a", "f", "pc", "stack", "pending")

    def __init__(self, script: Script, session: Any) -> None:
        self.script = script
        self.session = session
        self.a = self.f = self.pc = 0
        self.stack: list[int] = []
        # a timer (MILS, MICS) or a future (WAIT, a command answered later); None
        # while the run is ready or running
        self.pending: asyncio.TimerHandle | asyncio.Future | None = None


class ScriptFailed(Exception):
    """A script did something that fails it at run time (the message says what)."""


def _place(word: str, line: int) -> tuple[str, int]:
    kind, number = word[0], word[1:]
    if not number.isdigit():
        raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {word!r} at line {line}")
    index = int(number)
    if kind == "p" and index >= NUM_PARAMS:
        raise PigpioError(PI_BAD_PARAM_NUM,
                          f"script parameter id not 0-9: {word!r} at line {line}")
    if kind == "v" and index >= NUM_VARIABLES:
        raise PigpioError(PI_BAD_VAR_NUM,
                          f"script variable id not 0-149: {word!r} at line {line}")
    return kind, index


def _operand(word: str, line: int) -> Any:
    low = word.lower()
    if low[:1] in ("p", "v") and low[1:].isdigit():
        return _place(low, line)
    try:
        value = int(word, 0)
    except ValueError:
        return word  # a pigs letter argument such as the W of "M 4 W"
    if not is_32_bit(value):
        raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {word} does not fit in 32 "
                                         f"bits (-2**31 to 2**32-1) at line {line}")
    return value


def parse(text: str) -> tuple[list[Instruction], dict[int, int]]:
    """Parse a script; raise PigpioError with pigpio's code naming the bad line."""
    from gpiosvr.server.commands import COMMANDS

    words = [(w, n) for n, line in enumerate(text.splitlines(), 1) for w in line.split()]

    def is_word_of_script(word: str) -> bool:
        low = word.lower()
        return low in _INSTRUCTIONS or (low in COMMANDS and low not in _NOT_IN_SCRIPTS)

    code: list[Instruction] = []
    tags: dict[int, int] = {}
    i = 0
    while i < len(words):
        word, line = words[i]
        name = word.lower()
        i += 1
        if name in _INSTRUCTIONS:
            kinds, required = _INSTRUCTIONS[name], len(_INSTRUCTIONS[name])
        elif name in COMMANDS and name not in _NOT_IN_SCRIPTS:
            spec = COMMANDS[name]
            kinds, required = "y" * len(spec.params), spec.required
        else:
            raise PigpioError(PI_BAD_SCRIPT_CMD,
                              f"illegal script command {word!r} at line {line}")
        args = []
        for n, kind in enumerate(kinds):
            if n >= required and (i >= len(words) or is_word_of_script(words[i][0])):
                break  # an optional parameter ends at the next instruction
            if i >= len(words) or (words[i][0].lower() in _INSTRUCTIONS and kind != "y"):
                raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {name} needs "
                                                 f"{required} argument(s) at line {line}")
            value = _operand(words[i][0], line)
            if kind == "v" and not isinstance(value, tuple):
                raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {name} needs a p or v "
                                                 f"place, not {words[i][0]!r}, at line {line}")
            if kind == "y" and name in _INSTRUCTIONS and isinstance(value, str):
                raise PigpioError(PI_BAD_SCRIPT_CMD, f"bad parameter to {name}: "
                                                     f"{value!r} is not a number, at "
                                                     f"line {line}")
            if kind == "n" and not isinstance(value, int):
                raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {name} needs a tag "
                                                 f"number at line {line}")
            args.append(value)
            i += 1
        if name == "tag":
            if args[0] in tags:
                raise PigpioError(PI_DUP_TAG,
                                  f"script has duplicate tag {args[0]} at line {line}")
            tags[args[0]] = len(code)
            continue
        code.append(Instruction(name, tuple(args), line))
    for ins in code:
        if ins.name in ("jmp", "jz", "jnz", "jp", "jm", "call") and ins.args[0] not in tags:
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
            raise PigpioError(PI_BAD_SCRIPT, "invalid script: longer than 64 KiB")
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
        code, tags = parse(text)
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
        run = _Run(script, Session(server=self.server, backend=self.server.backend,
                                   name=f"script {script.id}",
                                   uid=owner.uid if owner is not None else None,
                                   gid=script.gid))
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
        del self.scripts[script_id]

    def close(self) -> int:
        """Stop every running script; returns how many were running."""
        running = 0
        for script in self.scripts.values():
            if script.run is not None:
                running += 1
                self._end(script, HALTED)
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
        if isinstance(pending, asyncio.TimerHandle):
            pending.cancel()
        elif isinstance(pending, asyncio.Future):
            # a WAIT's future leaves the hub now; a command's answer future (a native
            # backend) is only cancelled: the command itself goes on
            self.server.hub.cancel_wait(pending)
        try:
            self._ready.remove(run)
        except ValueError:
            pass

    def _make_ready(self, run: _Run) -> None:
        run.pending = None
        self._ready.append(run)
        if self._scheduler is None:
            self._scheduler = asyncio.get_running_loop().create_task(
                self._schedule(), name="gpiosvr-scripts")

    async def _schedule(self) -> None:
        """Run turns while any script is ready; between two turns the loop runs one
        full iteration (it polls I/O in each), so a client's request waits behind at
        most one turn."""
        try:
            while self._ready:
                self._turn()
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
                        seconds = delay / (1000 if name == "mils" else 1_000_000)
                        run.pending = asyncio.get_running_loop().call_later(
                            seconds, self._make_ready, run)
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
                else:  # a pigs command of the server: A = F = its result or error
                    kinds = COMMANDS[name].params
                    command = protocol.Command(name, tuple(
                        _command_arg(x, kind, get) for x, kind in zip(args, kinds)))
                    try:
                        answer = run_command(run.session, command)
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
