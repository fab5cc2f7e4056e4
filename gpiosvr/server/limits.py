"""Every limit and quota of the server, as a named constant, in one place.

``docs/reliability.md`` lists each of them with what happens when it is reached
(``tests/test_limits.py`` checks that every constant here is listed there). Modules
import their limits from here rather than defining their own, so that a reader finds
them all in one file; a test lowers one with ``monkeypatch`` on the module using it.
"""

from __future__ import annotations

from gpiosvr import protocol

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
#: together; past it new reports are dropped and counted.
MAX_QUEUED_NOTIFY_BYTES = 256 << 20

# -- scripts -------------------------------------------------------------------------

#: Stored scripts, all users together (pigpio's number).
MAX_SCRIPTS = 32
#: Longest script text.
MAX_SCRIPT_BYTES = 64 * 1024
#: Entries on a script's stack (pigpio's number); a script that pushes more FAILS.
MAX_SCRIPT_STACK = 256
#: Seconds a script runs before it lets other work on the loop go first.
SCRIPT_TURN_SECONDS = 0.0002

# -- the simulated chip -------------------------------------------------------------

# -- GPIO permissions ---------------------------------------------------------------
