"""Edge notifications on the wire: subscriptions, batches, loss accounting, filters."""

from __future__ import annotations

import socket
import struct

import pytest

from gpiosvr import protocol
from gpiosvr.server import notify

from conftest import OTHER_UID, ask_as, needs_root, open_to_all, wait_until

RECORD = struct.Struct("<BBI")


class RawClient:
    """A plain socket speaking the protocol, keeping notifications apart."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.notes: list[protocol.Command] = []

    def ask(self, line: str):
        self.sock.sendall(line.encode() + b"\n")
        while True:
            frame = self.file.readline().decode()
            if frame.startswith("*"):
                self.notes.append(protocol.decode_notification(frame))
                continue
            return protocol.decode_response(frame)[1][0]

    def ask_many(self, lines: list[str]) -> list:
        """Send every frame at once (pipelined), then read their answers in order."""
        self.sock.sendall("".join(line + "\n" for line in lines).encode())
        answers = []
        while len(answers) < len(lines):
            frame = self.file.readline().decode()
            if frame.startswith("*"):
                self.notes.append(protocol.decode_notification(frame))
            else:
                answers.append(protocol.decode_response(frame)[1][0])
        return answers

    def read_note(self) -> protocol.Command:
        if self.notes:
            return self.notes.pop(0)
        return protocol.decode_notification(self.file.readline().decode())

    def reports(self, count: int) -> list[tuple[int, int, int]]:
        got: list[tuple[int, int, int]] = []
        while len(got) < count:
            note = self.read_note()
            assert note.name == "e"
            got.extend(RECORD.iter_unpack(note.args[2]))
        return got

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def raw(server):
    clients = []

    def make() -> RawClient:
        clients.append(RawClient(server.socket_path))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


def subscribe(client: RawClient, *gpios: int) -> int:
    handle = client.ask("no").value
    assert client.ask(f"nb {handle} {sum(1 << g for g in gpios)}").value == 0
    return handle


def test_injected_edges_arrive_in_order_with_exact_ticks(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 20)
    assert driver.ask("siminject 20 5 250 4294967000").value == 4294967000
    got = watcher.reports(5)
    assert got == [(20, 1, 4294967000), (20, 0, 4294967250), (20, 1, 204),
                   (20, 0, 454), (20, 1, 704)]  # pulled down, so the first edge rises
    assert driver.ask("r 20").value == 1


def test_batches_are_numbered_and_only_subscribed_gpios_come(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 21)
    driver.ask("siminject 22 10 10")  # not subscribed
    driver.ask("siminject 21 20000 5 0")
    got = watcher.reports(20000)
    assert {g for g, _, _ in got} == {21}
    assert [t for _, _, t in got] == [5 * i for i in range(20000)]
    seqs = [n.args[0] for n in watcher.notes]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True


def test_writes_and_jumper_wires_make_edges(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 17, 27)
    driver.ask("w 17 0")
    driver.ask("simwire 17 27")
    driver.ask("w 17 1")
    got = watcher.reports(2)
    assert [(g, lvl) for g, lvl, _ in got] == [(17, 1), (27, 1)]
    assert driver.ask("r 27").value == 1
    driver.ask("simunwire 27")
    assert driver.ask("r 27").value == 0  # pulled down again
    assert watcher.reports(1)[0][:2] == (27, 0)


def test_pause_close_and_bad_handles(raw):
    watcher, other, driver = raw(), raw(), raw()
    handle = subscribe(watcher, 5)
    assert other.ask(f"nb {handle} 1").exceptions[0].code == -25  # not its handle
    assert watcher.ask(f"np {handle}").value == 0
    driver.ask("siminject 5 3 10")
    assert watcher.ask(f"nb {handle} {1 << 5}").value == 0
    driver.ask("siminject 5 1 10 77")
    assert watcher.reports(1) == [(5, 1, 77)]  # the paused ones never came
    assert watcher.ask(f"nc {handle}").value == 0
    assert watcher.ask(f"nc {handle}").exceptions[0].code == -25


def test_a_client_that_does_not_read_loses_reports_and_is_told(server, raw, monkeypatch):
    monkeypatch.setattr(notify, "MAX_WRITE_BUFFER", 64 * 1024)
    slow, driver, other = raw(), raw(), raw()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    subscribe(slow, 6)
    for _ in range(20):
        assert driver.ask("siminject 6 20000 1").value >= 0
    assert other.ask("r 4").value == 1  # nobody else is stalled
    received, lost = 0, 0
    while received + lost < 400_000:
        note = slow.read_note()
        received += len(note.args[2]) // RECORD.size
        lost += note.args[1]
        if received + lost < 400_000 and not note.args[2]:
            continue
    assert lost > 0 and received + lost == 400_000


def test_watchdog_reports_timeouts_until_an_edge(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 12)
    assert driver.ask("wdog 12 30").value == 0
    first, second = watcher.reports(1)[0], watcher.reports(1)[0]
    assert first[:2] == (12, 2) and second[:2] == (12, 2)
    assert (second[2] - first[2]) % 2**32 == 30_000  # each deadline's tick, exactly
    assert driver.ask("wdog 12 0").value == 0
    driver.ask("siminject 12 1 1 5")
    got = watcher.reports(1)
    while got[0][1] == 2:  # a timeout that was already on its way
        got = watcher.reports(1)
    assert got == [(12, 1, 5)]


def test_glitch_filter_drops_short_pulses_and_stamps_steady_ones(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 13)
    assert driver.ask("fg 13 1000").value == 0
    driver.ask("siminject 13 6 100 10000")  # 100 µs pulses: all glitches, ends low
    driver.ask("siminject 13 1 1 50000")  # a rise that stays
    assert watcher.reports(1) == [(13, 1, 51000)]  # stamped steady µs after the edge
    assert watcher.notes == []


def test_noise_filter_waits_for_a_steady_level_then_reports_for_a_while(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 15)
    assert driver.ask("fn 15 1000 5000").value == 0
    driver.ask("siminject 15 4 100 10000")  # noise: nothing is steady for 1000 µs
    driver.ask("siminject 15 1 1 20000")  # a rise that stays 1000 µs: opens a window
    driver.ask("siminject 15 2 500 22000")  # inside the 5000 µs window: reported
    driver.ask("siminject 15 1 1 40000")  # after the window: waits for steady again
    got = watcher.reports(3)
    assert got == [(15, 1, 21000), (15, 0, 22000), (15, 1, 22500)]
    assert watcher.reports(1) == [(15, 0, 41000)]


def test_disconnecting_drops_the_subscription_and_watchdogs(server, raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 14)
    watcher.ask("wdog 14 1000")
    assert server.call(lambda: len(server.server.hub.subscriptions)) == 1
    watcher.close()
    wait_until(lambda: server.call(lambda: len(server.server.hub.subscriptions)) == 0)
    assert server.call(lambda: server.server.edge_settings.watchdog[14]) == 0
    assert driver.ask("siminject 14 10 1").value >= 0


@pytest.mark.parametrize("line,code", [
    ("siminject 60 1 1", -3), ("siminject 4 -1 1", -81), ("simdrive 4 2", -5),
    ("simwire 4 99", -3), ("nb 999 1", -25), ("wdog 32 10", -2), ("fg 4 -1", -125),
])
def test_bad_notification_and_sim_commands(raw, line, code):
    assert raw().ask(line).exceptions[0].code == code


def test_injecting_into_an_output_is_refused(raw):
    c = raw()
    c.ask("w 16 1")
    answer = c.ask("siminject 16 2 1")
    assert answer.exceptions[0].code == -41 and "output" in str(answer.exceptions[0])


def open_handles(client: RawClient, count: int) -> list:
    """Open ``count`` handles on ``client``: the answers, handles or errors."""
    return [a.value if not a.exceptions else a.exceptions[0].code
            for a in client.ask_many(["no"] * count)]


def set_handle_caps(monkeypatch, per_connection: int, per_uid: int, total: int) -> None:
    monkeypatch.setattr(notify, "MAX_HANDLES_PER_CONNECTION", per_connection)
    monkeypatch.setattr(notify, "MAX_HANDLES_PER_UID", per_uid)
    monkeypatch.setattr(notify, "MAX_HANDLES", total)


def test_handles_are_capped_per_connection_and_per_uid(raw, monkeypatch):
    set_handle_caps(monkeypatch, per_connection=3, per_uid=5, total=100)
    first, second = raw(), raw()
    mine = open_handles(first, 4)
    assert all(h > 0 for h in mine[:3]) and mine[3] == -24  # PI_NO_HANDLE, as pigpio
    answer = first.ask("no")
    assert "connection holds 3" in str(answer.exceptions[0])
    got = open_handles(second, 3)
    assert all(h > 0 for h in got[:2]) and got[2] == -24  # the uid holds 5
    assert "holds 5" in str(second.ask("no").exceptions[0])
    assert first.ask(f"nc {mine[0]}").value == 0  # the uid gives one back...
    assert second.ask("no").value > 0  # ...which its other connection may take


@needs_root
def test_the_total_cap_counts_every_uid_and_a_gone_client_gives_its_handles_back(
        server, raw, monkeypatch):
    set_handle_caps(monkeypatch, per_connection=3, per_uid=4, total=6)
    first, second = raw(), raw()
    assert open_handles(first, 3)[-1] > 0
    assert open_handles(second, 2)[-1] == -24  # root's 4
    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 no", "@2 no", "@3 no")
    assert [a.split()[1].isdigit() for a in answers] == [True, True, False]
    assert "PigpioError:-24:" in answers[2] and "server holds 6" in answers[2]
    first.close()  # its 3 handles go back to root's and the server's counts
    wait_until(lambda: server.call(lambda: len(server.server.hub.subscriptions)) == 1)
    got = open_handles(second, 3)
    assert all(h > 0 for h in got[:2]) and got[2] == -24  # per connection again


class CountingSubscription(notify.Subscription):
    """A subscription that counts how often the hub looks at whom it wants."""

    looks = 0

    def __getattribute__(self, name: str):
        if name in ("bits", "active"):
            CountingSubscription.looks += 1
        return object.__getattribute__(self, name)


def test_closing_a_connection_with_many_handles_is_one_pass(server, raw, monkeypatch):
    count = 2000
    set_handle_caps(monkeypatch, count, count, count)
    monkeypatch.setattr(notify, "Subscription", CountingSubscription)
    many = raw()
    handles = open_handles(many, count)
    assert all(h > 0 for h in handles)
    assert all(a.value == 0 for a in many.ask_many(
        [f"nb {h} {1 << (i % 32) | 1 << 20}" for i, h in enumerate(handles)]))
    CountingSubscription.looks = 0
    many.close()
    wait_until(lambda: server.call(lambda: len(server.server.hub.subscriptions)) == 0,
               timeout=60)
    # each handle is looked at a bounded number of times, not once per other handle
    assert CountingSubscription.looks <= 4 * count


def test_edges_and_handle_commands_visit_only_the_handles_they_concern(server, raw,
                                                                      monkeypatch):
    count = 1000
    set_handle_caps(monkeypatch, count + 1, count + 1, count + 1)
    monkeypatch.setattr(notify, "Subscription", CountingSubscription)
    many, watcher, driver = raw(), raw(), raw()
    handles = open_handles(many, count)
    many.ask_many([f"nb {h} {1 << 5}" for h in handles])
    CountingSubscription.looks = 0
    handle = subscribe(watcher, 6)
    driver.ask("siminject 6 3 10 100")
    assert watcher.reports(3) == [(6, 0, 100), (6, 1, 110), (6, 0, 120)]  # pulled up
    assert watcher.ask(f"np {handle}").value == 0
    assert watcher.ask(f"nc {handle}").value == 0
    assert CountingSubscription.looks <= 20
    driver.ask("siminject 5 1 1 7")  # the others still get theirs
    assert many.reports(count) == [(5, 0, 7)] * count


def watchdog_of(server, gpio: int) -> tuple[int, bool]:
    """The watchdog time of ``gpio`` and whether its timer runs."""
    hub = server.server.hub
    return server.call(lambda: (server.server.edge_settings.watchdog[gpio],
                                gpio in hub._watchdogs))


def test_a_watchdog_stays_while_any_client_that_set_it_is_connected(server, raw):
    first, second, third = raw(), raw(), raw()
    assert first.ask("wdog 14 1000").value == 0
    assert second.ask("wdog 14 1000").value == 0
    third.ask("r 4")
    second.close()  # the last one to set it leaves; the first still wants it
    wait_until(lambda: server.call(lambda: server.server.client_count) == 2)
    assert watchdog_of(server, 14) == (1000, True)
    first.close()
    wait_until(lambda: watchdog_of(server, 14) == (0, False))


def test_wdog_0_turns_a_watchdog_off_for_every_client_that_set_it(server, raw):
    first, second = raw(), raw()
    first.ask("wdog 9 1000")
    second.ask("wdog 9 2000")
    assert watchdog_of(server, 9) == (2000, True)  # one watchdog per GPIO, as pigpio
    assert first.ask("wdog 9 0").value == 0
    assert watchdog_of(server, 9) == (0, False)
    assert first.ask("wdog 9 500").value == 0
    second.close()  # it no longer keeps the watchdog on: the first does
    wait_until(lambda: server.call(lambda: server.server.client_count) == 1)
    assert watchdog_of(server, 9) == (500, True)


def test_watchdog_timeouts_come_exactly_one_period_apart(raw):
    watcher, driver = raw(), raw()
    subscribe(watcher, 11)
    assert driver.ask("wdog 11 20").value == 0
    got = watcher.reports(5)
    assert [level for _, level, _ in got] == [2] * 5
    ticks = [tick for _, _, tick in got]
    # each deadline follows from the last, not from when the loop got to it
    assert [(b - a) % 2**32 for a, b in zip(ticks, ticks[1:])] == [20_000] * 4
    driver.ask("wdog 11 0")


@needs_root
def test_another_uid_may_not_change_a_users_watchdogs_and_filters(server, raw):
    owner, same_uid = raw(), raw()
    for line in ("wdog 12 1000", "fg 13 100", "fn 15 100 200"):
        assert owner.ask(line).value == 0
    open_to_all(server.socket_path)
    answers = ask_as(OTHER_UID, server.socket_path, "@1 wdog 12 0", "@2 wdog 12 50",
                     "@3 fg 13 0", "@4 fn 15 0 0", "@5 wdog 16 100", "@6 fg 16 10")
    refused = [f"@{n} null !PigpioError:-41:" for n in range(1, 5)]
    assert [a[:len(r)] for a, r in zip(answers, refused)] == refused
    assert "watchdog of GPIO 12 belongs to uid 0" in answers[0]
    assert "glitch filter of GPIO 13" in answers[2]
    assert answers[4:] == ["@5 0", "@6 0"]  # nobody's: anyone may set them
    settings = server.server.edge_settings
    assert server.call(lambda: (settings.watchdog[12], settings.glitch[13],
                                settings.noise[15])) == (1000, 100, (100, 200))
    # the same uid on another connection (pigs) may; root may change anyone's
    assert [same_uid.ask(line).value for line in
            ("wdog 12 0", "fg 13 0", "fn 15 0 0", "fg 16 0")] == [0, 0, 0, 0]
    assert server.call(lambda: (settings.watchdog[12], settings.glitch[13],
                                settings.noise[15], settings.glitch[16])) \
        == (0, 0, (0, 0), 0)


@pytest.mark.parametrize("budget", ["MAX_QUEUED_NOTIFY_BYTES", "MAX_QUEUED_NOTIFY_BYTES_PER_UID"])
def test_stalled_subscribers_share_one_budget_and_a_reader_loses_nothing(
        server, raw, monkeypatch, budget):
    limit = 256 * 1024
    monkeypatch.setattr(notify, budget, limit)
    stalled = [raw() for _ in range(3)]
    reader, driver = raw(), raw()
    for client in stalled:
        subscribe(client, 7)
    subscribe(reader, 7)
    rounds, per_round = 120, 5000
    for n in range(rounds):
        assert driver.ask(f"siminject 7 {per_round} 3 {n * per_round * 3}").value >= 0
        got = reader.reports(per_round)  # a reader that keeps up gets every one
        assert got[0][2] == n * per_round * 3 and got[-1][2] == (n * per_round + per_round - 1) * 3
    assert all(note.args[1] == 0 for note in reader.notes)
    hub = server.server.hub
    buffered = server.call(lambda: sum(c.transport.get_write_buffer_size()
                                       for c in server.server.clients if c.subscriptions))
    # at most the budget, plus what each client may hold before it counts as behind
    # (the transport's high-water mark, 64 KiB) and the frames of one flush
    frame = len(protocol.encode_notification("e", 2**31, 2**31, bytes(6 * 8192)))
    assert buffered <= limit + len(stalled) * (64 * 1024 + 2 * frame)
    assert server.call(hub.queued_bytes) <= limit + len(stalled) * (64 * 1024 + 2 * frame)
    total = rounds * per_round
    for client in stalled:  # once they read, they learn what they lost
        received = lost = 0
        while received + lost < total:
            note = client.read_note()
            received += len(note.args[2]) // RECORD.size
            lost += note.args[1]
        assert lost > 0 and received + lost == total
