"""``pi.capture``: capture edges through a pigpio ``pi`` (a gpiosvr addition, not
pigpio's; see :mod:`gpiosvr.capture`)."""

from __future__ import annotations

from typing import Iterable

from gpiosvr.capture import MAX_EDGES, SETTLE_SECONDS, Capture


class CapturePart:
    """:meth:`capture`, over the ``pi``'s own connection."""

    def capture(self, gpios: Iterable[int], max_edges: int = MAX_EDGES, path=None,
                settle: float = SETTLE_SECONDS) -> Capture:
        """A :class:`gpiosvr.capture.Capture` of the edges of ``gpios`` (0-31)
        through this pi's connection; ``.start()``/``.stop()`` it, or
        ``.run(seconds=...)``, then ``.summary()``, ``.plot()``, ``.to_vcd(path)``.
        Not part of pigpio."""
        return Capture(gpios, client=self._client, max_edges=max_edges, path=path,
                       settle=settle)
