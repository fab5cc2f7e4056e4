"""Stored pigpio scripts: ``proc`` and the ``proc*`` commands."""

from __future__ import annotations

from gpiosvr.server.commands.table import Session, command


@command("proc", "text")
def _store_script(session: Session, text: str):
    """Store a pigpio script (pigs: the rest of the line); answers its id (the lowest
    free, 0-31), or pigpio's code for its first mistake (docs/scripts.md)."""
    return session.server.scripts.store(session, text)


@command("procr", "int", *["int?"] * 11)
def _run_script(session: Session, script_id: int, *params: int):
    """Run a stored script with up to 10 32-bit parameters (a running one goes on,
    with the new parameters)."""
    session.server.scripts.run(session, script_id, list(params))
    return 0


@command("procu", "int", *["int?"] * 11)
def _update_script(session: Session, script_id: int, *params: int):
    """Update the parameters of a script (up to 10, each 32-bit)."""
    session.server.scripts.update(session, script_id, list(params))
    return 0


@command("procp", "int")
def _script_status(session: Session, script_id: int):
    """A script's status and its 10 parameters: ``[status, p0, ..., p9]``."""
    return session.server.scripts.status(script_id)


@command("procs", "int")
def _stop_script(session: Session, script_id: int):
    """Stop a running script."""
    session.server.scripts.stop(session, script_id)
    return 0


@command("procd", "int")
def _delete_script(session: Session, script_id: int):
    """Delete a script."""
    session.server.scripts.delete(session, script_id)
    return 0
