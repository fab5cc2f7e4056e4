"""An async pigpio-shaped client that speaks pigs commands to a gpiosvr server."""

from __future__ import annotations

from typing import Any

from gpiosvr.client import SocketClient
from gpiosvr.client_pigpio import PigpioMinimalApi

#: pigpio mode numbers to pigs mode letters.
MODE_LETTERS = {0: "r", 1: "w", 4: "0", 5: "1", 6: "2", 7: "3", 3: "4", 2: "5"}
#: pigpio pull numbers to pigs pull letters.
PUD_LETTERS = {0: "o", 1: "d", 2: "u"}


def mode_arg(mode: Any) -> Any:
    """The pigs argument for a pigpio mode; an unknown mode goes as is, so the
    server answers it with PI_BAD_MODE."""
    return MODE_LETTERS.get(mode, mode) if isinstance(mode, int) else mode


def pud_arg(pud: Any) -> Any:
    """The pigs argument for a pigpio pull; an unknown one goes as is (PI_BAD_PUD)."""
    return PUD_LETTERS.get(pud, pud) if isinstance(pud, int) else pud


class PigpioSocketClient(SocketClient, PigpioMinimalApi):
    """:class:`SocketClient` with pigpio's minimal API as coroutines.

    Errors raise :class:`gpiosvr.errors.PigpioError` whose ``code`` is pigpio's.
    """

    async def set_mode(self, gpio: int, mode: int) -> int:
        return await self.command("m", gpio, mode_arg(mode))

    async def get_mode(self, gpio: int) -> int:
        return await self.command("mg", gpio)

    async def set_pull_up_down(self, gpio: int, pud: int) -> int:
        return await self.command("pud", gpio, pud_arg(pud))

    async def read(self, gpio: int) -> int:
        return await self.command("r", gpio)

    async def write(self, gpio: int, level: int) -> int:
        return await self.command("w", gpio, level)

    async def get_current_tick(self) -> int:
        return await self.command("t")

    async def get_hardware_revision(self) -> int:
        """The server's hardware revision code."""
        return await self.command("hwver")

    async def get_pigpio_version(self) -> int:
        """The pigpio version the server emulates."""
        return await self.command("pigpv")

    async def read_bank_1(self) -> int:
        """Levels of GPIO 0-31 as a bit mask."""
        return await self.command("br1")

    async def read_bank_2(self) -> int:
        """Levels of GPIO 32-53 as a bit mask."""
        return await self.command("br2")

    async def set_bank_1(self, bits: int) -> int:
        """Set the output latches of GPIO 0-31 whose bits are set."""
        return await self.command("bs1", bits)

    async def set_bank_2(self, bits: int) -> int:
        """Set the output latches of GPIO 32-53 whose bits are set."""
        return await self.command("bs2", bits)

    async def clear_bank_1(self, bits: int) -> int:
        """Clear the output latches of GPIO 0-31 whose bits are set."""
        return await self.command("bc1", bits)

    async def clear_bank_2(self, bits: int) -> int:
        """Clear the output latches of GPIO 32-53 whose bits are set."""
        return await self.command("bc2", bits)
