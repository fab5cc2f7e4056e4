"""Async interfaces of a pigpio-shaped client and pigpio's constants.

The interfaces split pigpio's API into the parts a client may implement:
:class:`PigpioMinimalApi` (modes, pulls, levels, ticks), :class:`PigpioCallbackApi`
(edge callbacks, watchdogs, glitch filters), :class:`PigpioPwmApi` (PWM and servo
pulses) and :class:`PigpioScriptApi` (pigpio scripts run in the server). Methods are
coroutines with pigpio 1.78's names and argument names; ``stop()`` is synchronous.

:class:`pigpio` holds every constant of the pigpio 1.78 module with its value, and
:meth:`pigpio.tickDiff`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

from gpiosvr._pigpio_tables import CONSTANTS


def tickDiff(t1: int, t2: int) -> int:
    """Microseconds from tick ``t1`` to the later tick ``t2``, across the 2**32 wrap."""
    diff = t2 - t1
    if diff < 0:
        diff += 1 << 32
    return diff


class pigpio:  # noqa: N801 - the seed's name, as pigpio users know it
    """pigpio 1.78's constants (``pigpio.OUTPUT``, ``pigpio.PI_BAD_GPIO`` ...)."""

    tickDiff = staticmethod(tickDiff)


for _name, _value in CONSTANTS.items():
    setattr(pigpio, _name, _value)
del _name, _value


class PigpioMinimalApi(ABC):
    """Modes, pulls, levels and ticks: what every GPIO client needs."""

    @abstractmethod
    async def set_mode(self, gpio: int, mode: int) -> int:
        """Set ``gpio`` to ``mode`` (INPUT, OUTPUT, ALT0-ALT5)."""

    @abstractmethod
    async def get_mode(self, gpio: int) -> int:
        """Return the mode of ``gpio``."""

    @abstractmethod
    async def set_pull_up_down(self, gpio: int, pud: int) -> int:
        """Set the pull of ``gpio``: PUD_UP, PUD_DOWN or PUD_OFF."""

    @abstractmethod
    async def read(self, gpio: int) -> int:
        """Return the level of ``gpio``, 0 or 1."""

    @abstractmethod
    async def write(self, gpio: int, level: int) -> int:
        """Drive ``gpio`` (made an output) to ``level``."""

    @abstractmethod
    async def get_current_tick(self) -> int:
        """Return the server's tick: microseconds, wrapping at 2**32."""

    @abstractmethod
    def stop(self) -> None:
        """Release the connection (synchronous, as pigpio's ``pi.stop``)."""


class PigpioCallbackApi(ABC):
    """Edge callbacks, watchdogs and glitch filters."""

    @abstractmethod
    async def set_watchdog(self, user_gpio: int, wdog_timeout: int) -> int:
        """Report TIMEOUT on ``user_gpio`` after ``wdog_timeout`` ms without an edge."""

    @abstractmethod
    async def set_glitch_filter(self, user_gpio: int, steady: int) -> int:
        """Ignore level changes on ``user_gpio`` shorter than ``steady`` µs."""

    @abstractmethod
    async def callback(self, user_gpio: int, edge: int = CONSTANTS["RISING_EDGE"],
                       func: Callable[[int, int, int], Any] | None = None) -> Any:
        """Call ``func(gpio, level, tick)`` on each ``edge`` of ``user_gpio``."""


class PigpioPwmApi(ABC):
    """PWM and servo pulses."""

    @abstractmethod
    async def set_PWM_dutycycle(self, user_gpio: int, dutycycle: int) -> int:
        """Start PWM on ``user_gpio`` with ``dutycycle`` out of the range."""

    @abstractmethod
    async def get_PWM_dutycycle(self, user_gpio: int) -> int:
        """Return the PWM dutycycle of ``user_gpio``."""

    @abstractmethod
    async def set_PWM_range(self, user_gpio: int, range_: int) -> int:
        """Set the dutycycle range (25-40000) of ``user_gpio``."""

    @abstractmethod
    async def get_PWM_range(self, user_gpio: int) -> int:
        """Return the dutycycle range of ``user_gpio``."""

    @abstractmethod
    async def get_PWM_real_range(self, user_gpio: int) -> int:
        """Return the real range used for the frequency of ``user_gpio``."""

    @abstractmethod
    async def set_PWM_frequency(self, user_gpio: int, frequency: int) -> int:
        """Set the PWM frequency; returns the frequency chosen."""

    @abstractmethod
    async def get_PWM_frequency(self, user_gpio: int) -> int:
        """Return the PWM frequency of ``user_gpio``."""

    @abstractmethod
    async def set_servo_pulsewidth(self, user_gpio: int, pulsewidth: int) -> int:
        """Start servo pulses of ``pulsewidth`` µs (0 stops them)."""

    @abstractmethod
    async def get_servo_pulsewidth(self, user_gpio: int) -> int:
        """Return the servo pulsewidth of ``user_gpio``."""


class PigpioScriptApi(ABC):
    """pigpio scripts, stored and run inside the server."""

    @abstractmethod
    async def store_script(self, script: str) -> int:
        """Store a script; returns its id."""

    @abstractmethod
    async def run_script(self, script_id: int, params: list[int] | None = None) -> int:
        """Run a stored script with up to 10 parameters."""

    @abstractmethod
    async def update_script(self, script_id: int, params: list[int] | None = None) -> int:
        """Update the parameters of a script."""

    @abstractmethod
    async def script_status(self, script_id: int) -> tuple[int, list[int]]:
        """Return ``(status, params)`` of a script."""

    @abstractmethod
    async def stop_script(self, script_id: int) -> int:
        """Stop a running script."""

    @abstractmethod
    async def delete_script(self, script_id: int) -> int:
        """Delete a script."""
