"""Every limit and quota of the server, as a named constant, in one place.

``docs/reliability.md`` lists each of them with what happens when it is reached
(``tests/test_limits.py`` checks that every constant here is listed there). Modules
import their limits from here rather than defining their own, so that a reader finds
them all in one file; a test lowers one with ``monkeypatch`` on the module using it.
"""

from __future__ import annotations

from gpiosvr import protocol

# -- the socket ----------------------------------------------------------------------

#: Seconds a starting server waits for an existing socket to accept its probe
#: connection (a live server: refuse; refused: a stale socket, replaced).
STALE_PROBE_SECONDS = 1.0

# -- requests and connections -------------------------------------------------------

#: Longest request frame, newline included (the protocol's own limit).
MAX_FRAME_BYTES = protocol.MAX_FRAME_BYTES
#: Most commands in one request (the protocol's own limit).
MAX_COMMANDS_PER_REQUEST = protocol.MAX_COMMANDS_PER_REQUEST
#: Connections the kernel queues before the server accepts them.
LISTEN_BACKLOG = 1024
#: Connections served at once, all users together (also kept below the fd limit).
MAX_CONNECTIONS = 4096
#: Connections one uid may hold at once (root and the server's own uid excepted).
MAX_CONNECTIONS_PER_UID = 1024
#: File descriptors kept free for root, the backend and the server itself.
RESERVED_FDS = 64
#: Answers to pipelined requests are sent in batches of this many bytes; between
#: batches, the requests of a client whose write buffer is past its high-water mark
#: are held, unexecuted, until it reads (back-pressure).
ANSWER_BATCH_BYTES = 16 * 1024
#: What one client's requests may run per turn of the loop, in short commands (a
#: short command in a batch costs 1, ~0.25 µs; a frame of its own among several in
#: one read 8; a command of the general executor 24: ``app.FRAME_COST``,
#: ``app.GENERAL_COMMAND_COST``). A request that costs more runs in turns, and the
#: frames of one read past the budget on the next turn; other clients are served in
#: between, the client's own requests stay in order. At 32 a turn holds the loop
#: little longer than another client's idle call costs the server (loop callback CPU
#: p99 54-105 µs under floods of every kind, against 34-42 µs for one call, on the
#: loaded 2-core VM; at 128 pipelined and general requests held it 440-1,000 µs),
#: and a 100-command request costs 3 turns more, ~3.7 µs each: commands in
#: 100-command requests still go 10-20x faster than single calls (issue #18,
#: ``benchmarks/bench_batches.py``, ``bench_calls.py``; docs/performance.md).
SHORT_COMMANDS_PER_TURN = 32
#: A request frame longer than this many bytes is decoded in pieces of about this
#: many, one a turn of the loop (from the turn after the one that read its end,
#: which makes it text), so that other clients are served in between: a JSON list,
#: ``%`` bytes or a run of plain ints is cut within (0.05-0.25 ms a piece, where a
#: 1 MiB frame took 16-106 ms in one go: ``benchmarks/bench_bigframes.py``). It is
#: still decoded whole before any of its commands runs, which then run as a long
#: request's do (SHORT_COMMANDS_PER_TURN); a read longer than this skips the
#: short way's look-ups of a whole frame.
DECODE_STEP_BYTES = 4 * 1024
#: A big frame's decoded lists (and arguments) are let go of this many items a turn
#: of the loop once it has run: freeing 140,000 ints at once took 1.5 ms.
RELEASE_STEP_ITEMS = 8192
#: Seconds a client may take to finish a frame it has begun (slowloris).
PARTIAL_FRAME_SECONDS = 10.0
#: Seconds a connection refused or closed by the server (told why in a ``*bye``)
#: stays half-open, its input dropped, so that the client reads the reason before
#: its own sends fail.
BYE_LINGER_SECONDS = 1.0
#: Connections lingering so, at most; past it they are closed at once.
MAX_LINGERING = RESERVED_FDS // 4
#: Characters of a client's ``hello`` name that are kept and logged.
MAX_CLIENT_NAME_CHARS = 100
#: Log lines about connections (connect, disconnect, a cap reached) per second, at
#: most; past it they are counted and summed up in one line.
MAX_LOG_LINES_PER_SECOND = 20

# -- notifications -----------------------------------------------------------------

#: Edge reports one notification handle may have queued before new ones are
#: dropped (and counted).
MAX_QUEUED_REPORTS = 65536
#: Most reports in one ``*e`` frame.
MAX_REPORTS_PER_FRAME = 8192
#: Write-buffer bytes above which a client is treated as not keeping up.
MAX_WRITE_BUFFER = 4 << 20
#: Notification handles one connection may hold.
MAX_HANDLES_PER_CONNECTION = 32
#: Notification handles one uid may hold, over all its connections.
MAX_HANDLES_PER_UID = 1024
#: Notification handles, all users together.
MAX_HANDLES = 4096
#: Bytes of queued edge reports and unsent notification frames, all clients
#: together; past it, clients that are behind get no more reports (they are dropped
#: and counted). An eighth of a 512 MiB Raspberry Pi's memory.
MAX_QUEUED_NOTIFY_BYTES = 64 << 20
#: The share of :data:`MAX_QUEUED_NOTIFY_BYTES` one uid's clients may take.
MAX_QUEUED_NOTIFY_BYTES_PER_UID = 32 << 20

#: Notification pipes (pigpio's /dev/pigpioN), all clients together (pigpio's
#: PI_NOTIFY_SLOTS), and per uid.
MAX_PIPE_HANDLES = 32
MAX_PIPE_HANDLES_PER_UID = 16

# -- scripts -------------------------------------------------------------------------

#: Stored scripts, all users together (pigpio's number).
MAX_SCRIPTS = 32
#: Stored scripts one uid may have (root, the server's uid and the admin group may
#: fill all of MAX_SCRIPTS).
MAX_SCRIPTS_PER_UID = 16
#: Longest script text: pigpio 1.78's, its 64 KiB extension buffer less the NUL it adds.
MAX_SCRIPT_BYTES = 65535
#: Entries on a script's stack (pigpio's number); a script that pushes more FAILS.
MAX_SCRIPT_STACK = 256
#: Seconds all running scripts together run in one turn of the script scheduler;
#: between two turns the event loop runs one full iteration (I/O, requests).
SCRIPT_TURN_SECONDS = 0.0002
#: Script instructions in one turn, all scripts together, however fast the machine.
SCRIPT_TURN_INSTRUCTIONS = 2000
#: Seconds of script turns back to back after which the scheduler sleeps
#: SCRIPT_GIL_PAUSE_SECONDS, so that other threads of the server's process get the
#: GIL (Python's switch interval is 5 ms: a thread that waits for the GIL asks for
#: it after that, unless the GIL changed hands meanwhile, as it does at every poll).
SCRIPT_GIL_SECONDS = 0.004
#: How long that sleep lasts (the kernel's timer slack adds ~50 µs).
SCRIPT_GIL_PAUSE_SECONDS = 0.00002

# -- files and shell (pigpio's file_* and shell) ---------------------------------------

#: Open file handles, all clients together (pigpio's PI_FILE_SLOTS).
MAX_FILE_HANDLES = 16
#: Open file handles one uid may hold (root included).
MAX_FILE_HANDLES_PER_UID = 8
#: Most bytes one ``fr`` reads, and one ``fl`` lists (pigpio's command buffer).
MAX_FILE_READ_BYTES = 65535
#: Longest permits file (pigpio's ``/opt/pigpio/access``) read; past it the rest is
#: ignored (and logged).
MAX_ACCESS_FILE_BYTES = 1 << 20
#: Seconds a ``shell`` command may run before it is killed (its status: SIGKILL's).
SHELL_SECONDS = 60.0
#: ``shell`` commands running at once, all users together, and per uid; past them
#: ``shell`` answers PI_BAD_SHELL_STATUS at once.
MAX_SHELLS = 8
MAX_SHELLS_PER_UID = 4

# -- the simulated chip -------------------------------------------------------------

#: Most edges one ``siminject`` may ask for.
SIM_MAX_INJECT_EDGES = 10_000_000
#: Edges the simulated chip hands on in one turn of the loop (an injected burst's
#: chunk, or the waveforms' edges of one step); the rest follow on later turns, so
#: other clients are answered in between.
SIM_EDGES_PER_TURN = 4096
#: Injected edges that may wait to be handed on, all GPIOs together; a ``siminject``
#: that would pass it is refused.
SIM_MAX_QUEUED_EDGES = 20_000_000
#: Edges per second all simulated waveforms (PWM, servo, hardware PWM) may make
#: together; a waveform that does not fit when it is set holds a level instead.
SIM_WAVEFORM_EDGES_PER_SECOND = 400_000
#: Faster waveforms are not simulated edge by edge: their GPIO holds a level.
SIM_MAX_WAVEFORM_HZ = 100_000

# -- buses: I2C, SPI, serial ----------------------------------------------------------

#: Open I2C handles, all users together (pigpio's PI_I2C_SLOTS).
I2C_HANDLES = 512
#: Open SPI handles, all users together (pigpio's PI_SPI_SLOTS).
SPI_HANDLES = 32
#: Open serial handles, all users together (pigpio's PI_SER_SLOTS).
SERIAL_HANDLES = 16
#: The share of each kind's handles one uid may hold (root included).
I2C_HANDLES_PER_UID = I2C_HANDLES // 2
SPI_HANDLES_PER_UID = SPI_HANDLES // 2
SERIAL_HANDLES_PER_UID = SERIAL_HANDLES // 2
#: Most bytes one I2C or SPI transfer or serial read moves (pigpio's
#: PI_MAX_I2C_DEVICE_COUNT and PI_MAX_SPI_DEVICE_COUNT); a serial read asks for at
#: most this many.
BUS_MAX_TRANSFER_BYTES = 1 << 16
#: Bytes each direction of a simulated serial port's far-end buffer holds; a write
#: that would pass it fails (PI_SER_WRITE_FAILED) and nothing of it is kept.
SIM_SERIAL_BUFFER_BYTES = 1 << 16

# -- bit-bang serial, I2C and SPI (pigpio's numbers) ------------------------------

#: Bytes of a bit-bang serial reader's cyclic buffer (pigpio's SRX_BUF_SIZE); as in
#: pigpio it never overwrites unread data, so it holds one character less, and
#: characters decoded while it is full are lost.
BB_SERIAL_BUFFER_BYTES = 8192
#: Most bytes one ``slr`` answers (pigpiod's command buffer).
BB_SERIAL_MAX_READ_BYTES = 65535
#: Most bytes of one ``bspix`` (pigpiod's command buffer); the rest is not sent.
BB_MAX_TRANSFER_BYTES = 65535
#: Most bytes of one ``bi2cz``'s commands (the rest is ignored), and of what its
#: reads answer together (more: PI_BAD_I2C_RLEN): half of pigpiod's buffer each.
BB_I2C_ZIP_BYTES = 32767

# -- waves (pigpio's numbers, and each uid's share) -----------------------------------

#: Pulses in a wave, merged (pigpio's PI_WAVE_MAX_PULSES; it refuses this many).
WAVE_MAX_PULSES = 12_000
#: Bytes one ``wave_add_serial`` may send (pigpio's PI_WAVE_MAX_CHARS).
WAVE_MAX_CHARS = 1_200
#: Created waves, ids 0-249, all users together (pigpio's PI_MAX_WAVES).
WAVE_MAX_WAVES = 250
#: DMA control blocks all created waves may take together (pigpio's, after the
#: pages it keeps for chains).
WAVE_CBS = 4 * 53 * 118 - 10 * 118
#: Out-of-line words (one per GPIO switch) all created waves may take together.
WAVE_OOLS = 4 * 53 * 79 - 10 * 79
#: CBs of one chain (pigpio's chain pages), its loop counters and loop nesting.
WAVE_CHAIN_CBS = 600
WAVE_CHAIN_COUNTERS = 20
WAVE_CHAIN_NESTING = 10
#: Created waves one uid may have (root, the server's uid and admins: all of them).
MAX_WAVES_PER_UID = WAVE_MAX_WAVES // 2
#: CBs one uid's waves may take (root, the server's uid and admins: all of them).
MAX_WAVE_CBS_PER_UID = WAVE_CBS // 2
#: Wave pulses the simulated chip plays in one turn of the loop, all transmissions
#: and triggers together; when more are due (a wave faster than the sim), the rest
#: follow on the next turns, late but at their exact ticks.
SIM_WAVE_PULSES_PER_TURN = 4096
#: The shortest wait (µs) of the simulated chip's pulse timer after it played
#: pulses: those due sooner wait for it and are handed on together, so that a fast
#: wave wakes the loop at most 2,000 times a second, not at every pulse (a 13 µs
#: carrier took 83 % of a core so). Pulses further apart are handed on at their
#: ticks.
SIM_WAVE_WAKE_GAP_US = 500

# -- capture and replay ---------------------------------------------------------------

#: Most [level, tick] pairs one ``simplay`` may carry (a frame holds them all);
#: :meth:`gpiosvr.simulator.Simulator.play` sends longer lists in several.
SIM_MAX_PLAY_EDGES = 50_000

# -- simulated GPIO-level sensors (HC-SR04, DHT22, IR receiver) ------------------------

#: GPIO-level sensors one board may have (``[[sensor]]`` entries of a board file).
SIM_MAX_SENSORS = 64
#: Edges one sensor model plays on its output in one turn of the loop; more due
#: follow on the next turns, late but at their exact ticks.
SIM_SENSOR_EDGES_PER_TURN = 1024
#: Marks and spaces in one IR code a receiver model replays (``simir``) or keeps of
#: what an IR LED sent; a longer code is refused (``PI_BAD_PARAM``), a longer sending
#: is cut there.
SIM_IR_MAX_CODE = 2048

# -- GPIO permissions ---------------------------------------------------------------

# The GPIOs clients may change (bit n: GPIO n) unless ``--permit MASK`` says
# otherwise: pigpio 1.78's PI_DEFAULT_UPDATE_MASK_* for each board type, chosen from
# the hardware revision by :func:`gpiosvr.server.permits.default_mask`.

#: A board pigpio does not know (and Pi 5, 400, CM4, Zero 2 W): GPIO 2-27.
PERMIT_MASK_UNKNOWN = 0x0FFFFFFC
#: Revision 1 Model B (26-pin header), and the ACT LED (GPIO 16).
PERMIT_MASK_B1 = 0x03E7CF93
#: Revision 2 Models A and B (26-pin header and P5), and the ACT LED (GPIO 16).
PERMIT_MASK_A_B2 = 0xFBC7CF9C
#: Models A+ and B+: GPIO 2-27, the PWR LED (35), USB high power (38), ACT LED (47).
PERMIT_MASK_APLUS_BPLUS = 0x0080480FFFFFFC
#: Pi Zero and Zero W: GPIO 2-27 and the ACT LED (47).
PERMIT_MASK_ZERO = 0x0080000FFFFFFC
#: Pi 2B: as the A+ and B+.
PERMIT_MASK_PI2B = 0x0080480FFFFFFC
#: Pi 3B, 3B+, 3A+: GPIO 2-27 (the LEDs are not on the SoC's GPIOs).
PERMIT_MASK_PI3B = 0x0FFFFFFC
#: Pi 4B: GPIO 2-27.
PERMIT_MASK_PI4B = 0x0FFFFFFC
#: Compute Modules 1, 3 and 3+: GPIO 0-47.
PERMIT_MASK_COMPUTE = 0x00FFFFFFFFFFFF

# -- wave pulses on the gpiod backend ------------------------------------------------

#: The thread playing waves and triggers sleeps until this many µs before a pulse is
#: due, then busy-waits (a sleep ends up to tens of µs late; a busy-wait on time).
GPIOD_WAVE_SPIN_US = 100
#: After this many µs without sleeping (pulses closer together than the busy-wait),
#: the thread sleeps GPIOD_WAVE_BREATHE_US: a SCHED_FIFO thread must not starve the
#: machine; the wave is that much late then, its edges never reordered.
GPIOD_WAVE_MAX_BUSY_US = 2000
#: How long the thread sleeps then, µs.
GPIOD_WAVE_BREATHE_US = 200

# -- the pigpiod front end (gpiosvr-server --pigpiod-port) ---------------------------

#: Largest extension a pigpiod command may carry (pigpiod's CMD_MAX_EXTENSION); a
#: command announcing more closes the connection, as pigpiod does.
PIGPIOD_MAX_EXTENSION = 1 << 16
#: Answers one pigpiod connection may have waiting for the backend (pipelined
#: commands on the pigpiod relay); past it, its input is not read until some come.
PIGPIOD_MAX_PENDING_ANSWERS = 256
#: Seconds without a report after which a notification stream gets a keep-alive
#: report (PI_NTFY_FLAGS_ALIVE), as pigpiod sends (pigpio-client's timeout uses it).
PIGPIOD_ALIVE_SECONDS = 60.0
