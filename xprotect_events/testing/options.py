"""The checks of ``Simulator(...)``'s options: a value no simulator can run with is an
:class:`~xprotect_events.errors.InvalidInputError` that names the option, raised before
anything listens (not an ``OverflowError`` from the socket, or a server that starts and
misbehaves: a negative ``resume_window``, a ``max_batch`` of 0, a string ``access_log``
that logs nothing). The rules are the client's own (:mod:`xprotect_events.checks`)."""

from __future__ import annotations

from typing import Any

from ..checks import boolean, int_in, seconds
from ..errors import InvalidInputError, shown
from .clock import SimClock


def _refuse(name: str, wanted: str, value: object) -> InvalidInputError:
    return InvalidInputError(f"{name} must be {wanted}, got {shown(value)}")


def check_options(options: dict[str, Any]) -> None:
    """Refuse any value of the simulator's options (by keyword) that it cannot run with."""
    host = options["host"]
    if not isinstance(host, str) or not host.strip() or not host.isprintable():
        raise _refuse("host", "an address or host name", host)
    int_in("port", options["port"], 0, 65535)
    boolean("https", options["https"])
    boolean("ntlm_at_gateway", options["ntlm_at_gateway"])
    if options["clock"] is not None and not isinstance(options["clock"], SimClock):
        raise _refuse("clock", "None or a SimClock", options["clock"])
    seconds("session_idle_timeout", options["session_idle_timeout"])
    seconds("resume_window", options["resume_window"], zero=True)
    int_in("max_batch", options["max_batch"], 1)
    if options["max_events"] is not None:
        int_in("max_events", options["max_events"], 0)
    access_log = options["access_log"]
    if not (access_log is None or isinstance(access_log, bool) or callable(access_log)):
        raise _refuse("access_log", "True, False, None or a callable", access_log)
