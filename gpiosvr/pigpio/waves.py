"""Waves, chains, triggers and hardware clocks of :class:`gpiosvr.pigpio.pi`, as in
pigpio 1.78 (``pulse`` is at the package's top, as in pigpio)."""

from __future__ import annotations

import struct

from gpiosvr.pigpio._core import _u2i


def _b(data) -> bytes:
    """What pigpio sends for ``data``: text as latin-1, else its bytes."""
    if isinstance(data, str):
        return data.encode("latin-1")
    return bytes(bytearray(data))


class pulse:  # noqa: N801 - pigpio's name
    """A class to store pulse information."""

    def __init__(self, gpio_on, gpio_off, delay):
        """Initialises a pulse: the GPIO bits to switch on and off at its start, and
        the delay in microseconds before the next pulse."""
        self.gpio_on = gpio_on
        self.gpio_off = gpio_off
        self.delay = delay


class WavesPart:
    """pigpio's wave, chain, trigger and hardware clock methods."""

    def wave_clear(self):
        """Clears all waveforms and any data added by calls to the wave_add_* functions."""
        return _u2i(self._cmd("wvclr"))

    def wave_add_new(self):
        """Starts a new empty waveform."""
        return _u2i(self._cmd("wvnew"))

    def wave_add_generic(self, pulses):
        """Adds a list of pulses to the current waveform; returns its new pulse count."""
        if len(pulses):
            ext = bytearray()
            for p in pulses:
                ext.extend(struct.pack("<III", p.gpio_on, p.gpio_off, p.delay))
            return _u2i(self._cmd("wvag", bytes(ext)))
        return 0

    def wave_add_serial(
            self, user_gpio, baud, data, offset=0, bb_bits=8, bb_stop=2):
        """Adds a waveform representing serial data to the existing waveform (if any),
        starting offset microseconds from its start; returns the new pulse count."""
        if len(data):
            return _u2i(self._cmd("wvas", user_gpio, baud, bb_bits, bb_stop, offset,
                                  _b(data)))
        return 0

    def wave_create(self):
        """Creates a waveform from the data provided by the prior calls to the
        wave_add_* functions; returns its wave id."""
        return _u2i(self._cmd("wvcre"))

    def wave_create_and_pad(self, percent):
        """Creates a waveform like wave_create but padded to percent of the resources."""
        return _u2i(self._cmd("wvcap", percent))

    def wave_delete(self, wave_id):
        """This function deletes the waveform with id wave_id."""
        return _u2i(self._cmd("wvdel", wave_id))

    def wave_tx_start(self):  # DEPRECATED
        """This function is deprecated and has been removed."""
        return _u2i(self._cmd("wvgo"))

    def wave_tx_repeat(self):  # DEPRECATED
        """This function is deprecated and has beeen removed."""
        return _u2i(self._cmd("wvgor"))

    def wave_send_once(self, wave_id):
        """Transmits the waveform with id wave_id once; returns its DMA control blocks."""
        return _u2i(self._cmd("wvtx", wave_id))

    def wave_send_repeat(self, wave_id):
        """Transmits the waveform with id wave_id until wave_tx_stop or another send."""
        return _u2i(self._cmd("wvtxr", wave_id))

    def wave_send_using_mode(self, wave_id, mode):
        """Transmits the waveform with id wave_id using mode mode (WAVE_MODE_*)."""
        return _u2i(self._cmd("wvtxm", wave_id, mode))

    def wave_tx_at(self):
        """Returns the id of the waveform being transmitted, WAVE_NOT_FOUND or
        NO_TX_WAVE."""
        return _u2i(self._cmd("wvtat"))

    def wave_tx_busy(self):
        """Returns 1 if a waveform is currently being transmitted, otherwise 0."""
        return _u2i(self._cmd("wvbsy"))

    def wave_tx_stop(self):
        """Stops the transmission of the current waveform."""
        return _u2i(self._cmd("wvhlt"))

    def wave_chain(self, data):
        """This function transmits a chain of waveforms (ids and 255 commands)."""
        return _u2i(self._cmd("wvcha", _b(data)))

    def wave_get_micros(self):
        """Returns the length in microseconds of the current waveform."""
        return _u2i(self._cmd("wvsm", 0))

    def wave_get_max_micros(self):
        """Returns the maximum possible size of a waveform in microseconds."""
        return _u2i(self._cmd("wvsm", 2))

    def wave_get_pulses(self):
        """Returns the length in pulses of the current waveform."""
        return _u2i(self._cmd("wvsp", 0))

    def wave_get_max_pulses(self):
        """Returns the maximum possible size of a waveform in pulses."""
        return _u2i(self._cmd("wvsp", 2))

    def wave_get_cbs(self):
        """Returns the length in DMA control blocks of the current waveform."""
        return _u2i(self._cmd("wvsc", 0))

    def wave_get_max_cbs(self):
        """Returns the maximum possible size of a waveform in DMA control blocks."""
        return _u2i(self._cmd("wvsc", 2))

    def gpio_trigger(self, user_gpio, pulse_len=10, level=1):
        """Send a trigger pulse to a GPIO: pulse_len µs (1-100) at level."""
        return _u2i(self._cmd("trig", user_gpio, pulse_len, level))

    def hardware_clock(self, gpio, clkfreq):
        """Starts a hardware clock on a GPIO at the specified frequency (0: off)."""
        return _u2i(self._cmd("hc", gpio, clkfreq))
