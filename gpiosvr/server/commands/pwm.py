"""PWM, servo pulses and hardware PWM."""

from __future__ import annotations

from gpiosvr.server.commands.table import Session, command


def _changing(session: Session, gpio: int, change, *args):
    """Make ``change`` to the pulses of ``gpio`` if ``session`` may (only the uid that
    started running pulses, root or an admin may change them); it then owns them."""
    pwm = session.server.pwm
    pwm.check_owner(session, gpio)
    try:
        return change(gpio, *args)
    finally:
        pwm.record_owner(session, gpio)


def _off_the_clock(session: Session, gpio: int) -> None:
    """PWM or servo pulses on a GPIO take it off its hardware clock, as in pigpio."""
    clocks = session.server.clocks
    clocks.check_leave(session, gpio)
    clocks.leave(gpio)


@command("p", "user_gpio", "int", updates="gpio")
def _pwm(session: Session, gpio: int, dutycycle: int):
    """PWM: set the dutycycle (0-range) and start PWM."""
    _off_the_clock(session, gpio)
    _changing(session, gpio, session.server.pwm.set_dutycycle, dutycycle)
    return 0


@command("gdc", "user_gpio")
def _get_dutycycle(session: Session, gpio: int):
    """The PWM dutycycle (hardware PWM: out of 1000000)."""
    return session.server.pwm.get_dutycycle(gpio)


@command("prs", "user_gpio", "int", updates="gpio")
def _pwm_range(session: Session, gpio: int, range_: int):
    """Set the PWM dutycycle range (25-40000); answers the real range."""
    return _changing(session, gpio, session.server.pwm.set_range, range_)


@command("prg", "user_gpio")
def _get_pwm_range(session: Session, gpio: int):
    """The PWM dutycycle range."""
    return session.server.pwm.get_range(gpio)


@command("prrg", "user_gpio")
def _get_real_range(session: Session, gpio: int):
    """The real PWM range at the GPIO's frequency."""
    return session.server.pwm.get_real_range(gpio)


@command("pfs", "user_gpio", "int", updates="gpio")
def _pwm_frequency(session: Session, gpio: int, frequency: int):
    """Set the PWM frequency: the closest one pigpio offers, which is answered."""
    return _changing(session, gpio, session.server.pwm.set_frequency, frequency)


@command("pfg", "user_gpio")
def _get_pwm_frequency(session: Session, gpio: int):
    """The PWM frequency."""
    return session.server.pwm.get_frequency(gpio)


@command("s", "user_gpio", "int", updates="gpio")
def _servo(session: Session, gpio: int, pulsewidth: int):
    """Servo pulses of ``pulsewidth`` µs (500-2500) at 50 Hz; 0 stops them."""
    _off_the_clock(session, gpio)
    _changing(session, gpio, session.server.pwm.set_servo, pulsewidth)
    return 0


@command("gpw", "user_gpio")
def _get_servo(session: Session, gpio: int):
    """The servo pulsewidth."""
    return session.server.pwm.get_servo(gpio)


@command("hp", "gpio", "int", "int", updates="gpio")
def _hardware_pwm(session: Session, gpio: int, frequency: int, duty: int):
    """Hardware PWM on GPIO 12, 13, 18, 19 (40, 41, 45, 52, 53): frequency, duty of 1M;
    it stops the wave being sent, as in pigpio."""
    pwm, waves = session.server.pwm, session.server.waves
    pwm.check_hardware(gpio, frequency, duty)
    for mate in pwm.channel_gpios(gpio):  # the channel's other GPIOs change too
        pwm.check_owner(session, mate)
    if frequency:
        waves.check_cancel(session)
    with session.backend.one_tick():  # the wave ends where the PWM starts
        _changing(session, gpio, pwm.set_hardware, frequency, duty, waves.cancel)
    return 0
