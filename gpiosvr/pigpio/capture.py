"""``pi.capture``: capture edges through a pigpio ``pi`` (a gpiosvr addition, not
pigpio's; see :mod:`gpiosvr.capture`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # imported on first use: numpy and asyncio are slow to import
    from gpiosvr.capture import Capture


class CapturePart:
    """:meth:`capture`, over the ``pi``'s own connection."""

    def capture(self, gpios: Iterable[int], max_edges: int | None = None, path=None,
                settle: float | None = None) -> Capture:
        """A :class:`gpiosvr.capture.Capture` of the edges of ``gpios`` (0-31)
        through this pi's connection; ``.start()``/``.stop()`` it, or
        ``.run(seconds=...)``, then ``.summary()``, ``.plot()``, ``.to_vcd(path)``.
        ``max_edges`` and ``settle`` default to :mod:`gpiosvr.capture`'s
        ``MAX_EDGES`` and ``SETTLE_SECONDS``. Not part of pigpio."""
        from gpiosvr import capture

        return capture.Capture(
            gpios, client=self._client,
            max_edges=capture.MAX_EDGES if max_edges is None else max_edges, path=path,
            settle=capture.SETTLE_SECONDS if settle is None else settle)
