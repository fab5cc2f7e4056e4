"""I2C: ``i2co``, ``i2cc`` and the transfer commands, as pigpio's (command.c's names
and argument order; pigpio.c's checks, in its order, and its error codes).

A handle belongs to the client process that opened it (:mod:`gpiosvr.server.handles`);
the device behind it comes from the backend's buses
(:mod:`gpiosvr.server.backends.buses`).
"""

from __future__ import annotations

from typing import Any

from gpiosvr import errors
from gpiosvr.server.backends.buses import I2CMessage, code
from gpiosvr.server.commands import bus_handles
from gpiosvr.server.commands.bus_handles import check
from gpiosvr.server.commands.table import ANSWERS_LATER, Session, command
from gpiosvr.server.limits import BUS_MAX_TRANSFER_BYTES, I2C_HANDLES, I2C_HANDLES_PER_UID

#: On the pigpiod and gpiod backends these answer later (a worker thread does the I/O).
ANSWERS_LATER.update(("i2co", "i2cwq", "i2crs", "i2cws", "i2crb", "i2cwb", "i2crw",
                      "i2cww", "i2cpc", "i2crk", "i2cwk", "i2cpk", "i2cri", "i2cwi",
                      "i2crd", "i2cwd", "i2cz"))


READ_FAILED = code("PI_I2C_READ_FAILED")
WRITE_FAILED = code("PI_I2C_WRITE_FAILED")
BAD_PARAM = errors.PI_BAD_PARAM


def handles(session: Session):
    """The server's I2C handle table."""
    return bus_handles.table(session.server, "i2c", I2C_HANDLES, I2C_HANDLES_PER_UID)


def _device(session: Session, handle: int):
    return handles(session).get(session, handle)


def _smbus(session: Session, handle: int, op: str, reg: int = 0, value: Any = None,
           fail: int = READ_FAILED, then=lambda v: v):
    device = _device(session, handle)
    return bus_handles.transfer(lambda: device.smbus(op, reg, value), fail, then)


def _reg(reg: int) -> None:
    check(0 <= reg <= 0xFF, BAD_PARAM, f"bad reg ({reg})")


def _byte(value: int, name: str = "bVal") -> None:
    check(0 <= value <= 0xFF, BAD_PARAM, f"bad {name} ({value})")


def _word(value: int) -> None:
    check(0 <= value <= 0xFFFF, BAD_PARAM, f"bad wVal ({value})")


def _block(data: bytes) -> None:
    check(1 <= len(data) <= 32, BAD_PARAM, f"bad count ({len(data)})")


def _zero(value: Any) -> int:
    return 0


@command("i2co", "int", "int", "int")
def _open(session: Session, bus: int, address: int, flags: int):
    """Open the device at ``address`` (0-0x7F) of I2C ``bus``; flags must be 0.
    Answers the handle."""
    check(0 <= address <= 0x7F, code("PI_BAD_I2C_ADDR"), f"bad I2C address ({address})")
    check(flags == 0, code("PI_BAD_FLAGS"), f"bad flags ({flags:#x})")
    check(bus >= 0, code("PI_BAD_I2C_BUS"), f"bad I2C bus ({bus})")
    buses = session.backend.buses()
    return bus_handles.open_handle(session, handles(session),
                                   lambda: buses.open_i2c(bus, address, flags),
                                   code("PI_I2C_OPEN_FAILED"))


@command("i2cc", "int")
def _close(session: Session, handle: int):
    """Close an I2C handle."""
    handles(session).close(session, handle)
    return 0


@command("i2cwq", "int", "int")
def _write_quick(session: Session, handle: int, bit: int):
    """SMBus write quick: send ``bit`` (the read/write bit) to the device."""
    _device(session, handle)
    check(bit in (0, 1), BAD_PARAM, f"bad bit ({bit})")
    return _smbus(session, handle, "write_quick", 0, bit, WRITE_FAILED, _zero)


@command("i2crs", "int")
def _read_byte(session: Session, handle: int):
    """SMBus receive byte: read one byte from the device."""
    return _smbus(session, handle, "read_byte")


@command("i2cws", "int", "int")
def _write_byte(session: Session, handle: int, value: int):
    """SMBus send byte: write one byte to the device."""
    _device(session, handle)
    _byte(value)
    return _smbus(session, handle, "write_byte", 0, value, WRITE_FAILED, _zero)


@command("i2crb", "int", "int")
def _read_byte_data(session: Session, handle: int, reg: int):
    """SMBus read byte data: the byte of register ``reg``."""
    _device(session, handle)
    _reg(reg)
    return _smbus(session, handle, "read_byte_data", reg)


@command("i2cwb", "int", "int", "int")
def _write_byte_data(session: Session, handle: int, reg: int, value: int):
    """SMBus write byte data: write a byte to register ``reg``."""
    _device(session, handle)
    _reg(reg)
    _byte(value)
    return _smbus(session, handle, "write_byte_data", reg, value, WRITE_FAILED, _zero)


@command("i2crw", "int", "int")
def _read_word_data(session: Session, handle: int, reg: int):
    """SMBus read word data: the 16-bit word of register ``reg``."""
    _device(session, handle)
    _reg(reg)
    return _smbus(session, handle, "read_word_data", reg)


@command("i2cww", "int", "int", "int")
def _write_word_data(session: Session, handle: int, reg: int, value: int):
    """SMBus write word data: write a 16-bit word to register ``reg``."""
    _device(session, handle)
    _reg(reg)
    _word(value)
    return _smbus(session, handle, "write_word_data", reg, value, WRITE_FAILED, _zero)


@command("i2cpc", "int", "int", "int")
def _process_call(session: Session, handle: int, reg: int, value: int):
    """SMBus process call: write a word to register ``reg``, answer the word read."""
    _device(session, handle)
    _reg(reg)
    _word(value)
    return _smbus(session, handle, "process_call", reg, value)


@command("i2crk", "int", "int")
def _read_block_data(session: Session, handle: int, reg: int):
    """SMBus block read: the block (1-32 bytes, the device says how many) of ``reg``."""
    _device(session, handle)
    _reg(reg)
    return _smbus(session, handle, "read_block_data", reg, then=_block_answer)


@command("i2cwk", "int", "int", "bvs")
def _write_block_data(session: Session, handle: int, reg: int, data: bytes):
    """SMBus block write: write 1-32 bytes (with their count) to register ``reg``."""
    _device(session, handle)
    _reg(reg)
    _block(data)
    return _smbus(session, handle, "write_block_data", reg, data, WRITE_FAILED, _zero)


@command("i2cpk", "int", "int", "bvs")
def _block_process_call(session: Session, handle: int, reg: int, data: bytes):
    """SMBus block process call: write 1-32 bytes to ``reg``, answer the block read."""
    _device(session, handle)
    _reg(reg)
    _block(data)
    return _smbus(session, handle, "block_process_call", reg, data, then=_block_answer)


@command("i2cri", "int", "int", "int")
def _read_i2c_block_data(session: Session, handle: int, reg: int, count: int):
    """I2C block read: ``count`` (1-32) bytes from register ``reg`` on."""
    _device(session, handle)
    _reg(reg)
    check(1 <= count <= 32, BAD_PARAM, f"bad count ({count})")
    return _smbus(session, handle, "read_i2c_block_data", reg, count, then=bytes)


@command("i2cwi", "int", "int", "bvs")
def _write_i2c_block_data(session: Session, handle: int, reg: int, data: bytes):
    """I2C block write: 1-32 bytes to register ``reg`` on (no count byte)."""
    _device(session, handle)
    _reg(reg)
    _block(data)
    return _smbus(session, handle, "write_i2c_block_data", reg, data, WRITE_FAILED, _zero)


@command("i2crd", "int", "int")
def _read_device(session: Session, handle: int, count: int):
    """Plain I2C read of ``count`` bytes from the device."""
    device = _device(session, handle)
    check(1 <= count <= BUS_MAX_TRANSFER_BYTES, BAD_PARAM, f"bad count ({count})")
    message = I2CMessage(device.address, True, count=count)
    return bus_handles.transfer(lambda: device.transfer([message]), READ_FAILED,
                                lambda out: bytes(out[0]))


@command("i2cwd", "int", "bvs")
def _write_device(session: Session, handle: int, data: bytes):
    """Plain I2C write of the bytes to the device."""
    device = _device(session, handle)
    check(1 <= len(data) <= BUS_MAX_TRANSFER_BYTES, BAD_PARAM, f"bad count ({len(data)})")
    message = I2CMessage(device.address, False, data)
    return bus_handles.transfer(lambda: device.transfer([message]), WRITE_FAILED, _zero)


@command("i2cz", "int", "bvs")
def _zip(session: Session, handle: int, data: bytes):
    """Run a sequence of I2C operations (pigpio's i2c_zip codes); answers the bytes
    read, all together."""
    device = _device(session, handle)
    check(len(data) > 0, code("PI_BAD_POINTER"), "input buffer can't be NULL")
    native = getattr(device, "zip", None)
    if native is not None:  # a backend that runs pigpio's zip itself (pigpiod)
        return bus_handles.transfer(lambda: native(data), code("PI_BAD_I2C_SEG"), bytes)
    return _run_zip(device, data)


def _run_zip(device: Any, data: bytes) -> bytes:
    """pigpio's i2cZip: parse the codes, run the messages up to each End, On or Off
    (or every 42: PI_I2C_RDRW_IOCTL_MAX_MSGS) as one combined transfer."""
    pos, esc, address, flags = 0, False, device.address, 0
    out = bytearray()
    pending: list[I2CMessage] = []

    def param(two: bool) -> int:
        nonlocal pos
        size = 2 if two else 1
        if pos > len(data) - size:
            return -1
        value = data[pos] if size == 1 else data[pos] | data[pos + 1] << 8
        pos += size
        return value

    def flush() -> None:
        if pending:
            reads = bus_handles.transfer(lambda: device.transfer(list(pending)),
                                         code("PI_BAD_I2C_SEG"))
            for chunk in reads:
                out.extend(chunk)
            pending.clear()

    while pos < len(data):
        op = data[pos]
        pos += 1
        set_esc = False
        if op == 0:  # End
            break
        if op in (2, 3):  # combined on/off: run what came before
            flush()
        elif op == 4:
            address = param(esc)
            check(address >= 0, code("PI_BAD_I2C_CMD"), "address parameter missing")
        elif op == 5:
            flags = param(True)
            check(flags >= 0, code("PI_BAD_I2C_CMD"), "flags parameter missing")
        elif op == 1:
            set_esc = True
        elif op == 6:
            count = param(esc)
            planned = len(out) + sum(m.count for m in pending if m.read)
            check(count >= 0 and count + planned < BUS_MAX_TRANSFER_BYTES,
                  code("PI_BAD_I2C_RLEN"), "bad read length")
            pending.append(I2CMessage(address, True, count=count))
        elif op == 7:
            count = param(esc)
            check(count >= 0 and count + pos < len(data), code("PI_BAD_I2C_WLEN"),
                  "bad write length")
            pending.append(I2CMessage(address, False, bytes(data[pos:pos + count])))
            pos += count
        else:
            check(False, code("PI_BAD_I2C_CMD"), f"bad I2C command {op}")
        if len(pending) >= 42:
            flush()
        esc = set_esc
    flush()
    return bytes(out)


def _block_answer(block: Any) -> bytes:
    block = bytes(block)
    if not 1 <= len(block) <= 32:
        raise bus_handles.failed(READ_FAILED, ValueError(f"block of {len(block)} bytes"))
    return block
