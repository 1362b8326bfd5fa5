"""The accounting of batch answers: which trigger was accepted, rejected or unknown. Pure.

Accounting rules (what each trigger's ``status`` means):

``accepted``
    The batch answer had an event for it (``event`` decodes it, on first use).
``rejected`` (it did not land; sending it again cannot make it happen twice)
    - the batch answer had a per-item error for it (``error`` has the item's ``httpCode``
      and ``errorText``; the server answered for that item, whatever the code);
    - the whole batch POST got a 4xx (each item of the chunk carries that error), or a
      3xx (redirects are not followed);
    - 429 or 503 still after the transport's retries (or with a ``Retry-After`` longer
      than the policy waits): the server said it did not act on the request (the same
      judgement that lets the transport resend them);
    - the connection could not be made (:class:`ConnectError`, ``sent`` False);
    - the identity provider refused the credentials while renewing the token;
    - invalid before sending (``sent`` False, :class:`InvalidInputError`): not an
      ``EventTrigger``, data JSON cannot carry (a set, bytes, a non-string key, an int
      beyond 64 bits), or a body larger than ``max_batch_bytes`` on its own.
``unknown`` (it was sent and no usable answer came: it may have happened)
    - timeout, a connection cut or reset after the request went out (including a reset
      before the server's handler ran: the client cannot tell the two apart);
    - a 5xx other than 503 (the server may have stored the events before failing);
    - a 2xx whose body is not the documented answer (not JSON, truncated, an array of
      the wrong length, an item that is neither an event nor an error object):
      :class:`ProtocolError` for the whole chunk, as nothing in it can be trusted.

The functions here decide it from what came back (a chunk's answer, or the exception its
POST raised); :mod:`.batch` does the sending.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from . import wire
from .errors import (
    APIError,
    BatchError,
    InvalidInputError,
    ProtocolError,
    RequestError,
    TransportError,
    XProtectError,
    api_error_class,
)
from .models import Event, EventTrigger
from .responses import error_of

Status = Literal["accepted", "rejected", "unknown"]

#: How many failures ``raise_for_failures`` names in its message (all are in ``failures``).
_NAMED_FAILURES = 5


@attrs.define(kw_only=True)
class TriggerResult:
    """What happened to one trigger; ``index`` is its position in the input.

    ``accepted``: the server stored or processed it, ``event`` is its answer.
    ``rejected``: the server (or the client, before sending: ``sent`` False) refused it;
    ``error`` says why. ``unknown``: it was sent and no answer came; it may have happened.
    """

    index: int
    trigger: EventTrigger | object
    status: Status
    error: XProtectError | None = None
    sent: bool = True
    #: The server's answer for an accepted trigger, as it came; ``event`` decodes it.
    answer: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    #: For an ``unknown`` one: when its chunk was sent, and when it was given up on (this
    #: machine's clock); what ``client.reconcile`` looks in.
    sent_from: datetime | None = attrs.field(default=None, repr=False)
    sent_until: datetime | None = attrs.field(default=None, repr=False)

    @functools.cached_property
    def event(self) -> Event | None:
        """The event the server answered (accepted only), decoded on first use.

        Decoding is left until asked for: an injector that never looks saves most of the
        per-event cost. :class:`ProtocolError` if the answer is not a valid event.
        """
        return None if self.answer is None else wire.event_from_wire(self.answer)

    @property
    def reason(self) -> str | None:
        """Why it was not accepted, in words (None when accepted)."""
        return None if self.error is None else str(self.error)


@attrs.frozen(kw_only=True)
class BatchReport:
    """Every trigger's result, in input order, with counts."""

    results: list[TriggerResult]

    @property
    def accepted(self) -> int:
        """How many triggers were accepted."""
        return sum(r.status == "accepted" for r in self.results)

    @property
    def rejected(self) -> int:
        """How many the server (or the client's checks) refused."""
        return sum(r.status == "rejected" for r in self.results)

    @property
    def unknown(self) -> int:
        """How many were sent without an answer: they may have happened."""
        return sum(r.status == "unknown" for r in self.results)

    @property
    def failures(self) -> list[TriggerResult]:
        """The results that were not accepted, in input order."""
        return [r for r in self.results if r.status != "accepted"]

    def raise_for_failures(self) -> None:
        """Raise one :class:`BatchError` listing every trigger that was not accepted."""
        failures = self.failures
        if not failures:
            return
        rejected = sum(r.status == "rejected" for r in failures)
        lines = [f"#{r.index} {r.status}: {r.reason}" for r in failures[:_NAMED_FAILURES]]
        if len(failures) > _NAMED_FAILURES:
            lines.append(f"… and {len(failures) - _NAMED_FAILURES} more (see .failures)")
        raise BatchError(
            f"{len(failures)} of {len(self.results)} triggers were not accepted "
            f"({rejected} rejected, {len(failures) - rejected} unknown): " + "; ".join(lines),
            failures=failures,
        )


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


# --------------------------------------------------------------------------- the rules


def answers(
    indices: Sequence[int],
    triggers: Sequence[object],
    body: Any,
    path: str,
    secrets: Sequence[str] = (),
) -> list[TriggerResult]:
    """The per-item results of a 2xx batch answer for the triggers sent (at ``indices`` of
    the input), a :class:`ProtocolError` if the answer is malformed. ``path`` is the full
    batch path the per-item errors name; ``secrets`` never show in their texts."""
    items = wire.array_envelope(body)
    if len(items) != len(triggers):
        raise ProtocolError(f"the batch answer has {len(items)} items for {len(triggers)} triggers")
    return [
        TriggerResult(index=index, trigger=trigger, status="accepted", answer=item)
        if is_event(item)
        else _rejected(index, trigger, item, path, secrets)
        for index, trigger, item in zip(indices, triggers, items, strict=True)
    ]


def is_event(item: Any) -> bool:
    """Whether an answer item is an event (an object with an ``id``), not an error object.

    Only its shape is checked here; it is decoded, and so fully checked, when asked for.
    """
    return isinstance(item, dict) and isinstance(item.get("id"), str)


def _rejected(
    index: int, trigger: object, item: Any, path: str, secrets: Sequence[str]
) -> TriggerResult:
    """The result of a per-item ``{"error": {"httpCode", "details"}}``, as the error the
    server meant (redacted); a :class:`ProtocolError` when the item is not an error
    object either."""
    wrapped = isinstance(item, dict) and isinstance(item.get("error"), dict)
    parsed = error_of(item, secrets) if wrapped else None
    if parsed is None or parsed.http_code is None or not 400 <= parsed.http_code <= 599:
        raise ProtocolError(f"a batch answer item is neither an event nor an error: {item!r:.200}")
    status = parsed.http_code
    error = api_error_class(status)(method="POST", path=path, status=status, details=parsed.details)
    return TriggerResult(index=index, trigger=trigger, status="rejected", error=error)


def failed(
    indices: Sequence[int], triggers: Sequence[object], exc: Exception, path: str
) -> list[TriggerResult]:
    """The results of every trigger of a chunk whose POST (to the full ``path``) raised
    ``exc`` instead of giving a per-item answer."""
    status, sent = outcome(exc)
    if not isinstance(exc, XProtectError):
        error: XProtectError = RequestError(
            f"unexpected {type(exc).__name__}: {exc}", method="POST", path=path
        )
        error.__cause__ = exc
    else:
        error = exc
    return [
        TriggerResult(index=index, trigger=trigger, status=status, error=error, sent=sent)
        for index, trigger in zip(indices, triggers, strict=True)
    ]


def outcome(exc: Exception) -> tuple[Status, bool]:
    """``(status, sent)`` of every trigger of a chunk whose POST raised ``exc``."""
    if isinstance(exc, TransportError):
        return ("unknown", True) if exc.sent else ("rejected", False)
    if isinstance(exc, APIError):
        landed_maybe = exc.status >= 500 and exc.status != 503
        return ("unknown" if landed_maybe else "rejected"), True
    if isinstance(exc, ProtocolError):
        redirected = exc.status is not None and 300 <= exc.status < 400
        return ("rejected" if redirected else "unknown"), True
    if isinstance(exc, XProtectError):  # credentials refused: nothing was processed
        return "rejected", True
    return "unknown", True


def not_sent(index: int, trigger: object, error: InvalidInputError) -> TriggerResult:
    return TriggerResult(index=index, trigger=trigger, status="rejected", error=error, sent=False)
