"""Waves, chains, triggers and hardware clocks (pigs ``wv*``, ``trig``, ``hc``).

The bookkeeping is :mod:`gpiosvr.server.waves` and :mod:`gpiosvr.server.clocks`;
pulses travel as pigs gives them (ints: on, off, delay, ...) or packed as pigpiod's
``<III`` per pulse (bytes), chains and serial data as ints 0-255 or bytes.
"""

from __future__ import annotations

from gpiosvr.errors import PigpioError
from gpiosvr.server import permits
from gpiosvr.server.commands.table import Session, command
from gpiosvr.server.waves import PI_DEPRECATED, WAVE_MODE_ONE_SHOT, WAVE_MODE_REPEAT

PI_BAD_PULSELEN = -46
#: Longest ``gpio_trigger`` pulse, µs (pigpio's PI_MAX_BUSY_DELAY).
MAX_TRIGGER_US = 100


def _waves(session: Session):
    return session.server.waves


@command("wvclr")
def _wave_clear(session: Session):
    """Clear your wave being built and delete the waves you may delete."""
    return _waves(session).clear(session)


@command("wvnew")
def _wave_add_new(session: Session):
    """Start a new empty wave (your wave being built is emptied)."""
    return _waves(session).add_new(session)


@command("wvag", "pulses*")
def _wave_add_generic(session: Session, pulses):
    """Add pulses (on bits, off bits, delay µs, ...) to your wave: its new pulse count."""
    return _waves(session).add_generic(session, pulses)


@command("wvas", "user_gpio", "int", "int", "int", "int", "bytes*", updates="gpio")
def _wave_add_serial(session: Session, gpio, baud, bits, stops, offset, data):
    """Add serial data: gpio baud databits stophalfbits offset bytes...; pulse count."""
    return _waves(session).add_serial(session, gpio, baud, bits, stops, offset, data)


@command("wvcre")
def _wave_create(session: Session):
    """Create a wave from your wave being built: its id (0-249)."""
    return _waves(session).create(session)


@command("wvcap", "int", "int?", "int?")
def _wave_create_and_pad(session: Session, pct_cb, pct_bool=0, pct_tool=0):
    """Create a wave padded to a percentage of pigpio's resources: its id."""
    if not pct_bool and not pct_tool:
        pct_bool = pct_cb  # as pigpiod: one percentage pads CBs and OOLs alike
    return _waves(session).create(session, (pct_cb, pct_bool, pct_tool))


@command("wvdel", "int")
def _wave_delete(session: Session, wave_id):
    """Delete a wave you own."""
    return _waves(session).delete(session, wave_id)


@command("wvtx", "int")
def _wave_send_once(session: Session, wave_id):
    """Send a wave once: its CB count."""
    return _waves(session).send(session, wave_id, WAVE_MODE_ONE_SHOT)


@command("wvtxr", "int")
def _wave_send_repeat(session: Session, wave_id):
    """Send a wave repeatedly until stopped: its CB count."""
    return _waves(session).send(session, wave_id, WAVE_MODE_REPEAT)


@command("wvtxm", "int", "int")
def _wave_send_using_mode(session: Session, wave_id, mode):
    """Send a wave: mode 0 once, 1 repeat, 2 once after the current, 3 repeat after."""
    return _waves(session).send(session, wave_id, mode)


@command("wvcha", "bytes*")
def _wave_chain(session: Session, data):
    """Send a chain of waves: ids, 255 0 (loop), 255 1 x y (repeat), 255 2 x y (delay),
    255 3 (forever)."""
    return _waves(session).chain(session, data)


@command("wvtat")
def _wave_tx_at(session: Session):
    """The wave being sent: its id, 9998 (none: a chain's delay) or 9999 (nothing)."""
    return _waves(session).at()


@command("wvbsy")
def _wave_tx_busy(session: Session):
    """1 while a wave or chain is being sent, else 0."""
    return int(_waves(session).busy())


@command("wvhlt")
def _wave_tx_stop(session: Session):
    """Stop sending waves."""
    return _waves(session).stop(session)


@command("wvgo")
def _wave_tx_start(session: Session):
    """Deprecated and removed in pigpio: fails with PI_DEPRECATED."""
    raise PigpioError(PI_DEPRECATED, "deprecated function removed: use wvcre and wvtx")


@command("wvgor")
def _wave_tx_repeat(session: Session):
    """Deprecated and removed in pigpio: fails with PI_DEPRECATED."""
    raise PigpioError(PI_DEPRECATED, "deprecated function removed: use wvcre and wvtxr")


@command("wvsm", "int")
def _wave_micros(session: Session, which):
    """Your wave's length in µs: 0 now, 1 highest, 2 most possible."""
    return _waves(session).stat(session, "micros", which)


@command("wvsp", "int")
def _wave_pulses(session: Session, which):
    """Your wave's pulses: 0 now, 1 highest, 2 most possible."""
    return _waves(session).stat(session, "pulses", which)


@command("wvsc", "int")
def _wave_cbs(session: Session, which):
    """Your wave's DMA control blocks: 0 now, 1 highest, 2 most possible."""
    return _waves(session).stat(session, "cbs", which)


@command("trig", "user_gpio", "int", "level", updates="gpio")
def _trigger(session: Session, gpio, pulse_len, level):
    """A pulse of pulse_len µs (1-100) at level on gpio, then the other level."""
    if not 1 <= pulse_len <= MAX_TRIGGER_US:
        raise PigpioError(PI_BAD_PULSELEN)
    bit = 1 << gpio
    on, off = (bit, 0) if level else (0, bit)
    session.backend.play_pulses(iter([(on, off, pulse_len), (off, on, 0)]))
    return 0


@command("hc", "int", "int")
def _hardware_clock(session: Session, gpio, frequency):
    """Hardware clock on gpio (4, 5, 6, 20, 21, 32, 34, 42-44) at frequency Hz, 0 off;
    clock 1 (5, 21, 42, 44) needs gpio | 0x5A000000."""
    password = (gpio & 0xFFFFFFFF) >> 24 == 0x5A
    gpio &= 0xFFFFFF
    permits.of(session).check_argument(gpio)  # as pigpiod: permission first
    return session.server.clocks.set(session, gpio, frequency, password)
