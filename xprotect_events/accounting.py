"""The accounting of batch answers: which trigger was accepted, rejected or unknown. Pure.

Accounting rules (what each trigger's ``status`` means):

``accepted``
    The batch answer had an event for it (``event`` decodes it, on first use).
``rejected`` (it did not land; sending it again cannot make it happen twice)
    - the batch answer had a per-item error for it (``error`` has the item's ``httpCode``
      and ``errorText``; the server answered for that item, whatever the code);
    - the whole batch POST got a 4xx (each item of the chunk carries that error; a 429
      too, with or without ``Retry-After``: the server refused the request), or a 3xx
      (redirects are not followed);
    - 503 *with* ``Retry-After`` still after the transport's retries (or with one longer
      than the policy waits): the server said it did not act on the request (the same
      judgement, :func:`.policy.said_not_acted`, that lets the transport resend it);
    - the connection could not be made (:class:`ConnectError`, ``sent`` False);
    - the identity provider refused the credentials while renewing the token;
    - invalid before sending (``sent`` False, :class:`InvalidInputError`): not an
      ``EventTrigger``, data JSON cannot carry (a set, bytes, a non-string key, an int
      beyond 64 bits), or a body larger than ``max_batch_bytes`` on its own.
``unknown`` (it was sent and no usable answer came: it may have happened)
    - timeout, a connection cut or reset after the request went out (including a reset
      before the server's handler ran: the client cannot tell the two apart);
    - a 5xx other than a 503 with ``Retry-After`` (the server, or the backend behind a
      gateway, may have stored the events before failing);
    - a 2xx whose body is not the documented answer (not JSON, truncated, an array of
      the wrong length, an item that is neither an event nor an error object):
      :class:`ProtocolError` for the whole chunk, as nothing in it can be trusted.

The functions here decide it from what came back (a chunk's answer, or the exception its
POST raised); :mod:`.batch` does the sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import wire
from .errors import (
    APIError,
    InvalidInputError,
    ProtocolError,
    RequestError,
    TransportError,
    XProtectError,
    api_error_class,
    shown,
)
from .policy import said_not_acted
from .redaction import scrubbed
from .report import BatchReport, ChunkReport, Status, TriggerResult
from .responses import error_of

__all__ = [
    "BatchReport",
    "ChunkReport",
    "InvalidTriggerError",
    "Status",
    "TriggerResult",
    "answers",
    "chunk_answered",
    "chunk_failed",
    "failed",
    "is_event",
    "item_error",
    "not_sent",
    "outcome",
]

#: How much of an odd answer item's repr a message shows, in characters.
_ITEM_SHOWN = 200


class InvalidTriggerError(InvalidInputError):
    """``reject_invalid=True`` met a trigger that cannot be sent.

    ``index`` is its position, ``cause`` why. Nothing from its chunk on was sent; ``report``
    (set by ``trigger_events``) holds the results of the chunks sent before it, if any.
    """

    def __init__(self, index: int, cause: InvalidInputError) -> None:
        super().__init__(f"trigger #{index} cannot be sent: {cause}")
        self.index = index
        self.cause = cause
        self.report: BatchReport | None = None


class TriggerInputError(InvalidInputError):
    """Reading the triggers failed: the caller's iterable raised (its exception is
    ``__cause__``). Every trigger read before was sent and its chunk awaited; ``report``
    (set by ``trigger_events``) holds their results, so that what landed is known."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"reading the triggers failed: {shown(cause, 200)}")
        self.report: BatchReport | None = None


# --------------------------------------------------------------------------- the rules


def chunk_answered(
    indices: Sequence[int],
    triggers: Sequence[object],
    body: Any,
    path: str,
    secrets: Sequence[str] = (),
) -> ChunkReport:
    """The per-item outcome of a 2xx batch answer for the triggers sent (at ``indices`` of
    the input), kept compactly; a :class:`ProtocolError` if the answer is malformed.
    ``path`` is the full batch path the per-item errors name; ``secrets`` never show in
    their texts."""
    items = wire.array_envelope(body)
    if len(items) != len(triggers):
        raise ProtocolError(f"the batch answer has {len(items)} items for {len(triggers)} triggers")
    report = ChunkReport(indices, triggers)
    memo: dict[bytes, XProtectError] = {}  # a chunk's rejections are often all alike

    def classify(item: Any) -> XProtectError | None:
        if is_event(item):
            return None
        key = wire.dumps(item)
        error = memo.get(key)
        if error is None:
            error = memo[key] = item_error(item, path, secrets)
        return error

    report.keep(items, classify)
    return report


def answers(
    indices: Sequence[int],
    triggers: Sequence[object],
    body: Any,
    path: str,
    secrets: Sequence[str] = (),
) -> list[TriggerResult]:
    """:func:`chunk_answered`, as one :class:`TriggerResult` per trigger."""
    return chunk_answered(indices, triggers, body, path, secrets).results()


def is_event(item: Any) -> bool:
    """Whether an answer item is an event (an object with an ``id``), not an error object.

    Only its shape is checked here; it is decoded, and so fully checked, when asked for.
    """
    return isinstance(item, dict) and isinstance(item.get("id"), str)


def item_error(item: Any, path: str, secrets: Sequence[str] = ()) -> XProtectError:
    """The error a per-item ``{"error": {"httpCode", "details"}}`` means (every per-item
    error of a batch answer becomes an error here, and only here), with ``secrets`` taken
    out of it; a :class:`ProtocolError` when the item is not an error object either."""
    wrapped = isinstance(item, dict) and isinstance(item.get("error"), dict)
    parsed = error_of(item, secrets) if wrapped else None
    if parsed is None or parsed.http_code is None or not 400 <= parsed.http_code <= 599:
        # scrubbed whole, then cut: a secret cut in half would not be recognised
        text = scrubbed(repr(item), secrets)[:_ITEM_SHOWN]
        raise ProtocolError(f"a batch answer item is neither an event nor an error: {text}")
    status = parsed.http_code
    return api_error_class(status)(method="POST", path=path, status=status, details=parsed.details)


def chunk_failed(
    indices: Sequence[int], triggers: Sequence[object], exc: Exception, path: str
) -> ChunkReport:
    """The outcome of every trigger of a chunk whose POST (to the full ``path``) raised
    ``exc`` instead of giving a per-item answer."""
    status, sent = outcome(exc)
    if not isinstance(exc, XProtectError):
        error: XProtectError = RequestError(
            f"unexpected {type(exc).__name__}: {exc}", method="POST", path=path
        )
        error.__cause__ = exc
    else:
        error = exc
    report = ChunkReport(indices, triggers)
    report.fail(status, error, sent)
    return report


def failed(
    indices: Sequence[int], triggers: Sequence[object], exc: Exception, path: str
) -> list[TriggerResult]:
    """:func:`chunk_failed`, as one :class:`TriggerResult` per trigger."""
    return chunk_failed(indices, triggers, exc, path).results()


def outcome(exc: Exception) -> tuple[Status, bool]:
    """``(status, sent)`` of every trigger of a chunk whose POST raised ``exc``."""
    if isinstance(exc, TransportError):
        return ("unknown", True) if exc.sent else ("rejected", False)
    if isinstance(exc, APIError):
        landed_maybe = exc.status >= 500 and not said_not_acted(exc)
        return ("unknown" if landed_maybe else "rejected"), True
    if isinstance(exc, ProtocolError):
        redirected = exc.status is not None and 300 <= exc.status < 400
        return ("rejected" if redirected else "unknown"), True
    if isinstance(exc, XProtectError):  # credentials refused: nothing was processed
        return "rejected", True
    return "unknown", True


def not_sent(index: int, trigger: object, error: InvalidInputError) -> TriggerResult:
    return TriggerResult(index=index, trigger=trigger, status="rejected", error=error, sent=False)
