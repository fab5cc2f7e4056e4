"""Drive a server's simulated chip from tests, examples or another process.

The simulated chip's inputs are driven from outside like real buttons and sensors::

    from gpiosvr.simulator import Simulator
    with Simulator() as sim:            # $GPIO_SOCKET_PATH or the default socket
        sim.drive(4, 0)                 # press a button that pulls GPIO 4 low
        sim.release(4)                  # let go: the pull decides again
        sim.inject(17, 1000, 100)       # 1000 alternating edges, 100 µs apart
        sim.wire(18, 27)                # jumper wire: GPIO 27 follows output 18
        sim.play(22, [(1, t0), (0, t0 + 104)])  # edges at exact ticks
        sim.replay("recorded.vcd", {17: 22})    # a capture played back onto GPIO 22

The simulated board's devices are driven the same way (``docs/board.md``)::

        sim.i2c_set(1, 0x48, 0, [0x19, 0x80])   # registers 0 and 1 of an I2C device
        sim.set_adc_voltage(0, 0, 2, 1.65)      # 1.65 V on MCP3008 channel 2, SPI 0 CE0
        sim.serial_write("/dev/serial0", b"$GPGGA...\r\n")  # the far end talks
        sim.serial_read("/dev/serial0")          # what the Pi sent
        sim.set_distance(24, 0.5)                # an object 50 cm from the HC-SR04
        sim.set_climate(4, 21.5, 45.0)           # what the DHT22 answers
        sim.ir_send(17, [9000, 4500, 560, 560])  # the IR receiver sees a code

and, with the server in this process (``Simulator(server=thread)``), a device model
written in Python is attached with :meth:`Simulator.attach_i2c` or
:meth:`Simulator.attach_spi`.

The same commands exist on the wire for any other language (``simdrive``,
``simfloat``, ``siminject``, ``simplay``, ``simwire``, ``simunwire``, ``simboard``, ``simi2cset``,
``simadc``, ``simserw``, ``simserr``, ``simsonar``, ``simdht``, ``simir``...; see ``docs/protocol.md``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

from gpiosvr.blocking import BlockingClient
from gpiosvr.server.limits import SIM_MAX_PLAY_EDGES

if TYPE_CHECKING:
    from gpiosvr.capture import Capture

#: µs between now and the first edge of a :meth:`Simulator.replay` by default.
REPLAY_LEAD_US = 10_000


class Simulator:
    """A client for the ``sim*`` commands of a server on the simulated chip."""

    def __init__(self, socket_path: str | None = None, name: str = "simulator",
                 server: Any = None) -> None:
        if socket_path is None and server is not None:
            socket_path = server.socket_path
        self._client = BlockingClient(socket_path, name=name)
        self._server = server  # a ServerThread of this process, for Python models

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

    def play(self, gpio: int, edges: Iterable[tuple[int, int]]) -> int:
        """Play ``edges``, (level, tick) pairs in order, on input ``gpio`` with their
        exact ticks (sent in commands of :data:`SIM_MAX_PLAY_EDGES` pairs); a pair
        that is no change of level is left out. Returns the edges played."""
        pairs = [[int(level), int(tick) & 0xFFFFFFFF] for level, tick in edges]
        played = 0
        for i in range(0, len(pairs), SIM_MAX_PLAY_EDGES):
            played += self._client.command("simplay", gpio, pairs[i:i + SIM_MAX_PLAY_EDGES])
        return played

    def replay(self, source: "str | os.PathLike | Capture",
               gpio_map: dict[int | str, int] | None = None,
               start_tick: int | None = None) -> int:
        """Play a recorded signal back onto simulated inputs at its original timing,
        so that a signal recorded on a real board becomes a repeatable test.

        ``source`` is a VCD file (see :func:`gpiosvr.capture.read_vcd`) or a
        :class:`~gpiosvr.capture.Capture`; ``gpio_map`` maps its GPIOs (numbers, or
        signal names) to the inputs that play them (default: the same numbers; GPIOs
        not in a given map are left out). Each input is first driven to the
        recording's initial level, then its edges are played with ticks ``start_tick
        + time`` (default start: :data:`REPLAY_LEAD_US` µs from now), handed on at
        once as :meth:`inject` does. Returns the start tick."""
        from gpiosvr.capture import Capture, read_vcd

        cap = source if isinstance(source, Capture) else read_vcd(source)
        targets: dict[int, int] = {}
        for g in cap.gpios:
            if gpio_map is None:
                targets[g] = g
            elif g in gpio_map or cap.names.get(g) in gpio_map:
                targets[g] = gpio_map[g] if g in gpio_map else gpio_map[cap.names[g]]
        if start_tick is None:
            start_tick = (self._client.command("t") + REPLAY_LEAD_US) & 0xFFFFFFFF
        for g, target in targets.items():
            self.drive(target, cap.initial.get(g, 0))
        for g, target in targets.items():
            self.play(target, [(level, start_tick + t) for level, t in cap.edges_of(g)])
        return start_tick

    def wire(self, output: int, input_: int) -> None:
        """Connect ``output`` to ``input_`` like a jumper wire."""
        self._client.command("simwire", output, input_)

    def unwire(self, input_: int) -> None:
        """Remove the wire into ``input_``."""
        self._client.command("simunwire", input_)

    # -- the simulated board ----------------------------------------------------------

    def board(self) -> dict:
        """The board: its buses, what is attached, serial ports (pty paths), wires."""
        return self._client.command("simboard")

    def i2c_set(self, bus: int, address: int, reg: int, data: Any) -> None:
        """Set registers ``reg``, ``reg + 1``, ... of the register device at
        ``address`` of I2C ``bus`` to ``data`` (bytes or a list of ints 0-255)."""
        self._client.command("simi2cset", bus, address, reg, bytes(data))

    def i2c_set_word(self, bus: int, address: int, reg: int, word: int) -> None:
        """Set the 16-bit word of register ``reg`` (i2c-stub keeps words)."""
        self._client.command("simi2cword", bus, address, reg, word)

    def i2c_get(self, bus: int, address: int, reg: int, count: int = 1) -> bytes:
        """The bytes of ``count`` registers from ``reg`` on, as the device holds them."""
        return self._client.command("simi2cget", bus, address, reg, count)

    def set_adc_voltage(self, bus: int, cs: int, channel: int, volts: float) -> None:
        """Put ``volts`` on input ``channel`` of the ADC on SPI ``bus`` CE``cs``
        (to the microvolt)."""
        self._client.command("simadc", bus, cs, channel, round(volts * 1e6))

    def serial_write(self, port: str, data: Any) -> None:
        """Send ``data`` (bytes, or text as UTF-8) to the Pi from the far end of
        serial ``port`` (e.g. ``/dev/serial0``)."""
        if isinstance(data, str):
            data = data.encode()
        self._client.command("simserw", port, bytes(data))

    def serial_read(self, port: str, count: int = 65536) -> bytes:
        """Take what the Pi sent on serial ``port`` (at most ``count`` bytes)."""
        return self._client.command("simserr", port, count)

    def serial_info(self, port: str) -> dict:
        """A serial port's names, far end and pty path."""
        return self._client.command("simserinfo", port)

    # -- the board's GPIO-level sensors (docs/board.md) ---------------------------------

    def set_distance(self, gpio: int, metres: float | None) -> None:
        """Put an object ``metres`` away (to the µm; None: nothing in range) in front
        of the HC-SR04 whose trigger or echo is ``gpio``."""
        self._client.command("simsonar", gpio, -1 if metres is None else round(metres * 1e6))

    def set_climate(self, gpio: int, temperature: float, humidity: float) -> None:
        """What the DHT22 on ``gpio`` answers from its next reading on: °C and % RH
        (it sends tenths)."""
        self._client.command("simdht", gpio, round(temperature * 1000), round(humidity * 1000))

    def ir_send(self, gpio: int, code: Iterable[int]) -> int:
        """The IR receiver whose output is ``gpio`` receives ``code``: mark and space
        lengths in µs, mark first (as irrp.py records them), from 1 ms from now.
        Returns the first mark's tick."""
        return self._client.command("simir", gpio, [int(v) for v in code])

    def ir_sent(self, gpio: int) -> list[int]:
        """The marks and spaces (µs) of the last code an IR LED sent to the receiver
        wired to ``gpio`` (its output or its LED)."""
        return self._client.command("simirsent", gpio)

    def attach_i2c(self, bus: int, address: int, model: Any) -> None:
        """Put ``model`` (a :class:`gpiosvr.server.sim.devices.I2CModel`) at
        ``address`` of I2C ``bus``; the server must run in this process."""
        self._local().call(lambda: self._local().backend.buses().attach_i2c(
            bus, address, model))

    def attach_spi(self, bus: int, cs: int, model: Any) -> None:
        """Put ``model`` (a :class:`gpiosvr.server.sim.devices.SPIModel`) on chip
        select ``cs`` of SPI ``bus``; the server must run in this process."""
        self._local().call(lambda: self._local().backend.buses().attach_spi(bus, cs, model))

    def attach_bb_i2c(self, sda: int, scl: int, address: int, model: Any) -> None:
        """Put ``model`` (an I2CModel) at ``address`` of the bit-banged I2C bus on GPIOs
        ``sda`` and ``scl`` (``bb_i2c_zip`` reaches it); the server must run in this
        process."""
        self._local().call(lambda: self._local().backend.buses().attach_bb_i2c(
            sda, scl, address, model))

    def attach_bb_spi(self, cs: int, model: Any, miso: int | None = None,
                      mosi: int | None = None, sclk: int | None = None) -> None:
        """Put ``model`` (an SPIModel) on the bit-banged SPI chip select GPIO ``cs``
        (of the bus on ``miso``, ``mosi``, ``sclk``, or any); the server must run in
        this process."""
        self._local().call(lambda: self._local().backend.buses().attach_bb_spi(
            cs, model, miso, mosi, sclk))

    def _local(self) -> Any:
        if self._server is None:
            raise RuntimeError("a Python device model runs inside the server: give "
                               "Simulator(server=thread) a ServerThread of this process, "
                               "or name the model's class in the board file")
        return self._server

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
