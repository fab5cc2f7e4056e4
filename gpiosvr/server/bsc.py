"""pigpio's BSC peripheral (the Pi as an I2C or SPI slave) on the simulated board.

The slave: ``bscx CONTROL DATA`` (pigpio's ``bscXfer``) sets the mode from the
control word, puts DATA in the 16-byte transmit FIFO and takes what the receive FIFO
holds. The master is the simulated board: ``simbscw ADDRESS DATA`` writes to the slave
as an I2C master would (accepted only while the slave is enabled with receive on and,
in I2C mode, at its address; what does not fit the receive FIFO is lost, as on the
chip), and ``simbscr COUNT`` reads from its transmit FIFO. Each master write triggers
pigpio's BSC event (31), as pigpio does on slave activity. A non-zero control word
gives the BSC GPIOs (18-21, or 8-11 on a BCM2711) their ALT3 function; zero makes
them inputs again and clears the FIFOs, as in pigpio.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

#: The depth of each of the chip's BSC FIFOs.
FIFO_BYTES = 16

EN, SP, I2, RE, TE, BK = 1 << 0, 1 << 1, 1 << 2, 1 << 9, 1 << 8, 1 << 7
#: Status bits (pigpio's bscXfer): FR register flags and the counts above them.
TB, RE_, TF, RF, TE_, RB = 1, 2, 4, 8, 16, 32
ALT3 = 7
INPUT = 0


class BscSlave:
    """The simulated BSC slave: its control word and FIFOs."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.control = 0
        self.tx: deque[int] = deque()
        self.rx: deque[int] = deque()
        self.lost = 0  # bytes the master wrote while the receive FIFO was full

    @property
    def gpios(self) -> tuple[int, ...]:
        bcm2711 = (self.backend.hardware_revision >> 12) & 0xF == 3
        return (10, 11, 9, 8) if bcm2711 else (18, 19, 20, 21)  # SDA/MOSI SCL MISO CE

    @property
    def address(self) -> int:
        return (self.control >> 16) & 0x7F

    def xfer(self, control: int, data: bytes) -> bytes:
        """pigpio's bscXfer: the status (4 bytes, little-endian), then the bytes
        received, as on pigpio's wire."""
        if control != self.control:
            self._set(control)
        copied = 0
        if control & EN:
            for byte in data:
                if len(self.tx) >= FIFO_BYTES:
                    break
                self.tx.append(byte)
                copied += 1
        received = bytes(self.rx)
        self.rx.clear()
        return struct.pack("<I", self._status(copied)) + received

    def _set(self, control: int) -> None:
        if control == 0 or control & BK:
            self.tx.clear()
            self.rx.clear()
        modes = INPUT if control == 0 else ALT3
        count = 2 if control & I2 or not control else 4
        for gpio in self.gpios[:count]:
            self.backend.set_mode(gpio, modes)
        self.control = control & ~BK

    def _status(self, copied: int) -> int:
        flags = (TE_ if not self.tx else 0) | (TF if len(self.tx) >= FIFO_BYTES else 0) \
            | (RE_ if not self.rx else 0) | (RF if len(self.rx) >= FIFO_BYTES else 0)
        return copied << 16 | len(self.rx) << 11 | len(self.tx) << 6 | flags

    # -- the simulated master ---------------------------------------------------

    def master_write(self, address: int, data: bytes) -> int:
        """The master writes ``data`` to ``address``: how many bytes were ACKed."""
        control = self.control
        if not control & EN or not control & RE:
            return 0
        if control & I2 and address != self.address:
            return 0  # nobody at that address
        taken = 0
        for byte in data:
            if len(self.rx) < FIFO_BYTES:
                self.rx.append(byte)
            else:
                self.lost += 1
            taken += 1
        return taken

    def master_read(self, count: int) -> bytes:
        """The master reads up to ``count`` bytes the slave queued to transmit."""
        if not self.control & EN or not self.control & TE:
            return b""
        out = bytearray()
        while self.tx and len(out) < count:
            out.append(self.tx.popleft())
        return bytes(out)


def slave(server: Any) -> BscSlave:
    """The server's :class:`BscSlave`, made at its first use."""
    bsc = getattr(server, "_bsc", None)
    if bsc is None:
        bsc = server._bsc = BscSlave(server.backend)
    return bsc
