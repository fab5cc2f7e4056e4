"""Edge and event callbacks as the clients keep them, and running them over packed
edge reports (:data:`RECORD`); apart from :mod:`gpiosvr.client_pigs` (which
re-exports them) so that the blocking client's dispatcher needs no asyncio."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from gpiosvr import protocol

if TYPE_CHECKING:
    from gpiosvr.client_pigs import PigpioSocketClient

RISING_EDGE, FALLING_EDGE, EITHER_EDGE = 0, 1, 2
TIMEOUT = 2
PI_BAD_EVENT_ID = -143
#: One edge report on the wire: gpio, level, tick (see docs/protocol.md).
RECORD = protocol.EDGE_RECORD


class EdgeCallback:
    """A registered edge callback: ``func(gpio, level, tick)`` on ``edge`` of ``gpio``.

    Without ``func`` it only counts (:meth:`tally`), as pigpio's callbacks do.
    """

    def __init__(self, owner: "PigpioSocketClient", gpio: int, edge: int,
                 func: Callable[[int, int, int], Any] | None) -> None:
        self._owner = owner
        self.gpio = gpio
        self.edge = edge
        self.count = 0
        self.func = func if func is not None else self._tally

    def _tally(self, gpio: int, level: int, tick: int) -> None:
        self.count += 1

    def matches(self, level: int) -> bool:
        """Whether a report of ``level`` is for this callback (timeouts always are)."""
        edge = self.edge
        return edge == EITHER_EDGE or level == TIMEOUT or (edge == RISING_EDGE) == (level == 1)

    def cancel(self) -> None:
        """Stop calling this callback (call on the client's loop)."""
        self._owner._remove_callback(self)

    def tally(self) -> int:
        """How many edges a tally-only callback has counted."""
        return self.count

    def reset_tally(self) -> None:
        """Set the tally back to zero."""
        self.count = 0


#: An event's report carries this bit in its gpio byte, the event in the low 5 bits.
EVENT_FLAG = 0x80


class EventCallback(EdgeCallback):
    """A registered event callback: ``func(event, tick)`` for each trigger of
    ``event`` (0-31); without ``func`` it only counts (:meth:`tally`), as pigpio's.

    It rides with the edge callbacks, under the report key ``EVENT_FLAG | event``.
    """

    def __init__(self, owner: "PigpioSocketClient", event: int,
                 func: Callable[[int, int], Any] | None) -> None:
        super().__init__(owner, EVENT_FLAG | event, EITHER_EDGE, None)
        self.event = event
        self.event_func = func
        if func is not None:
            self.func = lambda key, level, tick: func(key & 31, tick)


def run_callbacks(callbacks: dict[int, tuple[EdgeCallback, ...]],
                  records: bytes, on_error: Callable[[EdgeCallback], None]) -> None:
    """Call every callback that wants each packed report, in report order."""
    get = callbacks.get
    for gpio, level, tick in RECORD.iter_unpack(records):
        wanted = get(gpio)
        if wanted:
            for cb in wanted:
                edge = cb.edge  # the test of EdgeCallback.matches, inlined: hot path
                if edge == EITHER_EDGE or level == TIMEOUT or (edge == RISING_EDGE) == (level == 1):
                    try:
                        cb.func(gpio, level, tick)
                    except Exception:
                        on_error(cb)
