"""The fast decoders of session reads and event pages: from the answer's bytes to typed
events, in C. Pure.

Servers write every event alike (see :mod:`.canonical`). msgspec decodes a read in that
form straight from the bytes into :class:`WireEvent` structs (GUIDs and times parsed in
C, about a sixth of what ``orjson.loads`` plus :func:`.wire.event_from_wire` costs), and
each becomes an :class:`~xprotect_events.Event` only when a consumer asks for it
(:attr:`SessionChange.event <xprotect_events.SessionChange.event>`); a page of
``GET /events`` (:func:`page_forms`) becomes its events as ``list_events`` yields them, a
slice at a time (:func:`as_events`).

Anything else goes to the checked decoder (``orjson`` and :func:`.wire.session_read_from_wire`),
which decides with the same result for what both accept and raises :class:`ProtocolError`
for what is malformed. What the fast path accepts is exactly what gives the same events
there: an event with a key it does not know (which goes to ``extra``), with ``data``
(whose numbers msgspec and orjson read differently), with a time that is not UTC or a
type that is not a GUID falls back, for the whole read. So a malformed event is refused
where it always was: when its read is decoded, before any of its events is yielded.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol, cast

import msgspec

from .canonical import canonical_guid
from .models import Event, EventPage, SessionRead, event_of_form
from .wire import event_page_from_wire, json_body, session_read_from_wire


class WireEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An event in the canonical form, as msgspec decodes it: a
    :class:`~.models.WireForm`, made an :class:`Event` on demand
    (:func:`.models.event_of_form`)."""

    id: uuid.UUID
    time: datetime
    type_text: str = msgspec.field(name="type")
    source: str | None = None
    tag: str | None = None
    datatype: str | None = None

    @property
    def type(self) -> uuid.UUID:
        """The event type (each text parsed once: see :func:`types_ok`)."""
        return types_seen[self.type_text]


#: How many decoded events are made objects at a time (a session's changes, the events
#: ``list_events`` yields): a whole read of them would outlive the cyclic GC's young
#: generation, and each full collection walks the whole process (1-2 us an event).
SLICE = 100

#: A decoded event: typed already (checked decoder) or on demand (fast decoder).
AnyEvent = Event | WireEvent


class _ReadData(msgspec.Struct):
    newEvents: list[WireEvent] | None = None  # the wire's names
    deletedEvents: list[WireEvent] | None = None


class _Read(msgspec.Struct):
    data: _ReadData


_READ = msgspec.json.Decoder(_Read)


class _Links(msgspec.Struct):
    next: str | None = None
    prev: str | None = None


class _Page(msgspec.Struct):
    array: list[WireEvent]
    links: _Links | None = msgspec.field(default=None, name="_links")


_PAGE = msgspec.json.Decoder(_Page)


class FastRead:
    """One session read: the new and the deleted events, typed or on demand."""

    __slots__ = ("deleted_events", "new_events")

    def __init__(self, new_events: list[AnyEvent], deleted_events: list[AnyEvent]) -> None:
        self.new_events = new_events
        self.deleted_events = deleted_events


def session_read(raw: bytes) -> FastRead:
    """A session read from the answer's bytes: the fast decoder, else the checked one."""
    read = _fast_read(raw)
    if read is not None:
        return read
    checked: SessionRead = session_read_from_wire(json_body(raw))
    return FastRead(list(checked.new_events), list(checked.deleted_events))


class FastPage:
    """One page of ``GET /events``: its events, typed or on demand (:func:`as_events`),
    and its links."""

    __slots__ = ("events", "next", "prev")

    def __init__(self, events: list[AnyEvent], next: str | None, prev: str | None) -> None:
        self.events = events
        self.next = next
        self.prev = prev


def event_page(raw: bytes) -> EventPage:
    """A page of ``GET /events`` from the answer's bytes, its events built."""
    page = page_forms(raw)
    return EventPage(events=as_events(page.events), next=page.next, prev=page.prev)


def page_forms(raw: bytes) -> FastPage:
    """A page of ``GET /events`` from the answer's bytes: the fast decoder (the same
    rules as :func:`session_read`), else :func:`.wire.event_page_from_wire`."""
    try:
        page = _PAGE.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        page = None
    if page is None or not (_all_utc(page.array) and types_ok(page.array)):
        checked = event_page_from_wire(json_body(raw))
        return FastPage(list(checked.events), checked.next, checked.prev)
    links = page.links or _Links()
    return FastPage(cast("list[AnyEvent]", page.array), links.next or None, links.prev or None)


def as_events(events: Iterable[AnyEvent]) -> list[Event]:
    """Each event as an :class:`Event` (a wire form built now)."""
    return [event if type(event) is Event else event_of_form(event) for event in events]


def _fast_read(raw: bytes) -> FastRead | None:
    try:
        data = _READ.decode(raw).data
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    new = data.newEvents or []
    deleted = data.deletedEvents or []
    if not (_all_utc(new) and _all_utc(deleted) and types_ok(new) and types_ok(deleted)):
        return None
    return FastRead(cast("list[AnyEvent]", new), cast("list[AnyEvent]", deleted))


def _all_utc(events: list[WireEvent]) -> bool:
    # msgspec keeps an offset or no zone as written; the checked decoder turns either into
    # UTC. Only UTC times (``Z``, ``+00:00``) are the same through both.
    return _UTC_ONLY.issuperset(map(_ZONE, events))


#: The event types seen, by their text (bounded: a system has few event types); read by
#: :mod:`.ws_typed` too.
types_seen: dict[str, uuid.UUID] = {}
_TYPES_MAX = 4096
_TYPE_TEXT = operator.attrgetter("type_text")
_ZONE = operator.attrgetter("time.tzinfo")
_UTC_ONLY = frozenset((UTC,))


class TypeText(Protocol):
    """A decoded event whose type is still its text."""

    @property
    def type_text(self) -> str: ...


def types_ok(events: Sequence[TypeText]) -> bool:
    """Whether every type is a GUID, each distinct text parsed once and remembered for
    good (wire events not yet made Events read it). Past the bound, or not a GUID in a
    form both decoders read alike: the checked decoder decides."""
    for text in set(map(_TYPE_TEXT, events)).difference(types_seen):
        guid = canonical_guid(text)
        if guid is None or len(types_seen) >= _TYPES_MAX:
            return False
        types_seen[text] = guid
    return True
