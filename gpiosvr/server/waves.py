"""pigpio's waves: the wave being built, created waves, transmission and chains.

This module keeps pigpio 1.78's bookkeeping to the letter -- how ``wave_add_*``
merges pulses in time order, the counters ``wave_get_*`` answer, the DMA control
blocks (CBs) and out-of-line words (OOLs) a wave takes, the chain byte language and
every error code, in pigpio's order -- and leaves the playing to the backend
(:meth:`gpiosvr.server.backends.base.Backend.play_pulses`): a transmission is an
iterator of pulses the backend reads as each falls due, so repeats and loop-forever
chains cost nothing until they play, and a ``*_SYNC`` send can change what follows.

Who owns what (``docs/waves.md``):

* the wave being built, and its counters, are per uid: one uid's ``wvag`` never
  mixes into another's wave (pigpio has one for the whole daemon; per uid keeps
  ``pigs wvag ...`` then ``pigs wvcre`` in two commands working);
* created waves share pigpio's ids 0-249 and its CB and OOL space, and belong to the
  uid that created them: another uid gets ``PI_NOT_PERMITTED`` to delete, send or
  chain them; ``wvclr`` deletes the waves the caller may touch (all of them for root
  and admins) and clears its wave being built;
* the one transmission (pigpio has one DMA channel) belongs to the uid that started
  it: another may not stop it or replace it (``PI_NOT_PERMITTED``) while it is busy.

Waves and hardware PWM share pigpio's PWM peripheral: sending or chaining a wave
stops hardware PWM on every GPIO (:meth:`PwmController.stop_hardware`), and
``hardware_PWM`` stops the transmission (:meth:`WaveEngine.cancel`), each at the
tick the other starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from gpiosvr.errors import PigpioError
from gpiosvr.server import ownership, permits
from gpiosvr.server.limits import (MAX_WAVE_CBS_PER_UID, MAX_WAVES_PER_UID, WAVE_CBS,
                                   WAVE_CHAIN_CBS, WAVE_CHAIN_COUNTERS, WAVE_CHAIN_NESTING,
                                   WAVE_MAX_CHARS, WAVE_MAX_PULSES, WAVE_MAX_WAVES,
                                   WAVE_OOLS)
from gpiosvr.server.ownership import Owner

PI_BAD_USER_GPIO, PI_BAD_WAVE_MODE, PI_BAD_WAVE_BAUD = -2, -33, -35
PI_TOO_MANY_PULSES, PI_TOO_MANY_CHARS, PI_SOME_PERMITTED = -36, -37, -42
PI_BAD_WVSC_COMMND, PI_BAD_WVSM_COMMND, PI_BAD_WVSP_COMMND = -43, -44, -45
PI_BAD_SER_OFFSET, PI_NOT_PERMITTED, PI_BAD_PARAM = -49, -41, -81
PI_BAD_WAVE_ID, PI_TOO_MANY_CBS, PI_TOO_MANY_OOL = -66, -67, -68
PI_EMPTY_WAVEFORM, PI_NO_WAVEFORM_ID = -69, -70
PI_BAD_DATABITS, PI_BAD_STOPBITS = -101, -102
PI_CHAIN_LOOP_CNT, PI_BAD_CHAIN_LOOP, PI_CHAIN_COUNTER, PI_BAD_CHAIN_CMD = -113, -114, -115, -116
PI_CHAIN_NESTING, PI_CHAIN_TOO_BIG, PI_DEPRECATED, PI_BAD_FOREVER = -118, -119, -120, -124

WAVE_MODE_ONE_SHOT, WAVE_MODE_REPEAT = 0, 1
WAVE_MODE_ONE_SHOT_SYNC, WAVE_MODE_REPEAT_SYNC = 2, 3
WAVE_NOT_FOUND, NO_TX_WAVE = 9998, 9999

#: pigpio's wave_get_max_* answers: half an hour, its pulses, all its CBs.
MAX_MICROS = 30 * 60 * 1_000_000
MAX_CBS = 4 * 53 * 118
#: What one idle step of an endless transmission lasts (a 0 µs wave repeated).
IDLE_US = 1_000_000
#: DMA lite channels move at most this many bytes per CB (BCM2711's wave channel).
_DMA_LITE_MAX = 0xFFFC

#: (gpio_on bits, gpio_off bits, delay µs): one pulse, as ``pigpio.pulse``.
Pulse = tuple[int, int, int]


def _bit_delays(baud: int, bits: int, stops: int) -> list[int]:
    """pigpio's waveBitDelay: each bit's µs (start, data..., stop), rounded so that
    the edges fall at the nearest µs of the exact bit times."""
    full = 1_000_000_000 // baud
    delays, last = [], 0
    for i in range(bits + 1):
        t = ((i + 1) * full + 500) // 1000
        delays.append(t - last)
        last = t
    delays.append(((bits + 1) * full + stops * full // 2 + 500) // 1000 - last)
    return delays


def serial_pulses(gpio: int, baud: int, bits: int, stops: int, offset: int,
                  chars: list[int]) -> list[Pulse]:
    """The pulses of ``wave_add_serial`` (pigpio's gpioWaveAddSerial): one start
    bit, ``bits`` data bits LSB first, ``stops`` half stop bits per character."""
    delay = _bit_delays(baud, bits, stops)
    bit = 1 << gpio
    pulses = [[bit, 0, max(offset, delay[0])]]
    for c in chars:
        pulses.append([0, bit, delay[0]])  # start bit
        level = 0
        for b in range(bits):
            v = c >> b & 1
            if v == level:
                pulses[-1][2] += delay[b + 1]
            else:
                level = v
                pulses.append([bit, 0, delay[b + 1]] if v else [0, bit, delay[b + 1]])
        if level:
            pulses[-1][2] += delay[bits + 1]
        else:
            pulses.append([bit, 0, delay[bits + 1]])
    # pigpio builds one more pulse (high, one bit) but leaves it out of the count
    return [tuple(p) for p in pulses]


def _delay_cbs(delay: int, lite: bool) -> int:
    if not delay:
        return 0
    if not lite:
        return 1
    return -(-4 * delay // _DMA_LITE_MAX)


@dataclass
class Builder:
    """A uid's wave being built, and pigpio's counters for it."""

    pulses: list[Pulse] = field(default_factory=list)
    micros: int = 0
    count: int = 0  # pulses, as wave_get_pulses answers (kept when created)
    cbs: int = 0
    high_micros: int = 0
    high_pulses: int = 0
    high_cbs: int = 0

    def clear(self) -> None:
        self.pulses, self.micros, self.count, self.cbs = [], 0, 0, 0

    def merge(self, new: list[Pulse], lite: bool) -> int:
        """pigpio's rawWaveAddGeneric: interleave ``new`` with the pulses so far in
        time order (pulses due together become one); the new pulse count, or
        PI_TOO_MANY_PULSES (the wave is then unchanged)."""
        if not self.pulses:
            return self._first(new, lite)
        return self._interleave(new, lite)

    def _first(self, new: list[Pulse], lite: bool) -> int:
        """:meth:`merge` into an empty wave (the everyday case, after ``wave_clear``):
        one stream has nothing to interleave, so the pulses stay as they are and
        only the counts are made, the same as :meth:`_interleave`'s (3,000 pulses:
        ~0.5 ms where the general loop takes ~5, the loop's turn held meanwhile)."""
        if len(new) >= WAVE_MAX_PULSES:
            return PI_TOO_MANY_PULSES
        pulses = [tuple(p) for p in new]
        delays = [p[2] for p in pulses]
        if lite:
            cbs = sum(-(-4 * d // _DMA_LITE_MAX) for d in delays if d)
        else:
            cbs = len(delays) - delays.count(0)
        cbs += sum(1 for on, off, _ in pulses if on or off)
        micros = sum(delays)
        self.pulses = pulses
        self.micros, self.count, self.cbs = micros, len(pulses), cbs
        self.high_micros = max(self.high_micros, micros)
        self.high_pulses = max(self.high_pulses, len(pulses))
        self.high_cbs = max(self.high_cbs, cbs)
        return len(pulses)

    def _interleave(self, new: list[Pulse], lite: bool) -> int:
        """:meth:`merge`, the general way: both streams in time order."""
        old = self.pulses
        out: list[list[int]] = []
        never = 1 << 64
        n1, n2, i1, i2 = len(new), len(old), 0, 0
        t1 = 0 if n1 else never
        t2 = 0 if n2 else never
        t_now = t_max = cbs = 0
        while (i1 < n1 or i2 < n2) and len(out) < WAVE_MAX_PULSES:
            due = min(t1, t2)
            if t_now < due:  # a stream ended earlier: the previous pulse lasts longer
                out[-1][2] += due - t_now
                t_now = due
            on = off = 0
            if t1 == due:
                on, off, delay = new[i1]
                t1 = t_now + delay
                i1 += 1
                t_max = max(t_max, t1)
            if t2 == due:
                on2, off2, delay2 = old[i2]
                on, off = on | on2, off | off2
                t2 = t_now + delay2
                i2 += 1
                t_max = max(t_max, t2)
            nxt = min(t1, t2)
            out.append([on, off, nxt - t_now])
            cbs += _delay_cbs(nxt - t_now, lite) + (1 if on or off else 0)
            t_now = nxt
            if i1 >= n1:
                t1 = never
            if i2 >= n2:
                t2 = never
        if t_now < t_max:
            out[-1][2] += t_max - t_now
            t_now = t_max
        if len(out) >= WAVE_MAX_PULSES:
            return PI_TOO_MANY_PULSES
        self.pulses = [tuple(p) for p in out]
        self.micros, self.count, self.cbs = t_now, len(out), cbs
        self.high_micros = max(self.high_micros, t_now)
        self.high_pulses = max(self.high_pulses, len(out))
        self.high_cbs = max(self.high_cbs, cbs)
        return len(out)


@dataclass
class Wave:
    """A created wave: its pulses, length, pigpio's resources and its owner."""

    pulses: tuple[Pulse, ...]
    micros: int
    cbs: int  # its CBs (padded ones for wave_create_and_pad)
    ools: int
    owner: Owner
    gpios: int = 0  # the GPIOs its pulses switch (bit mask)


# -- chains ------------------------------------------------------------------------

#: A chain, parsed: ("wave", id, wave), ("delay", µs), ("loop", nodes, count, µs),
#: ("forever", nodes, µs).
Node = tuple


def _length(nodes: list[Node]) -> int:
    total = 0
    for node in nodes:
        kind = node[0]
        if kind == "wave":
            total += node[2].micros
        elif kind == "delay":
            total += node[1]
        elif kind == "loop":
            total += node[3] * node[2]
        else:
            total += node[2]
    return total


class Transmission:
    """What the backend plays: the pulses of one wave (once or repeated) or of a
    chain, produced as each falls due; :attr:`current` is the wave playing now."""

    def __init__(self, owner: Owner, nodes: list[Node], forever: list[Node] | None) -> None:
        self.owner = owner
        # the wave id now (None: a chain delay); known before the backend's thread
        # pulls the first pulse, so that wave_tx_at right after a send names it
        self.current: int | None = _first_wave(nodes)
        self.playback: Any = None  # the backend's handle (busy(), stop())
        self._next: "Transmission | None" = None  # a *_SYNC send waiting its turn
        self._nodes, self._forever = nodes, forever
        self.pulses = self._run()

    def follow_with(self, other: "Transmission") -> None:
        """Play ``other`` once the current cycle ends (a repeat's pass, a one-shot,
        the chain, or one pass of its loop-forever block)."""
        self._next = other

    def _cycles(self, tx: "Transmission") -> Iterator[Iterator[Pulse]]:
        yield _play(tx._nodes, self)
        if tx._forever is not None:
            length = _length(tx._forever)
            while True:
                yield _play(tx._forever, self) if length else _idle(self)

    def _run(self) -> Iterator[Pulse]:
        tx: Transmission | None = self
        while tx is not None:
            for cycle in self._cycles(tx):
                yield from cycle
                if self._next is not None:
                    break
            tx, self._next = self._next, None
            if tx is not None:
                self.owner = tx.owner


def _first_wave(nodes: list[Node]) -> int | None:
    """The id of the wave ``nodes`` play first, None when they start with a delay
    (or play nothing)."""
    for node in nodes:
        if node[0] == "wave":
            return node[1]
        if node[0] == "delay":
            return None
        if node[2] and _plays(node[1]):  # a loop that plays its body
            return _first_wave(node[1])
    return None


def _gpios(nodes: list[Node]) -> int:
    """The GPIOs the waves of ``nodes`` switch (bit mask)."""
    gpios = 0
    for node in nodes:
        if node[0] == "wave":
            gpios |= node[2].gpios
        elif node[0] in ("loop", "forever"):
            gpios |= _gpios(node[1])
    return gpios


def _plays(nodes: list[Node]) -> bool:
    """Whether ``nodes`` play any wave or delay at all."""
    return any(node[0] != "loop" or (node[2] and _plays(node[1])) for node in nodes)


def _play(nodes: list[Node], tx: Transmission) -> Iterator[Pulse]:
    for node in nodes:
        kind = node[0]
        if kind == "wave":
            tx.current = node[1]
            yield from node[2].pulses
        elif kind == "delay":
            tx.current = None
            yield (0, 0, node[1])
        else:  # a loop: a body lasting 0 µs plays once (repeats would add nothing)
            body, count, length = node[1], node[2], node[3]
            for _ in range(count if length else min(count, 1)):
                yield from _play(body, tx)


def _idle(tx: Transmission) -> Iterator[Pulse]:
    yield (0, 0, IDLE_US)


# -- the engine --------------------------------------------------------------------


class WaveEngine:
    """Every uid's wave being built, the created waves and the transmission."""

    def __init__(self, backend, pwm=None) -> None:
        self.backend = backend
        #: The PWM state (:class:`gpiosvr.server.pwm.PwmController`): a wave sent or
        #: chained stops hardware PWM, as in pigpio.
        self.pwm = pwm
        self.builders: dict[int | None, Builder] = {}
        self.waves: dict[int, Wave] = {}
        self.tx: Transmission | None = None

    @property
    def _lite(self) -> bool:
        """BCM2711 boards time waves with a DMA lite channel (more delay CBs)."""
        rev = self.backend.hardware_revision
        return bool(rev & 0x800000) and (rev >> 12) & 0xF == 3

    def builder(self, session) -> Builder:
        b = self.builders.get(session.uid)
        if b is None:
            b = self.builders[session.uid] = Builder()
        return b

    # -- building ----------------------------------------------------------------------

    def clear(self, session) -> int:
        self.builder(session).clear()
        for wid, wave in list(self.waves.items()):
            if ownership.may_touch(session, wave.owner):
                del self.waves[wid]
        return 0

    def add_new(self, session) -> int:
        self.builder(session).clear()
        return 0

    def add_generic(self, session, pulses: list[Pulse]) -> int:
        if len(pulses) > WAVE_MAX_PULSES:
            raise PigpioError(PI_TOO_MANY_PULSES, f"too many pulses: {len(pulses)}, "
                                                  f"pigpio takes at most {WAVE_MAX_PULSES}")
        allowed = permits.of(session).bank_bits(1, 0xFFFFFFFF)
        masked = [(on & allowed, off & allowed, delay) for on, off, delay in pulses]
        result = self._merge(session, masked)
        if masked != pulses and result >= 0:
            refused = 0
            for on, off, _ in pulses:
                refused |= (on | off) & ~allowed
            raise permits.of(session).some_permitted(1, refused)
        return result

    def add_serial(self, session, gpio: int, baud: int, bits: int, stops: int,
                   offset: int, data: bytes) -> int:
        if gpio > 31:
            raise PigpioError(PI_BAD_USER_GPIO)
        if not 50 <= baud <= 1_000_000:
            raise PigpioError(PI_BAD_WAVE_BAUD)
        if not 1 <= bits <= 32:
            raise PigpioError(PI_BAD_DATABITS)
        if not 2 <= stops <= 8:
            raise PigpioError(PI_BAD_STOPBITS)
        if len(data) > WAVE_MAX_CHARS:
            raise PigpioError(PI_TOO_MANY_CHARS, f"too many chars: {len(data)} bytes, "
                                                 f"pigpio takes at most {WAVE_MAX_CHARS}")
        if offset > MAX_MICROS:
            raise PigpioError(PI_BAD_SER_OFFSET)
        size = 1 if bits <= 8 else 2 if bits <= 16 else 4
        count = len(data) // size
        if not count:
            return 0
        chars = [int.from_bytes(data[i * size:(i + 1) * size], "little") for i in range(count)]
        return self._merge(session, serial_pulses(gpio, baud, bits, stops, offset, chars))

    def _merge(self, session, pulses: list[Pulse]) -> int:
        result = self.builder(session).merge(pulses, self._lite)
        if result < 0:
            raise PigpioError(result, f"too many pulses: a wave holds fewer than "
                                      f"{WAVE_MAX_PULSES} once merged")
        return result

    def stat(self, session, which: str, selector: int) -> int:
        b = self.builder(session)
        errors = {"micros": PI_BAD_WVSM_COMMND, "pulses": PI_BAD_WVSP_COMMND,
                  "cbs": PI_BAD_WVSC_COMMND}
        if selector not in (0, 1, 2):
            raise PigpioError(errors[which])
        if which == "micros":
            return (b.micros, b.high_micros, MAX_MICROS)[selector]
        if which == "pulses":
            return (b.count, b.high_pulses, WAVE_MAX_PULSES)[selector]
        return (b.cbs, b.high_cbs, MAX_CBS)[selector]

    # -- creating ----------------------------------------------------------------------

    def _resources(self, pulses: list[Pulse]) -> tuple[int, int]:
        """pigpio's waveCBsOOLs: a wave's CBs (with the delay at its start) and OOLs."""
        cbs, ools = 1, 0
        lite = self._lite
        for on, off, delay in pulses:
            ools += (1 if on else 0) + (1 if off else 0)
            cbs += (1 if on or off else 0) + _delay_cbs(delay, lite)
        return cbs, ools

    def create(self, session, pad: tuple[int, int, int] | None = None) -> int:
        if pad is not None and not all(0 <= p <= 100 for p in pad):
            raise PigpioError(PI_BAD_PARAM, f"bad wave param: percentages {pad} must be "
                                            f"0-100")
        b = self.builder(session)
        if not b.pulses:
            raise PigpioError(PI_EMPTY_WAVEFORM)
        cbs, ools = self._resources(b.pulses)
        if pad is not None:
            room = (WAVE_CBS * pad[0] // 100, WAVE_OOLS * pad[1] // 100,
                    WAVE_OOLS * pad[2] // 100)
            if cbs > room[0]:
                raise PigpioError(PI_TOO_MANY_CBS, f"too many CBs: the wave needs {cbs}, "
                                                   f"{pad[0]}% is {room[0]}")
            if ools > room[1]:
                raise PigpioError(PI_TOO_MANY_OOL)
            cbs, ools = room[0], room[1] + room[2]
        used_cbs = sum(w.cbs for w in self.waves.values())
        used_ools = sum(w.ools for w in self.waves.values())
        if cbs + used_cbs > WAVE_CBS:
            raise PigpioError(PI_TOO_MANY_CBS, f"too many CBs: the wave needs {cbs}, "
                                               f"{WAVE_CBS - used_cbs} are free")
        if ools + used_ools > WAVE_OOLS:
            raise PigpioError(PI_TOO_MANY_OOL)
        free = next((wid for wid in range(WAVE_MAX_WAVES) if wid not in self.waves), None)
        if free is None:
            raise PigpioError(PI_NO_WAVEFORM_ID)
        if not ownership.is_admin(session):
            mine = [w for w in self.waves.values() if w.owner.uid == session.uid]
            if len(mine) >= MAX_WAVES_PER_UID:
                raise PigpioError(PI_NO_WAVEFORM_ID,
                                  f"uid {session.uid} has {len(mine)} waves, the most one "
                                  f"uid may have (MAX_WAVES_PER_UID): delete some first")
            if sum(w.cbs for w in mine) + cbs > MAX_WAVE_CBS_PER_UID:
                raise PigpioError(PI_TOO_MANY_CBS,
                                  f"uid {session.uid}'s waves would take more than "
                                  f"{MAX_WAVE_CBS_PER_UID} CBs (MAX_WAVE_CBS_PER_UID)")
        gpios = 0
        for on, off, _ in b.pulses:
            gpios |= on | off
        self.waves[free] = Wave(tuple(b.pulses), b.micros, cbs, ools,
                                ownership.owner_of(session), gpios)
        b.pulses = []  # consumed; the counters stay, as in pigpio
        return free

    def _wave(self, session, wid: int) -> Wave:
        wave = self.waves.get(wid)
        if wave is None:
            raise PigpioError(PI_BAD_WAVE_ID)
        ownership.check(session, wave.owner, f"wave {wid}")
        return wave

    def delete(self, session, wid: int) -> int:
        self._wave(session, wid)
        del self.waves[wid]
        return 0

    # -- transmitting ------------------------------------------------------------------

    def busy(self) -> bool:
        tx = self.tx
        return tx is not None and tx.playback.busy()

    def _take_over(self, session) -> None:
        """The one transmission is about to be replaced or stopped by ``session``."""
        if self.busy():
            ownership.check(session, self.tx.owner, "the wave transmission")

    def _check_hardware_pwm(self, session) -> None:
        if self.pwm is not None:
            self.pwm.check_stop_hardware(session)

    def _stop_hardware_pwm(self) -> None:
        """pigpio's stopHardwarePWM, which every wave send and chain does first."""
        if self.pwm is not None:
            self.pwm.stop_hardware()

    def send(self, session, wid: int, mode: int) -> int:
        wave = self._wave(session, wid)
        if not 0 <= mode <= WAVE_MODE_REPEAT_SYNC:
            raise PigpioError(PI_BAD_WAVE_MODE)
        self._take_over(session)
        self._check_hardware_pwm(session)
        node = ("wave", wid, wave)
        tx = Transmission(ownership.owner_of(session), [] if mode & 1 else [node],
                          [node] if mode & 1 else None)
        with self.backend.one_tick():  # hardware PWM ends where the wave starts
            self._stop_hardware_pwm()
            self.backend.wave_lines(wave.gpios)
            if mode >= WAVE_MODE_ONE_SHOT_SYNC and self.busy():
                self.tx.follow_with(tx)
            else:
                self._start(tx)
        return wave.cbs

    def chain(self, session, data: bytes) -> int:
        """pigpio's gpioWaveChain: hardware PWM and the transmission stop before the
        chain is even parsed (a bad chain leaves neither running)."""
        self._take_over(session)
        self._check_hardware_pwm(session)
        with self.backend.one_tick():
            self._stop_hardware_pwm()
            if self.tx is not None:
                self.tx.playback.stop()
                self.tx = None
            nodes, forever = self._parse_chain(session, data)
            self.backend.wave_lines(_gpios(nodes) | _gpios(forever or []))
            self._start(Transmission(ownership.owner_of(session), nodes, forever))
        return 0

    def check_cancel(self, session) -> None:
        """``PI_NOT_PERMITTED`` unless ``session`` may stop the transmission."""
        self._take_over(session)

    def cancel(self) -> None:
        """``hardware_PWM`` stops the transmission, as pigpio's does (gpioWaveTxStop
        when busy): ``wave_tx_busy`` answers 0, ``wave_tx_at`` 9999; the waves, the
        counters and the GPIOs' levels stay as they are."""
        if self.busy():
            self.tx.playback.stop()
            self.tx = None

    def _start(self, tx: Transmission) -> None:
        old = self.tx
        if old is not None:
            old.playback.stop()
        tx.playback = self.backend.play_pulses(tx.pulses)
        self.tx = tx

    def stop(self, session) -> int:
        self._take_over(session)
        if self.tx is not None:
            self.tx.playback.stop()
            self.tx = None
        return 0

    def at(self) -> int:
        if not self.busy():
            return NO_TX_WAVE
        current = self.tx.current
        return WAVE_NOT_FOUND if current is None else current

    def _parse_chain(self, session, buf: bytes) -> tuple[list[Node], list[Node] | None]:
        """pigpio's gpioWaveChain, its checks in its order: the chain as nodes (and
        its loop-forever block), or its error."""
        def fail(code: int, why: str) -> PigpioError:
            return PigpioError(code, why)

        cb, counters = 1, 0  # the CB of the delay at the start
        stack: list[tuple[int, list[Node]]] = []
        top: list[Node] = []
        current = top
        forever: list[Node] | None = None
        lite = self._lite
        size, i = len(buf), 0

        def take(n: int, and_next: bool = False) -> None:
            """Use ``n`` chain CBs (and check the one after, as pigpio does for some)."""
            nonlocal cb
            for _ in range(n):
                if cb >= WAVE_CHAIN_CBS:
                    raise fail(PI_CHAIN_TOO_BIG, f"chain is too long ({cb} CBs, pigpio "
                                                 f"has {WAVE_CHAIN_CBS})")
                cb += 1
            if and_next and cb >= WAVE_CHAIN_CBS:
                raise fail(PI_CHAIN_TOO_BIG, f"chain is too long ({cb} CBs, pigpio has "
                                             f"{WAVE_CHAIN_CBS})")

        while i < size:
            wid = buf[i]
            if wid == 255:
                if i + 2 > size:
                    raise fail(PI_BAD_CHAIN_CMD, f"incomplete chain command (at {i})")
                cmd = buf[i + 1]
                if cmd == 0:
                    if len(stack) >= WAVE_CHAIN_NESTING:
                        raise fail(PI_CHAIN_NESTING, f"chain loops nested too deep (at {i})")
                    stack.append((cb, current))
                    current = []
                    i += 2
                elif cmd == 1:
                    if counters >= WAVE_CHAIN_COUNTERS:
                        raise fail(PI_CHAIN_COUNTER, f"too many chain counters (at {i})")
                    if i + 4 > size:
                        raise fail(PI_BAD_CHAIN_CMD, f"incomplete chain command (at {i})")
                    loop, body = stack.pop() if stack else (0, None)
                    if loop < 1 or loop == cb:
                        raise fail(PI_BAD_CHAIN_LOOP, f"empty chain loop (at {i})")
                    cycles = buf[i + 2] + 256 * buf[i + 3]
                    i += 4
                    if cycles > 1:
                        take(1, and_next=True)
                        counters += 1
                    block = current
                    current = body
                    current.append(("loop", block, cycles, _length(block)))
                elif cmd == 2:
                    if i + 4 > size:
                        raise fail(PI_BAD_CHAIN_CMD, f"incomplete chain command (at {i})")
                    delay = buf[i + 2] + 256 * buf[i + 3]
                    i += 4
                    if delay:
                        take(_delay_cbs(delay, lite))
                        current.append(("delay", delay))
                elif cmd == 3:
                    i += 2
                    loop, body = stack.pop() if stack else (0, None)
                    if loop < 1 or loop == cb:
                        raise fail(PI_BAD_CHAIN_LOOP, f"empty chain loop (at {i})")
                    take(1)
                    if i < size:
                        raise fail(PI_BAD_FOREVER, "loop forever must be the last command")
                    forever = current
                    current = body
                else:
                    raise fail(PI_BAD_CHAIN_CMD, f"unknown chain command (255 {cmd})")
            else:
                wave = self.waves.get(wid)
                if wave is None:
                    raise fail(PI_BAD_WAVE_ID, f"undefined wave ({wid})")
                ownership.check(session, wave.owner, f"wave {wid}")
                take(1, and_next=True)
                current.append(("wave", wid, wave))
                i += 1
        take(1)
        while stack:  # loops never closed: their blocks play once, in place
            _, body = stack.pop()
            body.extend(current)
            current = body
        return current, forever
