"""The bodies of one ``POST /events/batch`` to its answer, in order: each trigger's event or
its error [profile].

Two readers give the same answers (a test holds them equal). :func:`plain_bodies` takes
the common batch: an array of objects whose fields are the trigger's own strings or null,
with no data and no other field; msgspec reads and types it in C. :func:`accept_plain`
then takes a body whose (type, source) pair already passed every check for this token
(:meth:`~.directory.Directory.checked_pairs`) without a call per check, builds a record
only when the event may be stored or the WebSocket room wants it, and writes the answer
item as a struct; a batch of such bodies that needs no record is answered by C loops.
Everything else (data, an unknown field, a wrong type) goes to :func:`accept_batch` over
``orjson``'s parse, body by body through :class:`~.triggers.TriggerBatch`.
"""

from __future__ import annotations

import operator
from itertools import repeat
from typing import Annotated, Any, cast

import msgspec

from ..models import MAX_TAG_LENGTH
from .directory import Checked, Identity
from .helpers import error_body
from .records import SEQ_BITS, Record
from .rejected import Rejected
from .state import SimState
from .store import EventStore
from .triggers import TriggerBatch


class Plain(msgspec.Struct, forbid_unknown_fields=True):
    """A trigger body :func:`plain_bodies` takes (a tag too long is not one)."""

    type: str
    source: str | None = None
    datatype: str | None = None
    tag: Annotated[str, msgspec.Meta(max_length=MAX_TAG_LENGTH)] | None = None
    time: str | None = None
    data: None = None


class Accepted(msgspec.Struct):
    """The answer item of an accepted plain trigger: ``Record.to_wire``'s keys, in order."""

    id: str
    time: str
    type: str
    source: str | None
    tag: str | None
    datatype: None


_PLAIN = msgspec.json.Decoder(list[Plain])
_ENCODER = msgspec.json.Encoder()


def plain_bodies(raw: bytes) -> list[Plain] | None:
    """The bodies of a plain batch, or None (not JSON, not plain: the checked reader's)."""
    try:
        return _PLAIN.decode(raw)
    except msgspec.DecodeError:  # ValidationError included
        return None


def encode_answer(items: list[Any]) -> bytes:
    """The answer body of :func:`accept_plain`'s items."""
    return _ENCODER.encode({"array": items})


#: What a plain body of a (type, source) pair that passed every check comes to: the
#: record's type, source and source GUID, and whether the event needs a record.
_Plan = tuple[str, str | None, str | None, bool]


def accept_plain(state: SimState, who: Identity, bodies: list[Plain], now_us: int) -> list[Any]:
    """:func:`accept_batch` of plain bodies: the same answer, less work per body."""
    batch = TriggerBatch(who, state.directory, now_us)
    store = state.store
    ids = store.new_uids(len(bodies))
    known = _all_known(batch, store, bodies, ids.texts)
    if known is not None:
        state.stats.events_accepted += len(known)
        return known
    texts, now_text, key = ids.texts, batch.now_text, now_us << SEQ_BITS
    plans: dict[tuple[str, str | None], _Plan] = {}
    out: list[Any] = []
    passed = 0  # events numbered by store.pass_by, in one call before the next admit
    for i, body in enumerate(bodies):
        pair = (body.type, body.source)
        plan = plans.get(pair) if body.time is None and body.datatype is None else None
        if plan is None:
            store.pass_by(passed)
            passed = 0
            out.append(_checked(batch, state, _as_dict(body), ids.uid(i)))
            _learn(plans, pair, batch, store)
            continue
        type_id, source, guid, needed = plan
        if needed:
            store.pass_by(passed)
            passed = 0
            rec = Record(key, 0, type_id, source, guid, body.tag, None, None)
            store.admit(rec, now_us, ids.uid(i))
        else:
            passed += 1
        out.append(Accepted(texts[i], now_text, type_id, source, body.tag, None))
    store.pass_by(passed)
    state.stats.events_accepted += sum(1 for item in out if type(item) is Accepted or "id" in item)
    return out


_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
_PAIR = operator.attrgetter("type", "source")
_OWN = operator.attrgetter("time", "datatype")
_TAG = operator.attrgetter("tag")
_NONE = {(None, None)}


def _all_known(
    batch: TriggerBatch, store: EventStore, bodies: list[Plain], texts: list[str]
) -> list[Any] | None:
    """The answer of a batch whose pairs all passed every check before, none needing a
    record and none with a time or datatype of its own (the steady state of an injector),
    made by C loops with no Python step per body; None for any other batch."""
    if not set(map(_OWN, bodies)) <= _NONE:
        return None
    found = list(map(batch.checked.get, map(_PAIR, bodies)))
    if None in found:
        return None
    plans = cast(list[Checked], found)
    if any(map(store.needs_record, set(map(_FIRST, plans)))):
        return None
    store.pass_by(len(bodies))
    now = repeat(batch.now_text)
    types, sources = map(_FIRST, plans), map(_SECOND, plans)
    return list(map(Accepted, texts, now, types, sources, map(_TAG, bodies), repeat(None)))


def _learn(
    plans: dict[tuple[str, str | None], _Plan],
    pair: tuple[str, str | None],
    batch: TriggerBatch,
    store: EventStore,
) -> None:
    """The plan of a pair whose plain body just passed every check (none if it did not)."""
    known = batch.known(*pair)
    if known is not None and pair not in plans:
        plans[pair] = (*known, store.needs_record(known[0]))


def accept_batch(state: SimState, who: Identity, bodies: list[Any], now_us: int) -> list[Any]:
    """Validate and store each trigger of a batch, in order; its event or its error."""
    batch = TriggerBatch(who, state.directory, now_us)
    out = [_checked(batch, state, body) for body in bodies]
    state.stats.events_accepted += sum(1 for item in out if "id" in item)
    return out


def _checked(batch: TriggerBatch, state: SimState, body: Any, uid: int | None = None) -> Any:
    """One body through every check: its stored event's JSON object, or its error."""
    try:
        record = batch.record(body)
    except Rejected as exc:
        return error_body(exc.status, exc.text, exc.text_id)
    state.store.admit(record, batch.now_us, uid)
    return record.to_wire(True, batch.time_of(record))


def _as_dict(body: Plain) -> dict[str, Any]:
    return {f: getattr(body, f) for f in body.__struct_fields__}
