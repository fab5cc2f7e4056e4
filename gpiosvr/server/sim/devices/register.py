"""An I2C register device with the Linux kernel's ``i2c-stub`` semantics.

What ``i2c-stub`` (drivers/i2c/i2c-stub.c) does for one chip address, so that a test
run here and one run against the real ``i2c-stub`` under the gpiod backend agree:

* 256 registers, each a 16-bit word: a byte operation reads or writes the low byte,
  a word operation the whole word (``words[reg]``, not two neighbouring bytes);
* a pointer: ``write_byte(v)`` sets it to ``v``; ``read_byte`` reads the low byte of
  ``words[pointer]`` and moves it on; a byte-data read or write of ``reg`` leaves it
  at ``reg + 1``;
* I2C block reads and writes go over the low bytes of consecutive registers, cut at
  register 255;
* SMBus block data is kept apart per register, as ``i2c-stub`` with its block
  functionality: a block write stores the bytes (the longest write sets the length
  block reads answer) and sets ``words[reg]`` to ``data[0] << 8 | length``; a block
  read of a register never written is refused;
* quick writes are acknowledged.

Beyond ``i2c-stub``, which takes SMBus operations only, plain I2C transfers work as on
most register chips: a write's first byte sets the pointer and the rest are stored
from it on, a read answers bytes from the pointer on (auto-increment, wrapping at
256). A process call writes its word to ``reg`` and answers the word at ``reg``; a
block process call does the same with block data.
"""

from __future__ import annotations

from typing import Any

from gpiosvr.server.backends.buses import BusError
from gpiosvr.server.sim.devices.base import I2CModel


class RegisterDevice(I2CModel):
    """256 16-bit registers and a pointer, as one chip of the kernel's i2c-stub."""

    def __init__(self, registers: dict[int, int] | list[int] | bytes | None = None,
                 words: dict[int, int] | None = None) -> None:
        self.words = [0] * 256
        self.pointer = 0
        self.blocks: dict[int, bytearray] = {}
        if registers is not None:
            items = registers.items() if isinstance(registers, dict) else enumerate(registers)
            for reg, value in items:
                self.set_byte(int(reg), int(value))
        for reg, value in (words or {}).items():
            self.set_word(int(reg), int(value))

    # -- driven by tests and the sim commands ---------------------------------------

    def set_byte(self, reg: int, value: int) -> None:
        """Set the low byte of register ``reg``."""
        _check(reg, value, 0xFF)
        self.words[reg] = self.words[reg] & 0xFF00 | value

    def set_bytes(self, reg: int, data: bytes) -> None:
        """Set the low bytes of registers ``reg``, ``reg + 1``, ... to ``data``."""
        if reg + len(data) > 256:
            raise ValueError(f"registers {reg}-{reg + len(data) - 1} do not exist (0-255)")
        for i, value in enumerate(data):
            self.set_byte(reg + i, value)

    def set_word(self, reg: int, value: int) -> None:
        """Set the whole 16-bit word of register ``reg``."""
        _check(reg, value, 0xFFFF)
        self.words[reg] = value

    def get_bytes(self, reg: int, count: int) -> bytes:
        """The low bytes of ``count`` registers from ``reg`` on."""
        if not 0 <= reg <= 255 or not 0 <= count <= 256 - reg:
            raise ValueError(f"registers {reg}-{reg + count - 1} do not exist (0-255)")
        return bytes(w & 0xFF for w in self.words[reg:reg + count])

    # -- the bus side ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data:
            self.pointer = data[0]
            for value in data[1:]:
                self.set_byte(self.pointer, value)
                self.pointer = (self.pointer + 1) & 0xFF

    def read(self, count: int) -> bytes:
        out = bytearray()
        for _ in range(count):
            out.append(self.words[self.pointer] & 0xFF)
            self.pointer = (self.pointer + 1) & 0xFF
        return bytes(out)

    def smbus(self, op: str, reg: int = 0, value: Any = None) -> Any:
        words = self.words
        if op == "write_quick":
            return None
        if op == "write_byte":
            self.pointer = value
            return None
        if op == "read_byte":
            byte = words[self.pointer] & 0xFF
            self.pointer = (self.pointer + 1) & 0xFF
            return byte
        if op in ("read_byte_data", "write_byte_data"):
            self.pointer = (reg + 1) & 0xFF
            if op == "write_byte_data":
                self.set_byte(reg, value)
                return None
            return words[reg] & 0xFF
        if op == "write_word_data":
            words[reg] = value
            return None
        if op == "read_word_data":
            return words[reg]
        if op == "process_call":
            words[reg] = value
            return words[reg]
        if op == "write_i2c_block_data":
            for i, byte in enumerate(value[:256 - reg]):
                self.set_byte(reg + i, byte)
            return None
        if op == "read_i2c_block_data":
            return self.get_bytes(reg, min(value, 256 - reg))
        if op in ("write_block_data", "block_process_call"):
            block = self.blocks.setdefault(reg, bytearray())
            if len(value) > len(block):
                block.extend(bytes(len(value) - len(block)))
            block[:len(value)] = value
            words[reg] = block[0] << 8 | len(block)
            return bytes(block) if op == "block_process_call" else None
        if op == "read_block_data":
            block = self.blocks.get(reg)
            if block is None:
                raise BusError(f"no block was written to register {reg} (as i2c-stub)")
            return bytes(block)
        raise BusError(f"unknown SMBus operation {op!r}")


def _check(reg: int, value: int, top: int) -> None:
    if not 0 <= reg <= 255:
        raise ValueError(f"register {reg} does not exist (0-255)")
    if not 0 <= value <= top:
        raise ValueError(f"value {value} is not 0-{top}")
