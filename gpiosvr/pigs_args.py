"""pigpio's mode and pull numbers as pigs arguments (letters), for the clients and
the facade; apart so that the facade need not import the async client."""

from __future__ import annotations

from typing import Any

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
