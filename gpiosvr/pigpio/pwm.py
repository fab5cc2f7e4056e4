"""PWM, servo and hardware PWM calls of :class:`gpiosvr.pigpio.pi`."""

from __future__ import annotations

from gpiosvr.pigpio._core import _int, _u2i


class PwmPart:
    """pigpio's PWM and servo methods."""

    def set_PWM_dutycycle(self, user_gpio, dutycycle):
        """Starts (non-zero dutycycle) or stops (0) PWM pulses on the GPIO."""
        return _u2i(self._cmd("p", user_gpio, _int(dutycycle)))

    def get_PWM_dutycycle(self, user_gpio):
        """Returns the PWM dutycycle being used on the GPIO."""
        return _u2i(self._cmd("gdc", user_gpio))

    def set_PWM_range(self, user_gpio, range_):
        """Sets the range of PWM values (25-40000); returns the real range."""
        return _u2i(self._cmd("prs", user_gpio, range_))

    def get_PWM_range(self, user_gpio):
        """Returns the range of PWM values being used on the GPIO."""
        return _u2i(self._cmd("prg", user_gpio))

    def get_PWM_real_range(self, user_gpio):
        """Returns the real (underlying) range of PWM values being used on the GPIO."""
        return _u2i(self._cmd("prrg", user_gpio))

    def set_PWM_frequency(self, user_gpio, frequency):
        """Sets the frequency (closest available) of the PWM; returns it."""
        return _u2i(self._cmd("pfs", user_gpio, frequency))

    def get_PWM_frequency(self, user_gpio):
        """Returns the frequency of PWM being used on the GPIO."""
        return _u2i(self._cmd("pfg", user_gpio))

    def set_servo_pulsewidth(self, user_gpio, pulsewidth):
        """Starts (500-2500) or stops (0) servo pulses on the GPIO."""
        return _u2i(self._cmd("s", user_gpio, _int(pulsewidth)))

    def get_servo_pulsewidth(self, user_gpio):
        """Returns the servo pulsewidth being used on the GPIO."""
        return _u2i(self._cmd("gpw", user_gpio))

    def hardware_PWM(self, gpio, PWMfreq, PWMduty):  # noqa: N803 - pigpio's names
        """Starts hardware PWM on a GPIO at the specified frequency and dutycycle."""
        return _u2i(self._cmd("hp", gpio, PWMfreq, PWMduty))
