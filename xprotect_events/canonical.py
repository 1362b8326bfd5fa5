"""The fast decoder of an event in its canonical wire form. Pure.

Servers write every event alike: exactly the keys ``id``, ``time``, ``type``, ``source``,
``tag``, ``datatype`` (and ``data`` when asked for), times with 7 fraction digits and a
``Z``, GUIDs as 32 hex digits with their dashes. :func:`canonical_event` decodes that form
with no checks beyond recognising it, and returns None for anything else, which then goes
to the checked decoder (:func:`.wire.event_from_wire`): that one decides, with the same
result for what both accept, and raises :class:`ProtocolError` for what is malformed. So
a malformed event is refused exactly where it was before, when its page is decoded.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from .models import Event, make_event

_ONE_MICROSECOND = timedelta(microseconds=1)
_new = object.__new__
_UUID = uuid.UUID
_SET_INT = uuid.UUID.__dict__["int"].__set__
_SET_SAFE = uuid.UUID.__dict__["is_safe"].__set__
_UNKNOWN = uuid.SafeUUID.unknown

#: Event types repeat: each type GUID text is parsed once (bounded).
_TYPES: dict[str, uuid.UUID] = {}
_TYPES_MAX = 1024


def canonical_guid(text: str) -> uuid.UUID | None:
    """``uuid.UUID(text)`` for a GUID written with dashes or none at all, else None.

    The same steps as ``uuid.UUID`` (drop the dashes, 32 hex digits, ``int(…, 16)``), so
    the same value whenever it gives one, built without its other forms and checks. Only
    hex digits count as digits: ``int()`` also takes ``0x``, ``_``, ``+`` and blanks, which
    the checked decoder (:func:`~xprotect_events.models.to_uuid`) refuses.
    """
    digits = text.replace("-", "")
    if len(digits) != 32 or not (digits.isascii() and digits.isalnum()):
        return None  # int() would take blanks, "_" and "+": " 81d4…" is not 081d4…
    if "x" in digits or "X" in digits:  # nor "0x…"
        return None
    try:
        value = int(digits, 16)
    except ValueError:  # not hex (braces, "urn:uuid:", …): the checked decoder decides
        return None
    guid: uuid.UUID = _new(_UUID)
    _SET_INT(guid, value)
    _SET_SAFE(guid, _UNKNOWN)
    return guid


def canonical_time(text: Any) -> datetime | None:
    """``…T12:00:00.1234567Z`` as an aware UTC datetime (the 7th digit rounds half up, as
    :func:`.wire.parse_time` does), else None."""
    if type(text) is not str or len(text) != 28 or text[27] != "Z" or text[19] != ".":
        return None
    try:
        value = datetime.fromisoformat(text)  # keeps 6 digits, drops the 7th
    except ValueError:
        return None
    last = text[26]
    if last < "5":
        return value if last >= "0" else None
    if last > "9":
        return None
    try:
        return value + _ONE_MICROSECOND
    except OverflowError:  # 9999-12-31T23:59:59.9999995Z
        return None


def canonical_type(text: Any) -> uuid.UUID | None:
    """:func:`canonical_guid`, remembered per text (a system has few event types)."""
    if type(text) is not str:
        return None
    known = _TYPES.get(text)
    if known is None:
        known = canonical_guid(text)
        if known is not None and len(_TYPES) < _TYPES_MAX:
            _TYPES[text] = known
    return known


def canonical_event(d: Any) -> Event | None:
    """The :class:`Event` of an event object in the canonical form, else None."""
    if type(d) is not dict:
        return None
    size = len(d)
    data = None
    if size == 7:
        data = d.get("data")
        if type(data) is not dict:
            return None
    elif size != 6:
        return None
    try:
        raw_id, raw_time, raw_type = d["id"], d["time"], d["type"]
        source, tag, datatype = d["source"], d["tag"], d["datatype"]
    except KeyError:
        return None
    if (
        (source is not None and type(source) is not str)
        or (tag is not None and type(tag) is not str)
        or (datatype is not None and type(datatype) is not str)
        or type(raw_id) is not str
    ):
        return None
    when = canonical_time(raw_time)
    type_id = canonical_type(raw_type)
    event_id = canonical_guid(raw_id)
    if when is None or type_id is None or event_id is None:
        return None
    return make_event(event_id, when, type_id, source, tag, datatype, data, {})
