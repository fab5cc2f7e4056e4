"""The small interface every GPIO backend implements.

The server validates arguments (GPIO numbers, levels, modes) before it calls a
backend, so a backend only does the work. A backend that cannot do something raises
:class:`gpiosvr.errors.PigpioError` with pigpio's code for it.

Most backends answer at once, from memory or with one ioctl. A backend whose
hardware answers slowly (the pigpiod relay waits for a daemon over TCP) returns an
:class:`asyncio.Future` instead of a value from :meth:`Backend.run_native` and the
level methods; the server waits for it without blocking its loop, and answers each
client in the order it asked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

#: GPIOs 0-53, as on the BCM283x chips pigpio drives.
NUM_GPIOS = 54
#: GPIOs a user may name in callbacks, PWM and the like: 0-31.
NUM_USER_GPIOS = 32


class BackendUnavailable(RuntimeError):
    """A backend cannot be built here (a package or a device is missing); the
    message says what to install or check."""


class Backend(ABC):
    """A GPIO chip as the server sees it: modes, pulls, levels, banks and ticks."""

    #: Short name shown by ``pigs info`` and the handshake.
    name: str = "?"
    #: Who the command being executed is for (its :class:`Session`), set by the
    #: server before each command; a backend that holds resources per user reads it.
    user: object = None

    #: pigs commands this backend carries out itself (:meth:`run_native`) instead of
    #: the server's own implementation: a pigpio daemon has its own PWM, scripts,
    #: watchdogs and filters, which are better timed than the server's.
    native_commands: frozenset[str] = frozenset()

    @property
    @abstractmethod
    def hardware_revision(self) -> int:
        """The board's revision code, as ``pigpio.get_hardware_revision`` gives it."""

    @abstractmethod
    def tick(self) -> int:
        """Microseconds since an arbitrary start, wrapping at 2**32."""

    @abstractmethod
    def set_mode(self, gpio: int, mode: int) -> None:
        """Set a GPIO's mode (pigpio's INPUT, OUTPUT, ALT0-ALT5 numbers)."""

    @abstractmethod
    def get_mode(self, gpio: int) -> int:
        """Return a GPIO's mode number."""

    @abstractmethod
    def set_pull(self, gpio: int, pud: int) -> None:
        """Set a GPIO's pull: PUD_OFF, PUD_DOWN or PUD_UP."""

    @abstractmethod
    def read(self, gpio: int) -> int:
        """Return a GPIO's level, 0 or 1."""

    @abstractmethod
    def write(self, gpio: int, level: int) -> None:
        """Make a GPIO an output and drive it to ``level``."""

    @abstractmethod
    def read_bank(self, bank: int) -> int:
        """Levels of bank 1 (GPIO 0-31) or bank 2 (GPIO 32-53) as a bit mask."""

    @abstractmethod
    def set_bank(self, bank: int, bits: int) -> None:
        """Set the output latch of every GPIO whose bit is set in ``bits``."""

    @abstractmethod
    def clear_bank(self, bank: int, bits: int) -> None:
        """Clear the output latch of every GPIO whose bit is set in ``bits``."""

    def add_listener(self, on_change: Callable[[int, int, int], None],
                     on_burst: Callable[[int, bytes], None]) -> None:
        """Have level changes reported: ``on_change(gpio, level, tick)`` one at a time,
        ``on_burst(gpio, packed)`` for many edges of one GPIO at once (packed
        :data:`gpiosvr.protocol.EDGE_RECORD` records). Called on the server's loop."""
        raise NotImplementedError(f"the {self.name} backend reports no edges")

    def run_native(self, name: str, args: list[Any]) -> Any:
        """Carry out pigs command ``name`` (one of :attr:`native_commands`) with its
        already checked arguments; return its answer, or a future of it."""
        raise NotImplementedError(name)

    def monitor(self, bits: int) -> Any:
        """The user GPIOs (bit mask of 0-31) whose level changes some client wants
        now. Backends that report every change anyway ignore it; one that must ask
        its hardware returns a future that is done once it has."""

    def attach(self, loop) -> None:
        """Called once with the server's event loop, before any client connects."""

    def edges_due(self, gpio: int) -> None:
        """Report now the level changes of ``gpio`` made by now that the backend
        still holds (a decoder is about to settle at the current tick, so it needs
        every edge before it first). Backends that report each edge at once ignore it."""

    def holds_edges(self, gpio: int) -> bool:
        """Whether level changes of ``gpio`` made by now still wait in the backend to
        be reported, after :meth:`edges_due` (a filter that finds its level steady
        waits for them: one may say otherwise). The default: never."""
        return False

    def set_waveform(self, gpio: int, period_us: float | None, high_us: float = 0) -> None:
        """Toggle output ``gpio``: high ``high_us`` of every ``period_us`` µs (PWM and
        servo pulses); None stops it. Backends that cannot refuse with a PigpioError."""
        from gpiosvr.errors import PI_NOT_PERMITTED, PigpioError

        raise PigpioError(PI_NOT_PERMITTED, f"the {self.name} backend has no PWM")

    def play_pulses(self, pulses: Any) -> Any:
        """Play wave pulses from now (waves, chains, ``gpio_trigger``): each
        ``(set bits, clear bits, delay µs)`` of GPIO 0-31 changes their output
        latches, and the next one follows ``delay`` µs later. ``pulses`` is an
        iterator read only as each pulse falls due (it may be endless). Returns a
        handle with ``busy()`` (True until the last delay has passed or it is
        stopped) and ``stop()``. Backends that cannot refuse with a PigpioError."""
        from gpiosvr.errors import PI_NOT_PERMITTED, PigpioError

        raise PigpioError(PI_NOT_PERMITTED, f"the {self.name} backend cannot play waves "
                                            f"or triggers (not implemented there yet)")

    def wave_lines(self, gpios: int) -> None:
        """A wave about to be sent changes the GPIOs of bit mask ``gpios`` (0-31)
        together: a backend that can set several lines in one go prepares for it.
        The default does nothing."""

    def one_tick(self) -> Any:
        """A context manager inside which the backend's clock stands still, so that
        what one command starts and stops happens at one tick (a wave sent ends
        hardware PWM at the tick its first pulse plays). The default does nothing:
        real hardware's clock never stands still."""
        import contextlib

        return contextlib.nullcontext()

    def hardware_clock(self, gpio: int, frequency: int) -> None:
        """Run ``gpio``'s hardware clock at ``frequency`` Hz (0: stop it). Backends
        that cannot refuse with a PigpioError."""
        from gpiosvr.errors import PI_NOT_PERMITTED, PigpioError

        raise PigpioError(PI_NOT_PERMITTED, f"the {self.name} backend has no hardware "
                                            f"clock")

    def set_debounce(self, gpio: int, steady_us: int) -> bool:
        """Have the chip (or its kernel driver) hold back level changes of ``gpio``
        shorter than ``steady_us`` (0: off), as pigpio's glitch filter does. True if
        it does; False (the default) leaves the glitch filter to the server."""
        return False

    #: The I2C, SPI and serial buses this backend provides (a
    #: :class:`~gpiosvr.server.backends.buses.Buses`); None: it has none yet.
    bus_provider: Any = None

    def buses(self) -> Any:
        """The backend's buses (:mod:`gpiosvr.server.backends.buses`); a backend
        without any gives one whose every open says so."""
        if self.bus_provider is None:
            from gpiosvr.server.backends.buses import NoBuses

            return NoBuses(f"the {self.name} backend has no I2C, SPI or serial buses yet")
        return self.bus_provider

    def get_pad(self, pad: int) -> int:
        """The drive strength (mA, 2-16) of pad 0-2 (GPIO 0-27, 28-45, 46-53).
        Backends that cannot read it refuse with a PigpioError naming themselves."""
        from gpiosvr.errors import PI_NOT_PERMITTED, PigpioError

        raise PigpioError(PI_NOT_PERMITTED, f"the {self.name} backend cannot read pad "
                                            f"drive strengths")

    def set_pad(self, pad: int, strength: int) -> None:
        """Set pad 0-2's drive strength to ``strength`` mA (1-16), as pigpio rounds it."""
        from gpiosvr.errors import PI_NOT_PERMITTED, PigpioError

        raise PigpioError(PI_NOT_PERMITTED, f"the {self.name} backend cannot set pad "
                                            f"drive strengths")

    def user_gone(self, user: object) -> None:
        """``user`` (a :attr:`user` value) disconnected and needs nothing any more."""

    def close(self) -> None:
        """Release the hardware; the default has nothing to release."""
