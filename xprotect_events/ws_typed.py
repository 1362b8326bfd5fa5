"""The fast decoder of a WebSocket event batch: from the frame's text to events, in C. Pure.

The server writes every pushed event alike: the REST event's keys (see :mod:`.canonical`),
``stategroupid`` on stateful events and ``specVersion`` on some ``getState`` rows
(``WIRE-WS.md``). msgspec decodes a batch ``{"events": [...]}`` in that form straight from
the frame into :class:`PushedEvent` structs (ids and times parsed in C; the type kept as its
text, each distinct text parsed once, as :mod:`.typed` does), and each becomes
an :class:`~xprotect_events.Event` at once (a live stream yields them), with
``stategroupid`` and ``specVersion`` in ``extra`` as the checked decoder puts them.

Anything else gives None and goes to the checked path (``orjson`` and
:func:`.wire.event_from_wire`, in :func:`.ws_wire.parse_frame`), which decides with the
same result for what both accept and raises :class:`ProtocolError` for what is malformed.
What the fast path accepts is exactly what gives the same events there: a command response,
an event with a key it does not know, with ``data`` (whose numbers msgspec and orjson read
differently), with a time that is not UTC or a type that is not a GUID falls back, for the
whole frame. So a malformed event is refused where it always was.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import msgspec

from .models import Event, EventParts
from .typed import WireEvent, types_ok, types_seen

_UNSET = msgspec.UNSET
_new = object.__new__
# Each Event is built as models.make_event builds it, inlined: a frame holds hundreds of
# events and a call per event is a fifth of the work.


class PushedEvent(WireEvent):
    """A pushed event in the server's form, as msgspec decodes it: a session read's
    event and the keys of stateful events (the same struct options)."""

    stategroupid: str | msgspec.UnsetType = _UNSET  # the wire's names
    specVersion: str | msgspec.UnsetType = _UNSET


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    events: list[PushedEvent]


_BATCH = msgspec.json.Decoder(_Batch)


def event_batch(frame: str | bytes) -> list[Event] | None:
    """The events of an event batch in the server's form, else None."""
    try:
        pushed = _BATCH.decode(frame).events
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeEncodeError):
        return None  # (UnicodeEncodeError: a str with a lone surrogate)
    if not types_ok(pushed):
        return None
    types = types_seen
    events: list[Event] = []
    append = events.append
    for e in pushed:
        when = e.time
        if when.tzinfo is not UTC:  # msgspec keeps an offset as written: checked decides
            return None
        event: Any = _new(EventParts)
        event.id = e.id
        event.time = when
        event.type = types[e.type_text]
        event.source = e.source
        event.tag = e.tag
        event.datatype = e.datatype
        event.data = None
        if e.stategroupid is _UNSET and e.specVersion is _UNSET:
            event.extra = {}
        else:
            event.extra = _extra(e)
        event.__class__ = Event
        append(event)
    return events


def _extra(event: PushedEvent) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if event.stategroupid is not _UNSET:
        extra["stategroupid"] = event.stategroupid
    if event.specVersion is not _UNSET:
        extra["specVersion"] = event.specVersion
    return extra
