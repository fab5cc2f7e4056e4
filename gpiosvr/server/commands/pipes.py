"""pigpio's notification pipes: ``pno``, ``pnb``, ``pnp``, ``pnc``, ``pevm``,
``pnpath``, ``pnlost`` (see :mod:`gpiosvr.server.pipes`).

They are pigpio's NO, NB, NP, NC and EVM on a handle whose reports go to a FIFO a
program reads (pigpio's ``/dev/pigpioN``); ``no``, ``nb``, ``np``, ``nc`` and ``evm``
are the in-band handles whose reports come on the connection (pigpio's NOIB).
"""

from __future__ import annotations

from gpiosvr.server import pipes
from gpiosvr.server.commands.table import Session, command


@command("pno")
def _pipe_open(session: Session):
    """Open a notification pipe: the FIFO ``pigpioN`` next to the server's socket."""
    return pipes.service(session.server).open(session)


@command("pnb", "int", "bits")
def _pipe_begin(session: Session, handle: int, bits: int):
    """Report the user GPIOs whose bit is set to the pipe (0: none)."""
    pipe = pipes.service(session.server).get(session, handle)
    return session.server.hub.begin(pipe, pipe.sub, bits)


@command("pnp", "int")
def _pipe_pause(session: Session, handle: int):
    """Pause the pipe's GPIO reports."""
    pipe = pipes.service(session.server).get(session, handle)
    return session.server.hub.pause(pipe, pipe.sub)


@command("pnc", "int")
def _pipe_close(session: Session, handle: int):
    """Close the pipe (its FIFO is removed)."""
    pipes.service(session.server).handles.close(session, handle)
    return 0


@command("pevm", "int", "bits")
def _pipe_events(session: Session, handle: int, bits: int):
    """Report the events 0-31 whose bit is set to the pipe."""
    pipe = pipes.service(session.server).get(session, handle)
    return session.server.hub.monitor_events(pipe, pipe.sub, bits)


@command("pnpath", "int")
def _pipe_path(session: Session, handle: int):
    """The path of the pipe's FIFO."""
    return pipes.service(session.server).get(session, handle).path


@command("pnlost", "int")
def _pipe_lost(session: Session, handle: int):
    """Reports dropped because the pipe's reader did not keep up."""
    return pipes.service(session.server).get(session, handle).lost
