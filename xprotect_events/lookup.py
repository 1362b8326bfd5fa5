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
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from . import listing, wire
from .accounting import TriggerResult
from .checks import aware, boolean, read_list
from .core import Core
from .errors import InvalidInputError, NotFoundError, ReconcileError, shown
from .models import Event, EventTrigger, to_uuid
from .options import list_query, settle_seconds, stored_type_ids
from .reconcile import (
    DEFAULT_SETTLE,
    DEFAULT_SKEW,
    Reconciled,
    SentTrigger,
    Verdict,
    decide,
    search_window,
    shift,
)

Window = tuple[datetime, datetime]
#: Stored events by (type, tag).
Found = dict[tuple[uuid.UUID, str | None], list[Event]]


async def reconcile(
    core: Core,
    results: Iterable[TriggerResult],
    *,
    stored_types: Iterable[uuid.UUID | str] | None = None,
    settle: timedelta = DEFAULT_SETTLE,
    skew: timedelta = DEFAULT_SKEW,
    wait: bool = True,
    claimed: Iterable[uuid.UUID] = (),
) -> list[TriggerResult]:
    """``results`` in the same order, each ``unknown`` one settled where the store can tell.

    ``wait``: first wait until ``settle`` has passed since the last of them was sent (else
    the ones sent too recently stay ``unknown``: "not found yet"). ``claimed``: the events
    other triggers are known to hold (as the accepted ones among ``results`` do; an
    earlier run's): never taken for these.
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
    sent = {n: _sent(n, r) for n, r in todo}
    if wait:
        await _settle(sent.values(), settle)
    now = datetime.now(UTC)
    found = await _stored_events(core, _query_windows(sent.values(), now, settle, skew))
    wanted = {s.type for s in sent.values()}
    stored = known if known is not None else await _evidence(core, results, found, wanted)
    held = {_event_id(r.answer) for r in results if r.status == "accepted"}
    by_key = _by_key(found, claimed=held.union(claimed))
    verdicts = {
        n: _verdict(s, by_key, stored, known is None, now=now, settle=settle, skew=skew)
        for n, s in sent.items()
    }
    out = list(results)
    for n, v in _unshared(verdicts).items():
        out[n] = _settled(out[n], v.status, v.reason, v.event)
    return out


async def reconcile_checked(
    core: Core,
    results: Iterable[TriggerResult],
    stored_types: Iterable[uuid.UUID | str] | None,
    settle: float,
    wait: bool,
) -> list[TriggerResult]:
    """``client.reconcile``: :func:`reconcile` with ``stored_types``, ``settle`` (seconds
    >= 0) and ``wait`` checked first (each an :class:`InvalidInputError`), then
    ``results``."""
    known = None if stored_types is None else stored_type_ids(stored_types)
    seconds = timedelta(seconds=settle_seconds(settle))
    return await reconcile(
        core, results, stored_types=known, settle=seconds, wait=boolean("wait", wait)
    )


def _by_key(found: Iterable[Event], claimed: AbstractSet[object]) -> Found:
    """The events found by (type, tag), but those another result (``claimed``) holds."""
    by_key: Found = defaultdict(list)
    for event in found:
        if event.id not in claimed:
            by_key[(event.type, event.tag or None)].append(event)
    return by_key


def _verdict(
    sent: SentTrigger,
    found: Found,
    stored: AbstractSet[uuid.UUID],
    guessed: bool,
    **rules: Any,
) -> Reconciled:
    """:func:`decide` for one trigger, among the events ``found`` by type and tag
    (``guessed``: ``stored`` is only what the store showed)."""
    if sent.type not in stored and guessed:
        return Reconciled(
            status="unknown",
            reason="cannot tell whether events of its type are stored (none found in the "
            "store): pass stored_types",
        )
    candidates = found.get((sent.type, sent.tag or None), [])
    return decide(sent, candidates, stored=sent.type in stored, **rules)


def _unshared(verdicts: dict[int, Reconciled]) -> dict[int, Reconciled]:
    """The verdicts; those that found the same stored event for more than one trigger made
    ``unknown``: one event cannot be the landing of two triggers."""
    finders = Counter(v.event.id for v in verdicts.values() if v.event is not None)
    out = dict(verdicts)
    for n, v in verdicts.items():
        if v.event is not None and finders[v.event.id] > 1:
            out[n] = Reconciled(
                status="unknown",
                reason=f"ambiguous: the stored event {v.event.id} matches "
                f"{finders[v.event.id]} of these triggers: give each trigger a unique tag",
            )
    return out


def _sent(number: int, result: TriggerResult) -> SentTrigger:
    """What is known of the trigger of unknown result ``number``; its sent times checked (a
    result the caller made may hold anything): aware datetimes, from not after until."""
    trigger = result.trigger
    if not isinstance(trigger, EventTrigger):  # pragma: no cover - filtered by the caller
        raise TypeError("not a trigger")
    what = f"results[{number}]"
    start = None if result.sent_from is None else aware(result.sent_from, f"{what}'s sent_from")
    end = None if result.sent_until is None else aware(result.sent_until, f"{what}'s sent_until")
    if start is not None and end is not None and start > end:
        raise InvalidInputError(f"{what}'s sent_from is after its sent_until: an empty window")
    plain = wire.plain_trigger(trigger)  # (a subclass: what was sent of it)
    return SentTrigger.of(plain, sent_from=start, sent_until=end)


def _settled(
    result: TriggerResult, status: Verdict, reason: str, event: Event | None
) -> TriggerResult:
    if status == "accepted" and event is not None:
        answer = wire.event_to_wire(event)
        return attrs.evolve(result, status="accepted", error=None, answer=answer)
    error = ReconcileError(reason, cause=result.error)
    return attrs.evolve(result, status=status, error=error)


async def _settle(todo: Iterable[SentTrigger], settle: timedelta) -> None:
    last = max((s.sent_until for s in todo if s.sent_until is not None), default=None)
    if last is None:
        return
    # At most ``settle``: a sent_until later than now (a result the caller made) would
    # wait that long; such a result stays "not found yet".
    wait = (shift(last, settle) - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(min(wait, settle.total_seconds()))


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
            end = min(end, shift(s.sent_until, settle + skew))
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
    """Every stored event in the windows (``GET /events``, as ``list_events`` reads it),
    each once: two windows' listings may both return one (a server that ignores the time
    filter, or rounds the bounds into each other). A window held at the first or last
    time a datetime holds is unbounded on that side."""
    found: dict[uuid.UUID, Event] = {}
    size = core.profile.max_page_size
    edge = timedelta(microseconds=1)  # the API's bounds are exclusive
    for start, end in windows:
        since = listing.short_of(start, edge, desc=False)  # None: no bound that side
        until = listing.short_of(end, edge, desc=True)
        query = list_query({"since": since, "until": until, "page_size": size}, size)
        found.update({event.id: event async for event in listing.list_events(core, query)})
    return list(found.values())


async def _evidence(
    core: Core, results: Sequence[TriggerResult], found: Iterable[Event], wanted: set[uuid.UUID]
) -> set[uuid.UUID]:
    """The types the store shows are stored: found in the windows, or an accepted result of
    the type that the store returns by id (one ``GET`` per type without other evidence)."""
    stored = {event.type for event in found}
    for r in results:
        trigger, event_id = r.trigger, _event_id(r.answer)
        if r.status != "accepted" or not isinstance(trigger, EventTrigger) or event_id is None:
            continue
        kind = wire.plain_trigger(trigger).type
        if kind not in wanted or kind in stored:
            continue
        try:
            event = await core.call("GET", f"/events/{event_id}", wire.event_in_data)
        except NotFoundError:
            wanted.discard(kind)  # accepted but not stored: retention 0
            continue
        if event.type == kind:
            stored.add(kind)
    return stored


def _event_id(answer: object) -> uuid.UUID | None:
    """The GUID of an accepted result's answer, or None (no answer, no GUID: an id that
    is not one would put whatever it holds into the path of the GET)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str):
        return None
    try:
        return to_uuid(answer["id"])
    except InvalidInputError:
        return None
