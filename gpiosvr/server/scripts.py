"""pigpio scripts: stored, parsed and run inside the server.

A script is pigpio's little language: whitespace-separated instructions, an
accumulator ``A``, a flag ``F``, parameters ``p0``-``p9`` (set by the runner) and
variables ``v0``-``v149``. Supported here:

* data: ``LD x y``, ``LDA y``, ``STA x``, ``XA x``, ``X x y``, ``PUSH x``, ``POP x``,
  ``PUSHA``, ``POPA``;
* arithmetic and logic on ``A`` (each sets ``F`` to the new ``A``): ``ADD``, ``SUB``,
  ``MLT``, ``DIV``, ``MOD``, ``AND``, ``OR``, ``XOR``, ``RLA n``, ``RRA n``, ``INRA``,
  ``DCRA``; ``INR x``/``DCR x`` (``F`` = the variable); ``CMP y`` (``F`` = A - y);
* flow: ``TAG n``, ``JMP n``, ``JZ``/``JNZ``/``JP``/``JM n`` (on ``F`` zero, non-zero,
  >= 0, < 0), ``CALL n``, ``RET``, ``HALT``;
* timing: ``MILS n``, ``MICS n``, ``WAIT bits`` (until a GPIO in ``bits`` changes;
  ``A`` = the bits that did);
* GPIO: any pigs command of the server by name (``W 4 1``, ``R 4``, ``M 4 W``,
  ``PUD 4 U``, ``P 18 128``, ``S 18 1500``, ``T``, ``BR1`` ...); the result goes to
  ``A`` (and ``F``); a failing one fails the script.

A script that does not parse is refused with pigpio's code and a message naming the
line; one that fails at run time shows FAILED. Scripts belong to the server, not to
the client that stored them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from gpiosvr import protocol
from gpiosvr.errors import PigpioError
from gpiosvr.server.limits import MAX_SCRIPT_BYTES, MAX_SCRIPTS

log = logging.getLogger(__name__)

PI_BAD_SCRIPT, PI_BAD_SCRIPT_ID, PI_BAD_PARAM_NUM, PI_DUP_TAG = -47, -48, -52, -53
PI_BAD_SCRIPT_CMD, PI_BAD_VAR_NUM, PI_TOO_MANY_PARAM, PI_BAD_TAG = -55, -56, -61, -63
PI_BAD_MICS_DELAY, PI_BAD_MILS_DELAY = -64, -65
INITING, HALTED, RUNNING, WAITING, FAILED = 0, 1, 2, 3, 4

#: Instructions run before the script lets other work on the loop go first.
SLICE = 500

# instruction -> (argument kinds): "v" a writable place (p or v), "y" any value
_INSTRUCTIONS: dict[str, str] = {
    "ld": "vy", "lda": "y", "sta": "v", "xa": "v", "x": "vv", "push": "v", "pop": "v",
    "pusha": "", "popa": "", "add": "y", "sub": "y", "mlt": "y", "div": "y", "mod": "y",
    "and": "y", "or": "y", "xor": "y", "rla": "y", "rra": "y", "inra": "", "dcra": "",
    "inr": "v", "dcr": "v", "cmp": "y", "tag": "n", "jmp": "n", "jz": "n", "jnz": "n",
    "jp": "n", "jm": "n", "call": "n", "ret": "", "halt": "", "mils": "y", "mics": "y",
    "wait": "y",
}


@dataclass
class Instruction:
    """One parsed instruction: name, arguments and the line it came from."""

    name: str
    args: tuple[Any, ...]
    line: int


@dataclass
class Script:
    """A stored script, its state and its task."""

    id: int
    code: list[Instruction]
    tags: dict[int, int]
    status: int = HALTED
    params: list[int] = field(default_factory=lambda: [0] * 10)
    task: asyncio.Task | None = None


def _place(word: str, line: int) -> tuple[str, int]:
    kind, number = word[0], word[1:]
    if not number.isdigit():
        raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {word!r} at line {line}")
    index = int(number)
    if kind == "p" and index > 9:
        raise PigpioError(PI_BAD_PARAM_NUM,
                          f"script parameter id not 0-9: {word!r} at line {line}")
    if kind == "v" and index > 149:
        raise PigpioError(PI_BAD_VAR_NUM,
                          f"script variable id not 0-149: {word!r} at line {line}")
    return kind, index


def _operand(word: str, line: int) -> Any:
    low = word.lower()
    if low[:1] in ("p", "v") and low[1:].isdigit():
        return _place(low, line)
    try:
        return int(word, 0)
    except ValueError:
        return word  # a pigs letter argument such as the W of "M 4 W"


def parse(text: str) -> tuple[list[Instruction], dict[int, int]]:
    """Parse a script; raise PigpioError with pigpio's code naming the bad line."""
    from gpiosvr.server.commands import COMMANDS

    words = [(w, n) for n, line in enumerate(text.splitlines(), 1) for w in line.split()]
    code: list[Instruction] = []
    tags: dict[int, int] = {}
    i = 0
    while i < len(words):
        word, line = words[i]
        name = word.lower()
        i += 1
        if name in _INSTRUCTIONS:
            kinds = _INSTRUCTIONS[name]
        elif name in COMMANDS and name not in ("hello", "proc", "procr", "procu", "procp",
                                                 "procs", "procd", "no", "nb", "np", "nc"):
            spec = COMMANDS[name]
            kinds = "y" * len(spec.params)
        else:
            raise PigpioError(PI_BAD_SCRIPT_CMD,
                              f"illegal script command {word!r} at line {line}")
        args = []
        for kind in kinds:
            if i >= len(words) or (words[i][0].lower() in _INSTRUCTIONS and kind != "y"):
                raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {name} needs "
                                                 f"{len(kinds)} argument(s) at line {line}")
            value = _operand(words[i][0], line)
            if kind == "v" and not isinstance(value, tuple):
                raise PigpioError(PI_BAD_SCRIPT, f"invalid script: {name} needs a p or v "
                                                 f"place, not {words[i][0]!r}, at line {line}")
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


class ScriptEngine:
    """The server's scripts: store, run, update, status, stop, delete."""

    def __init__(self, server) -> None:
        self.server = server
        self.scripts: dict[int, Script] = {}
        self._ids = itertools.count(0)

    def store(self, text: str) -> int:
        if len(text) > MAX_SCRIPT_BYTES:
            raise PigpioError(PI_BAD_SCRIPT, "invalid script: longer than 64 KiB")
        if len(self.scripts) >= MAX_SCRIPTS:
            raise PigpioError(-57)  # PI_NO_SCRIPT_ROOM
        code, tags = parse(text)
        script = Script(next(self._ids), code, tags)
        self.scripts[script.id] = script
        return script.id

    def _get(self, script_id: int) -> Script:
        script = self.scripts.get(script_id)
        if script is None:
            raise PigpioError(PI_BAD_SCRIPT_ID)
        return script

    def run(self, script_id: int, params: list[int]) -> None:
        script = self._get(script_id)
        if len(params) > 10:
            raise PigpioError(PI_TOO_MANY_PARAM)
        self.stop(script_id)
        script.params[:len(params)] = params
        script.status = RUNNING
        script.task = asyncio.get_running_loop().create_task(self._run(script))

    def update(self, script_id: int, params: list[int]) -> None:
        script = self._get(script_id)
        if len(params) > 10:
            raise PigpioError(PI_TOO_MANY_PARAM)
        script.params[:len(params)] = params

    def status(self, script_id: int) -> list[int]:
        script = self._get(script_id)
        return [script.status, *script.params]

    def stop(self, script_id: int) -> None:
        script = self._get(script_id)
        if script.task is not None and not script.task.done():
            script.task.cancel()
        if script.status in (RUNNING, WAITING):
            script.status = HALTED

    def delete(self, script_id: int) -> None:
        self.stop(script_id)
        del self.scripts[script_id]

    def close(self) -> int:
        """Stop every running script; returns how many were running."""
        running = 0
        for script in self.scripts.values():
            if script.task is not None and not script.task.done():
                script.task.cancel()
                running += 1
        return running

    async def _run(self, script: Script) -> None:
        try:
            await self._execute(script)
            script.status = HALTED
        except asyncio.CancelledError:
            script.status = HALTED
            raise
        except Exception as exc:
            log.info("script %d failed: %s", script.id, exc)
            script.status = FAILED

    async def _execute(self, script: Script) -> None:  # noqa: C901 - one dispatch
        from gpiosvr.server.commands import Session, execute

        session = Session(server=self.server, backend=self.server.backend, name="script")
        params, variables = script.params, [0] * 150
        stack: list[int] = []
        a = f = pc = 0
        steps = 0

        def get(x: Any) -> int:
            if isinstance(x, tuple):
                return params[x[1]] if x[0] == "p" else variables[x[1]]
            if not isinstance(x, int):
                raise ValueError(f"{x!r} is not a number")
            return x

        def put(x: tuple[str, int], value: int) -> None:
            (params if x[0] == "p" else variables)[x[1]] = value

        code, tags = script.code, script.tags
        while pc < len(code):
            ins = code[pc]
            name, args = ins.name, ins.args
            pc += 1
            steps += 1
            if steps % SLICE == 0:
                await asyncio.sleep(0)
            if name == "ld":
                put(args[0], get(args[1]))
            elif name == "lda":
                a = f = get(args[0])
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
                stack.append(get(args[0]))
            elif name == "pop":
                put(args[0], stack.pop())
            elif name == "pusha":
                stack.append(a)
            elif name == "popa":
                a = stack.pop()
            elif name in _ALU:
                a = f = _ALU[name](a, get(args[0]))
            elif name == "inra":
                a = f = a + 1
            elif name == "dcra":
                a = f = a - 1
            elif name in ("inr", "dcr"):
                f = get(args[0]) + (1 if name == "inr" else -1)
                put(args[0], f)
            elif name == "cmp":
                f = a - get(args[0])
            elif name == "jmp" or (name == "jz" and f == 0) or (name == "jnz" and f != 0) \
                    or (name == "jp" and f >= 0) or (name == "jm" and f < 0):
                pc = tags[args[0]]
            elif name in ("jz", "jnz", "jp", "jm"):
                pass
            elif name == "call":
                stack.append(pc)
                pc = tags[args[0]]
            elif name == "ret":
                pc = stack.pop()
            elif name == "halt":
                return
            elif name == "mils":
                delay = get(args[0])
                if not 0 <= delay <= 60_000:
                    raise PigpioError(PI_BAD_MILS_DELAY)
                await asyncio.sleep(delay / 1000)
            elif name == "mics":
                delay = get(args[0])
                if not 0 <= delay <= 1_000_000:
                    raise PigpioError(PI_BAD_MICS_DELAY)
                await asyncio.sleep(delay / 1e6)
            elif name == "wait":
                script.status = WAITING
                a = f = await self._wait(get(args[0]))
                script.status = RUNNING
            else:  # a pigs command of the server
                values = [get(x) if isinstance(x, tuple) else x for x in args]
                command = protocol.Command(name, tuple(values))
                answer = protocol.decode_answer(execute(session, command))
                if answer.exceptions:
                    raise answer.exceptions[-1]
                if isinstance(answer.value, int):
                    a = f = answer.value

    async def _wait(self, bits: int) -> int:
        """Until a GPIO in ``bits`` changes level; the bits that did."""
        return await self.server.hub.wait_for_change(bits)


def _rotate_left(a: int, n: int) -> int:
    n %= 32
    a &= 0xFFFFFFFF
    return ((a << n) | (a >> (32 - n))) & 0xFFFFFFFF


_ALU = {
    "add": lambda a, y: a + y, "sub": lambda a, y: a - y, "mlt": lambda a, y: a * y,
    "div": lambda a, y: int(a / y), "mod": lambda a, y: a - int(a / y) * y,
    "and": lambda a, y: a & y, "or": lambda a, y: a | y, "xor": lambda a, y: a ^ y,
    "rla": _rotate_left, "rra": lambda a, n: _rotate_left(a, 32 - n % 32),
}
