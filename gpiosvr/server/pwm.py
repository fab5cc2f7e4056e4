"""PWM and servo pulses with pigpio 1.78's semantics and limits.

The server keeps, per user GPIO, what pigpio keeps (dutycycle, range, frequency,
servo pulsewidth, hardware PWM) and asks the backend for the waveform that follows
from it (:meth:`gpiosvr.server.backends.base.Backend.set_waveform`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership
from gpiosvr.server.ownership import Owner

PI_BAD_PULSEWIDTH, PI_BAD_DUTYCYCLE, PI_BAD_DUTYRANGE = -7, -8, -21
PI_NOT_PWM_GPIO, PI_NOT_SERVO_GPIO = -92, -93
PI_NOT_HPWM_GPIO, PI_BAD_HPWM_FREQ, PI_BAD_HPWM_DUTY = -95, -96, -97

#: PWM frequencies at pigpio's default sample rate of 5 µs.
FREQUENCIES = (8000, 4000, 2000, 1600, 1000, 800, 500, 400, 320, 250, 200, 160, 100,
               80, 50, 40, 20, 10)
DEFAULT_FREQUENCY = 800
DEFAULT_RANGE = 255
SERVO_FREQUENCY = 50
#: GPIOs with hardware PWM on a BCM283x.
HARDWARE_PWM_GPIOS = frozenset({12, 13, 18, 19, 40, 41, 45, 52, 53})
HARDWARE_PWM_MAX_HZ = 125_000_000
HARDWARE_DUTY_RANGE = 1_000_000


def closest_frequency(frequency: int) -> int:
    """The table frequency pigpio picks for a requested one."""
    return min(FREQUENCIES, key=lambda f: (abs(f - frequency), -f))


def real_range(frequency: int) -> int:
    """The steps a PWM period really has at ``frequency`` (5 µs samples)."""
    return 200_000 // frequency


@dataclass
class PwmState:
    """What pigpio keeps for one GPIO."""

    dutycycle: int = 0
    range: int = DEFAULT_RANGE
    frequency: int = DEFAULT_FREQUENCY
    pwm: bool = False
    servo: int = 0  # pulsewidth µs, 0: off
    hw_frequency: int = 0  # hardware PWM, 0: off
    hw_duty: int = 0


class PwmController:
    """PWM, servo and hardware PWM state for every GPIO, driving the backend."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.states: dict[int, PwmState] = {}
        #: Who started the pulses running on a GPIO (:mod:`gpiosvr.server.ownership`).
        self.owners: dict[int, Owner] = {}

    def _state(self, gpio: int) -> PwmState:
        state = self.states.get(gpio)
        if state is None:
            state = self.states[gpio] = PwmState()
        return state

    def stopped(self, gpio: int) -> None:
        """The GPIO was written or its mode set: PWM and servo pulses end, as in pigpio."""
        state = self.states.get(gpio)
        if state is not None:
            state.pwm, state.servo, state.hw_frequency = False, 0, 0
        self.owners.pop(gpio, None)

    def pulsing(self, gpio: int) -> bool:
        """True while PWM, servo or hardware PWM pulses run on ``gpio``."""
        state = self.states.get(gpio)
        return state is not None and bool(state.pwm or state.servo or state.hw_frequency)

    def check_owner(self, session, gpio: int) -> None:
        """``PI_NOT_PERMITTED`` unless ``session`` may change or stop the pulses
        running on ``gpio`` (none running: anyone may start some)."""
        if self.pulsing(gpio):
            ownership.check(session, self.owners.get(gpio), f"the pulses on GPIO {gpio}")

    def record_owner(self, session, gpio: int) -> None:
        """After a change by ``session``: it owns the pulses that run now, if any."""
        if self.pulsing(gpio):
            self.owners[gpio] = ownership.owner_of(session)
        else:
            self.owners.pop(gpio, None)

    # -- software PWM ---------------------------------------------------------------

    def set_dutycycle(self, gpio: int, dutycycle: int) -> None:
        state = self._state(gpio)
        if not 0 <= dutycycle <= state.range:
            raise PigpioError(PI_BAD_DUTYCYCLE)
        state.dutycycle, state.pwm, state.servo, state.hw_frequency = dutycycle, True, 0, 0
        self._apply(gpio, state)

    def get_dutycycle(self, gpio: int) -> int:
        state = self.states.get(gpio)
        if state is not None and state.hw_frequency:
            return state.hw_duty
        if state is None or not state.pwm:
            raise PigpioError(PI_NOT_PWM_GPIO)
        return state.dutycycle

    def set_range(self, gpio: int, range_: int) -> int:
        if not 25 <= range_ <= 40000:
            raise PigpioError(PI_BAD_DUTYRANGE)
        state = self._state(gpio)
        if state.pwm:  # pigpio scales an active dutycycle to the new range
            state.dutycycle = state.dutycycle * range_ // state.range
        state.range = range_
        if state.pwm:
            self._apply(gpio, state)
        return real_range(state.frequency)

    def get_range(self, gpio: int) -> int:
        state = self._state(gpio)
        return HARDWARE_DUTY_RANGE if state.hw_frequency else state.range

    def get_real_range(self, gpio: int) -> int:
        state = self._state(gpio)
        if state.hw_frequency:
            return 250_000_000 // state.hw_frequency
        return real_range(state.frequency)

    def set_frequency(self, gpio: int, frequency: int) -> int:
        state = self._state(gpio)
        state.frequency = closest_frequency(frequency)
        if state.pwm:
            self._apply(gpio, state)
        return state.frequency

    def get_frequency(self, gpio: int) -> int:
        state = self._state(gpio)
        if state.hw_frequency:
            return state.hw_frequency
        if state.servo:
            return SERVO_FREQUENCY
        return state.frequency

    # -- servo pulses -----------------------------------------------------------------

    def set_servo(self, gpio: int, pulsewidth: int) -> None:
        if pulsewidth != 0 and not 500 <= pulsewidth <= 2500:
            raise PigpioError(PI_BAD_PULSEWIDTH)
        state = self._state(gpio)
        state.servo, state.pwm, state.hw_frequency = pulsewidth, False, 0
        if pulsewidth:
            self.backend.set_waveform(gpio, 1e6 / SERVO_FREQUENCY, pulsewidth)
        else:
            self.backend.set_waveform(gpio, None)

    def get_servo(self, gpio: int) -> int:
        state = self.states.get(gpio)
        if state is None or not state.servo:
            raise PigpioError(PI_NOT_SERVO_GPIO)
        return state.servo

    # -- hardware PWM -----------------------------------------------------------------

    def set_hardware(self, gpio: int, frequency: int, duty: int) -> None:
        if gpio not in HARDWARE_PWM_GPIOS:
            raise PigpioError(PI_NOT_HPWM_GPIO)
        if not 0 <= frequency <= HARDWARE_PWM_MAX_HZ:
            raise PigpioError(PI_BAD_HPWM_FREQ)
        if not 0 <= duty <= HARDWARE_DUTY_RANGE:
            raise PigpioError(PI_BAD_HPWM_DUTY)
        if frequency:  # the backend first: one that refuses leaves the state as it was
            period = 1e6 / frequency
            self.backend.set_waveform(gpio, period, period * duty / HARDWARE_DUTY_RANGE)
        else:
            self.backend.set_waveform(gpio, None)
        state = self._state(gpio)
        state.pwm, state.servo = False, 0
        state.hw_frequency, state.hw_duty = frequency, duty

    def _apply(self, gpio: int, state: PwmState) -> None:
        period = 1e6 / state.frequency
        self.backend.set_waveform(gpio, period, period * state.dutycycle / state.range)
