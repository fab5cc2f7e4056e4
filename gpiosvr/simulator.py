"""Drive a server's simulated chip from tests, examples or another process.

The simulated chip's inputs are driven from outside like real buttons and sensors::

    from gpiosvr.simulator import Simulator
    with Simulator() as sim:            # $GPIO_SOCKET_PATH or the default socket
        sim.drive(4, 0)                 # press a button that pulls GPIO 4 low
        sim.release(4)                  # let go: the pull decides again
        sim.inject(17, 1000, 100)       # 1000 alternating edges, 100 µs apart
        sim.wire(18, 27)                # jumper wire: GPIO 27 follows output 18

The same commands exist on the wire for any other language (``simdrive``,
``simfloat``, ``siminject``, ``simwire``, ``simunwire``; see ``docs/protocol.md``).
"""

from __future__ import annotations

from typing import Any

from gpiosvr.blocking import BlockingClient


class Simulator:
    """A client for the ``sim*`` commands of a server on the simulated chip."""

    def __init__(self, socket_path: str | None = None, name: str = "simulator") -> None:
        self._client = BlockingClient(socket_path, name=name)

    def drive(self, gpio: int, level: int) -> None:
        """Drive input ``gpio`` to ``level`` (0 or 1) from outside."""
        self._client.command("simdrive", gpio, level)

    def release(self, gpio: int) -> None:
        """Stop driving ``gpio``: its pull decides its level again."""
        self._client.command("simfloat", gpio)

    def inject(self, gpio: int, count: int, interval_us: int,
               start_tick: int | None = None) -> int:
        """Play ``count`` alternating edges on input ``gpio``, ``interval_us`` apart,
        starting at ``start_tick`` (default: now); returns the first edge's tick."""
        args: tuple[Any, ...] = (gpio, count, interval_us)
        if start_tick is not None:
            args += (start_tick,)
        return self._client.command("siminject", *args)

    def wire(self, output: int, input_: int) -> None:
        """Connect ``output`` to ``input_`` like a jumper wire."""
        self._client.command("simwire", output, input_)

    def unwire(self, input_: int) -> None:
        """Remove the wire into ``input_``."""
        self._client.command("simunwire", input_)

    def is_simulated(self) -> bool:
        """True when the server's backend is the simulated chip (others refuse sim*)."""
        return self._client.command("info").get("backend") == "sim"

    def read(self, gpio: int) -> int:
        """The level of ``gpio`` as the chip sees it."""
        return self._client.command("r", gpio)

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
