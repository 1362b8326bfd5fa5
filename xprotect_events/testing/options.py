"""The checks of ``Simulator(...)``'s options: a value no simulator can run with is an
:class:`~xprotect_events.errors.InvalidInputError` that names the option, raised before
anything listens (not an ``OverflowError`` from the socket, or a server that starts and
misbehaves: a negative ``resume_window``, a ``max_batch`` of 0, a string ``access_log``
that logs nothing)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidInputError, shown
from .clock import SimClock


def _refuse(name: str, wanted: str, value: object) -> InvalidInputError:
    return InvalidInputError(f"{name} must be {wanted}, got {shown(value)}")


def _count(name: str, value: object, low: int, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        top = "" if high is None else f" and <= {high}"
        raise _refuse(name, f"an integer >= {low}{top}", value)


def _seconds(name: str, value: object, *, zero_ok: bool) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero_ok)
    ):
        raise _refuse(name, f"a finite number of seconds {'>=' if zero_ok else '>'} 0", value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _refuse(name, "True or False", value)


def check_options(options: dict[str, Any]) -> None:
    """Refuse any value of the simulator's options (by keyword) that it cannot run with."""
    host = options["host"]
    if not isinstance(host, str) or not host.strip() or not host.isprintable():
        raise _refuse("host", "an address or host name", host)
    _count("port", options["port"], 0, 65535)
    _flag("https", options["https"])
    _flag("ntlm_at_gateway", options["ntlm_at_gateway"])
    if options["clock"] is not None and not isinstance(options["clock"], SimClock):
        raise _refuse("clock", "None or a SimClock", options["clock"])
    _seconds("session_idle_timeout", options["session_idle_timeout"], zero_ok=False)
    _seconds("resume_window", options["resume_window"], zero_ok=True)
    _count("max_batch", options["max_batch"], 1)
    if options["max_events"] is not None:
        _count("max_events", options["max_events"], 0)
    access_log = options["access_log"]
    if not (access_log is None or isinstance(access_log, bool) or callable(access_log)):
        raise _refuse("access_log", "True, False, None or a callable", access_log)
