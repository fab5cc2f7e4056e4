"""Basic GPIO commands: modes, pulls, levels, banks, ticks and the board."""

from __future__ import annotations

from gpiosvr.server import permits
from gpiosvr.server.commands.table import PIGPIO_VERSION, Session, command


@command("m", "gpio", "mode", updates="gpio")
def _set_mode(session: Session, gpio: int, mode: int):
    """Set mode: r (input), w (output), 0-5 (ALT0-ALT5)."""
    permits.of(session).check(gpio)  # also here: the short path skips execute()
    if mode != 1:  # as pigpio: PWM and servo pulses end when a GPIO stops being an output
        _stop_pulses(session, gpio)
    session.backend.set_mode(gpio, mode)
    return 0


def _stop_pulses(session: Session, gpio: int) -> None:
    """PWM, servo pulses, hardware PWM and a hardware clock on ``gpio`` end."""
    server = session.server
    if server is None:
        return
    pwm, clocks = server.pwm, server.clocks
    if gpio in pwm.states:
        pwm.check_owner(session, gpio)  # stopping another user's pulses is a change
        clocks.check_leave(session, gpio)
        pwm.stopped(gpio)
        clocks.leave(gpio)
        session.backend.set_waveform(gpio, None)


@command("mg", "gpio")
def _get_mode(session: Session, gpio: int):
    """Get mode as a pigpio mode number 0-7."""
    return session.backend.get_mode(gpio)


@command("pud", "gpio", "pud", updates="gpio")
def _set_pull(session: Session, gpio: int, pud: int):
    """Set pull: u (up), d (down), o (off)."""
    session.backend.set_pull(gpio, pud)
    return 0


@command("r", "gpio")
def _read(session: Session, gpio: int):
    """Read a GPIO's level."""
    return session.backend.read(gpio)


@command("w", "gpio", "level", updates="gpio")
def _write(session: Session, gpio: int, level: int):
    """Write a level; the GPIO becomes an output (PWM and servo pulses on it end)."""
    permits.of(session).check(gpio)  # also here: the short path skips execute()
    _stop_pulses(session, gpio)
    session.backend.write(gpio, level)
    return 0


@command("t")
def _tick(session: Session):
    """Current tick: microseconds, wrapping at 2**32."""
    return session.backend.tick()


@command("hwver")
def _hwver(session: Session):
    """Hardware revision."""
    return session.backend.hardware_revision


@command("pigpv")
def _pigpv(session: Session):
    """pigpio version the server emulates."""
    return PIGPIO_VERSION


def _bank_commands(bank: int) -> None:
    @command(f"br{bank}")
    def _read_bank(session: Session):
        """Read the bank's levels as a bit mask (bank 1: GPIO 0-31, bank 2: 32-53)."""
        return session.backend.read_bank(bank)

    @command(f"bs{bank}", "bits", updates=f"bank{bank}")
    def _set_bank(session: Session, bits: int):
        """Set the output latch of the GPIOs whose bits are set (the permitted ones:
        naming others answers PI_SOME_PERMITTED)."""
        allowed = permits.of(session).bank_bits(bank, bits)
        session.backend.set_bank(bank, allowed)
        if allowed != bits:
            raise permits.of(session).some_permitted(bank, bits)
        return 0

    @command(f"bc{bank}", "bits", updates=f"bank{bank}")
    def _clear_bank(session: Session, bits: int):
        """Clear the output latch of the GPIOs whose bits are set (the permitted ones:
        naming others answers PI_SOME_PERMITTED)."""
        allowed = permits.of(session).bank_bits(bank, bits)
        session.backend.clear_bank(bank, allowed)
        if allowed != bits:
            raise permits.of(session).some_permitted(bank, bits)
        return 0


_bank_commands(1)
_bank_commands(2)
