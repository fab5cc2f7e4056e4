"""The wire codec: round trips (fuzzed by hypothesis) and safe decoding."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gpiosvr import protocol
from gpiosvr.client import Response
from gpiosvr.errors import PigpioError, ProtocolError, RemoteError

ints = st.integers() | st.integers(min_value=-(1 << 300), max_value=1 << 300)
texts = st.text()  # any code point, surrogates, NUL, ';', '\n' included
json_scalars = st.none() | st.integers() | st.text()
results = (
    st.none() | ints | texts | st.binary() | st.lists(st.integers())
    | st.lists(json_scalars) | st.dictionaries(st.text(), json_scalars)
)
exceptions = st.one_of(
    st.builds(PigpioError, st.integers(-200, -1), texts),
    st.builds(RemoteError, st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True),
              texts, st.none() | st.integers(-(1 << 62), 1 << 62)),
    st.builds(ValueError, texts),
    st.builds(TypeError, texts),
    st.builds(RuntimeError, texts),
    st.builds(ProtocolError, texts),
)
args = st.none() | ints | texts | st.binary() | st.lists(st.integers())
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
commands = st.tuples(names, st.lists(args, max_size=4).map(tuple))


def make_response(result, excs) -> Response:
    r = Response()
    r.set_result(result)
    for e in excs:
        r.append_exception(e)
    return r


@settings(max_examples=400)
@given(results, st.lists(exceptions, max_size=4))
def test_response_round_trip(result, excs):
    r = make_response(result, excs)
    encoded = r.encode()
    assert "\n" not in encoded and encoded.isascii()
    assert Response.decode(encoded) == r


@given(st.lists(exceptions, max_size=5))
def test_exceptions_round_trip(excs):
    text = " ".join(Response.encodeException(e) for e in excs)
    decoded = Response.decodeExceptions(text)
    assert [(type(e), str(e), getattr(e, "code", None)) for e in decoded] == \
           [(type(e), str(e), getattr(e, "code", None)) for e in excs]


@settings(max_examples=300)
@given(st.lists(commands, min_size=1, max_size=5),
       st.none() | st.integers(0, (1 << 63) - 1))
def test_request_round_trip(cmds, request_id):
    frame = protocol.encode_request([(n, *a) for n, a in cmds], request_id)
    assert frame.endswith("\n") and frame.count("\n") == 1 and frame.isascii()
    decoded = protocol.decode_request(frame)
    assert decoded.id == request_id
    assert [(c.name, c.args) for c in decoded.commands] == [(n, a) for n, a in cmds]


@given(st.lists(st.tuples(results, st.lists(exceptions, max_size=2)), min_size=1, max_size=4),
       st.none() | st.integers(0, 1 << 40))
def test_response_frame_round_trip(answers, request_id):
    frame = protocol.encode_response(
        [make_response(v, e).encode() for v, e in answers], request_id)
    got_id, got = protocol.decode_response(frame)
    assert got_id == request_id
    assert [Response._from_answer(a) for a in got] == [make_response(v, e) for v, e in answers]


@given(names, st.lists(args, max_size=4))
def test_notification_round_trip(name, values):
    note = protocol.decode_notification(protocol.encode_notification(name, *values))
    assert note == (name, tuple(values))


DECODERS = [
    Response.decode, Response.decodeExceptions, protocol.decode_value,
    protocol.decode_request, protocol.decode_response, protocol.decode_notification,
]


@settings(max_examples=300)
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_only_raises_protocol_error(text):
    for decode in DECODERS:
        try:
            decode(text)
        except ProtocolError:
            pass


@settings(max_examples=200)
@given(st.binary())
def test_arbitrary_bytes_only_raise_protocol_error(data):
    try:
        text = protocol.frame_text(data)
    except ProtocolError:
        return
    for decode in DECODERS:
        try:
            decode(text)
        except ProtocolError:
            pass


@pytest.mark.parametrize("bad", [
    "[" * 100_000, '"unterminated', "1 2", "!Foo", "%zz", "NaN", "1.5", "[1.5]",
    "[Infinity]", "@", "@x r 1", "w 1;", ";", "null !PigpioError:-3:nope", "1e5",
    "9" * 5000, "\x00", "r 4\nr 5", "0;", "@7", "@9999999999999999999 r 4", "1 !",
])
def test_malformed_input_raises_protocol_error(bad):
    for decode in DECODERS:
        try:
            decode(bad)
        except ProtocolError:
            pass


def test_unknown_exception_kind_keeps_its_name_and_never_imports():
    (exc,) = Response.decodeExceptions('!os.system:7:"rm -rf /"')
    assert isinstance(exc, RemoteError)
    assert (exc.kind, str(exc), exc.code) == ("os.system", "rm -rf /", 7)
    (exc,) = Response.decodeExceptions('!SystemExit::"bye"')
    assert isinstance(exc, RemoteError) and exc.kind == "SystemExit"


def test_pigs_style_request_and_typed_values():
    req = protocol.decode_request("@7 W 18 1;r 18;m 4 w;pud 4 u;bs1 0x400")
    assert req.id == 7
    assert req.commands == (("w", (18, 1)), ("r", (18,)), ("m", (4, "w")),
                            ("pud", (4, "u")), ("bs1", (0x400,)))
    assert protocol.encode_value(-(1 << 70)) == "-0x400000000000000000"
    assert protocol.decode_value("-0x400000000000000000") == -(1 << 70)
    assert protocol.decode_value('"a;b\\n\\u0000"') == "a;b\n\x00"
    assert protocol.decode_value("%00ff") == b"\x00\xff"


def test_frame_text_refuses_non_ascii():
    with pytest.raises(ProtocolError):
        protocol.frame_text("r 4 ü".encode())


@given(st.integers(0, 31), st.integers(0, 1), st.integers(0, 2**32 - 1),
       st.integers(0, 10**6), st.integers(0, 300))
def test_edge_bursts_pack_as_records_one_by_one(gpio, first, start, interval, count):
    expected = b"".join(
        protocol.EDGE_RECORD.pack(gpio, first ^ (i % 2), (start + i * interval) % 2**32)
        for i in range(count))
    assert protocol.pack_edge_burst(gpio, first, start, interval, count) == expected


@given(st.integers(0, 31), st.integers(0, 1),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
@example(22, 1, [2**32 - 1])      # a lone edge (packed the short way) at the last tick
def test_edges_at_any_ticks_pack_as_records_one_by_one(gpio, first, ticks):
    expected = b"".join(protocol.EDGE_RECORD.pack(gpio, first ^ (i % 2), tick)
                        for i, tick in enumerate(ticks))
    assert protocol.pack_edges(gpio, first, array("I", ticks)) == expected


small_or_any_ints = st.integers(-1100, 1100) | st.integers(-(10**18 - 1), 10**18 - 1) | ints


@given(st.lists(small_or_any_ints, min_size=1, max_size=40), st.integers(0, (1 << 63) - 1))
def test_int_answers_round_trip(values, request_id):
    """A batch's plain int answers decode in one pass to what decode_response gives;
    answers too long for it (over 18 digits) are left to the general decoder."""
    frame = protocol.encode_response([protocol.encode_answer(v) for v in values], request_id)
    body = frame.encode("ascii")[len(f"@{request_id} "):-1]
    got = protocol.int_answers(body)
    if all(abs(v) < 10**18 for v in values):
        assert got == values
        assert all(type(v) is int for v in got)
        general = protocol.decode_response(frame)[1]
        assert Response._from_values(got) == [Response._from_answer(a) for a in general]
    else:
        assert got is None


@settings(max_examples=300)
@given(st.text(alphabet="0123456789-;x !\"+ \t") .map(str.encode) | st.binary())
def test_int_answers_agree_with_the_general_decoder(body):
    """Whatever int_answers accepts, decode_response reads as the same plain ints."""
    got = protocol.int_answers(body)
    if got is None:
        return
    _, answers = protocol.decode_response(protocol.frame_text(b"@1 " + body))
    assert [a.value for a in answers] == got
    assert not any(a.exceptions for a in answers)
    assert all(type(a.value) is int for a in answers)


def test_int_answers_declines_what_is_not_plain_ints():
    for body in (b"", b"1;", b";1", b"1;;2", b"1 2", b"0x1", b"null", b"1;null", b"+1",
                 b"1 !PigpioError:-2:\"x\"", b"1" * 19, b"--1", b"1\n", b"1;\"2\"", b" 1"):
        assert protocol.int_answers(body) is None, body
    assert protocol.int_answers(b"0;-1;1023;-1024;1024;007;-0;" + b"9" * 18) == [
        0, -1, 1023, -1024, 1024, 7, 0, 10**18 - 1]


int_like = (st.integers(-300, 300) | ints | st.booleans() | st.floats(-5, 5)
            | st.sampled_from(["4", "u"]))


@given(st.lists(st.tuples(st.sampled_from(["r", "w", "br1", "p"]),
                          st.lists(int_like, max_size=3).map(tuple)), min_size=1, max_size=6),
       st.integers(0, (1 << 63) - 1))
def test_the_short_request_encoder_writes_what_the_general_one_does(cmds, request_id):
    """channel.encode_int_request (commands remembered by equality) either declines or
    writes the general encoder's bytes, whatever commands it has seen before."""
    from gpiosvr.channel import encode_int_request

    commands = [(name, *values) for name, values in cmds]
    frame = encode_int_request(commands, request_id)
    if frame is not None:
        assert frame == protocol.encode_request(commands, request_id).encode("ascii")
        assert all(type(a) is int for c in commands for a in c[1:])


# -- big frames decoded in pieces (decode_request_in_steps with a step) ---------------


def _whole(text: str):
    try:
        request = protocol.decode_request(text)
    except ProtocolError as exc:
        return "error", str(exc)
    return request.id, request.commands


def _stepped(text: str, step: int):
    """The stepped decoding's commands (or error), and how many pieces it gave."""
    pieces = 0
    try:
        request_id, steps = protocol.decode_request_in_steps(text, step)
        decoded = []
        for command in steps:
            if command is None:
                pieces += 1
            else:
                decoded.append(command)
    except ProtocolError as exc:
        return ("error", str(exc)), pieces
    return (request_id, tuple(decoded)), pieces


_FLAT = "[" + ",".join(str(n * 7919 % 100003) for n in range(3000)) + "]"
_NESTED = "[" + ",".join(f"[{n % 2},{n * 13}]" for n in range(2000)) + "]"
_INTS = " ".join(str(n * 7919 % 100003) for n in range(3000))
_HEX = "%" + bytes(range(256)).hex() * 40

BIG_FRAMES = [
    f"@1 wvag {_FLAT}", f"@2 simplay 4 {_NESTED}", f"@3 wvag {_INTS}", f"@4 i2cwd 0 {_HEX}",
    f"@5 w 4 1;wvag {_FLAT};r 4;wvag {_INTS} {_FLAT} {_HEX} u \"s\"",
    f"wvag {_INTS.replace(' 5', ' 05')}",  # leading zeros: ints, not JSON
    f"wvag {_INTS} 12a {_INTS} 0x1f -3 - {_INTS}\t7",  # words among the ints
    f"r [1,{_FLAT},{_NESTED},{{\"k\":[1,2]}},\"a,b]\",{_FLAT}]",  # a string, an object
    # mistakes: at the end, in the middle, of every kind the JSON decoder finds
    f"@6 w 4 1;r {_FLAT[:-1]},]", f"@7 r {_FLAT[:-1]}", f"@8 r {_FLAT[:9000]},,{_FLAT[1:]}",
    f"r {_FLAT[:12000]},1.5,{_FLAT[1:]}", f"r {_FLAT[:12000]},NaN,{_FLAT[1:]}",
    f"r {_FLAT[:12000]},tru,{_FLAT[1:]}", f"r {_FLAT[:12000]} 5,{_FLAT[1:]}",
    f"r [\t,{_FLAT[1:]}", f"r [ {_FLAT[1:]}", f"r {_NESTED[:-2]}", f"r {_NESTED[:7000]}]]",
    f"i2cwd 0 {_HEX}f", f"i2cwd 0 {_HEX[:5000]}zz{_HEX[5000:]}",
    f"wvag {_INTS} {'9' * 5000}", f"wvag {_INTS};", f"wvag {_INTS} [1, 2]x",
]


@pytest.mark.parametrize("frame", BIG_FRAMES, ids=range(len(BIG_FRAMES)))
def test_a_big_frame_decoded_in_pieces_gives_the_whole_decodings_commands(frame):
    """A frame decoded a piece of about ``step`` chars at a time (JSON lists, bytes
    and runs of ints cut within) gives the commands, or the error, that decoding it
    in one go gives; and it does come in pieces."""
    whole = _whole(frame)
    for step in (1, 3, 64, 1000, 4096):
        stepped, pieces = _stepped(frame, step)
        assert stepped == whole, step
        if whole[0] == "error" and not frame.startswith(("@6", "@7")) or "{" in frame:
            continue  # a mistake before the end, or big items of a list: not cut
        assert pieces >= min(8, len(frame) // step // 4), step


_json_items = st.recursive(
    st.integers(-10**6, 10**6) | st.sampled_from(["true", "false", "null", "1.5", "NaN", "-",
                                                  "007", "\"a,]\"", "{}", " "]),
    lambda inner: st.lists(inner, max_size=12).map(lambda xs: "[" + ",".join(map(str, xs)) + "]"),
    max_leaves=60)
_big_args = st.one_of(
    st.lists(_json_items, max_size=200).map(lambda xs: "[" + ",".join(map(str, xs)) + "]"),
    st.lists(st.integers(-10**20, 10**20), min_size=1, max_size=200).map(
        lambda xs: " ".join(map(str, xs))),
    st.binary(max_size=300).map(lambda b: "%" + b.hex()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_big_args, min_size=1, max_size=3), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(list(",[]{}\"0 1-.e;%\tx"))),
                max_size=3),
       st.integers(1, 300))
def test_pieces_and_whole_agree_on_any_frame(commands_, mistakes, step):
    """Frames of lists (nested, with mistakes), runs of ints and bytes, with a few
    chars changed anywhere: decoded in pieces, the same commands or error as whole."""
    text = ";".join("wvag " + " ".join(arguments) for arguments in commands_)
    for where, char in mistakes:
        where %= len(text)
        text = text[:where] + char + text[where + 1:]
    assert _stepped(text, step)[0] == _whole(text)
