"""What the I2C, SPI and serial commands share: their handle tables, opening a
device under a handle, and turning a failed transfer into pigpio's code.

A backend's bus methods answer at once or with a future
(:mod:`gpiosvr.server.backends.buses`); :func:`transfer` and :func:`open_handle`
handle both, so each command is written once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from gpiosvr.errors import PigpioError, error_text
from gpiosvr.server.backends.buses import BusError
from gpiosvr.server.handles import HandleTable


def table(server: Any, kind: str, size: int, per_uid: int) -> HandleTable:
    """The server's handle table for ``kind`` (``"i2c"``, ``"spi"``, ``"serial"``),
    made and registered (:meth:`HandleTables.add`) on first use; a handle's device
    is closed with it."""
    attribute = f"{kind}_handles"
    handles = getattr(server, attribute, None)
    if handles is None:
        handles = server.handles.add(HandleTable(kind, size, per_uid, on_close=_close))
        setattr(server, attribute, handles)
    return handles


def _close(device: Any) -> None:
    try:
        device.close()
    except Exception:  # noqa: BLE001 - a device that fails to close is closed anyway
        pass


def failed(code: int, exc: BusError) -> PigpioError:
    """pigpio's ``code`` for a transfer that failed, with why in the message."""
    return PigpioError(code, f"{error_text(code)}: {exc}")


def transfer(call: Callable[[], Any], code: int,
             then: Callable[[Any], Any] = lambda value: value) -> Any:
    """``then(call())``; a :class:`BusError` becomes pigpio's ``code``. When ``call``
    answers a future, a future of the same."""
    try:
        result = call()
    except BusError as exc:
        raise failed(code, exc) from None
    if not isinstance(result, asyncio.Future):
        return then(result)
    answer = result.get_loop().create_future()

    def done(result: asyncio.Future) -> None:
        if answer.cancelled():
            return
        if result.cancelled():
            answer.cancel()
            return
        exc = result.exception()
        if isinstance(exc, BusError):
            answer.set_exception(failed(code, exc))
        elif exc is not None:
            answer.set_exception(exc)
        else:
            try:
                answer.set_result(then(result.result()))
            except Exception as err:  # noqa: BLE001 - handed to the client
                answer.set_exception(err)

    result.add_done_callback(done)
    return answer


def open_handle(session: Any, handles: HandleTable, open_device: Callable[[], Any],
                code: int) -> Any:
    """Open a device (``open_device()``, perhaps a future of it) and answer a new
    handle for it owned by ``session``'s client; the device is closed again if no
    handle is left."""
    def register(device: Any) -> int:
        try:
            return handles.open(session, device)
        except BaseException:
            _close(device)
            raise

    return transfer(open_device, code, register)


def check(ok: bool, code: int, what: str) -> None:
    """Refuse with pigpio's ``code`` and ``what`` as the message unless ``ok``."""
    if not ok:
        raise PigpioError(code, f"{error_text(code)}: {what}")
