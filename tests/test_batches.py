"""Requests of many commands take the short way per command (issue #18): the same
answers, byte for byte, as the general decoder and executor, and as the commands
sent one at a time. Their speed is measured by ``benchmarks/bench_calls.py``."""

from __future__ import annotations

import socket

import pytest

from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import ProtocolError
from gpiosvr.protocol import MAX_COMMANDS_PER_REQUEST
from gpiosvr.server import GpioServer
from gpiosvr.server.app import ClientConnection, short_answer

BATCHES = [
    b"r 4;r 5", b"w 4 1;r 4;w 4 0;r 4", b"m 5 1;mg 5;m 5 4;mg 5", b"bs1 96;br1;bc1 32;br1",
    b"w 54 1;r 4", b"w 4 2;r 4", b"r 99;r 4", b"r;r 4", b"r 4 5;r 4", b"zz 1;r 4",
    b"pud 4 1;r 4", b"p 18 128;gdc 18;w 18 1;gdc 18", b"r 4;", b";r 4", b"r 4;;r 5",
    b"r  4;r 5", b"R 4;r 4", b"r -4;r 4", b"r 0x4;r 4", b"bs1 4294967296;br1",
    b"hwver;pigpv;hwver", b"r 4 # a comment;r 5", b";".join([b"r 4"] * MAX_COMMANDS_PER_REQUEST),
    b";".join([b"r 4"] * (MAX_COMMANDS_PER_REQUEST + 1)),
]


def test_batches_answer_byte_for_byte_as_the_general_way():
    short_server, general_server = GpioServer("/nonexistent/a"), GpioServer("/nonexistent/b")
    short, general = ClientConnection(short_server), ClientConnection(general_server)
    taken = 0
    for number, body in enumerate(BATCHES * 2, 1):  # the second time, planned before
        frame = b"@%d %s\n" % (number, body)
        expected = general.handle_frame(frame[:-1]).encode("ascii")
        answer = short_answer(short.session, frame)
        if answer is None:
            answer = short.handle_frame(frame[:-1]).encode("ascii")
        else:
            taken += 1
        assert answer == expected, frame
    assert taken >= 24
    assert short_server.backend.read_bank(1) == general_server.backend.read_bank(1)


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_batches_run_in_turns_answer_as_run_whole(turn):
    """A batch run a few commands a turn (its answer encoded a piece a turn, joined
    at the end) answers byte for byte as the general way, general commands among
    its short ones (``pud 4 1``) included."""
    from gpiosvr.server import app

    short_server, general_server = GpioServer("/nonexistent/a"), GpioServer("/nonexistent/b")
    short, general = ClientConnection(short_server), ClientConnection(general_server)
    for number, body in enumerate(BATCHES, 1):
        head = b"@%d" % number
        batch = app.plan_batch(head, body)
        if batch is None:
            continue
        runs = 1
        while not batch.run(short.session, turn):
            runs += 1
        assert batch.answer() == general.handle_frame(head + b" " + body).encode("ascii")
        assert runs >= min(batch.cost, len(batch.plans)) // turn, body


def test_failing_commands_in_a_batch_answer_as_the_general_way(monkeypatch):
    """A short command that fails as it runs (a GPIO this server may not change, a
    backend's bug) gets the general way's error answer, and the commands after it
    still run; the same when the batch runs in turns."""
    from gpiosvr.server import app

    permit = 1 << 5  # GPIO 5 only: "w 4 1" is refused by the handler, as it runs
    short_server = GpioServer("/nonexistent/a", permit=permit)
    general_server = GpioServer("/nonexistent/b", permit=permit)
    short, general = ClientConnection(short_server), ClientConnection(general_server)
    for server in (short_server, general_server):
        chip_read = server.backend.read

        def read(gpio, chip_read=chip_read):
            if gpio == 7:
                raise OSError("the chip fell off")
            return chip_read(gpio)

        monkeypatch.setattr(server.backend, "read", read)
    body = b"w 5 1;w 4 1;r 5;r 7;w 5 0;r 5;w 4 0;r 4;r 7"
    for number, turn in enumerate((1000, 1000, 2, 1), 1):
        monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", turn)
        frame = b"@%d %s\n" % (number, body)
        expected = general.handle_frame(frame[:-1]).encode("ascii")
        batch = app.plan_batch(b"@%d" % number, frame.split(b" ", 1)[1])
        assert batch is not None and batch.short_only
        while not batch.run(short.session, turn):
            pass
        assert batch.answer() == expected
        assert expected.count(b"!PigpioError") == 2
        assert expected.count(b"internal error: the chip fell off") == 2


def _connected(server) -> socket.socket:
    """A raw socket connected to ``server``, for frames written by hand (a 10 s
    timeout on every read)."""
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.settimeout(10)
        sock.connect(server.socket_path)
    except OSError:
        sock.close()
        raise
    return sock


def test_a_batch_over_the_socket_answers_as_single_calls(server):
    commands = [("w", 4, 1), ("r", 4), ("w", 4, 0), ("r", 4), ("mg", 4), ("w", 60, 1),
                ("zz",), ("br1",), ("pud", 4, "u"), ("r", 99), ("t",)] * 10
    with BlockingClient(server.socket_path) as client:
        together = client.request(commands)
        apart = client.request(commands[:1]) and [client.request([c])[0] for c in commands]
    for one, other, command in zip(together, apart, commands):
        if command == ("t",):
            continue  # the tick moves on
        assert one == other, command
    assert [r.result() for r in together[:4]] == [0, 1, 0, 0]


def test_a_raw_batch_keeps_its_id_and_order(server):
    with _connected(server) as sock:
        sock.sendall(b"@77 w 4 1;r 4;w 4 0;r 4;zz\n")
        data = b""
        while not data.endswith(b"\n"):
            data += sock.recv(4096)
    answer = data.decode("ascii")
    assert answer.startswith("@77 0;1;0;0;null !PigpioError:-")


def _answers(sock, count: int) -> list[bytes]:
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data.split(b"\n")[:count]


def test_a_long_request_runs_in_turns_and_in_order(server, monkeypatch):
    """A request of more than SHORT_COMMANDS_PER_TURN commands runs a turn of the
    loop at a time (other clients are served in between); what the same client
    sends meanwhile waits for it, so that its requests still run in order."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2)
    turns = []
    run = app.ShortBatch.run
    monkeypatch.setattr(app.ShortBatch, "run",
                        lambda self, *a: turns.append(1) or run(self, *a))
    batch = b";".join([b"w 4 1"] + [b"r 4"] * 9 + [b"zz", b"w 4 0", b"r 4"])
    with _connected(server) as sock, BlockingClient(server.socket_path) as other:
        sock.sendall(b"@1 " + batch + b"\n")
        sock.sendall(b"@2 w 4 1\n")
        assert other.command("t") >= 0  # another client is served meanwhile
        first, second = _answers(sock, 2)
    assert first.startswith(b"@1 0;" + b"1;" * 9 + b"null !PigpioError:-")
    assert first.endswith(b";0;0")
    assert second == b"@2 0"
    assert len(turns) >= 6


def test_the_longest_request_answers_as_the_general_way(server):
    body = b";".join([b"w 4 1", b"r 4", b"w 4 0", b"r 4"] * (MAX_COMMANDS_PER_REQUEST // 4))
    expected = ClientConnection(GpioServer("/nonexistent/c")).handle_frame(b"@9 " + body)
    with _connected(server) as sock:
        sock.sendall(b"@9 " + body + b"\n")
        assert _answers(sock, 1) == [expected[:-1].encode("ascii")]


def test_long_requests_pipelined_in_one_write_run_in_turns_and_in_order(server, monkeypatch):
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 3)
    long_one = b";".join([b"r 4"] * 7)
    frames = [b"@1 w 4 1", b"@2 " + long_one, b"@3 w 4 0", b"@4 " + long_one, b"@5 r 4",
              b"@6 " + long_one]
    with _connected(server) as sock:
        sock.sendall(b"\n".join(frames) + b"\n")
        answers = _answers(sock, len(frames))
    assert answers == [b"@1 0", b"@2 " + b";".join([b"1"] * 7), b"@3 0",
                       b"@4 " + b";".join([b"0"] * 7), b"@5 0",
                       b"@6 " + b";".join([b"0"] * 7)]


def test_a_frame_left_unfinished_after_a_long_request_is_still_timed(server, monkeypatch):
    from gpiosvr.server import app

    monkeypatch.setattr(app, "PARTIAL_FRAME_SECONDS", 0.2)
    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2)
    with _connected(server) as sock:
        sock.sendall(b"@1 r 4;r 4;r 4;r 4\n@2 br")  # a long request, then half a frame
        answer, bye = _answers(sock, 2)
    assert answer.startswith(b"@1 ") and answer.count(b";") == 3
    assert bye.startswith(b'*bye "frame not finished within 0.2 s')


def test_the_client_encodes_int_requests_as_the_general_encoder():
    from gpiosvr import protocol
    from gpiosvr.channel import encode_int_request

    taken = [[("r", 4)], [("r", 4)] * 100, [("w", 4, 1), ("r", 4), ("br1",), ("t",)],
             (("bs1", 0xFFFFFFFF), ("p", 18, -1)), [("x", (1 << 64) - 1), ("y", -(1 << 64) + 1)]]
    for commands in taken * 2:  # the second time, each command was encoded before
        frame = encode_int_request(commands, 42)
        assert frame == protocol.encode_request(commands, 42).encode("ascii"), commands
    # equal to commands encoded before, and declined all the same: not plain ints
    declined = [[], [["r", 4]], [("r", True)], [("r", 4.0)], [("r", "4")], [("r", 1 << 64)],
                [("r", 4), ("r", b"x")], [(b"r", 4)], [("w", 4, True)], [("w", 4.0, 1)],
                [("p", 18, -1.0)], [("r", [4])], [("r", 4), ["r", 4]], [()], [("r", 4), "r"]]
    for commands in declined:
        assert encode_int_request(commands, 42) is None, commands
    for bad in ([("1r", 4)], [("r x", 4)]):
        with pytest.raises(ProtocolError):
            encode_int_request(bad, 42)
        with pytest.raises(ProtocolError):
            protocol.encode_request(bad, 42)


def test_a_request_of_int_answers_decodes_as_the_general_way(server):
    """``request`` reads a batch of plain int answers in one pass: the same
    responses as the general decoder's, small values, big ones and errors mixed."""
    from gpiosvr.response import Response

    batches = [[("r", 4)] * 100, [("w", 4, 1), ("r", 4), ("mg", 4), ("br1",), ("hwver",),
                                  ("pigpv",), ("bs1", 1 << 31), ("br1",)],
               [("r", 4), ("r", 99), ("r", 4)], [("hwver",), ("pud", 4, "u"), ("r", 4)]]
    with BlockingClient(server.socket_path) as client:
        channel = client._channel()
        for commands in batches:
            got = client.request(commands)
            general = [Response._from_answer(a) for a in channel.exchange(commands)]
            assert got == general, commands
        assert client.request(batches[1])[4].result() == server.backend.hardware_revision
        with pytest.raises(ProtocolError):  # as the general encoder refuses it
            client.request([("r", 4), ("r", 4.0)])


# -- turns: what one read or one request may hold the loop for (issue #18) --------


def _general_answers(frames: list[bytes]) -> list[bytes]:
    """The answers the general way gives ``frames`` one at a time, on a server of
    its own (the same simulated chip, from the same start)."""
    general = ClientConnection(GpioServer("/nonexistent/general"))
    return [general.handle_frame(frame).encode("ascii")[:-1] for frame in frames]


def _count_calls(monkeypatch, cls, name: str) -> list:
    """Record ``self`` at each call of ``cls.name``."""
    calls: list = []
    original = getattr(cls, name)

    def counted(self, *args):
        calls.append(self)
        return original(self, *args)

    monkeypatch.setattr(cls, name, counted)
    return calls


PIPELINED = [b"w 4 1", b"r 4", b"w 4 0;r 4", b"mg 4", b"pud 4 u", b"r 4", b"pud 4 d;r 4",
             b"zz", b"r 99", b"bs1 16;br1;bc1 16;br1", b"r 4;r 4;r 4;r 4;r 4;r 4"]


def test_pipelined_requests_in_one_read_run_in_turns_in_order(server, monkeypatch):
    """Frames that come in one read run a turn's budget at a time (a lone frame
    costs FRAME_COST, a command of the general executor GENERAL_COMMAND_COST), the
    rest on later turns of the loop; every answer is the general way's, in order."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 3 * app.FRAME_COST)
    turns = _count_calls(monkeypatch, app.ClientConnection, "_run_turn")
    frames = [b"@%d %s" % (n, body) for n, body in enumerate(PIPELINED * 6, 1)]
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert len(turns) >= len(frames) // 3


def _hold_the_loop(server):
    """Block the server's loop until the returned event is set (at most 10 s), once
    it has begun holding it: what clients send meanwhile is read all at once."""
    import threading

    holding, release = threading.Event(), threading.Event()

    def hold():
        holding.set()
        release.wait(10)

    server._loop.call_soon_threadsafe(hold)
    assert holding.wait(10)
    return release


def test_two_clients_pipelining_take_turns(server, monkeypatch):
    """Two clients whose pipelined frames are read in the same loop iteration run a
    turn each in turn, not one's whole read and then the other's."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2 * app.FRAME_COST)
    turns = _count_calls(monkeypatch, app.ClientConnection, "_run_turn")
    socks = []
    try:
        for number in range(2):
            socks.append(sock := _connected(server))
            sock.sendall(b"@0 w %d 1\n" % (20 + number))  # connected and served
            assert _answers(sock, 1) == [b"@0 0"]
        release = _hold_the_loop(server)
        for number, sock in enumerate(socks):
            sock.sendall(b"".join(b"@%d r %d\n" % (n, 20 + number) for n in range(1, 41)))
        release.set()
        for sock in socks:
            assert _answers(sock, 40) == [b"@%d 1" % n for n in range(1, 41)]
    finally:
        for sock in socks:
            sock.close()
    assert len(turns) >= 38
    first = turns[0]
    switches = sum(1 for a, b in zip(turns, turns[1:]) if a is not b)
    assert switches >= 30, [t is first for t in turns]


def test_what_a_client_sends_during_its_turns_runs_after_them(server, monkeypatch):
    """Frames that arrive while a client's earlier frames wait for their turn are
    kept behind them (reading that client paused meanwhile): answers in order."""
    import threading

    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", app.FRAME_COST)
    in_turn, sent = threading.Event(), threading.Event()
    run_turn = app.ClientConnection._run_turn
    waiting = []

    def first_turn_waits(self):
        if not in_turn.is_set():
            in_turn.set()
            sent.wait(10)  # the second write is in the socket by now
        run_turn(self)

    def data_received(self, data, original=app.ClientConnection.data_received):
        waiting.append(self._turn_pending or self._batch is not None)
        original(self, data)

    monkeypatch.setattr(app.ClientConnection, "_run_turn", first_turn_waits)
    monkeypatch.setattr(app.ClientConnection, "data_received", data_received)
    frames = [b"@%d %s" % (n, body) for n, body in enumerate(PIPELINED * 4, 1)]
    half = len(frames) // 2
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames[:half]))
        assert in_turn.wait(10)
        sock.sendall(b"".join(f + b"\n" for f in frames[half:]))
        sent.set()
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert True in waiting  # the second write came while the first waited its turn


LONG_GENERAL = b";".join([b"pud 4 u", b"r 4", b"mg 4", b"pud 4 d", b"r 4", b"zz",
                          b"w 4 \"x\"", b"r 4", b"m 4 w", b"w 4 1", b"r 4", b"pud 4 o"] * 4)


def test_a_long_request_the_short_way_does_not_take_runs_in_turns(server, monkeypatch):
    """A request of many commands the general way runs (here: letters as arguments)
    is decoded and executed a turn's budget at a time, with the general way's
    answer; what the client sent after it is answered after it."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2 * app.GENERAL_COMMAND_COST)
    runs = _count_calls(monkeypatch, app.GeneralBatch, "run")
    frames = [b"@1 " + LONG_GENERAL, b"@2 r 4", b"@3 " + LONG_GENERAL, b"@4 mg 4"]
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    commands = LONG_GENERAL.count(b";") + 1
    assert len(runs) >= commands  # 4 decoded or 4 run a turn: 2 x 24 turns


def test_a_long_general_request_with_a_mistake_anywhere_runs_nothing(server, monkeypatch):
    """Decoded in turns, it is still decoded whole before any command runs: a bad
    token in its last command makes it one error answer, as the general way's."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", app.GENERAL_COMMAND_COST)
    frame = b"@7 " + b";".join([b"w 4 1", b"pud 4 u"] * 20) + b";r [1,"
    with _connected(server) as sock:
        sock.sendall(b"@6 w 4 0\n" + frame + b"\n@8 r 4\n")
        answers = _answers(sock, 3)
    assert answers[0] == b"@6 0"
    assert answers[1] == _general_answers([frame])[0]
    assert answers[1].startswith(b"@7 null !ProtocolError")
    assert answers[2] == b"@8 0"  # nothing of @7 ran


def test_a_long_general_request_whose_command_answers_later(server, monkeypatch):
    """A command that answers later (an I2C open on the simulated bus) in a long
    request run in turns: its answer comes in its place, the frames after wait."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 2 * app.GENERAL_COMMAND_COST)
    frame = b"@1 " + b";".join([b"i2co 1 72 0"] + [b"pud 4 u", b"r 4"] * 10)
    with _connected(server) as sock:
        sock.sendall(frame + b"\n@2 pud 4 d;r 4\n")
        first, second = _answers(sock, 2)
    handle, *rest = first[3:].split(b";")
    assert int(handle) >= 0
    assert rest == [b"0", b"1"] * 10
    assert second == b"@2 0;0"


def test_a_batch_longer_than_a_turn_and_pipelined_frames_behind_it(server, monkeypatch):
    """A long short-way batch, planned before (its first turn runs at once), with
    single frames after it in the same read: all in order, the batch in turns."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 16)
    runs = _count_calls(monkeypatch, app.ShortBatch, "run")
    body = b";".join([b"w 4 1", b"r 4", b"w 4 0", b"r 4"] * 10)
    frames = [b"@1 " + body, b"@2 w 4 1", b"@3 " + body, b"@4 r 4", b"@5 " + body]
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert len(runs) >= 3 * 40 // 16


def test_a_request_that_fits_a_turn_runs_whole_even_behind_other_frames(server, monkeypatch):
    """Short commands and one general command within the budget (26 of 32) run in
    one go, nothing of another turn in between, also when frames before it in the
    same read spent part of the turn: it waits for a turn of its own."""
    from gpiosvr.server import app

    runs = _count_calls(monkeypatch, app.ShortBatch, "run")
    turns = _count_calls(monkeypatch, app.ClientConnection, "_run_turn")
    frames = [b"@1 r 4", b"@2 r 4", b"@3 mg 4", b"@4 w 4 1;pud 4 2;r 4", b"@5 r 4"]
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert len(runs) == 1  # the batch in one run
    assert len(turns) == 1  # 3 frames spent 24 of 32: the batch (26) had the next turn


def test_the_answers_of_one_read_go_out_together_across_turns(server, monkeypatch):
    """Pipelined frames run over several turns, their answers in one write (as when
    they ran in one turn), not one a turn: a pipelining client is woken once."""
    from gpiosvr.server import app

    monkeypatch.setattr(app, "SHORT_COMMANDS_PER_TURN", 3 * app.FRAME_COST)
    turns = _count_calls(monkeypatch, app.ClientConnection, "_run_turn")
    frames = [b"@%d %s" % (n, body) for n, body in enumerate(PIPELINED * 3, 1)]
    with _connected(server) as sock:
        sock.sendall(b"@0 t\n")
        _answers(sock, 1)  # connected, accepted and served
        writes = _count_calls(monkeypatch, app.ClientConnection, "_write")
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert len(turns) >= len(frames) // 3
    assert len(writes) == 1


# -- big frames: decoded a piece a turn (DECODE_STEP_BYTES) -------------------------

#: 3,000 pulses on GPIOs 4-11 (permitted on the default board), delays 1-997 µs.
PULSES = [(1 << (4 + n % 8), 1 << (4 + (n + 3) % 8), 1 + n * 7919 % 997) for n in range(3000)]
FLAT = [value for pulse in PULSES for value in pulse]
WVAG_JSON = b"wvag [" + b",".join(b"%d" % v for v in FLAT) + b"]"
WVAG_INTS = b"wvag " + b" ".join(b"%d" % v for v in FLAT)
WVAG_BYTES = b"wvag %" + b"".join(v.to_bytes(4, "little") for v in FLAT).hex().encode()
#: Bytes of a big frame a piece takes at most, as tests count them: a few times
#: DECODE_STEP_BYTES (4 KiB).
SEVERAL_PIECES = 16 * 1024


def test_a_big_frame_is_decoded_in_pieces_with_the_same_answers(server, monkeypatch):
    """A wave of 3,000 pulses in one frame (as JSON, as pigs' ints, as packed
    bytes: 36-72 KB) is decoded a piece a turn of the loop, and makes the same wave
    as decoded in one go, to the µs and the control block."""
    from gpiosvr.server import app

    runs = _count_calls(monkeypatch, app.GeneralBatch, "run")
    frames = []
    for number, body in enumerate((WVAG_JSON, WVAG_INTS, WVAG_BYTES)):
        frames += [b"@%d %s" % (number, body) for body in (
            b"wvnew", body, b"wvsm 0", b"wvsp 0", b"wvsc 0")]
    answers = []
    with _connected(server) as sock:
        for frame in frames:  # one at a time: each read holds one frame
            sock.sendall(frame + b"\n")
            answers += _answers(sock, 1)
    assert answers == _general_answers(frames)
    micros = sum(delay for _, _, delay in PULSES)
    for number in range(3):
        assert answers[5 * number:5 * number + 4] == [
            b"@%d 0" % number, b"@%d 3000" % number, b"@%d %d" % (number, micros),
            b"@%d 3000" % number]
    assert len(runs) >= len(WVAG_JSON + WVAG_INTS + WVAG_BYTES) // SEVERAL_PIECES


def test_a_mistake_at_the_end_of_a_big_frame_runs_nothing(server, monkeypatch):
    """Decoded in pieces, a big frame is still decoded whole before any of its
    commands runs: a trailing comma at its very end makes it one error answer (the
    general way's), and its ``w`` never ran."""
    from gpiosvr.server import app

    runs = _count_calls(monkeypatch, app.GeneralBatch, "run")
    frame = b"@7 w 4 1;" + WVAG_JSON[:-1] + b",]"
    with _connected(server) as sock:
        sock.sendall(b"@6 w 4 0\n" + frame + b"\n@8 r 4\n")
        answers = _answers(sock, 3)
    assert answers[0] == b"@6 0"
    assert answers[1] == _general_answers([frame])[0]
    assert answers[1].startswith(b"@7 null !ProtocolError::\"bad JSON token at column 14")
    assert answers[2] == b"@8 0"  # nothing of @7 ran
    assert len(runs) >= len(frame) // SEVERAL_PIECES


def test_another_client_is_answered_between_the_pieces_of_a_big_frame(server, monkeypatch):
    """While one client's big frame is decoded a piece a turn, another client's
    request sent meanwhile is read and answered before the big frame's answer."""
    import threading

    from gpiosvr.server import app

    server.server.log_requests = True  # every answer goes through _write
    written = []
    write = app.ClientConnection._write

    def recorded(self, data):
        written.append(bytes(data))
        write(self, data)

    in_piece, sent = threading.Event(), threading.Event()
    run = app.GeneralBatch.run
    pieces = []

    def second_piece_waits(self, session, budget):
        pieces.append(self)
        if len(pieces) == 2:
            in_piece.set()
            sent.wait(10)  # the other client's request is in its socket by now
        return run(self, session, budget)

    monkeypatch.setattr(app.ClientConnection, "_write", recorded)
    monkeypatch.setattr(app.GeneralBatch, "run", second_piece_waits)
    big = b"@1 " + WVAG_JSON
    with _connected(server) as first, _connected(server) as other:
        first.sendall(big + b"\n")
        assert in_piece.wait(10), "the big frame was not decoded in pieces"
        other.sendall(b"@2 w 20 1\n")
        sent.set()
        assert _answers(other, 1) == [b"@2 0"]
        assert _answers(first, 1) == [b"@1 3000"]
    assert written.index(b"@2 0\n") < written.index(b"@1 3000\n")
    assert len(pieces) >= len(big) // SEVERAL_PIECES


def test_frames_behind_a_big_one_wait_for_it_and_answer_in_order(server, monkeypatch):
    """Frames pipelined behind big ones in one write (and a short batch too big to
    be small) run after them, in order, with the general way's answers."""
    from gpiosvr.server import app

    runs = _count_calls(monkeypatch, app.GeneralBatch, "run")
    frames = [b"@1 wvnew", b"@2 " + WVAG_JSON, b"@3 wvsp 0", b"@4 " + WVAG_INTS, b"@5 w 4 1",
              b"@6 " + b";".join([b"r 4", b"mg 4"] * 300), b"@7 wvsm 0;wvsp 0", b"@8 r 4"]
    with _connected(server) as sock:
        sock.sendall(b"".join(f + b"\n" for f in frames))
        answers = _answers(sock, len(frames))
    assert answers == _general_answers(frames)
    assert answers[2] == b"@3 3000" and answers[7] == b"@8 1"
    assert len(runs) >= len(WVAG_JSON + WVAG_INTS) // SEVERAL_PIECES


def test_a_big_frames_lists_kept_by_someone_are_left_whole():
    """Once a big frame has run, its decoded lists are let go of a piece a turn;
    a list someone else holds on to is left as it is."""
    import asyncio

    from gpiosvr.protocol import Command
    from gpiosvr.server import app

    kept = list(range(1000, 1000 + 3 * app.RELEASE_STEP_ITEMS))

    async def release() -> None:
        app._release_in_turns([Command("wvag", (kept,)), Command("wvag", tuple(kept))])
        for _ in range(10):
            await asyncio.sleep(0)

    asyncio.run(release())
    assert kept == list(range(1000, 1000 + 3 * app.RELEASE_STEP_ITEMS))
