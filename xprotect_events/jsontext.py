"""Times and JSON text as the server writes them, and the one JSON encoder. Pure: no I/O.

:func:`parse_time` reads any ISO 8601 time a server sends; :func:`format_time` writes the
server's form (UTC, 7 fraction digits, ``Z``); :func:`dumps` writes every body, datetimes
in that form. :mod:`.wire` re-exports them all.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from .checks import aware, json_data
from .errors import InvalidInputError, ProtocolError, shown

# --------------------------------------------------------------------------- times

_FRACTION = re.compile(r"[.,](\d+)")


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 with ``Z`` or an offset and up to 7+ fraction digits.

    Python keeps microseconds; a 7th digit is rounded (half up), never an error. A
    lower-case ``t`` or ``z`` is read as the upper-case one (RFC 3339, 5.6).
    """
    if not isinstance(text, str):
        raise ProtocolError(f"expected an ISO 8601 time string, got {type(text).__name__}")
    sent, text = text, text.replace("t", "T").replace("z", "Z")
    extra = timedelta()
    match = _FRACTION.search(text)
    if match and len(match.group(1)) > 6:
        digits = match.group(1)
        if digits[6] >= "5":
            extra = timedelta(microseconds=1)
        text = text[: match.start(1)] + digits[:6] + text[match.end(1) :]
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # the API speaks UTC [seed]
        elif value.utcoffset():
            value = value.astimezone(UTC)
        else:
            value = value.replace(tzinfo=UTC)
        return value + extra
    except (ValueError, OverflowError):  # OverflowError: out of range once in UTC / rounded
        raise ProtocolError(f"invalid ISO 8601 time {shown(sent, 100)}") from None


def format_time(value: datetime) -> str:
    """``2024-05-01T12:00:00.1234560Z``: UTC, 7 fraction digits, as the server writes times."""
    v = aware(value, "a time").astimezone(UTC)  # (aware: in range once in UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}0Z"
    )


# --------------------------------------------------------------------------- JSON


def loads(body: bytes | str) -> Any:
    """Parse JSON; a body that is not JSON (or not UTF-8) is a :class:`ProtocolError`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"response is not valid JSON ({exc.msg})") from None


def json_body(raw: bytes) -> Any:
    """An answer's body as JSON (:func:`loads`); None for an empty body."""
    return loads(raw) if raw.strip() else None


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes; a value JSON cannot carry is an :class:`InvalidInputError`
    (naming where, when :func:`~.checks.json_data` can tell).

    Datetimes are written as the server writes times (:func:`format_time`: UTC, 7 digits,
    ``Z``); naive ones, and those whose tzinfo fails, are refused. (orjson's own writing of
    them asks a custom tzinfo for its offset unchecked: one that raises crashes the
    process, one that answers nonsense writes a wrong time.) A date is ``YYYY-MM-DD``."""
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)
    except TypeError as exc:
        raise InvalidInputError(f"cannot encode as JSON: {_why(value, exc)}") from None


def try_dumps(value: Any) -> bytes | None:
    """:func:`dumps`, or None for what it refuses (without saying why: cheaper)."""
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)
    except TypeError:
        return None


_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _json_default(value: Any) -> Any:
    """What orjson hands over: datetimes, dates and times, and what it does not know."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return date.isoformat(value)
    if isinstance(value, dt.time):
        raise InvalidInputError("a time of day names no instant: give an aware datetime or text")
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _why(value: Any, exc: TypeError) -> str:
    """Why ``value`` could not be encoded: where, if the data check finds it."""
    if isinstance(value, dict | list):
        try:
            json_data(value, root="body")
        except InvalidInputError as found:
            return str(found)
    cause = exc.__cause__
    return str(cause) if isinstance(cause, InvalidInputError) else str(exc)
