"""The client reads edge report frames the short way (issue #18): the same
notification as the general decoder gives, or it declines and the general decoder
reads the frame (or refuses it)."""

from __future__ import annotations

import pytest

from gpiosvr import protocol
from gpiosvr.client import edge_note
from gpiosvr.errors import ProtocolError

RECORDS = protocol.pack_edge_burst(4, 1, 4294967290, 3, 5)

FRAMES = [
    protocol.encode_notification("e", 1, 0, RECORDS)[:-1].encode("ascii"),
    protocol.encode_notification("e", 123456789012345678, 7, b"")[:-1].encode("ascii"),
    b"*e 1 0 %0014AB00", b"*e 01 0 %00", b"*e 1 0 %0", b"*e 1 0 %0g", b"*e 1 0 %00 x",
    b"*e 0x1 0 %00", b"*e -1 0 %00", b"*e 1 0 00", b"*e 1 0", b"*e  1 0 %00",
    b"*e 1234567890123456789012 0 %00", b"*e 1 0 %00;w 4 1", b"*e 1 0 \"x\"",
]


@pytest.mark.parametrize("frame", FRAMES)
def test_edge_frames_decode_as_the_general_way(frame: bytes) -> None:
    fast = edge_note(frame)
    try:
        general = protocol.decode_notification(frame.decode("ascii"))
    except ProtocolError:
        general = None
    if fast is not None:
        assert fast == general
        assert type(fast.args[2]) is bytes


def test_the_short_way_takes_what_the_server_sends() -> None:
    for frame in FRAMES[:4]:
        assert edge_note(frame) is not None


@pytest.mark.parametrize("frame", FRAMES + [b"*e 1 0 %", b"*e 1 0 %0014ab00", b"*e 1 0 %%00"])
def test_the_dispatcher_reads_edge_frames_as_the_short_way(frame: bytes) -> None:
    """The callback threads' own decoder (issue #18) takes exactly the frames
    ``edge_note`` takes, with the same results; the rest go the general way."""
    from gpiosvr.dispatch import _edge_report, edge_frame_note

    note = edge_note(frame)
    assert _edge_report(frame) == (None if note is None else note.args)
    try:
        general = protocol.decode_notification(frame.decode("ascii"))
    except ProtocolError:
        general = None
    if general is not None and general.name == "e" and len(general.args) == 3:
        assert edge_frame_note(frame) == general
    else:
        assert edge_frame_note(frame) is None


@pytest.mark.parametrize("seq, lost, records", [
    (1, 0, RECORDS), (2, 5, b""), ((1 << 63) - 1, 1 << 40, RECORDS * 3),
    (3, 0, bytearray(RECORDS))])
def test_the_server_writes_edge_frames_as_the_general_encoder(seq, lost, records) -> None:
    from gpiosvr.server.notify import edge_frame

    expected = protocol.encode_notification("e", seq, lost, bytes(records)).encode("ascii")
    assert edge_frame(seq, lost, records) == expected


def _lines_until(sock, prefix: bytes) -> list[bytes]:
    data = b""
    while not any(line.startswith(prefix) for line in data.split(b"\n")[:-1]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data.split(b"\n")[:-1]


def test_edges_a_command_makes_go_out_before_its_answer(server) -> None:
    """The server sends queued edge reports ahead of the answer it is writing, not
    on the loop's next turn: they reach the callbacks sooner, and before the answer
    of the command that made them."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(server.socket_path)
        sock.sendall(b"@1 no\n")
        handle = int(_lines_until(sock, b"@1 ")[-1].split()[1])
        sock.sendall(b"@2 nb %d %d\n" % (handle, 1 << 20))
        _lines_until(sock, b"@2 ")
        sock.sendall(b"@3 siminject 20 1 1\n")  # one frame: the short way
        lines = _lines_until(sock, b"@3 ")
        sock.sendall(b"@4 siminject 20 1 1\n@5 r 20\n")  # several: frame by frame
        later = _lines_until(sock, b"@5 ")
    assert [line[:3] for line in lines] == [b"*e ", b"@3 "]
    assert [line[:3] for line in later] == [b"*e ", b"@4 ", b"@5 "]
    note = edge_note(lines[0])
    assert note is not None and len(note.args[2]) == protocol.EDGE_RECORD.size
