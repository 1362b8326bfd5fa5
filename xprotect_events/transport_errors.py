"""aiohttp's (and the OS's) exceptions as the library's, with no secret left in them. Pure.

aiohttp's exception is chained to ours, so it is cleaned in place: its copy of the request's
headers (``request_info``: ``Authorization``, ``Proxy-Authorization``) masked, and what the
request carried scrubbed (:func:`.redaction.scrubbed`) out of its message and arguments: a
parser error quotes the bytes of a malformed answer, which may echo the token or the form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from .errors import ConnectError, RequestTimeoutError, TLSError, TransportError
from .redaction import REDACTED, scrubbed

#: A bytes literal aiohttp cut short (``b'<the first 100 bytes>...'``), in a message.
_CUT = re.compile(r"""b(['"])(?:\\.|(?!\1).)*\.\.\.\1""", re.DOTALL)
_NOT_SHOWN = "b'[cut: not shown]'"

#: Request headers aiohttp keeps a copy of (``request_info``) that carry a secret.
_SECRET_HEADERS = ("Authorization", "Proxy-Authorization")


def without_secrets(exc: BaseException, hidden: tuple[str, ...]) -> BaseException:
    """aiohttp's exception and those chained to it, cleaned in place for chaining to ours:
    the secret headers of its copy of the request (``request_info``) masked, and
    ``hidden`` scrubbed out of its message, its arguments (a parser error quotes the bytes
    the server sent, which may echo the token or the form) and the answer's headers it
    keeps (a refused WebSocket upgrade's ``WWW-Authenticate``, ``Location`` …)."""
    for e in _chained(exc):
        info = getattr(e, "request_info", None)
        if isinstance(info, aiohttp.RequestInfo):
            e.request_info = _masked(info)  # type: ignore[attr-defined]
        headers = getattr(e, "headers", None)
        if isinstance(headers, CIMultiDictProxy | CIMultiDict):
            clean = CIMultiDict((name, _clean(value, hidden)) for name, value in headers.items())
            e.headers = CIMultiDictProxy(clean)  # type: ignore[attr-defined]
        _scrub_texts(e, hidden)
    return exc


def _chained(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception chained to it (cause and context), each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def _masked(info: aiohttp.RequestInfo) -> aiohttp.RequestInfo:
    if not any(name in info.headers for name in _SECRET_HEADERS):
        return info
    headers = CIMultiDict(info.headers)
    for name in _SECRET_HEADERS:
        if name in headers:
            headers[name] = REDACTED
    return aiohttp.RequestInfo(info.url, info.method, CIMultiDictProxy(headers), info.real_url)


def _scrub_texts(e: BaseException, hidden: tuple[str, ...]) -> None:
    """``hidden`` out of ``e``'s ``message`` and ``args`` (bytes ones read as UTF-8)."""
    message = getattr(e, "message", None)
    if isinstance(message, str):
        e.message = _clean(message, hidden)  # type: ignore[attr-defined]
    e.args = tuple(_scrubbed_arg(a, hidden) for a in e.args)


def _clean(text: str, hidden: tuple[str, ...]) -> str:
    """``text`` scrubbed, without the bytes aiohttp cut short (``b'…...'``, a line too
    long): their end may be the start of a secret, which no scrubbing can recognise."""
    return scrubbed(_CUT.sub(_NOT_SHOWN, text), hidden)


def _scrubbed_arg(arg: object, hidden: tuple[str, ...]) -> object:
    if isinstance(arg, aiohttp.RequestInfo):  # ClientResponseError's args hold it too
        return _masked(arg)
    if isinstance(arg, bytes | bytearray):
        text = bytes(arg).decode("utf-8", "replace")
        clean = _NOT_SHOWN if arg.endswith(b"...") else scrubbed(text, hidden)
        return arg if clean == text else clean
    return _clean(arg, hidden) if isinstance(arg, str) else arg


def transport_error(
    exc: BaseException, method: str, path: str, hidden: tuple[str, ...] = ()
) -> TransportError:
    """The library error for aiohttp's (or the OS's) exception, with ``hidden`` (what the
    request carried) out of it and of the exceptions chained to it."""
    without_secrets(exc, hidden)  # it is chained to ours: no secret may ride along
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = _clean(text, hidden)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return TLSError(f"TLS verification failed: {text}", method=method, path=path)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return ConnectError(f"could not connect: {text}", method=method, path=path)
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError(f"no answer in time: {text}", method=method, path=path)
    return TransportError(f"connection failed: {text}", method=method, path=path)
