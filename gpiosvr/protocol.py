"""The gpiosvr wire codec: pure functions from values to text and back, no I/O.

``docs/protocol.md`` is the prose version of this module. In short, every frame is
one line of ASCII text ending in ``\\n``:

* request: ``[@ID ]CMD ARG ARG[;CMD ARG ...]`` -- pigs commands, e.g. ``@7 w 18 1;r 18``
* response: ``[@ID ]ANSWER[;ANSWER ...]`` -- one answer per command, each a value
  followed by zero or more exceptions ``!Kind:code:"message"``
* notification: ``*NAME ARG ...`` -- pushed by the server, e.g. edge reports

Values are typed tokens: ``123``/``-0x1f`` ints, ``null``, ``"json string"``,
``%00ff`` bytes, ``[1,2]`` lists and ``{"k":1}`` objects (compact, ASCII-only JSON).
Decoding never imports or instantiates anything named on the wire, and every
malformed input raises :class:`~gpiosvr.errors.ProtocolError` and nothing else.
"""

from __future__ import annotations

import re
import struct
import sys
from array import array
from enum import StrEnum
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

from gpiosvr.errors import (
    ConnectionFailed,
    GpioServerError,
    PigpioError,
    ProtocolError,
    RemoteError,
    ResponseTimeout,
)

PROTOCOL_VERSION = 1

#: Longest frame (in bytes, with its newline) a server accepts or a client reads.
MAX_FRAME_BYTES = 1 << 20
#: One edge report in an ``*e`` notification: gpio, level (2: watchdog timeout), tick.
EDGE_RECORD = struct.Struct("<BBI")
#: Edge report frame formats a connection may ask for with ``nfmt`` (docs/protocol.md
#: 7.2): text ``*e`` frames (the default), or binary edge frames.
EDGE_FORMAT_TEXT, EDGE_FORMAT_BINARY = 0, 1
#: A binary edge frame's first byte: no text frame begins with it (frames are ASCII).
BINARY_EDGE_MARK = 0xE5
#: A binary edge frame's head: the mark, seq and lost (u64), the record count (u32),
#: little-endian; the records (:data:`EDGE_RECORD`) follow, and nothing ends it.
BINARY_EDGE_HEAD = struct.Struct("<BQQI")
#: Most records a binary edge frame may announce: the frame stays within
#: :data:`MAX_FRAME_BYTES`. A frame announcing more is a protocol error.
MAX_BINARY_EDGE_RECORDS = (MAX_FRAME_BYTES - BINARY_EDGE_HEAD.size) // EDGE_RECORD.size

#: Largest request id.
MAX_ID = (1 << 63) - 1
#: Most commands one request may carry.
MAX_COMMANDS_PER_REQUEST = 1024


class RequestDelimiters(StrEnum):
    """Constant strings that delimit the parts of a request (and of a response)."""

    REQUEST = "\n"  #: ends a frame
    COMMAND = ";"  #: separates the commands of one request (and their answers)
    ARGUMENT = " "  #: separates a command's name and its arguments
    ID = "@"  #: starts the optional request id, the frame's first token
    EXCEPTION = "!"  #: starts an exception appended to an answer
    NOTIFICATION = "*"  #: starts a frame the server sends unasked


class Command(NamedTuple):
    """One pigs command: its lower-case name and its decoded arguments."""

    name: str
    args: tuple[Any, ...] = ()


class Request(NamedTuple):
    """A decoded request frame: optional id and its commands, in order."""

    id: int | None
    commands: tuple[Command, ...]


class Answer(NamedTuple):
    """A decoded answer to one command: its value and its exceptions."""

    value: Any
    exceptions: tuple[BaseException, ...] = ()


# Exception kinds that decode to a class of our own choosing. Anything else decodes
# to RemoteError, which keeps the kind's name: nothing is looked up by name.
_KNOWN_EXCEPTIONS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        GpioServerError, ProtocolError, ConnectionFailed, ResponseTimeout,
        ValueError, TypeError, RuntimeError, NotImplementedError, PermissionError,
        TimeoutError, ConnectionError, OverflowError, ZeroDivisionError,
    )
}

_INT_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)\Z")
_BARE_RE = re.compile(r"[^ \t;\"\[\]{}!@*%\n\r]+")
_SAFE_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_./:+-]*\Z")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_KIND_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_EXC_RE = re.compile(r"!([A-Za-z_][A-Za-z0-9_.]*):(-?[0-9]{1,20})?:")
_SPACES_RE = re.compile(r"[ \t]*")
_BIG_INT = 1 << 64


def _reject(message: str) -> Any:
    raise ProtocolError(message)


# json is imported on first use: importing a client (the pigpio facade) needs none,
# and an everyday call (ints) never does. Each of these two replaces itself with
# json's function the first time, so later calls cost nothing extra.

def _dumps(value: Any, **options: Any) -> str:
    global _dumps
    import json

    _dumps = json.dumps
    return _dumps(value, **options)


def _raw_decode(text: str, pos: int) -> tuple[Any, int]:
    global _raw_decode
    import json

    _raw_decode = json.JSONDecoder(
        parse_float=lambda s: _reject(f"floats are not allowed: {s}"),
        parse_constant=lambda s: _reject(f"constant not allowed: {s}"),
    ).raw_decode
    return _raw_decode(text, pos)


# --------------------------------------------------------------------- values


def encode_value(value: Any) -> str:
    """Encode a result or argument value as one token."""
    if value is None:
        return "null"
    if isinstance(value, int):
        value = int(value)  # bools and IntEnums travel as plain ints
        if -_BIG_INT < value < _BIG_INT:
            return str(value)
        return ("-" if value < 0 else "") + hex(abs(value))
    if isinstance(value, str):
        return _dumps(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "%" + bytes(value).hex()
    if isinstance(value, (list, tuple, dict)):
        try:
            return _dumps(_plain(value), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"cannot encode {type(value).__name__}: {exc}") from exc
    raise ProtocolError(f"cannot encode a value of type {type(value).__name__}")


def _plain(value: Any) -> Any:
    """Return ``value`` with IntEnums turned into ints, so JSON writes numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not a wire value")


def encode_arg(value: Any) -> str:
    """Encode a command argument: like :func:`encode_value`, but plain words bare."""
    if type(value) is int and -_BIG_INT < value < _BIG_INT:
        return str(value)
    if isinstance(value, str) and _SAFE_WORD_RE.match(value) and value != "null":
        return value
    return encode_value(value)


def _scan_token(text: str, pos: int, bare_ok: bool) -> tuple[Any, int]:
    """Decode the token starting at ``pos``; return its value and the end position."""
    if pos >= len(text):
        raise ProtocolError(f"missing value at column {pos}")
    ch = text[pos]
    if ch in '"[{':
        try:
            value, end = _raw_decode(text, pos)
        except ProtocolError:
            raise
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"bad JSON token at column {pos}: {exc}") from None
        if ch == "[" and not isinstance(value, list) or ch == "{" and not isinstance(value, dict):
            raise ProtocolError(f"bad JSON token at column {pos}")
        return value, end
    match = _BARE_RE.match(text, pos)
    if ch == "%":
        match = _BARE_RE.match(text, pos + 1)
        word = match.group() if match else ""
        try:
            return bytes.fromhex(word), pos + 1 + len(word)
        except ValueError:
            raise ProtocolError(f"bad bytes token at column {pos}") from None
    if not match:
        raise ProtocolError(f"unexpected {ch!r} at column {pos}")
    word = match.group()
    end = match.end()
    if _INT_RE.match(word):
        try:
            return int(word, 0) if "x" in word or "X" in word else int(word), end
        except ValueError:
            raise ProtocolError(f"integer too long at column {pos}") from None
    if word == "null":
        return None, end
    if bare_ok:
        return word, end
    raise ProtocolError(f"untyped word {word[:40]!r} at column {pos}")


def decode_value(text: str) -> Any:
    """Decode a single value token (the inverse of :func:`encode_value`)."""
    if not isinstance(text, str) or not text:
        raise ProtocolError("empty value")
    value, end = _scan_token(text, 0, bare_ok=False)
    if end != len(text):
        raise ProtocolError(f"trailing data after value at column {end}")
    return value


# ----------------------------------------------------------------- exceptions


def exception_kind(exc: BaseException) -> str:
    """The kind name an exception travels under (RemoteError keeps its own)."""
    if isinstance(exc, RemoteError) and _KIND_RE.match(exc.kind):
        return exc.kind
    return type(exc).__name__


def encode_exception(exc: BaseException) -> str:
    """Encode one exception as ``!Kind:code:"message"`` (code may be empty)."""
    code = getattr(exc, "code", None)
    code_text = str(int(code)) if isinstance(code, int) and abs(code) < 1 << 63 else ""
    return f"!{exception_kind(exc)}:{code_text}:{_dumps(str(exc))}"


def make_exception(kind: str, message: str, code: int | None) -> BaseException:
    """Build the exception a decoded ``kind`` stands for, from a fixed table only."""
    if kind == "PigpioError" and code is not None:
        return PigpioError(code, message)
    cls = _KNOWN_EXCEPTIONS.get(kind)
    if cls is None or code is not None:
        return RemoteError(kind, message, code)
    return cls(message)


def _scan_exception(text: str, pos: int) -> tuple[BaseException, int]:
    match = _EXC_RE.match(text, pos)
    if not match or match.end() >= len(text) or text[match.end()] != '"':
        raise ProtocolError(f"bad exception at column {pos}")
    message, end = _scan_token(text, match.end(), bare_ok=False)
    code = int(match.group(2)) if match.group(2) is not None else None
    return make_exception(match.group(1), message, code), end


def decode_exceptions(text: str) -> list[BaseException]:
    """Decode zero or more space-separated ``!Kind:code:"message"`` exceptions."""
    if not isinstance(text, str):
        raise ProtocolError("exceptions must be text")
    result: list[BaseException] = []
    pos = _SPACES_RE.match(text, 0).end()
    while pos < len(text):
        exc, pos = _scan_exception(text, pos)
        result.append(exc)
        pos = _skip_separator(text, pos)
    return result


def _skip_separator(text: str, pos: int) -> int:
    end = _SPACES_RE.match(text, pos).end()
    if end == pos and pos < len(text):
        raise ProtocolError(f"missing space at column {pos}")
    return end


# -------------------------------------------------------------------- answers


def encode_answer(value: Any, exceptions: Iterable[BaseException] = ()) -> str:
    """Encode one command's answer: its value, then its exceptions."""
    if type(value) is int and not exceptions and -_BIG_INT < value < _BIG_INT:
        return str(value)  # the everyday answer
    parts = [encode_value(value)]
    parts.extend(encode_exception(e) for e in exceptions)
    return " ".join(parts)


def _scan_answer(text: str, pos: int) -> tuple[Answer, int]:
    value, pos = _scan_token(text, pos, bare_ok=False)
    excs: list[BaseException] = []
    while True:
        end = _SPACES_RE.match(text, pos).end()
        if end >= len(text) or text[end] != "!":
            return Answer(value, tuple(excs)), end
        if end == pos:
            raise ProtocolError(f"missing space at column {pos}")
        exc, pos = _scan_exception(text, end)
        excs.append(exc)


def decode_answer(text: str) -> Answer:
    """Decode one answer (the inverse of :func:`encode_answer`)."""
    if not isinstance(text, str) or not text:
        raise ProtocolError("empty answer")
    answer, end = _scan_answer(text, 0)
    if end != len(text):
        raise ProtocolError(f"trailing data after answer at column {end}")
    return answer


# --------------------------------------------------------------------- frames


def _scan_id(text: str) -> tuple[int | None, int]:
    if not text.startswith("@"):
        return None, 0
    end = text.find(" ")
    word = text[1:] if end < 0 else text[1:end]
    if not word.isascii() or not word.isdigit() or len(word) > 19 or int(word) > MAX_ID:
        raise ProtocolError("bad request id")
    return int(word), len(text) if end < 0 else end + 1


def _id_prefix(request_id: int | None) -> str:
    if request_id is None:
        return ""
    if not isinstance(request_id, int) or not 0 <= request_id <= MAX_ID:
        raise ProtocolError(f"bad request id {request_id!r}")
    return f"@{request_id} "


_COMMAND_NAMES: dict[str, bool] = {}


def encode_command(name: str, *args: Any) -> str:
    """Encode one pigs command and its arguments."""
    if name not in _COMMAND_NAMES:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ProtocolError(f"bad command name {name!r}")
        if len(_COMMAND_NAMES) < 4096:
            _COMMAND_NAMES[name] = True
    return " ".join([name, *(encode_arg(a) for a in args)])


def encode_request(commands: Sequence[Sequence[Any]], request_id: int | None = None) -> str:
    """Encode a request frame from ``(name, *args)`` sequences; ends with a newline."""
    if len(commands) == 1:  # the common case, without the general checks
        name, *args = commands[0]
        if name in _COMMAND_NAMES and all(type(a) is int and -_BIG_INT < a < _BIG_INT
                                          for a in args):
            return f"{_id_prefix(request_id)}{' '.join([name, *map(str, args)])}\n"
    elif not commands:
        raise ProtocolError("a request needs at least one command")
    body = ";".join(encode_command(c[0], *c[1:]) for c in commands)
    return f"{_id_prefix(request_id)}{body}\n"


# One command with plain int and word arguments, the shape of nearly every request:
# decoded without the general scanner (same result, a fraction of the time).
_SIMPLE_REQUEST_RE = re.compile(
    r"(?:@([0-9]{1,18}) )?([A-Za-z][A-Za-z0-9_]*)"
    r"((?: (?:-?[0-9]{1,18}|[A-Za-z_][A-Za-z0-9_]*))*)\Z")
_SIMPLE_ANSWERS_RE = re.compile(r"(?:@([0-9]{1,18}) )?(-?[0-9]{1,18}(?:;-?[0-9]{1,18})*)\Z")


def _simple_arg(word: str) -> Any:
    if word[0].isdigit() or word[0] == "-":
        return int(word)
    return None if word == "null" else word


def decode_request(line: str) -> Request:
    """Decode a request frame (with or without its newline)."""
    text = _strip_frame(line)
    simple = _SIMPLE_REQUEST_RE.match(text)
    if simple:
        request_id, name, args = simple.groups()
        return Request(
            int(request_id) if request_id is not None else None,
            (Command(name.lower(), tuple(_simple_arg(a) for a in args.split())),),
        )
    request_id, pos = _scan_id(text)
    return Request(request_id, tuple(_scan_commands(text, pos)))


def decode_request_in_steps(line: str, step: int = 0
                            ) -> "tuple[int | None, Iterator[Command | None]]":
    """:func:`decode_request` a command at a time, for a server that decodes a long
    or big request over several turns of its loop: the request's id, and an iterator
    of its commands, which raises :class:`ProtocolError` where
    :func:`decode_request` would (a bad id raises at once). With ``step`` (chars),
    it also gives None each time it has decoded about that many more, within a
    command's arguments too (a big JSON list, ``%`` bytes or a run of ints are
    decoded in pieces): a place to let the loop serve others. The commands are
    :func:`decode_request`'s, and so are its errors."""
    text = _strip_frame(line)
    request_id, pos = _scan_id(text)
    return request_id, _scan_commands(text, pos, step)


def _scan_commands(text: str, pos: int, step: int = 0) -> Iterator[Command | None]:
    """The commands of a request's ``text`` from ``pos`` (after its id), in order;
    with ``step``, None between pieces of about ``step`` chars
    (:func:`decode_request_in_steps`)."""
    count = 0
    mark = pos  # where the last piece ended
    while True:
        pos = _SPACES_RE.match(text, pos).end()
        match = _BARE_RE.match(text, pos)
        if not match or not _NAME_RE.match(match.group()):
            raise ProtocolError(f"expected a command name at column {pos}")
        name, pos = match.group().lower(), match.end()
        args: list[Any] = []
        while True:
            end = _SPACES_RE.match(text, pos).end()
            if end >= len(text) or text[end] == ";":
                pos = end
                break
            if end == pos:
                raise ProtocolError(f"missing space at column {pos}")
            if step:
                if end - mark >= step:
                    yield None
                    mark = end
                ch = text[end]
                if ch == "[":
                    value, pos = yield from _list_in_steps(text, end, step)
                    mark = pos
                elif ch == "%":
                    value, pos = yield from _bytes_in_steps(text, end, step)
                    mark = pos
                else:
                    pos = _int_run(text, end, mark + step, args)
                    if pos > end:
                        continue
                    value, pos = _scan_token(text, end, bare_ok=True)
            else:
                value, pos = _scan_token(text, end, bare_ok=True)
            args.append(value)
        count += 1
        if count > MAX_COMMANDS_PER_REQUEST:
            raise ProtocolError(f"more than {MAX_COMMANDS_PER_REQUEST} commands in one request")
        yield Command(name, tuple(args))
        if pos >= len(text):
            return
        pos += 1  # the ';'


#: A run of plain decimal ints, one space apart (bare arguments, as pigs sends them).
_INT_RUN_RE = re.compile(r"-?[0-9]{1,18}(?: -?[0-9]{1,18})*")
#: The chars that end a bare word (:data:`_BARE_RE`'s), and the end of the text.
_WORD_ENDS = frozenset(' \t;"[]{}!@*%\n\r')


def _int_run(text: str, pos: int, endpos: int, args: list[Any]) -> int:
    """Decode the run of plain decimal int arguments at ``pos`` (stopping before
    ``endpos``) into ``args`` as :func:`_scan_token` would one by one, in one go;
    where it ends (``pos`` when there is none: :func:`_scan_token`'s turn)."""
    match = _INT_RUN_RE.match(text, pos, endpos)
    if match is None:
        return pos
    end = match.end()
    if end < len(text) and text[end] not in _WORD_ENDS:  # the last word goes on
        end = text.rfind(" ", pos, end)
        if end < 0:
            return pos
    run = text[pos:end]
    try:  # as JSON: twice as fast as int() word by word
        args += _raw_decode("[" + run.replace(" ", ",") + "]", 0)[0]
    except ValueError:  # leading zeros (007): not JSON
        args.extend(map(int, run.split(" ")))
    return end


def _list_in_steps(text: str, pos: int, step: int) -> Iterator[None]:
    """:func:`_scan_token` of the JSON list at ``pos``, decoded a piece of about
    ``step`` chars at a time (a generator: None between pieces; its value is
    ``(list, end)``); the same list, end and errors.

    A piece ends before a comma between two of the list's items; it is decoded as
    a list of its own (after ``[0,`` when it does not start the list: the
    decoder's state after a comma), so that a mistake in it is found where, and as,
    the whole token's decoding finds it. Where that is not sure (a string in the
    piece, a mistake at its very end, no comma at the list's depth in sight), the
    rest of the list is decoded in one go."""
    close = text.find("]", pos)
    if (0 <= close < pos + step and text.find("[", pos + 1, close) < 0
            or text.count("[", pos, pos + step) <= text.count("]", pos, pos + step)):
        return _scan_token(text, pos, bare_ok=True)  # it ends within a piece
    values: list[Any] = []
    start, prefix = pos + 1, "["
    while True:
        cut = _list_cut(text, start, step)
        if cut < 0 or text.find('"', start, cut) >= 0:
            break
        piece = prefix + text[start:cut] + "]"
        try:
            value, end = _raw_decode(piece, 0)
        except (ValueError, RecursionError) as exc:
            where = getattr(exc, "pos", None)
            if where is None or where >= len(prefix) + cut - start - 1:
                break  # perhaps the piece's own end: the whole rest decides
            _json_error(exc, text, pos, start - len(prefix))
        if prefix == "[":
            if not value and end == len(piece):  # blank: "[ ," or "[ ]" decides
                break
            values += value
        else:
            values += value[1:]
        if end < len(piece):  # the list ended in the piece
            return values, start + end - len(prefix)
        start, prefix = cut + 1, "[0,"
        yield None
    if prefix == "[":
        return _scan_token(text, pos, bare_ok=True)
    rest = prefix + text[start:]
    try:
        value, end = _raw_decode(rest, 0)
    except (ValueError, RecursionError) as exc:
        _json_error(exc, text, pos, start - len(prefix))
    values += value[1:]
    return values, start + end - len(prefix)


def _list_cut(text: str, start: int, step: int) -> int:
    """A comma at least ``step`` chars after ``start`` (an item's start in a JSON
    list) at the list's depth, as far as brackets tell; -1 if none is near."""
    cut = text.find(",", start + step)
    depth = 1
    for _ in range(16):
        if cut < 0:
            return -1
        depth += (text.count("[", start, cut) + text.count("{", start, cut)
                  - text.count("]", start, cut) - text.count("}", start, cut))
        if depth <= 1:  # below 1: the list ended before (the piece's decoding sees it)
            return cut
        start, cut = cut, text.find(",", cut + 1)
    return -1


def _json_error(exc: BaseException, text: str, pos: int, offset: int) -> None:
    """Raise :func:`_scan_token`'s error for the JSON token at ``pos`` of ``text``
    given ``exc``, the decoder's error in a piece whose char 0 is ``text[offset]``."""
    if not isinstance(exc, RecursionError):
        import json  # imported already: _raw_decode raised it

        exc = json.JSONDecodeError(exc.msg, text, exc.pos + offset)
    raise ProtocolError(f"bad JSON token at column {pos}: {exc}") from None


def _bytes_in_steps(text: str, pos: int, step: int) -> Iterator[None]:
    """:func:`_scan_token` of the ``%`` bytes at ``pos``, a piece of about ``step``
    hex digits at a time (a generator: None between pieces; its value is
    ``(bytes, end)``); the same bytes, end and errors (a piece that does not decode
    alone: the whole word decides)."""
    start = pos + 1
    step += step & 1  # pieces of whole bytes
    parts = []
    while True:
        match = _BARE_RE.match(text, start, start + step)
        end = match.end() if match else start
        try:
            parts.append(bytes.fromhex(text[start:end]))
        except ValueError:
            return _scan_token(text, pos, bare_ok=True)
        if end < start + step:
            return b"".join(parts), end
        start = end
        yield None


def encode_response(answers: Sequence[str], request_id: int | None = None) -> str:
    """Join already encoded answers into a response frame ending with a newline."""
    return f"{_id_prefix(request_id)}{';'.join(answers)}\n"


def decode_response(line: str) -> tuple[int | None, list[Answer]]:
    """Decode a response frame into its id and its answers, in command order."""
    text = _strip_frame(line)
    simple = _SIMPLE_ANSWERS_RE.match(text)
    if simple:
        request_id, values = simple.groups()
        return (int(request_id) if request_id is not None else None,
                [Answer(int(v)) for v in values.split(";")])
    request_id, pos = _scan_id(text)
    answers: list[Answer] = []
    while True:
        answer, pos = _scan_answer(text, pos)
        answers.append(answer)
        if pos >= len(text):
            return request_id, answers
        if text[pos] != ";":
            raise ProtocolError(f"expected ';' at column {pos}")
        pos += 1


#: The plain int answers a table gives (``b"-7"`` -> -7): canonical decimal only.
_INT_VALUES = {b"%d" % value: value for value in range(-1024, 1024)}
_INT_ANSWERS_RE = re.compile(rb"-?[0-9]{1,18}(?:;-?[0-9]{1,18})*\Z")


def int_answers(body: bytes) -> list[int] | None:
    """The values of a response frame's answers, ``body`` being the frame after its
    id, without the newline (``b"1;0;-3"``), when every answer is a plain decimal
    int of up to 18 digits; None for anything else. Where it gives values they are
    those :func:`decode_response` gives (its own short way), in one pass."""
    parts = body.split(b";")
    values = list(map(_INT_VALUES.get, parts))
    if None in values:
        if not _INT_ANSWERS_RE.match(body):
            return None
        values = list(map(int, parts))
    return values


def encode_notification(name: str, *args: Any) -> str:
    """Encode a frame the server sends unasked, such as ``*e`` edge reports."""
    return "*" + encode_command(name, *args) + "\n"


def decode_notification(line: str) -> Command:
    """Decode a notification frame into its name and arguments."""
    text = _strip_frame(line)
    if not text.startswith("*"):
        raise ProtocolError("a notification starts with '*'")
    request = decode_request(text[1:])
    if request.id is not None or len(request.commands) != 1:
        raise ProtocolError("a notification is exactly one command")
    return request.commands[0]


def _strip_frame(line: str) -> str:
    if not isinstance(line, str):
        raise ProtocolError("a frame must be text")
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line or "\r" in line:
        raise ProtocolError("a frame is one line")
    if not line:
        raise ProtocolError("empty frame")
    return line


def salvage_id(data: bytes) -> int | None:
    """The id at the start of a frame that failed to decode (or was too long), so
    its error answer still reaches the request it belongs to."""
    if data[:1] != b"@":
        return None
    word = bytes(data[1:21]).split(b" ", 1)[0]
    if word.isdigit() and len(word) <= 19 and int(word) <= MAX_ID:
        return int(word)
    return None


def frame_text(data: bytes | bytearray | memoryview) -> str:
    """Turn one received frame's bytes into text, refusing anything but ASCII."""
    try:
        return str(data, "ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"frame is not ASCII at byte {exc.start}") from None


def pack_edge_burst(gpio: int, first_level: int, start_tick: int, interval_us: int,
                    count: int) -> bytes:
    """Pack ``count`` alternating edges of ``gpio`` as :data:`EDGE_RECORD` records:
    levels ``first_level``, its opposite, ...; ticks ``start_tick + i * interval_us``
    wrapping at 2**32. Computed column by column, not record by record."""
    if count <= 0:
        return b""
    last = start_tick + (count - 1) * interval_us
    if interval_us and last < 1 << 32:
        ticks = array("I", range(start_tick, last + 1, interval_us))
    else:
        ticks = array("I", [(start_tick + i * interval_us) & 0xFFFFFFFF for i in range(count)])
    return pack_edges(gpio, first_level, ticks)


def pack_edges(gpio: int, first_level: int, ticks: "array[int]") -> bytes:
    """Pack alternating edges of ``gpio`` at ``ticks`` (an ``array('I')``; for a lone
    edge any sequence), the first to ``first_level``, as :data:`EDGE_RECORD` records,
    column by column (a lone edge, the everyday one, by one ``struct`` pack: 0.15
    against 5 µs)."""
    count = len(ticks)
    if count == 1:
        return EDGE_RECORD.pack(gpio, first_level, ticks[0])
    if sys.byteorder != "little":
        ticks = array("I", ticks)
        ticks.byteswap()
    tick_bytes = ticks.tobytes()
    out = bytearray(6 * count)
    out[0::6] = bytes([gpio]) * count
    out[1::6] = (bytes([first_level, first_level ^ 1]) * ((count + 1) // 2))[:count]
    for i in range(4):
        out[2 + i::6] = tick_bytes[i::4]
    return bytes(out)
