"""The simulator's access log: one line per request, ``time method path status duration``.

Never a secret: no header and no body is logged, and the value of any query parameter whose
name looks like a secret (``token``, ``password``, ``secret``, ``key``, ``code``,
``credential``, ``auth``) is replaced by ``***``. A character of the path or query that is
not printable (a newline, an escape sequence, as a client may percent-encode them) is
written as its escape (``\\n``, ``\\x1b``) and a space as ``%20``: one request, one line
of five fields, no terminal control. Off unless asked for (``Simulator(access_log=True)``
logs to the ``xprotect_events.testing.access`` logger at INFO; a callable receives each
line instead).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from ..responses import escaped
from .routing import Handler
from .state import state_of

log = logging.getLogger("xprotect_events.testing.access")

#: Where access-log lines go: a callable, True (the logger above) or False/None (nowhere).
AccessLog = Callable[[str], None] | bool | None

_SECRET_NAME = re.compile(r"token|pass|pwd|secret|key|code|credential|auth|session_state", re.I)


def _escaped(text: str) -> str:
    """``text`` on one line (:func:`~xprotect_events.responses.escaped`), a space as %20."""
    return escaped(text).replace(" ", "%20")


def shown_path(request: web.Request) -> str:
    """The path and query, secret-looking parameter values masked, escaped to one line."""
    if not request.query:
        return _escaped(request.path)
    items = [
        f"{name}=***" if _SECRET_NAME.search(name) else f"{name}={value}"
        for name, value in request.query.items()
    ]
    return _escaped(f"{request.path}?{'&'.join(items)}")


def access_line(request: web.Request, status: int | str, seconds: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {request.method} {shown_path(request)} {status} {seconds * 1000:.1f}ms"


def sink_of(access_log: AccessLog) -> Callable[[str], None] | None:
    """Where lines go for a ``Simulator(access_log=…)`` value."""
    if access_log is True:
        return log.info
    if callable(access_log):
        return access_log
    return None


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log each request after its answer to ``SimState.access_log`` when it is set (a
    request that failed inside: status ``-``)."""
    sink = state_of(request).access_log
    if sink is None:
        return await handler(request)
    start = time.perf_counter()
    status: int | str = "-"
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        sink(access_line(request, status, time.perf_counter() - start))
