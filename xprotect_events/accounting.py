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
      the wrong length, an item that is neither an event nor an error object, an event
      that is not the trigger's sent at its place, one event id for two triggers):
      :class:`ProtocolError` for the whole chunk, as nothing in it can be trusted.

The functions here decide it from what came back (a chunk's answer, or the exception its
POST raised); :mod:`.batch` does the sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from . import wire
from .echo import Named, named
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
from .models import source_guid, to_uuid
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


_ITEM_ECHO = itemgetter("type", "source", "tag", "datatype")  # a wire.Echo's order


def chunk_answered(
    indices: Sequence[int],
    triggers: Sequence[object],
    body: Any,
    path: str,
    secrets: Sequence[str] = (),
    sent: bytes | None = None,
    echoes: list[wire.Echo] | None = None,
) -> ChunkReport:
    """The per-item outcome of a 2xx batch answer for the triggers sent (at ``indices`` of
    the input), kept compactly; a :class:`ProtocolError` if the answer is malformed.
    ``path`` is the full batch path the per-item errors name; ``secrets`` never show in
    their texts. ``sent``, the request body: an event that is not the one sent at its
    place (another type, tag or source: the items came in another order, or are another
    trigger's) makes the whole answer untrustworthy, a :class:`ProtocolError` (``echoes``,
    what the encoder said an echo of each repeats: the usual answer is told by them at once,
    without decoding ``sent``)."""
    items = wire.array_envelope(body)
    if len(items) != len(triggers):
        raise ProtocolError(f"the batch answer has {len(items)} items for {len(triggers)} triggers")
    report = ChunkReport(indices, triggers)
    memo: dict[bytes, XProtectError] = {}  # a chunk's rejections are often all alike
    # The usual answer repeats what the encoder wrote (``echoes``): told at once, in C.
    names = None if sent is None or _echoed(items, echoes) else named(sent)

    def classify(pos: int, item: Any) -> XProtectError | None:
        if is_event(item):
            if names is not None:
                echo_check(pos, item, names[pos])
            return None
        key = wire.try_dumps(item)  # (None: nested deeper than JSON is written)
        error = None if key is None else memo.get(key)
        if error is None:
            error = item_error(item, path, secrets)
            if key is not None:
                memo[key] = error
        return error

    report.keep(items, classify)
    ids = [item["id"].lower() for item in items if is_event(item)]
    if len(set(ids)) != len(ids):
        raise ProtocolError(
            "the batch answer gives one event id to more than one trigger: it cannot tell "
            "which of them landed"
        )
    return report


def _echoed(items: list[Any], echoes: list[wire.Echo] | None) -> bool:
    """Whether every item is an object with exactly the fields of the :data:`.wire.Echo`
    at its place (compared in C)."""
    try:
        return echoes is not None and list(map(_ITEM_ECHO, items)) == echoes
    except (KeyError, TypeError):  # an item without one of them, or not an object
        return False


def echo_check(pos: int, item: dict[str, Any], body: Named) -> None:
    """A :class:`ProtocolError` if the event answered at ``pos`` names another trigger
    than the ``body`` sent there (:func:`echo_differs`)."""
    differs = echo_differs(item, body)
    if differs:
        raise ProtocolError(
            f"the batch answer's item #{pos} is not the event of the trigger sent at that "
            f"place (another {' and '.join(differs)}): its items cannot be told apart"
        )


def echo_differs(item: dict[str, Any], body: Named) -> list[str]:
    """What the answered event ``item`` names otherwise than the trigger ``body`` sent:
    another type, another tag, or a source with another GUID. Only what both show counts:
    a tag or source the trigger had not and the server gave it, a field left out or empty,
    or written in another form (upper-case GUIDs, a source without ``cameras/``), is no
    contradiction; a malformed one is left to its decoding. (The same text, the common
    case, is compared without parsing it.)"""
    differs = []
    answered, sent_type = item.get("type"), body.type
    if isinstance(answered, str) and answered != sent_type and not _same_guid(answered, sent_type):
        differs.append("type")
    tag, sent_tag = item.get("tag"), body.tag
    if isinstance(tag, str) and tag and sent_tag and tag != sent_tag:
        differs.append("tag")
    source, sent_source = item.get("source"), body.source
    if isinstance(source, str) and sent_source and source != sent_source:
        answered_guid = source_guid(source)
        if answered_guid is not None and answered_guid != source_guid(sent_source):
            differs.append("source")
    return differs


def _same_guid(answered: str, sent: str) -> bool:
    """Whether ``answered`` names the GUID ``sent`` does (or is no GUID: not a contradiction)."""
    try:
        return to_uuid(answered) == to_uuid(sent)
    except InvalidInputError:
        return True


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
        text = scrubbed(_shown_item(item), secrets)[:_ITEM_SHOWN]
        raise ProtocolError(f"a batch answer item is neither an event nor an error: {text}")
    status = parsed.http_code
    return api_error_class(status)(method="POST", path=path, status=status, details=parsed.details)


def _shown_item(item: Any) -> str:
    """``repr(item)``, or a word for an item nested too deep for ``repr``."""
    try:
        return repr(item)
    except RecursionError:
        return f"(a {type(item).__name__} nested too deep to show)"


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
