"""Bit-banged serial input, I2C and SPI on any GPIOs, as pigpio's (``slro``, ``slr``,
``bi2cz``, ``bspix``, ...).

pigpio keeps one bit-bang use per GPIO (its ``wfRx`` table): a serial reader, the
SDA or SCL of an I2C bus, the CS, MISO, MOSI or SCLK of an SPI bus. :class:`BitBang`
is that table here, with who opened each use: the client process (as numbered
handles are, :mod:`gpiosvr.server.handles`). Another process is answered as if the
GPIO had no such use (``PI_NOT_SERIAL_GPIO``, ``PI_NOT_I2C_GPIO``,
``PI_NOT_SPI_GPIO``, with a message saying who holds it) and its opens get
``PI_GPIO_IN_USE``; the server closes a process's uses when its last connection goes.
A use opened by a session that persists (``pigs``, the pigpiod front end) is its
uid's, as a persistent handle, and stays until closed.

Serial input (:class:`SerialReader`) is backend-independent: it decodes the level
changes the backend hands the edge hub (:meth:`gpiosvr.server.notify.EdgeHub.tap`)
with their ticks, exactly as pigpio's ``waveRxSerial`` samples bits (the simulated
chip's ticks are exact, the kernel's edge timestamps too). pigpio completes the last
character with a watchdog; here a read completes it once its whole frame time has
passed, which gives the same bytes without a timer or a watchdog report.

I2C and SPI transfers are carried out by the backend's buses
(:meth:`open_bb_i2c` and :meth:`open_bb_spi` of
:class:`~gpiosvr.server.sim.board.Board` on the simulated chip: the devices the board
attaches to those GPIOs); :func:`run_zip` is pigpio's ``bbI2CZip`` over such a bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpiosvr import errors
from gpiosvr.errors import PigpioError
from gpiosvr.protocol import EDGE_RECORD
from gpiosvr.server.backends.buses import BusError, I2CMessage, code
from gpiosvr.server import ownership
from gpiosvr.server.handles import PERSISTENT, client_key
from gpiosvr.server.ownership import Owner
from gpiosvr.server.limits import BB_I2C_ZIP_BYTES, BB_SERIAL_BUFFER_BYTES

# pigpio's wfRx modes, by name
SERIAL = "serial"
I2C_SDA, I2C_SCL = "I2C SDA", "I2C SCL"
SPI_CS, SPI_MISO, SPI_MOSI, SPI_SCLK = "SPI CS", "SPI MISO", "SPI MOSI", "SPI SCLK"

PI_GPIO_IN_USE = code("PI_GPIO_IN_USE")
PI_NOT_SERIAL_GPIO = code("PI_NOT_SERIAL_GPIO")
PI_NOT_I2C_GPIO = code("PI_NOT_I2C_GPIO")
PI_NOT_SPI_GPIO = code("PI_NOT_SPI_GPIO")

_TIMEOUT = 2  # pigpio's PI_TIMEOUT level


def _signed(ticks: int) -> int:
    ticks &= 0xFFFFFFFF
    return ticks - (1 << 32) if ticks & 0x80000000 else ticks


class SerialReader:
    """pigpio's bit-bang serial reader of one GPIO: decodes level changes into
    characters (``data_bits`` 1-32, one start bit, LSB first, stop bits not checked)
    and keeps them in pigpio's cyclic buffer of :data:`BB_SERIAL_BUFFER_BYTES`,
    which never overwrites unread data: characters that do not fit are lost."""

    def __init__(self, gpio: int, baud: int, data_bits: int) -> None:
        self.gpio = gpio
        self.baud = baud
        self.data_bits = data_bits
        self.full_bit = 1_000_000_000 // baud  # ns, as pigpio
        self.half_bit = self.full_bit // 2 + 500
        self.size = 1 if data_bits < 9 else 2 if data_bits < 17 else 4
        self.buffer = bytearray(BB_SERIAL_BUFFER_BYTES)
        self.read_pos = self.write_pos = 0
        self.invert = 0
        self.bit = -1  # -1: waiting for a start bit, else the next bit to sample
        self.level = 1
        self.data = 0
        self.start_tick = 0
        self.next_bit_diff = 0
        #: Microseconds from a start bit after which its character is surely whole.
        self.frame_us = (data_bits + 2) * self.full_bit // 1000 + 1

    # -- edges in (the edge hub's tap) ------------------------------------------------

    def edge(self, level: int, tick: int) -> None:
        """One level change of the GPIO, at ``tick``."""
        self._rx(level ^ self.invert, tick)

    def burst(self, packed: bytes) -> None:
        """Many level changes, packed :data:`~gpiosvr.protocol.EDGE_RECORD` records."""
        rx, invert = self._rx, self.invert
        for _gpio, level, tick in EDGE_RECORD.iter_unpack(packed):
            rx(level ^ invert, tick)

    def settle(self, now: int) -> None:
        """Complete a character whose frame has passed by ``now`` with no edge since
        (pigpio's watchdog timeout, which carries the last level)."""
        if self.bit >= 0 and _signed(now - self.start_tick) > self.frame_us:
            self._rx(_TIMEOUT, now)

    def _rx(self, level: int, tick: int) -> None:
        """pigpio's ``waveRxSerial``: ``level`` already inverted, or 2 (timeout)."""
        if self.bit < 0:
            if level == 0:  # a start bit: high to low
                self._start(tick)
            return
        diff = _signed(tick - self.start_tick)
        if level != _TIMEOUT:
            self.level = level
            last = level ^ 1
        else:
            last = self.level
        data_bits = self.data_bits
        while self.bit <= data_bits and diff > self.next_bit_diff // 1000:
            if self.bit:
                if last:
                    self.data |= 1 << (self.bit - 1)
            else:
                self.data = 0
            self.bit += 1
            self.next_bit_diff += self.full_bit
        if self.bit > data_bits:
            self._store(self.data)
            if level == 0:
                self._start(tick)
            else:
                self.bit = -1

    def _start(self, tick: int) -> None:
        self.level = 0
        self.bit = 0
        self.start_tick = tick
        self.next_bit_diff = self.half_bit

    def _store(self, data: int) -> None:
        size, buffer = self.size, self.buffer
        pos = self.write_pos
        buffer[pos:pos + size] = (data & (1 << 8 * size) - 1).to_bytes(size, "little")
        following = (pos + size) % len(buffer)
        if following != self.read_pos:  # as pigpio: never catch up with the reader
            self.write_pos = following

    # -- reading ---------------------------------------------------------------------

    def read(self, count: int) -> bytes:
        """pigpio's ``gpioSerialRead``: up to ``count`` bytes, whole characters, up to
        the end of the cyclic buffer (the rest on the next read)."""
        read_pos, write_pos = self.read_pos, self.write_pos
        if read_pos == write_pos:
            return b""
        available = write_pos - read_pos if write_pos > read_pos else \
            len(self.buffer) - read_pos
        available = min(available, count) // self.size * self.size
        data = bytes(self.buffer[read_pos:read_pos + available])
        read_pos += available
        self.read_pos = 0 if read_pos >= len(self.buffer) else read_pos
        return data


@dataclass
class Use:
    """One bit-bang use of a set of GPIOs, and who opened it."""

    kind: str  # SERIAL, I2C_SDA or SPI_CS: the GPIO the use is named by
    gpio: int
    client: Any  # handles.holder of the opener: its client, or PERSISTENT
    pid: int | None
    gpios: dict[int, str] = field(default_factory=dict)  # every GPIO it holds: mode
    reader: SerialReader | None = None
    bus: Any = None  # the backend's bit-banged I2C bus or SPI device
    modes: dict[int, int] = field(default_factory=dict)  # the GPIOs' modes before
    spi_flags: int = 0
    baud: int = 0
    owner: Owner | None = None  # whose it is, for a use that persists


class BitBang:
    """The server's bit-bang uses of GPIOs (pigpio's ``wfRx`` table), by GPIO.

    Registered with the server's handle tables (:meth:`client_gone`), so a client's
    uses end with its last connection."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.uses: dict[int, Use] = {}  # every GPIO in use -> its use
        #: An SPI bus's SCLK -> how many CS use it, and its GPIOs' modes before.
        self.spi_buses: dict[int, tuple[int, dict[int, int]]] = {}

    @classmethod
    def of(cls, server: Any) -> "BitBang":
        """The server's table, made and registered on first use."""
        table = getattr(server, "bitbang", None)
        if table is None:
            table = cls(server)
            server.handles.add(table)
            server.bitbang = table
        return table

    # -- who holds what ---------------------------------------------------------------

    def mode(self, gpio: int) -> str | None:
        """The bit-bang mode of ``gpio`` (None: none)."""
        use = self.uses.get(gpio)
        return None if use is None else use.gpios[gpio]

    def own(self, session: Any, gpio: int, kind: str, not_code: int, what: str) -> Use:
        """``session``'s use of ``gpio`` as ``kind``; ``not_code`` when there is none
        or another client holds it."""
        use = self.uses.get(gpio)
        if use is None or use.gpios.get(gpio) != kind or use.gpio != gpio:
            raise PigpioError(not_code, f"{errors.error_text(not_code)}: no {what} on "
                                        f"GPIO {gpio}")
        if use.client is PERSISTENT:
            ownership.check(session, use.owner, f"GPIO {gpio}'s {what}")
        elif use.client != client_key(session):
            raise PigpioError(not_code, f"{errors.error_text(not_code)}: GPIO {gpio}'s "
                                        f"{what} belongs to another client (pid {use.pid})")
        return use

    def claim(self, session: Any, use: Use) -> None:
        """Record ``use`` (its GPIOs already checked free)."""
        for gpio in use.gpios:
            self.uses[gpio] = use

    def in_use(self, gpio: int) -> PigpioError:
        use = self.uses[gpio]
        return PigpioError(PI_GPIO_IN_USE, f"GPIO is already in use: GPIO {gpio} is "
                                           f"bit-bang {use.gpios[gpio]} (pid {use.pid})")

    def release(self, use: Use) -> None:
        """Forget ``use`` and undo what it did to the GPIOs (taps, modes)."""
        for gpio in use.gpios:
            if self.uses.get(gpio) is use:
                del self.uses[gpio]
        if use.reader is not None:
            self.server.hub.untap(use.gpio)
        backend = self.server.backend
        for gpio, mode in use.modes.items():
            try:
                backend.set_mode(gpio, mode)
            except Exception:  # noqa: BLE001 - a backend gone away: the use ends anyway
                pass
        close = getattr(use.bus, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                pass

    def client_gone(self, key: Any) -> int:
        """End every use of the client ``key`` (no connection left); how many."""
        mine = {id(u): u for u in self.uses.values() if u.client == key}
        for use in mine.values():
            if use.kind == SPI_CS:
                self.close_spi(use)
            else:
                self.release(use)
        return len(mine)

    def close_spi(self, use: Use) -> None:
        """End one CS of an SPI bus; the bus's MISO, MOSI and SCLK with its last CS
        (their modes as before the bus's first open)."""
        sclk = next(g for g, m in use.gpios.items() if m == SPI_SCLK)
        users, modes = self.spi_buses.get(sclk, (1, {}))
        self.uses.pop(use.gpio, None)
        cs_only = Use(use.kind, use.gpio, use.client, use.pid, {use.gpio: SPI_CS},
                      modes={use.gpio: use.modes[use.gpio]} if use.gpio in use.modes else {},
                      owner=use.owner)
        if users > 1:
            self.spi_buses[sclk] = (users - 1, modes)
            self.release(cs_only)
            return
        self.spi_buses.pop(sclk, None)
        for gpio in use.gpios:
            self.uses.pop(gpio, None)
        cs_only.modes.update(modes)
        self.release(cs_only)


# -- pigpio's bbI2CZip --------------------------------------------------------------


def run_zip(bus: Any, data: bytes) -> bytes:
    """pigpio's ``bbI2CZip`` on ``bus`` (``present(address)`` and
    ``transfer(messages)``): the messages between a start and a stop go as one
    combined transfer. An address nobody acknowledges fails the read or write naming
    it, after what came before it on the bus was carried out."""
    pos, esc, address = 0, False, 0
    out = bytearray()
    run: list[I2CMessage] = []
    length = len(data)

    def param(two: bool) -> int:
        nonlocal pos
        size = 2 if two else 1
        if pos > length - size:
            return -1
        value = data[pos] if size == 1 else data[pos] | data[pos + 1] << 8
        pos += size
        return value

    def flush() -> None:
        if run:
            try:
                for chunk in bus.transfer(list(run)):
                    out.extend(chunk)
            except BusError as exc:
                fail(code("PI_I2C_READ_FAILED") if any(m.read for m in run)
                     else code("PI_I2C_WRITE_FAILED"), str(exc))
            run.clear()

    def fail(status: int, why: str) -> None:
        raise PigpioError(status, f"{errors.error_text(status)}: {why}")

    def acknowledged(read: bool) -> None:
        if not bus.present(address):
            flush()
            fail(code("PI_I2C_READ_FAILED" if read else "PI_I2C_WRITE_FAILED"),
                 f"no acknowledge from address {address:#04x}")

    while pos < length:
        op = data[pos]
        pos += 1
        set_esc = False
        if op == 0:  # End
            break
        if op == 1:  # Escape
            set_esc = True
        elif op == 2:  # Start (or a repeated start)
            pass
        elif op == 3:  # Stop
            flush()
        elif op == 4:
            address = param(esc)
            if address < 0:
                fail(code("PI_BAD_I2C_CMD"), "address parameter missing")
        elif op == 5:
            if param(True) < 0:
                fail(code("PI_BAD_I2C_CMD"), "flags parameter missing")
        elif op == 6:
            count = param(esc)
            if count <= 0:
                fail(code("PI_BAD_I2C_CMD"), "read of no bytes")
            acknowledged(True)
            planned = len(out) + sum(m.count for m in run if m.read)
            if count + planned > BB_I2C_ZIP_BYTES:
                fail(code("PI_BAD_I2C_RLEN"), f"reads of more than "
                                              f"{BB_I2C_ZIP_BYTES} bytes")
            run.append(I2CMessage(address, True, count=count))
        elif op == 7:
            count = param(esc)
            if count <= 0:
                fail(code("PI_BAD_I2C_CMD"), "write of no bytes")
            acknowledged(False)
            if count + pos > length:
                fail(code("PI_BAD_I2C_WLEN"), f"write of {count} bytes, "
                                              f"{length - pos} given")
            run.append(I2CMessage(address, False, bytes(data[pos:pos + count])))
            pos += count
        else:
            fail(code("PI_BAD_I2C_CMD"), f"bad I2C command {op}")
        esc = set_esc
    flush()
    return bytes(out)


def reverse_bits(data: bytes) -> bytes:
    """Each byte with its bits in the other order (LSB-first on an MSB-first wire)."""
    return bytes(_REVERSED[b] for b in data)


_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
