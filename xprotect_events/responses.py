"""What an HTTP answer means, as pure functions beside the wire code (no I/O).

:func:`response_from` turns a status, headers and body into a :class:`Response` (a 2xx
with its parsed JSON) or the library error they mean: a redirect (never followed) is a
:class:`ProtocolError`, an error status the :class:`APIError` subclass for it with the
server's details and ``Retry-After``. :func:`parse_error_body` reads every form of error
body servers and proxies send; :func:`redacted` takes the request's secrets out of an
error answer before anything shows it.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from . import wire
from .errors import APIError, ErrorDetail, ProtocolError, api_error_class
from .policy import parse_retry_after


@attrs.frozen
class Response:
    """A successful answer: its status, parsed JSON body (or None when empty) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


def response_from(
    status: int, headers: Mapping[str, str], body: bytes, method: str, path: str
) -> Response:
    """The 2xx :class:`Response`, or raise the error that this answer means."""
    if 200 <= status < 300:
        try:
            parsed = wire.loads(body) if body.strip() else None
        except ProtocolError as exc:
            raise ProtocolError(str(exc), method=method, path=path, status=status) from None
        return Response(status, parsed, headers)
    if 300 <= status < 400:
        where = headers.get("Location", "?")
        raise ProtocolError(
            f"the server redirected to {where}; point the client at that URL "
            "(redirects are not followed, so credentials never leave for another host)",
            method=method,
            path=path,
            status=status,
        )
    raise api_error(status, body, headers, method, path)


def api_error(
    status: int, body: bytes, headers: Mapping[str, str], method: str, path: str
) -> APIError:
    """The :class:`APIError` of an error status, with what its body and headers said."""
    parsed = parse_error_body(body)
    message = f"HTTP {status}"
    text = "; ".join(d.error_text for d in parsed.details if d.error_text) or parsed.snippet
    if text:
        message += f": {text}"
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


def redacted(body: bytes, token: str | None, form: Mapping[str, str] | None) -> bytes:
    """An error answer without the secrets its request carried: a proxy's or a debug
    page may echo the request (its ``Authorization`` header, its form) into its text."""
    secrets = [token] if token else []
    secrets += [form[name] for name in SECRET_FIELDS if form and form.get(name)]
    for secret in secrets:
        forms = {
            secret,
            urllib.parse.quote_plus(secret),
            urllib.parse.quote(secret, safe=""),
            html.escape(secret),
            json.dumps(secret)[1:-1],  # \\u00e9 for é, as .NET writes JSON
        }
        for text in forms:
            if len(text) >= 4:  # a one-letter password is not hunted through every word
                body = body.replace(text.encode(), b"[redacted]")
    return body


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


def parse_error_body(body: bytes | str | None) -> ErrorBody:
    """Parse an error body: wrapped ``{"error": {"httpCode", "details"}}``, unwrapped
    ``{"httpCode": "400", "details"}``, the OAuth form, or anything else (never raises)."""
    if not body:
        return ErrorBody()
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ErrorBody(snippet=_snippet(body))
    if not isinstance(doc, dict):
        return ErrorBody(snippet=_snippet(body))
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


def _snippet(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join(text.split())[:200]
