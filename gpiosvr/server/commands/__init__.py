"""The pigs command table: every command the server understands, in one place.

:mod:`~gpiosvr.server.commands.table` holds the table (:data:`COMMANDS`), the
parameter kinds and :func:`execute`; each other module of this package registers the
commands of one concern into it (``session``, ``gpio``, ``edges``, ``notifications``,
``simulator``, ``pwm``, ``scripts``, ``waves``, ``i2c``, ``spi``, ``serial``,
``bitbang``, ...), so the table
stays the single list of commands.
``docs/protocol.md`` lists the commands for users.
"""

from gpiosvr.server.commands.table import (  # noqa: F401 - the package's API
    ANSWERS_LATER, COMMANDS, MODE_LETTERS, PARAM_KINDS, PIGPIO_VERSION, PUD_LETTERS,
    CommandSpec, Session, command, execute, log, run)
from gpiosvr.server.commands import (  # noqa: F401 - each registers its commands
    session, gpio, edges, notifications, simulator, pwm, scripts, waves)
from gpiosvr.server.commands import i2c, spi, serial  # noqa: F401,E402 - the buses
from gpiosvr.server.commands import events, misc, files, shell, pipes, bsc  # noqa: F401,E402 - #16
from gpiosvr.server.commands import bitbang  # noqa: F401,E402 - #15's bit-bang
from gpiosvr.server.commands import sensors  # noqa: F401,E402 - the board's GPIO sensors
from gpiosvr.server.commands.session import server_info  # noqa: F401
