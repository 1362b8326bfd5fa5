"""``client.reconcile``: look ``unknown`` triggers up in the store and settle what landed.

For each ``unknown`` result (sent, no usable answer) the store is asked what it holds in a
time window around when the trigger was sent (``GET /events`` with ``time gt``/``lt``; the
REST API filters only time and source, so type, source and tag are compared here), and
:func:`xprotect_events.reconcile.decide` gives the verdict: ``accepted`` with the stored
event, ``rejected`` (not found after ``settle`` seconds: it did not land, safe to send
again; the error is a :class:`ReconcileError`), or still ``unknown`` with the reason in a
:class:`ReconcileError`.

Whether a type is stored: the API does not publish retention, and a type with retention 0
is triggered (rules run) but never stored, so "not found" proves nothing for it. Pass
``stored_types`` when you know them; otherwise a type counts as stored only with evidence
from the store: an event of that type found in the windows looked in, or an accepted
result of that type (in ``results``) that ``GET /events/{id}`` returns. Without evidence
the result stays ``unknown`` ("cannot tell whether events of its type are stored").
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from . import listing, wire
from .accounting import TriggerResult
from .checks import read_list
from .core import Core
from .errors import InvalidInputError, NotFoundError, ReconcileError, shown
from .models import Event, EventTrigger
from .options import list_query, stored_type_ids
from .reconcile import DEFAULT_SETTLE, DEFAULT_SKEW, SentTrigger, Verdict, decide, search_window

Window = tuple[datetime, datetime]


async def reconcile(
    core: Core,
    results: Iterable[TriggerResult],
    *,
    stored_types: Iterable[uuid.UUID | str] | None = None,
    settle: timedelta = DEFAULT_SETTLE,
    skew: timedelta = DEFAULT_SKEW,
    wait: bool = True,
) -> list[TriggerResult]:
    """``results`` in the same order, each ``unknown`` one settled where the store can tell.

    ``wait``: first wait until ``settle`` has passed since the last of them was sent (else
    the ones sent too recently stay ``unknown``: "not found yet").
    """
    results = read_list("results", results)
    for result in results:
        if not isinstance(result, TriggerResult):
            raise InvalidInputError(f"reconcile takes TriggerResults, got {shown(result)}")
    todo = [
        (n, r)
        for n, r in enumerate(results)
        if r.status == "unknown" and isinstance(r.trigger, EventTrigger)
    ]
    if not todo:
        return results
    known = None if stored_types is None else stored_type_ids(stored_types)
    if wait:
        await _settle([r for _, r in todo], settle)
    now = datetime.now(UTC)
    sent = {n: _sent(r) for n, r in todo}
    found = await _stored_events(core, _query_windows(sent.values(), now, settle, skew))
    stored = known if known is not None else await _evidence(core, results, found)
    by_key: dict[tuple[uuid.UUID, str | None], list[Event]] = defaultdict(list)
    for event in found:
        by_key[(event.type, event.tag or None)].append(event)
    out = list(results)
    for n, r in todo:
        s = sent[n]
        candidates = by_key.get((s.type, s.tag or None), [])
        verdict = decide(s, candidates, stored=s.type in stored, now=now, settle=settle, skew=skew)
        reason = verdict.reason
        if s.type not in stored and known is None:
            reason = (
                "cannot tell whether events of its type are stored (none found in the "
                "store): pass stored_types"
            )
        out[n] = _settled(r, verdict.status, reason, verdict.event)
    return out


def _sent(result: TriggerResult) -> SentTrigger:
    trigger = result.trigger
    if not isinstance(trigger, EventTrigger):  # pragma: no cover - filtered by the caller
        raise TypeError("not a trigger")
    return SentTrigger.of(trigger, sent_from=result.sent_from, sent_until=result.sent_until)


def _settled(
    result: TriggerResult, status: Verdict, reason: str, event: Event | None
) -> TriggerResult:
    if status == "accepted" and event is not None:
        answer = wire.event_to_wire(event)
        return attrs.evolve(result, status="accepted", error=None, answer=answer)
    error = ReconcileError(reason, cause=result.error)
    return attrs.evolve(result, status=status, error=error)


async def _settle(todo: Sequence[TriggerResult], settle: timedelta) -> None:
    last = max((r.sent_until for r in todo if r.sent_until is not None), default=None)
    if last is None:
        return
    wait = (last + settle - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait)


def _query_windows(
    sent: Iterable[SentTrigger], now: datetime, settle: timedelta, skew: timedelta
) -> list[Window]:
    """The time ranges to list, overlapping windows merged (a window ends at most
    ``settle + skew`` after the trigger was last possibly sent, not at ``now``)."""
    windows: list[Window] = []
    for s in sent:
        window = search_window(s, now=now, skew=skew)
        if window is None:
            continue
        start, end = window
        if s.time is None and s.sent_until is not None:
            end = min(end, s.sent_until + settle + skew)
        windows.append((start, end))
    windows.sort()
    merged: list[Window] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


async def _stored_events(core: Core, windows: Sequence[Window]) -> list[Event]:
    """Every stored event in the windows (``GET /events``, as ``list_events`` reads it)."""
    found: list[Event] = []
    size = core.profile.max_page_size
    for start, end in windows:
        edge = timedelta(microseconds=1)  # the API's bounds are exclusive
        query = list_query({"since": start - edge, "until": end + edge, "page_size": size}, size)
        found += [event async for event in listing.list_events(core, query)]
    return found


async def _evidence(
    core: Core, results: Sequence[TriggerResult], found: Iterable[Event]
) -> set[uuid.UUID]:
    """The types the store shows are stored: found in the windows, or an accepted result of
    the type that the store returns by id (one ``GET`` per type without other evidence)."""
    stored = {event.type for event in found}
    wanted = {
        r.trigger.type
        for r in results
        if r.status == "unknown" and isinstance(r.trigger, EventTrigger)
    }
    for r in results:
        trigger = r.trigger
        if r.status != "accepted" or not isinstance(trigger, EventTrigger):
            continue
        if trigger.type not in wanted or trigger.type in stored or r.answer is None:
            continue
        try:
            await core.call("GET", f"/events/{r.answer['id']}", wire.event_in_data)
        except NotFoundError:
            wanted.discard(trigger.type)  # accepted but not stored: retention 0
            continue
        stored.add(trigger.type)
    return stored
