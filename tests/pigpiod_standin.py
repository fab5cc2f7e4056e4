"""A pigpio daemon stand-in for the tests: pigpiod's socket protocol on loopback TCP,
backed by a gpiosvr server on the simulated chip.

The real ``pigpio`` package talks to it as it would to pigpiod. Each pigpiod command
becomes the gpiosvr command that does the same (:data:`COMMANDS`), so modes, levels,
banks, PWM, servo, hardware PWM, scripts, watchdogs, glitch and noise filters,
waves, chains, triggers, hardware clocks and the I2C, SPI and serial buses (the
simulated board's device models answer) behave as they do in gpiosvr's own
simulator, and tests drive inputs through that
server's :class:`gpiosvr.simulator.Simulator`. Notification sockets (``NOIB``) get
pigpiod's 12-byte reports: ``<HHII`` seq, flags, tick, levels of GPIO 0-31.

:meth:`PigpiodStandIn.close` drops every connection at once, as a daemon that dies;
a new stand-in on the same port is the daemon coming back. ``delay`` holds every
answer back, as a daemon on a slow link; :meth:`PigpiodStandIn.hold` holds them until
:meth:`PigpiodStandIn.release`, as a daemon that stops answering; ``die_halfway``
sends a part of an answer and then dies.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any, Callable

import pigpio

from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError

CMD = struct.Struct("<IIII")
REPORT = struct.Struct("<HHII")

#: pigpiod command -> (gpiosvr command, how its p1, p2 and extension become arguments).
_MODE_LETTERS = {0: "r", 1: "w", 4: "0", 5: "1", 6: "2", 7: "3", 3: "4", 2: "5"}
_PUD_LETTERS = {0: "o", 1: "d", 2: "u"}


def _u32s(ext: bytes) -> list[int]:
    return [pigpio.u2i(v) for v in struct.unpack(f"<{len(ext) // 4}I", ext)]


Args = Callable[[int, int, bytes], tuple]
COMMANDS: dict[int, tuple[str, Args]] = {
    pigpio._PI_CMD_MODES: ("m", lambda p1, p2, e: (p1, _MODE_LETTERS.get(p2, "x"))),
    pigpio._PI_CMD_MODEG: ("mg", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PUD: ("pud", lambda p1, p2, e: (p1, _PUD_LETTERS.get(p2, "x"))),
    pigpio._PI_CMD_READ: ("r", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WRITE: ("w", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_TICK: ("t", lambda p1, p2, e: ()),
    pigpio._PI_CMD_HWVER: ("hwver", lambda p1, p2, e: ()),
    pigpio._PI_CMD_PIGPV: ("pigpv", lambda p1, p2, e: ()),
    pigpio._PI_CMD_BR1: ("br1", lambda p1, p2, e: ()),
    pigpio._PI_CMD_BR2: ("br2", lambda p1, p2, e: ()),
    pigpio._PI_CMD_BS1: ("bs1", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_BS2: ("bs2", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_BC1: ("bc1", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_BC2: ("bc2", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WDOG: ("wdog", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_FG: ("fg", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_FN: ("fn", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_PWM: ("p", lambda p1, p2, e: (p1, pigpio.u2i(p2))),
    pigpio._PI_CMD_GDC: ("gdc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PRS: ("prs", lambda p1, p2, e: (p1, pigpio.u2i(p2))),
    pigpio._PI_CMD_PRG: ("prg", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PRRG: ("prrg", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PFS: ("pfs", lambda p1, p2, e: (p1, pigpio.u2i(p2))),
    pigpio._PI_CMD_PFG: ("pfg", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_SERVO: ("s", lambda p1, p2, e: (p1, pigpio.u2i(p2))),
    pigpio._PI_CMD_GPW: ("gpw", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_HP: ("hp", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_PROC: ("proc", lambda p1, p2, e: (e.decode("latin-1"),)),
    pigpio._PI_CMD_PROCR: ("procr", lambda p1, p2, e: (p1, *_u32s(e))),
    pigpio._PI_CMD_PROCU: ("procu", lambda p1, p2, e: (p1, *_u32s(e))),
    pigpio._PI_CMD_PROCP: ("procp", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PROCS: ("procs", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PROCD: ("procd", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVCLR: ("wvclr", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVNEW: ("wvnew", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVAG: ("wvag", lambda p1, p2, e: (e,)),  # <III per pulse, as we take
    pigpio._PI_CMD_WVAS: ("wvas", lambda p1, p2, e: (p1, p2, *struct.unpack("<III", e[:12]),
                                                     e[12:])),
    pigpio._PI_CMD_WVCRE: ("wvcre", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVCAP: ("wvcap", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVDEL: ("wvdel", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVTX: ("wvtx", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVTXR: ("wvtxr", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVTXM: ("wvtxm", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_WVCHA: ("wvcha", lambda p1, p2, e: (e,)),
    pigpio._PI_CMD_WVTAT: ("wvtat", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVBSY: ("wvbsy", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVHLT: ("wvhlt", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVGO: ("wvgo", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVGOR: ("wvgor", lambda p1, p2, e: ()),
    pigpio._PI_CMD_WVSM: ("wvsm", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVSP: ("wvsp", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_WVSC: ("wvsc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_TRIG: ("trig", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_HC: ("hc", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_PADG: ("padg", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_PADS: ("pads", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_SLRO: ("slro", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_SLR: ("slr", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_SLRC: ("slrc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_SLRI: ("slri", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_BI2CO: ("bi2co", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_BI2CC: ("bi2cc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_BI2CZ: ("bi2cz", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_BSPIO: ("bspio", lambda p1, p2, e: (p1, *_u32s(e))),
    pigpio._PI_CMD_BSPIC: ("bspic", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_BSPIX: ("bspix", lambda p1, p2, e: (p1, e)),
    # the buses: a bytes answer goes back as its count and the bytes, as pigpiod's
    pigpio._PI_CMD_I2CO: ("i2co", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_I2CC: ("i2cc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_I2CWQ: ("i2cwq", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CRS: ("i2crs", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_I2CWS: ("i2cws", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CRB: ("i2crb", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CWB: ("i2cwb", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_I2CRW: ("i2crw", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CWW: ("i2cww", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_I2CPC: ("i2cpc", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_I2CRK: ("i2crk", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CWK: ("i2cwk", lambda p1, p2, e: (p1, p2, e)),
    pigpio._PI_CMD_I2CPK: ("i2cpk", lambda p1, p2, e: (p1, p2, e)),
    pigpio._PI_CMD_I2CRI: ("i2cri", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_I2CWI: ("i2cwi", lambda p1, p2, e: (p1, p2, e)),
    pigpio._PI_CMD_I2CRD: ("i2crd", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_I2CWD: ("i2cwd", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_I2CZ: ("i2cz", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_SPIO: ("spio", lambda p1, p2, e: (p1, p2, *_u32s(e))),
    pigpio._PI_CMD_SPIC: ("spic", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_SPIR: ("spir", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_SPIW: ("spiw", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_SPIX: ("spix", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_SERO: ("sero", lambda p1, p2, e: (e.decode("latin-1"), p1, p2)),
    pigpio._PI_CMD_SERC: ("serc", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_SERRB: ("serrb", lambda p1, p2, e: (p1,)),
    pigpio._PI_CMD_SERWB: ("serwb", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_SERR: ("serr", lambda p1, p2, e: (p1, p2)),
    pigpio._PI_CMD_SERW: ("serw", lambda p1, p2, e: (p1, e)),
    pigpio._PI_CMD_SERDA: ("serda", lambda p1, p2, e: (p1,)),
}
#: Commands whose answer is bytes: pigpiod sends their count, then the bytes.
_BYTES_ANSWERS = {"slr", "bi2cz", "bspix"}


class _Notifier:
    """One notification socket (after ``NOIB``): reports for the GPIOs in its bits.
    As pigpiod's, each report carries the levels of all of GPIO 0-31 at that time,
    those nobody watches included: the notifier follows every GPIO of the chip."""

    def __init__(self, standin: "PigpiodStandIn", conn: socket.socket, handle: int) -> None:
        self.standin = standin
        self.conn = conn
        self.handle = handle
        self.bits = 0
        self.seq = 0
        self.lock = threading.Lock()
        client = standin.client
        self.levels = client.command("br1")
        self.callbacks = [client.callback(gpio, 2, self.report) for gpio in range(32)]

    def set_bits(self, bits: int) -> None:
        self.bits = bits

    def report(self, gpio: int, level: int, tick: int) -> None:
        if level == pigpio.TIMEOUT:
            flags = pigpio.NTFY_FLAGS_WDOG | gpio
        else:
            flags = 0
            self.levels = self.levels | 1 << gpio if level else self.levels & ~(1 << gpio)
        if not self.bits >> gpio & 1:
            return
        with self.lock:
            self.seq = (self.seq + 1) & 0xFFFF
            try:
                self.conn.sendall(REPORT.pack(self.seq, flags, tick, self.levels))
            except OSError:
                pass  # the socket was closed: the next NB or close tidies up

    def close(self) -> None:
        self.bits = 0
        for callback in self.callbacks:
            self.standin.client.cancel_callback(callback)


class PigpiodStandIn:
    """Serves pigpiod's protocol on ``127.0.0.1:port`` (0: any free port), relaying to
    the gpiosvr server at ``socket_path``, until :meth:`close`."""

    def __init__(self, socket_path: str, port: int = 0) -> None:
        self.client = BlockingClient(socket_path)
        self.delay = 0.0
        #: pigpiod commands to answer with the first part only, then die (close).
        self.die_halfway: set[int] = set()
        self.commands_seen = 0
        self._answering = threading.Event()  # clear: answers wait (hold)
        self._answering.set()
        self._closing = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._notifiers: dict[int, _Notifier] = {}
        self._next_handle = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._accepter = threading.Thread(target=self._accept, daemon=True,
                                          name="pigpiod-standin")
        self._accepter.start()

    def __enter__(self) -> "PigpiodStandIn":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Connections open now."""
        with self._lock:
            return len(self._conns)

    def hold(self) -> None:
        """Answer nothing from now on (commands are read and counted) until
        :meth:`release`: a daemon that stopped answering."""
        self._answering.clear()

    def release(self) -> None:
        """Answer again, the commands held first."""
        self._answering.set()

    def close(self) -> None:
        """Die as a daemon does: every connection and the listener close at once."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()  # a delayed or held answer goes (on a closed socket)
        self._answering.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        self._accepter.join(5)
        self.client.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()  # before close() can see it: joining an unstarted thread raises
            with self._lock:
                self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        notifier: _Notifier | None = None
        try:
            while True:
                head = _recv_exactly(conn, CMD.size)
                if head is None:
                    return
                cmd, p1, p2, p3 = CMD.unpack(head)
                ext = _recv_exactly(conn, p3) if p3 else b""
                if ext is None:
                    return
                self.commands_seen += 1
                if self.delay:
                    self._closing.wait(self.delay)
                self._answering.wait()
                if cmd == pigpio._PI_CMD_NOIB:
                    with self._lock:
                        self._next_handle += 1
                        handle = self._next_handle
                    notifier = _Notifier(self, conn, handle)
                    self._notifiers[handle] = notifier
                    conn.sendall(CMD.pack(cmd, p1, p2, handle))
                    continue
                if cmd == pigpio._PI_CMD_NC and notifier is not None and p1 == notifier.handle:
                    return  # pigpio stops its notification thread this way: no answer
                result, extra = self._execute(cmd, p1, p2, ext)
                data = CMD.pack(cmd, p1, p2, result & 0xFFFFFFFF) + extra
                if cmd in self.die_halfway:
                    conn.sendall(data[:CMD.size])
                    threading.Thread(target=self.close, daemon=True).start()
                    return
                if notifier is not None:
                    with notifier.lock:
                        conn.sendall(data)
                else:
                    conn.sendall(data)
        except OSError:
            return
        finally:
            if notifier is not None:
                self._notifiers.pop(notifier.handle, None)
                try:
                    notifier.close()
                except Exception:  # the gpiosvr client may be closed already
                    pass
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    def _execute(self, cmd: int, p1: int, p2: int, ext: bytes) -> tuple[int, bytes]:
        """One pigpiod command: its result word and any extension bytes."""
        if cmd in (pigpio._PI_CMD_NB, pigpio._PI_CMD_NP, pigpio._PI_CMD_NC):
            notifier = self._notifiers.get(p1)
            if notifier is None:
                return pigpio.PI_BAD_HANDLE, b""
            notifier.set_bits(p2 if cmd == pigpio._PI_CMD_NB else 0)
            return 0, b""
        entry = COMMANDS.get(cmd)
        if entry is None:
            return pigpio.PI_UNKNOWN_COMMAND, b""
        name, args = entry
        try:
            result = self.client.command(name, *args(p1, p2, ext))
        except PigpioError as exc:
            return exc.code, b""
        if name == "procp":
            return 44, struct.pack("<11i", *result)
        if name in _BYTES_ANSWERS or isinstance(result, (bytes, bytearray)):
            data = bytes(result or b"")
            return len(data), data
        return int(result or 0), b""


def _recv_exactly(conn: socket.socket, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
