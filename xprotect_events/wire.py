"""The wire format: the converter, envelopes and error bodies (times and JSON text are
:mod:`.jsontext`'s, re-exported here). Pure: no I/O.

Every decoder here raises :class:`ProtocolError` (never ``KeyError``/``TypeError``) when the
server's answer does not have the documented shape; the I/O layers add the method and path.
"""

from __future__ import annotations

import contextlib
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

import attrs
import msgspec

from .canonical import canonical_event, canonical_guid, canonical_time
from .checks import is_int, json_data
from .errors import ErrorDetail, InvalidInputError, ProtocolError
from .jsontext import dumps as dumps
from .jsontext import format_time as format_time
from .jsontext import json_body as json_body
from .jsontext import loads as loads
from .jsontext import parse_time as parse_time
from .jsontext import try_dumps as try_dumps
from .models import Event, EventPage, EventTrigger, SessionRead, Token, to_uuid

T = TypeVar("T")

# --------------------------------------------------------------------------- the converter

_EVENT_KEYS = frozenset(("id", "time", "type", "source", "tag", "datatype", "data"))


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ProtocolError(f"event field {key!r} must be a string or null, got {type(value).__name__}")


def event_from_wire(d: Any) -> Event:
    """An :class:`Event` from its JSON object. Unknown fields land in ``extra``.

    The canonical form servers write is decoded by :func:`.canonical.canonical_event`;
    anything else by :func:`checked_event_from_wire`, with the same result for what both
    accept (a :class:`ProtocolError` for what is malformed, at once).
    """
    event = canonical_event(d)
    return checked_event_from_wire(d) if event is None else event


def checked_event_from_wire(d: Any) -> Event:
    """:func:`event_from_wire` checking every field, for any form of the object."""
    if not isinstance(d, dict):
        raise ProtocolError(f"expected an event object, got {type(d).__name__}")
    try:
        raw_id, raw_time, raw_type = d["id"], d["time"], d["type"]
    except KeyError as exc:
        raise ProtocolError(f"event object has no {exc.args[0]!r}") from None
    data = d.get("data")
    if data is not None and not isinstance(data, dict):
        raise ProtocolError(f"event data must be an object, got {type(data).__name__}")
    return Event(
        id=guid_from_wire(raw_id, "id"),
        time=_event_time(raw_time),
        type=_type_id(raw_type),
        source=_opt_str(d, "source"),
        tag=_opt_str(d, "tag"),
        datatype=_opt_str(d, "datatype"),
        data=data,
        extra=_extra(d),
    )


# Fast paths for event_from_wire (streams decode many thousand events a second).
_TYPE_IDS: dict[str, uuid.UUID] = {}  # event types repeat: parse each GUID once


def _event_time(text: Any) -> datetime:
    """:func:`parse_time`, at once for the form servers write (``…:SS.fffffffZ``)."""
    value = canonical_time(text)
    return parse_time(text) if value is None else value


def _extra(d: dict[str, Any]) -> dict[str, Any]:
    if d.keys() <= _EVENT_KEYS:
        return {}
    return {k: v for k, v in d.items() if k not in _EVENT_KEYS}


def _type_id(value: Any) -> uuid.UUID:
    known = _TYPE_IDS.get(value) if isinstance(value, str) else None
    if known is None:
        known = guid_from_wire(value, "type")
        if len(_TYPE_IDS) < 1024:
            _TYPE_IDS[value] = known
    return known


def guid_from_wire(value: Any, what: str) -> uuid.UUID:
    """A UUID from a GUID string of an answer; a :class:`ProtocolError` otherwise."""
    if isinstance(value, str):
        with contextlib.suppress(InvalidInputError):
            return to_uuid(value, what)
    raise ProtocolError(f"event {what} must be a GUID string, got {value!r}")


def event_to_wire(event: Event) -> dict[str, Any]:
    """The JSON object of an event (``data`` only when the event has it)."""
    out: dict[str, Any] = dict(event.extra)
    out.update(
        id=str(event.id),
        time=format_time(event.time),
        type=str(event.type),
        source=event.source,
        tag=event.tag,
        datatype=event.datatype,
    )
    if event.data is not None:
        out["data"] = event.data
    return out


_TYPE_TEXT: dict[int, str] = {}
_TRIGGER_FIELDS = attrgetter("type", "source", "datatype", "tag", "time", "data")


def _type_text(type_id: uuid.UUID) -> str:
    """``str(type_id)``, remembered: a system has few event types, a batch many events.
    (Keyed by the 128-bit int: a UUID's own ``__hash__`` is Python code.)"""
    text = _TYPE_TEXT.get(type_id.int)
    if text is None:
        if len(_TYPE_TEXT) >= 4096:
            _TYPE_TEXT.clear()
        text = _TYPE_TEXT[type_id.int] = str(type_id)
    return text


#: What an answer that echoes a trigger repeats of its body: type, source, tag, datatype.
Echo = tuple[str, str | None, str | None, str | None]


class _PlainBody(msgspec.Struct, omit_defaults=True, gc=False):
    """:func:`trigger_to_wire` of a trigger without time or data: the same keys, in order."""

    type: str
    source: str | None
    datatype: str | None
    tag: str | None = None


_ENCODER = msgspec.json.Encoder()


def plain_triggers_json(triggers: Sequence[EventTrigger]) -> tuple[bytes, list[Echo]] | None:
    """The JSON array of triggers none of which has a time or data (the same bytes as
    ``orjson.dumps`` of their :func:`trigger_to_wire`, written by msgspec from structs), and
    what an echo of each repeats; None if one has a time or data, or text JSON cannot carry
    (a lone surrogate)."""
    bodies: list[_PlainBody] = []
    echoes: list[Echo] = []
    for type_id, source, datatype, tag, time, data in map(_TRIGGER_FIELDS, triggers):
        if time is not None or data is not None:
            return None
        text = _TYPE_TEXT.get(type_id.int) or _type_text(type_id)
        bodies.append(_PlainBody(text, source, datatype, tag))
        echoes.append((text, source, tag, datatype))
    try:
        return _ENCODER.encode(bodies), echoes
    except UnicodeEncodeError:
        return None


def triggers_to_wire(
    triggers: Sequence[EventTrigger],
) -> tuple[list[dict[str, Any]], list[Echo]]:
    """:func:`trigger_to_wire` of each trigger, and what an echo of each repeats. A trigger
    without time or data (the common case) is written here, in the same keys and order."""
    bodies: list[dict[str, Any]] = []
    echoes: list[Echo] = []
    fields = map(_TRIGGER_FIELDS, triggers)
    for trigger, (type_id, source, datatype, tag, time, data) in zip(triggers, fields, strict=True):
        text = _TYPE_TEXT.get(type_id.int) or _type_text(type_id)
        if time is not None or data is not None:
            bodies.append(trigger_to_wire(trigger))
        elif tag is None:
            bodies.append({"type": text, "source": source, "datatype": datatype})
        else:
            bodies.append({"type": text, "source": source, "datatype": datatype, "tag": tag})
        echoes.append((text, source, tag, datatype))
    return bodies, echoes


_TRIGGER_SLOTS = tuple(EventTrigger.__dict__[f.name] for f in attrs.fields(EventTrigger))


def plain_trigger(trigger: EventTrigger) -> EventTrigger:
    """``trigger`` if it is an :class:`EventTrigger`; a subclass's fields read from the
    slots EventTrigger keeps them in (not through its own properties or
    ``__getattribute__``) and checked again as a new EventTrigger: a subclass's own
    ``__init__`` (an attrs one, say) stores what it is given unchecked."""
    if type(trigger) is EventTrigger:
        return trigger
    try:
        type_, source, time, datatype, tag, data = (s.__get__(trigger) for s in _TRIGGER_SLOTS)
    except AttributeError:  # a slot its __init__ never set
        raise InvalidInputError(f"the {type(trigger).__name__} has unset fields") from None
    return EventTrigger(type=type_, source=source, time=time, datatype=datatype, tag=tag, data=data)


def trigger_to_wire(trigger: EventTrigger) -> dict[str, Any]:
    """The JSON body of a trigger POST. ``datatype`` is required but may be null [seed].
    ``data`` is checked again as it is now: it is the caller's mapping, which may have
    changed since the trigger was made (:class:`InvalidInputError`, nothing sent); a
    subclass's fields are checked again (:func:`plain_trigger`)."""
    trigger = plain_trigger(trigger)
    body: dict[str, Any] = {
        "type": _type_text(trigger.type),
        "source": trigger.source,
        "datatype": trigger.datatype,
    }
    if trigger.time is not None:
        body["time"] = format_time(trigger.time)
    if trigger.tag is not None:
        body["tag"] = trigger.tag
    if trigger.data is not None:
        json_data(trigger.data)
        body["data"] = trigger.data
    return body


# --------------------------------------------------------------------------- envelopes


def member(body: Any, key: str, kind: type[T]) -> T:
    """``body[key]``, checked to be a ``kind``; a :class:`ProtocolError` otherwise."""
    if not isinstance(body, dict):
        raise ProtocolError(f"expected a JSON object with {key!r}, got {type(body).__name__}")
    value = body.get(key)
    if not isinstance(value, kind):
        raise ProtocolError(f"expected {key!r} to be {kind.__name__}, got {type(value).__name__}")
    return value


def data_envelope(body: Any) -> Any:
    """The ``data`` member of ``{"data": …}``."""
    return member(body, "data", dict)


def array_envelope(body: Any) -> list[Any]:
    """The ``array`` member of ``{"array": […]}``."""
    return member(body, "array", list)


def event_in_data(body: Any) -> Event:
    """The event of ``{"data": event}``."""
    return event_from_wire(data_envelope(body))


def session_id_from_wire(body: Any) -> str:
    """The id of a created event session, ``{"id": "<guid>"}``: 32 hex digits, with the four
    dashes or none (no blanks, braces or ``urn:uuid:``: it goes into every read's path)."""
    value = member(body, "id", str)
    guid = canonical_guid(value)
    if guid is None or value.lower() not in (str(guid), guid.hex):
        raise ProtocolError(f"the session id is not a GUID: {value[:100]!r}")
    return value


def event_page_from_wire(body: Any) -> EventPage:
    """``{"_links": {"next", "prev"}, "array": [event…]}``; a missing ``next`` is the last page."""
    events = [event_from_wire(e) for e in array_envelope(body)]
    links = body.get("_links")
    if links is None:
        links = {}
    if not isinstance(links, dict):
        raise ProtocolError("'_links' must be an object")
    nxt, prev = links.get("next"), links.get("prev")
    if not isinstance(nxt, str | None) or not isinstance(prev, str | None):
        raise ProtocolError("'_links' members must be strings")
    return EventPage(events=events, next=nxt or None, prev=prev or None)


def session_read_from_wire(body: Any) -> SessionRead:
    """``{"data": {"newEvents": […], "deletedEvents": […]}}``."""
    data = data_envelope(body)
    new = data.get("newEvents")
    deleted = data.get("deletedEvents")
    new = [] if new is None else new
    deleted = [] if deleted is None else deleted
    if not isinstance(new, list) or not isinstance(deleted, list):
        raise ProtocolError("session read 'newEvents'/'deletedEvents' must be arrays")
    return SessionRead(
        new_events=[event_from_wire(e) for e in new],
        deleted_events=[event_from_wire(e) for e in deleted],
    )


#: The longest token lifetime taken, in seconds (ten years); a longer ``expires_in`` is a
#: ProtocolError: no identity provider means it, and its expiry date would overflow.
MAX_TOKEN_LIFETIME = 10 * 366 * 86400
#: A ``token_type`` short and plain enough to name in an error (anything else is not shown).
_WORD = re.compile(r"[A-Za-z0-9_.-]{1,20}")


def token_from_wire(body: Any) -> Token:
    """The identity provider's token answer."""
    access = member(body, "access_token", str)
    if not access.strip() or not access.isprintable():  # a header cannot carry CR, LF …
        # (the token itself is never shown)
        raise ProtocolError("token answer's 'access_token' is empty or not a header value")
    expires = body.get("expires_in", 3600)
    if isinstance(expires, str):
        expires = int_or_none(expires)
    if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= 0:
        raise ProtocolError("token answer has no valid 'expires_in'")
    try:
        lifetime = float(expires)
    except OverflowError:  # 400 digits: no float holds it
        lifetime = math.inf
    if not lifetime <= MAX_TOKEN_LIFETIME:  # (NaN too) no clock or date would hold it
        raise ProtocolError("token answer's 'expires_in' is out of range (over ten years)")
    scope = body.get("scope")
    return Token(
        access_token=access,
        expires_in=lifetime,
        token_type=_bearer(body.get("token_type")),
        scope=scope if isinstance(scope, str) else None,
    )


def _bearer(token_type: Any) -> str:
    """The answer's ``token_type``: Bearer in any case, or none (Bearer). A token of another
    type is not used (RFC 6749 7.1): the client sends only ``Authorization: Bearer``."""
    if token_type is None or token_type == "":
        return "Bearer"
    if isinstance(token_type, str) and token_type.strip().lower() == "bearer":
        return token_type
    plain = isinstance(token_type, str) and _WORD.fullmatch(token_type)
    named = f" {token_type!r}" if plain else ""  # anything else is not shown
    raise ProtocolError(
        f"token answer's 'token_type'{named} is not Bearer, the only kind the client sends"
    )


# ----------------------------------------------------------------------- numbers, error bodies


def int_or_none(value: Any) -> int | None:
    """An int from an int or a string of ASCII digits; None for anything else."""
    if is_int(value):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        try:
            return int(value)
        except ValueError:  # more digits than int() converts
            return None
    return None


def error_body_to_wire(http_code: int, *details: ErrorDetail) -> dict[str, Any]:
    """The wrapped error body, as the server sends it (used by the simulator)."""
    items = []
    for d in details:
        item = {"errorText": d.error_text}
        if d.error_text_id:
            item["errorTextId"] = d.error_text_id
        if d.property_name:
            item["propertyName"] = d.property_name
        items.append(item)
    return {"error": {"httpCode": http_code, "details": items}}
