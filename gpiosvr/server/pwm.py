"""PWM and servo pulses with pigpio 1.78's semantics and limits.

The server keeps, per user GPIO, what pigpio keeps (dutycycle, range, frequency,
servo pulsewidth, and what the GPIO "is": PWM, servo, hardware PWM or hardware
clock) and asks the backend for the waveform that follows from it
(:meth:`gpiosvr.server.backends.base.Backend.set_waveform`).

Hardware PWM is pigpio's two PWM channels: the GPIOs of a channel that run hardware
PWM share its frequency and dutycycle, and the frequency is the one the channel
really makes (pigpio's ``hw_pwm_freq``: the PWM clock divided by a whole range).
A wave sent or chained stops hardware PWM on every GPIO (pigpio's
stopHardwarePWM: the channel is disabled, its output goes low) and
``hardware_PWM`` stops the wave being sent (``docs/waves.md``).
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
#: GPIO -> its PWM channel (0 or 1), from pigpio's PWMDef table.
HARDWARE_PWM_CHANNEL = {12: 0, 13: 1, 18: 0, 19: 1, 40: 0, 41: 1, 45: 1, 52: 0, 53: 1}
#: GPIOs with hardware PWM on a BCM283x.
HARDWARE_PWM_GPIOS = frozenset(HARDWARE_PWM_CHANNEL)
HARDWARE_PWM_MAX_HZ = 125_000_000
HARDWARE_PWM_MAX_HZ_2711 = 187_500_000
HARDWARE_DUTY_RANGE = 1_000_000
#: PLLD, the PWM clock's source (pigpio runs the PWM clock at half of it).
PLLD_HZ, PLLD_HZ_2711 = 500_000_000, 750_000_000


def closest_frequency(frequency: int) -> int:
    """The table frequency pigpio picks for a requested one."""
    return min(FREQUENCIES, key=lambda f: (abs(f - frequency), -f))


def real_range(frequency: int) -> int:
    """The steps a PWM period really has at ``frequency`` (5 µs samples)."""
    return 200_000 // frequency


def is_bcm2711(revision: int) -> bool:
    """Whether a new-style revision code names a BCM2711 (Pi 4, Pi 400, CM4)."""
    return bool(revision & 0x800000) and (revision >> 12) & 0xF == 3


@dataclass
class PwmState:
    """What pigpio keeps for one GPIO."""

    dutycycle: int = 0
    range: int = DEFAULT_RANGE
    frequency: int = DEFAULT_FREQUENCY
    pwm: bool = False
    servo: int = 0  # pulsewidth µs, 0: off
    hw: bool = False  # pigpio's GPIO_HW_PWM: the GPIO shows its channel
    clock: int | None = None  # pigpio's GPIO_HW_CLK: the clock (0-2) it shows


@dataclass
class PwmChannel:
    """One of the two hardware PWM channels, as pigpio records it."""

    frequency: int = 0  # the real frequency (pigpio's hw_pwm_freq)
    duty: int = 0  # of HARDWARE_DUTY_RANGE (hw_pwm_duty)
    real_range: int = 0  # PWM clock ticks per period (hw_pwm_real_range)
    real_duty: int = 0  # of real_range
    enabled: bool = False


class PwmController:
    """PWM, servo and hardware PWM state for every GPIO, driving the backend."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.states: dict[int, PwmState] = {}
        #: Who started the pulses running on a GPIO (:mod:`gpiosvr.server.ownership`).
        self.owners: dict[int, Owner] = {}
        self.channels = (PwmChannel(), PwmChannel())
        #: The real frequency of each hardware clock (pigpio's hw_clk_freq), set by
        #: :class:`gpiosvr.server.clocks.HardwareClocks`.
        self.clock_hz = [0, 0, 0]

    def _state(self, gpio: int) -> PwmState:
        state = self.states.get(gpio)
        if state is None:
            state = self.states[gpio] = PwmState()
        return state

    def stopped(self, gpio: int) -> None:
        """The GPIO was written or its mode set: PWM and servo pulses end, as in pigpio
        (a hardware PWM channel goes on running on its other GPIOs)."""
        state = self.states.get(gpio)
        if state is not None:
            state.pwm, state.servo, state.hw, state.clock = False, 0, False, None
        self.owners.pop(gpio, None)

    def pulsing(self, gpio: int) -> bool:
        """True while PWM, servo or hardware PWM pulses run on ``gpio``."""
        state = self.states.get(gpio)
        if state is None:
            return False
        if state.hw:
            return self.channels[HARDWARE_PWM_CHANNEL[gpio]].enabled
        return bool(state.pwm or state.servo)

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
        state.dutycycle, state.pwm, state.servo = dutycycle, True, 0
        state.hw, state.clock = False, None
        self._apply(gpio, state)

    def get_dutycycle(self, gpio: int) -> int:
        """pigpio's gpioGetPWMdutycycle: PWM's dutycycle, the hardware PWM channel's
        (of 1000000), half of 1000000 for a hardware clock."""
        state = self.states.get(gpio)
        if state is not None and state.hw:
            return self.channels[HARDWARE_PWM_CHANNEL[gpio]].duty
        if state is not None and state.clock is not None:
            return HARDWARE_DUTY_RANGE // 2
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
        """pigpio's gpioGetPWMrange: 1000000 for hardware PWM and clocks."""
        state = self._state(gpio)
        return HARDWARE_DUTY_RANGE if state.hw or state.clock is not None else state.range

    def get_real_range(self, gpio: int) -> int:
        """pigpio's gpioGetPWMrealRange: the channel's real range for hardware PWM,
        1000000 for a hardware clock."""
        state = self._state(gpio)
        if state.hw:
            return self.channels[HARDWARE_PWM_CHANNEL[gpio]].real_range
        if state.clock is not None:
            return HARDWARE_DUTY_RANGE
        return real_range(state.frequency)

    def set_frequency(self, gpio: int, frequency: int) -> int:
        state = self._state(gpio)
        before, state.frequency = state.frequency, closest_frequency(frequency)
        if state.pwm:
            try:
                self._apply(gpio, state)
            except BaseException:
                state.frequency = before  # refused by the backend: nothing changed
                raise
        return state.frequency

    def get_frequency(self, gpio: int) -> int:
        """pigpio's gpioGetPWMfrequency: the channel's real frequency for hardware
        PWM, the clock's for a hardware clock, else the PWM frequency (servo
        pulses too: pigpio answers the PWM frequency there, not 50)."""
        state = self._state(gpio)
        if state.hw:
            return self.channels[HARDWARE_PWM_CHANNEL[gpio]].frequency
        if state.clock is not None:
            return self.clock_hz[state.clock]
        return state.frequency

    # -- servo pulses -----------------------------------------------------------------

    def set_servo(self, gpio: int, pulsewidth: int) -> None:
        if pulsewidth != 0 and not 500 <= pulsewidth <= 2500:
            raise PigpioError(PI_BAD_PULSEWIDTH)
        state = self._state(gpio)
        state.servo, state.pwm, state.hw, state.clock = pulsewidth, False, False, None
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

    def _plld(self) -> int:
        return PLLD_HZ_2711 if is_bcm2711(self.backend.hardware_revision) else PLLD_HZ

    def check_hardware(self, gpio: int, frequency: int, duty: int) -> None:
        """pigpio's gpioHardwarePWM checks, in its order."""
        if gpio not in HARDWARE_PWM_CHANNEL:
            raise PigpioError(PI_NOT_HPWM_GPIO)
        if not 0 <= duty <= HARDWARE_DUTY_RANGE:
            raise PigpioError(PI_BAD_HPWM_DUTY)
        high = (HARDWARE_PWM_MAX_HZ_2711 if is_bcm2711(self.backend.hardware_revision)
                else HARDWARE_PWM_MAX_HZ)
        if not 0 <= frequency <= high:
            raise PigpioError(PI_BAD_HPWM_FREQ, f"bad hardware PWM frequency: "
                                                f"{frequency}, not 1-{high}")

    def channel_gpios(self, gpio: int) -> list[int]:
        """``gpio`` and the other GPIOs its channel drives now: what a
        ``hardware_PWM`` on ``gpio`` changes."""
        channel = HARDWARE_PWM_CHANNEL.get(gpio)
        if channel is None:
            return [gpio]
        return sorted({gpio} | {g for g, st in self.states.items()
                                if st.hw and HARDWARE_PWM_CHANNEL[g] == channel})

    def set_hardware(self, gpio: int, frequency: int, duty: int,
                     before_start=None) -> None:
        """pigpio's gpioHardwarePWM. Frequency 0 disables the GPIO's channel (its
        GPIOs go low) if the GPIO runs it, else changes nothing. Otherwise the
        channel gets the real range and frequency pigpio computes, every GPIO
        running it follows, and ``before_start()`` is called once the backend has
        taken the waveform (pigpio stops the wave being sent there)."""
        self.check_hardware(gpio, frequency, duty)
        channel = HARDWARE_PWM_CHANNEL[gpio]
        ch = self.channels[channel]
        state = self._state(gpio)
        if not frequency:
            if state.hw:
                ch.enabled, state.hw = False, False
                for g in self.channel_gpios(gpio):
                    self.backend.write(g, 0)  # a disabled channel outputs low
            return
        plld = self._plld()
        real = int(plld / (2.0 * frequency) + 0.5)
        real_duty = duty * real // HARDWARE_DUTY_RANGE
        tick_us = 2e6 / plld  # one tick of the PWM clock
        # the backend first: one that refuses leaves the state as it was
        self.backend.set_waveform(gpio, real * tick_us, real_duty * tick_us)
        if before_start is not None:
            before_start()
        ch.frequency = int(plld / (2.0 * real) + 0.5)
        ch.duty, ch.real_range, ch.real_duty, ch.enabled = duty, real, real_duty, True
        state.pwm, state.servo, state.clock, state.hw = False, 0, None, True
        for g in self.channel_gpios(gpio):
            if g != gpio:
                self.backend.set_waveform(g, real * tick_us, real_duty * tick_us)

    def hardware_gpios(self) -> list[int]:
        """The GPIOs that run hardware PWM (pigpio's GPIO_HW_PWM)."""
        return sorted(g for g, st in self.states.items() if st.hw)

    def check_stop_hardware(self, session) -> None:
        """``PI_NOT_PERMITTED`` unless ``session`` may stop every hardware PWM."""
        for gpio in self.hardware_gpios():
            self.check_owner(session, gpio)

    def stop_hardware(self) -> None:
        """pigpio's stopHardwarePWM (a wave is sent or chained): both channels are
        disabled, every GPIO that ran hardware PWM goes low and is PWM no more."""
        for gpio in self.hardware_gpios():
            self.channels[HARDWARE_PWM_CHANNEL[gpio]].enabled = False
            self.states[gpio].hw = False
            self.owners.pop(gpio, None)
            self.backend.write(gpio, 0)

    # -- hardware clocks (their GPIOs' getters) -------------------------------------------

    def clock_started(self, gpio: int, clock: int, real_hz: int) -> None:
        """``hardware_clock`` started ``clock`` on ``gpio`` at ``real_hz``."""
        state = self._state(gpio)
        state.pwm, state.servo, state.hw, state.clock = False, 0, False, clock
        self.clock_hz[clock] = real_hz

    def clock_stopped(self, gpio: int) -> None:
        """``hardware_clock(gpio, 0)``: ``gpio`` is a clock GPIO no more (others of
        the clock stay marked, as in pigpio; their getters answer its last rate)."""
        state = self.states.get(gpio)
        if state is not None:
            state.clock = None

    def _apply(self, gpio: int, state: PwmState) -> None:
        period = 1e6 / state.frequency
        self.backend.set_waveform(gpio, period, period * state.dutycycle / state.range)
