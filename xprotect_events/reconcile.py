"""Reconciling ``unknown`` triggers: did it land? The rules, as pure functions (no I/O).

A trigger is ``unknown`` when it was sent and no usable answer came (a timeout, a cut
connection, a 5xx, a crash of the sender). The store can tell what happened, if the trigger
can be recognised among the stored events:

- its event type must be stored: a type with retention 0 is triggered (rules run) but never
  stored, so it can never be found, and "not found" proves nothing;
- it must be told apart from other events of its type and source: by a **tag** unique to
  the trigger, or by an explicit ``time`` (accurate to 10 ms). A sent-time window alone is
  not enough: any other producer's event of that type and source in the window would look
  the same.

**Make triggers recognisable: give each one a unique tag**, e.g. ``tag=f"{job}-{line}"`` or
``tag=str(uuid.uuid4())`` kept with the work item. With a unique tag a rerun after a crash
finds what landed and resends only what did not: every trigger stored exactly once.

:func:`decide` applies the rules to the events a lookup found (:func:`search_window` says
which times to look in; the caller filters by type and source as the API allows, and
:func:`decide` checks every field again):

- exactly one stored event matches: ``accepted``, with that event;
- none matches, the type is stored, and at least ``settle`` has passed since the trigger was
  last possibly sent: ``rejected`` ("not found after N s"): it did not land and is safe to
  send again;
- otherwise ``unknown``, with the reason: the type is not stored, the trigger cannot be
  recognised, more than one event matches (ambiguous), an event with its tag is stored
  at another time (the clocks may be apart), it was sent too recently for "not found" to
  count, when it was sent is not known, or it is older than the type's retention (it may
  have been stored and deleted since).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

import attrs

from .models import Event, EventTrigger, source_guid
from .positions import ACCURACY

Verdict = Literal["accepted", "rejected", "unknown"]

#: How long after it was sent a trigger must be findable before "not found" means "did not
#: land" [profile: the store shows an accepted event within a second; generous].
DEFAULT_SETTLE = timedelta(seconds=10)
#: How far the server's clock may be from this machine's, for the sent-time window.
DEFAULT_SKEW = timedelta(seconds=5)


@attrs.frozen(kw_only=True)
class SentTrigger:
    """What is known about a trigger whose outcome is unknown.

    ``time`` is the trigger's own (explicit) time, if it had one; ``sent_from`` and
    ``sent_until`` bound, on this machine's clock, when it may have been sent (the sender
    started it no earlier than ``sent_from`` and surely not after ``sent_until``).
    """

    type: uuid.UUID
    source: str | None = None
    tag: str | None = None
    time: datetime | None = None
    sent_from: datetime | None = None
    sent_until: datetime | None = None

    @classmethod
    def of(
        cls,
        trigger: EventTrigger,
        *,
        sent_from: datetime | None = None,
        sent_until: datetime | None = None,
    ) -> SentTrigger:
        return cls(
            type=trigger.type,
            source=trigger.source,
            tag=trigger.tag,
            time=trigger.time,
            sent_from=sent_from,
            sent_until=sent_until,
        )


@attrs.frozen(kw_only=True)
class Reconciled:
    """The outcome :func:`decide` found: ``status``, the stored ``event`` when accepted, and
    ``reason`` (for every status: what the lookup showed)."""

    status: Verdict
    reason: str
    event: Event | None = None


def unrecognisable(sent: SentTrigger) -> str | None:
    """Why ``sent`` cannot be recognised among stored events, or None when it can."""
    if not sent.tag and sent.time is None:
        return (
            "it has no tag and no time, so it cannot be told apart from other events of "
            "its type: give each trigger a unique tag"
        )
    return None


def search_window(
    sent: SentTrigger, *, now: datetime, skew: timedelta = DEFAULT_SKEW
) -> tuple[datetime, datetime] | None:
    """The event times to look in (both inclusive), or None when unbounded (a tag, and no
    idea when it was sent: look it up by tag alone).

    An explicit time: that time ± 10 ms. Else the server gave it a time when it took the
    request: from ``sent_from`` to now (a request may wait in the server's queue), widened
    by ``skew`` for the two clocks.
    """
    if sent.time is not None:
        return shift(sent.time, -ACCURACY), shift(sent.time, ACCURACY)
    if sent.sent_from is not None:
        return shift(sent.sent_from, -skew), shift(now, skew)
    return None


def matches(sent: SentTrigger, event: Event, window: tuple[datetime, datetime] | None) -> bool:
    """Whether ``event`` is what ``sent`` would have stored (type, source, tag, time)."""
    if event.type != sent.type or (event.tag or None) != (sent.tag or None):
        return False
    if not _same_source(sent.source, event.source):
        return False
    return window is None or window[0] <= event.time <= window[1]


def decide(
    sent: SentTrigger,
    candidates: Iterable[Event],
    *,
    stored: bool,
    now: datetime,
    settle: timedelta = DEFAULT_SETTLE,
    skew: timedelta = DEFAULT_SKEW,
    retention: timedelta | None = None,
) -> Reconciled:
    """The outcome of ``sent``, given the stored events a lookup found.

    ``stored``: whether events of its type are stored at all (retention > 0); ``retention``
    how long they are kept, when known (None: kept for as long as it matters).
    """
    if not stored:
        return _unknown("events of its type are not stored (retention 0), so the store cannot tell")
    reason = unrecognisable(sent)
    if reason is not None:
        return _unknown(reason)
    window = search_window(sent, now=now, skew=skew)
    candidates = list(candidates)
    found = [e for e in candidates if matches(sent, e, window)]
    if len(found) == 1:
        return Reconciled(status="accepted", event=found[0], reason="found in the store")
    if found:
        ids = ", ".join(str(e.id) for e in found[:3])
        return _unknown(f"ambiguous: {len(found)} stored events match it ({ids}…)")
    elsewhen = [e for e in candidates if sent.tag and matches(sent, e, None)]
    if elsewhen:  # its unique tag, at a time it was not sent: the clocks are apart, say
        return _unknown(
            f"an event with its tag is stored at {elsewhen[0].time.isoformat()}, outside "
            "the times it may have been stored at: it may have landed"
        )
    return _not_found(sent, window, now=now, settle=settle, retention=retention)


def _not_found(
    sent: SentTrigger,
    window: tuple[datetime, datetime] | None,
    *,
    now: datetime,
    settle: timedelta,
    retention: timedelta | None,
) -> Reconciled:
    if retention is not None and window is not None and window[0] < shift(now, -retention):
        return _unknown(
            "not found, but it is older than its type's retention: it may have been "
            "stored and deleted since"
        )
    if sent.sent_until is None or window is None:  # (None: no time was looked in)
        return _unknown("not found, but when it was sent is not known")
    waited = now - sent.sent_until
    if waited < settle:
        return _unknown(
            f"not found yet: sent {_seconds(waited)} s ago; look again once "
            f"{_seconds(settle)} s have passed"
        )
    return Reconciled(
        status="rejected",
        reason=f"not found {_seconds(waited)} s after it was sent: it did not land; "
        "safe to send again",
    )


def _unknown(reason: str) -> Reconciled:
    return Reconciled(status="unknown", reason=reason)


def _same_source(wanted: str | None, stored: str | None) -> bool:
    """``cameras/<guid>`` and ``<guid>`` name the same source."""
    if not wanted or not stored:
        return not wanted and not stored
    a, b = source_guid(wanted), source_guid(stored)
    return a == b if a is not None and b is not None else wanted == stored


def shift(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, held at the first or last representable time."""
    try:
        return when + delta
    except OverflowError:
        edge = datetime.min if delta < timedelta(0) else datetime.max
        return edge.replace(tzinfo=when.tzinfo)


def _seconds(value: timedelta) -> str:
    return f"{max(value.total_seconds(), 0.0):.1f}"
