"""Why a request failed, in a few plain words, for log lines: ``connection refused``,
``no answer in time``, ``HTTP 503``. Pure (looks only at the exception and its causes)."""

from __future__ import annotations

import errno

from .errors import (
    APIError,
    ConnectError,
    RequestTimeoutError,
    TLSError,
    TransportError,
    XProtectError,
)

_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EPIPE: "connection closed",
}


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "os_error", None)]
    return seen


def reason(exc: BaseException) -> str:
    """A few plain words for why ``exc`` happened (never a secret: no bodies, no headers)."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in _ERRNO:
            return _ERRNO[cause.errno]
    if isinstance(exc, TLSError):
        return "TLS handshake failed"
    if isinstance(exc, RequestTimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectError):
        return "could not connect"
    if isinstance(exc, TransportError):
        names = {type(c).__name__ for c in _causes(exc)}
        return "server disconnected" if "ServerDisconnectedError" in names else "connection lost"
    if isinstance(exc, APIError):
        return f"HTTP {exc.status}"
    if isinstance(exc, XProtectError):
        return " ".join(str(exc).split())
    return type(exc).__name__
