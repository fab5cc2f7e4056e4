"""The client reads edge report frames the short way (issue #18): the same
notification as the general decoder gives, or it declines and the general decoder
reads the frame (or refuses it)."""

from __future__ import annotations

import pytest

from gpiosvr import protocol
from gpiosvr.client import edge_note
from gpiosvr.errors import ProtocolError

from conftest import wait_until

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


@pytest.mark.parametrize("seq, lost, records", [
    (1, 0, RECORDS), (2, 5, b""), ((1 << 64) - 1, (1 << 64) - 1, RECORDS * 3),
    (3, 0, bytearray(RECORDS))])
def test_a_binary_edge_frame_is_its_head_then_the_records(seq, lost, records) -> None:
    """docs/protocol.md 7.2, byte by byte."""
    import struct

    from gpiosvr.server.notify import binary_edge_frame

    frame = binary_edge_frame(seq, lost, records)
    assert frame == (b"\xe5" + struct.pack("<QQI", seq, lost, len(records) // 6)
                     + bytes(records))
    assert protocol.BINARY_EDGE_HEAD.size == 21
    assert protocol.MAX_BINARY_EDGE_RECORDS == 174_759
    assert 21 + 6 * protocol.MAX_BINARY_EDGE_RECORDS <= protocol.MAX_FRAME_BYTES


class _Stream:
    """A raw connection's bytes as frames: text lines and binary edge frames."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.data = b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "connection closed"
        self.data += chunk

    def frame(self) -> bytes | tuple[int, int, bytes]:
        """The next frame: a text line (no newline), or a binary frame's seq, lost
        and records."""
        head = protocol.BINARY_EDGE_HEAD
        while True:
            if self.data[:1] == b"\xe5":
                if len(self.data) >= head.size:
                    _, seq, lost, count = head.unpack_from(self.data)
                    end = head.size + 6 * count
                    if len(self.data) >= end:
                        records, self.data = self.data[head.size:end], self.data[end:]
                        return seq, lost, records
            elif b"\n" in self.data:
                line, self.data = self.data.split(b"\n", 1)
                return line
            self._more()

    def until(self, prefix: bytes) -> list:
        frames = [self.frame()]
        while not (type(frames[-1]) is bytes and frames[-1].startswith(prefix)):
            frames.append(self.frame())
        return frames


def test_nfmt_1_sends_the_edge_reports_as_binary_frames(server) -> None:
    """After ``nfmt 1`` the same reports come as binary frames (seq and batching as
    with text: 8,192 records a frame), the answers stay text lines in their order;
    ``nfmt 0`` goes back to text; another format is refused."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(server.socket_path)
        stream = _Stream(sock)
        sock.sendall(b"@1 nfmt 1;no\n")
        handle = int(stream.until(b"@1 ")[-1].split(b";")[1])
        sock.sendall(b"@2 nb %d %d\n" % (handle, 1 << 20))
        stream.until(b"@2 ")
        sock.sendall(b"@3 siminject 20 1 1 1000\n")  # one: the short way
        lone = stream.until(b"@3 ")
        sock.sendall(b"@4 siminject 20 30000 1 5000\n")  # a burst, in many frames
        burst = stream.until(b"@4 ")
        # the sim hands a burst on SIM_EDGES_PER_TURN edges a turn: the rest later
        wait_until(lambda: server.call(server.backend.queued_edges) == 0)
        sock.sendall(b"@5 nfmt 0\n")
        burst += stream.until(b"@5 ")
        sock.sendall(b"@6 siminject 20 1 1 90000\n@7 nfmt 2\n")
        text = stream.until(b"@7 ")
    assert lone == [(1, 0, protocol.EDGE_RECORD.pack(20, 1, 1000)), b"@3 1000"]
    assert b"@4 5000" in burst and burst[-1] == b"@5 0"
    frames = [f for f in burst if type(f) is not bytes]
    assert [seq for seq, _, _ in frames] == list(range(2, 2 + len(frames)))
    assert {lost for _, lost, _ in frames} == {0}
    assert max(len(records) for _, _, records in frames) <= 6 * 8192
    records = b"".join(records for _, _, records in frames)
    assert list(protocol.EDGE_RECORD.iter_unpack(records)) == \
        [(20, i % 2, 5000 + i) for i in range(30000)]
    seq = 2 + len(frames)
    assert text[:2] == [b"*e %d 0 %%%s" % (seq, protocol.EDGE_RECORD.pack(20, 0, 90000).hex().encode()),
                        b"@6 90000"]
    assert text[2].startswith(b"@7 null !PigpioError:-81:")
