"""What an HTTP answer means, as pure functions beside the wire code (no I/O).

:func:`response_from` turns a status, headers and body into a :class:`Response` (a 2xx
with its parsed JSON) or the library error they mean: a redirect (never followed) is a
:class:`ProtocolError`, an error status the :class:`APIError` subclass for it with the
server's details and ``Retry-After``. :func:`parse_error_body` reads every form of error
body servers and proxies send; :func:`redacted` takes the request's secrets out of what
was decoded (:mod:`.redaction`), before anything shows it; :func:`error_of` does both for
an error object already parsed (a batch answer's item).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

from . import wire
from .errors import APIError, ErrorDetail, ProtocolError, api_error_class
from .policy import parse_retry_after
from .redaction import scrubbed, widest

#: How much of an error body a snippet is taken from (the start of an HTML page).
SNIPPET_WINDOW = 4096
#: The longest snippet of a body that is not JSON, in characters.
SNIPPET_LENGTH = 200
#: The most characters of one text of an error answer that are kept (the rest is cut).
MAX_TEXT = 1000


@attrs.frozen
class Response:
    """A successful answer: its status, its bytes and headers, and ``body``, the bytes
    parsed as JSON (None when empty) when first read: a decoder that reads the bytes
    itself (:mod:`.typed`) never pays for the parse. Not JSON: a :class:`ProtocolError`
    naming the request."""

    status: int
    raw: bytes = attrs.field(repr=False)
    headers: Mapping[str, str]
    method: str = ""
    path: str = ""

    @functools.cached_property
    def body(self) -> Any:
        try:
            return wire.json_body(self.raw)
        except ProtocolError as exc:
            raise ProtocolError(
                str(exc), method=self.method, path=self.path, status=self.status
            ) from None


def response_from(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    path: str,
    secrets: Iterable[str] = (),
) -> Response:
    """The 2xx :class:`Response`, or raise the error that this answer means; ``secrets``
    (what the request carried) never show in it."""
    if 200 <= status < 300:
        return Response(status, body, headers, method, path)
    if 300 <= status < 400:
        where = shown_text(scrubbed(headers.get("Location", "?"), tuple(secrets)), SNIPPET_LENGTH)
        raise ProtocolError(
            f"the server redirected to {where}; point the client at that URL "
            "(redirects are not followed, so credentials never leave for another host)",
            method=method,
            path=path,
            status=status,
        )
    raise api_error(status, body, headers, method, path, secrets)


def shown_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` the server sent, safe to show (:func:`escaped`), cut to ``limit``
    characters once escaped."""
    text = _escape_controls(text)
    return printable(text if len(text) <= limit else text[: limit - 1] + "…")


def escaped(text: str) -> str:
    """``text`` safe to show on one line: every character that is not printable (C0 and C1
    controls, DEL, line and paragraph separators …) as its escape (``\\x1b``, ``\\n``), a
    lone surrogate too (:func:`printable`)."""
    return printable(_escape_controls(text))


def _escape_controls(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def printable(text: str) -> str:
    """``text`` with any lone surrogate (a header's bytes that are not UTF-8, as aiohttp
    reads them) written as its escape, ``\\udcff``: a message must encode and print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def api_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    path: str,
    secrets: Iterable[str] = (),
) -> APIError:
    """The :class:`APIError` of an error status, with what its body and headers said."""
    parsed = redacted(parse_error_body(body, tuple(secrets)), secrets)
    message = f"HTTP {status}"
    text = "; ".join(d.error_text for d in parsed.details if d.error_text) or parsed.snippet
    if text:
        message += f": {shown_text(text)}"
    return api_error_class(status)(
        message,
        method=method,
        path=path,
        status=status,
        details=parsed.details,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        oauth_error=parsed.error,
        oauth_error_code=parsed.error_code,
    )


#: Form fields whose values are secrets.
SECRET_FIELDS = ("password", "client_secret")


def redacted(parsed: ErrorBody, secrets: Iterable[str]) -> ErrorBody:
    """``parsed`` with every secret taken out of its texts, in any escaping
    (:func:`.redaction.scrubbed`), and each text made safe to show: its control
    characters escaped (an ESC sequence would drive the terminal that shows the error, a
    newline split its line) and cut to :data:`MAX_TEXT`. The one place error texts are
    cleaned."""
    found = tuple(secrets)

    def clean(text: str | None) -> str | None:
        return None if text is None else shown_text(scrubbed(text, found) if found else text)

    details = tuple(
        attrs.evolve(
            d,
            error_text=clean(d.error_text),
            error_text_id=clean(d.error_text_id),
            property_name=clean(d.property_name),
        )
        for d in parsed.details
    )
    return attrs.evolve(
        parsed,
        details=details,
        error=clean(parsed.error),
        error_description=clean(parsed.error_description),
        error_code=clean(parsed.error_code),
        snippet=clean(parsed.snippet),
    )


def error_of(doc: Any, secrets: Iterable[str] = ()) -> ErrorBody:
    """What an error object already parsed from JSON says (a batch answer's per-item
    ``{"error": {…}}``), with ``secrets`` taken out of it."""
    return redacted(_error_body(doc), secrets)


# --------------------------------------------------------------------------- error bodies


@attrs.frozen(kw_only=True)
class ErrorBody:
    """What an error answer said, from any of the forms servers and proxies send."""

    http_code: int | None = None
    details: tuple[ErrorDetail, ...] = ()
    #: OAuth (identity provider) form: ``error``, ``error_description``, ``error_code``.
    error: str | None = None
    error_description: str | None = None
    error_code: str | None = None
    #: The start of a body that was not JSON (an HTML page from a proxy), for messages.
    snippet: str | None = None


def parse_error_body(body: bytes | str | None, secrets: tuple[str, ...] = ()) -> ErrorBody:
    """Parse an error body: wrapped ``{"error": {"httpCode", "details"}}``, unwrapped
    ``{"httpCode": "400", "details"}``, the OAuth form, or anything else (never raises).

    A body that is not JSON gives a snippet of its first :data:`SNIPPET_WINDOW` bytes;
    ``secrets`` only matter there: where the window cuts through one of them, the cut
    end is dropped (take the secrets out with :func:`redacted`).
    """
    if not body:
        return ErrorBody()
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ErrorBody(snippet=_snippet(body, secrets))
    if not isinstance(doc, dict):
        return ErrorBody(snippet=_snippet(body, secrets))
    return _error_body(doc)


def _error_body(doc: Any) -> ErrorBody:
    if not isinstance(doc, dict):
        return ErrorBody()
    inner = doc.get("error")
    if isinstance(inner, dict):
        doc = inner
    elif isinstance(inner, str):
        return ErrorBody(
            error=inner,
            error_description=_str_or_none(doc.get("error_description")),
            error_code=_str_or_none(doc.get("error_code")),
            details=(ErrorDetail(error_text=_str_or_none(doc.get("error_description"))),),
        )
    return ErrorBody(http_code=wire.int_or_none(doc.get("httpCode")), details=_details(doc))


def _details(doc: Mapping[str, Any]) -> tuple[ErrorDetail, ...]:
    raw = doc.get("details")
    if not isinstance(raw, list):
        return ()
    return tuple(
        ErrorDetail(
            error_text=_str_or_none(item.get("errorText")),
            error_text_id=_str_or_none(item.get("errorTextId")),
            property_name=_str_or_none(item.get("propertyName")),
        )
        for item in raw
        if isinstance(item, dict)
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_TAG = re.compile(r"<[^>]*>")


def _snippet(body: bytes | str, secrets: tuple[str, ...]) -> str:
    """The start of a body that is not JSON, tags out, blanks folded: from its first
    :data:`SNIPPET_WINDOW` bytes only, however long it is."""
    window = body[:SNIPPET_WINDOW]
    text = window.decode("utf-8", "replace") if isinstance(window, bytes) else window
    if len(body) > SNIPPET_WINDOW and secrets:
        text = text[: max(0, len(text) - widest(secrets))]  # no secret cut in half
    text = scrubbed(text, secrets)
    text = _TAG.sub(" ", text)
    return scrubbed(" ".join(text.split())[:SNIPPET_LENGTH], secrets)
