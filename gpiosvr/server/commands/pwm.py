"""PWM, servo pulses and hardware PWM."""

from __future__ import annotations

from gpiosvr.server.commands.table import Session, command


@command("p", "user_gpio", "int", updates="gpio")
def _pwm(session: Session, gpio: int, dutycycle: int):
    """PWM: set the dutycycle (0-range) and start PWM."""
    session.server.pwm.set_dutycycle(gpio, dutycycle)
    return 0


@command("gdc", "user_gpio")
def _get_dutycycle(session: Session, gpio: int):
    """The PWM dutycycle (hardware PWM: out of 1000000)."""
    return session.server.pwm.get_dutycycle(gpio)


@command("prs", "user_gpio", "int", updates="gpio")
def _pwm_range(session: Session, gpio: int, range_: int):
    """Set the PWM dutycycle range (25-40000); answers the real range."""
    return session.server.pwm.set_range(gpio, range_)


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
    return session.server.pwm.set_frequency(gpio, frequency)


@command("pfg", "user_gpio")
def _get_pwm_frequency(session: Session, gpio: int):
    """The PWM frequency."""
    return session.server.pwm.get_frequency(gpio)


@command("s", "user_gpio", "int", updates="gpio")
def _servo(session: Session, gpio: int, pulsewidth: int):
    """Servo pulses of ``pulsewidth`` µs (500-2500) at 50 Hz; 0 stops them."""
    session.server.pwm.set_servo(gpio, pulsewidth)
    return 0


@command("gpw", "user_gpio")
def _get_servo(session: Session, gpio: int):
    """The servo pulsewidth."""
    return session.server.pwm.get_servo(gpio)


@command("hp", "gpio", "int", "int", updates="gpio")
def _hardware_pwm(session: Session, gpio: int, frequency: int, duty: int):
    """Hardware PWM on GPIO 12, 13, 18, 19 (40, 41, 45, 52, 53): frequency, duty of 1M."""
    session.server.pwm.set_hardware(gpio, frequency, duty)
    return 0
