"""Incoming events to records: the trigger body rules and permissions of ``POST /events``
(:func:`validate_trigger`; :class:`TriggerBatch` for the bodies of one batch), and the fast,
unchecked reader of bulk loads (:class:`BulkReader`)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from ..errors import ProtocolError
from ..models import MAX_TAG_LENGTH
from ..wire import parse_time
from .clock import aware, to_us
from .directory import Checked, Directory, Identity, canonical_guid
from .records import SEQ_BITS, Record, time_text
from .rejected import Rejected, forbidden
from .seed import SimEventType
from .spelling import spelled

# A time exactly as format_time writes it: the text can be kept as the event's wire time.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}0Z\Z")


def parse_event_time(text: str) -> datetime:
    """A time string: fast for the canonical 7-digit form, else
    :func:`xprotect_events.wire.parse_time`. Raises :class:`ProtocolError`."""
    if _CANONICAL_TIME.match(text):
        return datetime.fromisoformat(text[:26] + "+00:00")
    return parse_time(text)


def validate_trigger(body: Any, who: Identity, directory: Directory, now_us: int) -> Record:
    """The trigger body rules [seed], then the permissions [seed]; :class:`Rejected` if any
    fails (400 for the body, 403 for the permissions). The time defaults to ``now_us``.

    The record has no id and no insertion number yet: :meth:`EventStore.admit` gives them.
    A missing ``datatype`` is null, as the real server takes it [sample: Milestone's
    EventsRestApiPython triggers ``{"type": …}`` alone and expects 202].
    """
    if not isinstance(body, dict):
        raise Rejected(400, "The event must be a JSON object.")
    body = in_our_spelling(body)
    type_id = _trigger_type(body.get("type"), directory)
    event_type = directory.types[type_id]
    datatype, data, tag = body.get("datatype"), body.get("data"), body.get("tag")
    _check_payload(datatype, data, tag, event_type)
    source, guid = _trigger_source(body.get("source"), event_type, directory)
    when = _trigger_time(body.get("time"))
    if not directory.may_trigger(who, type_id):
        raise forbidden()
    visible = directory.visible(who)
    if visible is not None and guid not in visible:
        raise forbidden()
    us = now_us if when is None else to_us(when)
    blob = None if data is None else orjson.dumps(data)
    kind = None if datatype is None else sys.intern(datatype)
    return Record(us << SEQ_BITS, 0, type_id, source, guid, tag, kind, blob)


#: The fields of a trigger body, as the server spells them.
FIELDS = ("type", "source", "datatype", "tag", "time", "data")
_FIELD_SET = frozenset(FIELDS)


def in_our_spelling(body: dict[str, Any]) -> dict[str, Any]:
    """A trigger body with its keys as :data:`FIELDS` spell them (any case is bound)."""
    return body if body.keys() <= _FIELD_SET else spelled(body, FIELDS)


def _trigger_type(raw: object, directory: Directory) -> str:
    if raw is None:
        raise Rejected(400, "The type field is required.")
    known = directory.type_keys.get(raw) if isinstance(raw, str) else None
    if known is not None:
        return known
    type_id = canonical_guid(raw) if isinstance(raw, str) else None
    if type_id is None:
        raise Rejected(400, f"Invalid type. {raw!r} is not a GUID.")
    known = directory.type_keys.get(type_id)
    if known is None:
        raise Rejected(400, f"Event type not found. {raw}")
    return known


def _check_payload(datatype: object, data: object, tag: object, event_type: SimEventType) -> None:
    if datatype is not None and not isinstance(datatype, str):
        raise Rejected(400, "The datatype field must be a string or null.")
    if data is not None and not isinstance(data, dict):
        raise Rejected(400, "The data field must be an object or null.")
    if tag is not None and not isinstance(tag, str):
        raise Rejected(400, "The tag field must be a string or null.")
    if isinstance(tag, str) and len(tag) > MAX_TAG_LENGTH:
        raise Rejected(400, f"The tag field is longer than {MAX_TAG_LENGTH} characters.")
    if event_type.is_user_defined and (datatype is not None or data is not None):
        raise Rejected(400, "User defined events do not support data and datatype.")  # [seed]


def _trigger_source(
    raw: object, event_type: SimEventType, directory: Directory
) -> tuple[str | None, str | None]:
    """The stored source. A user-defined event with no source is its own source [seed]."""
    if raw is None:
        if event_type.is_user_defined:
            key = str(event_type.id)
            return f"userDefinedEvents/{key}", key
        return None, None
    if not isinstance(raw, str):
        raise Rejected(400, "The source field must be a string or null.")
    return directory.resolve_source(raw)


def _trigger_time(raw: object) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Rejected(400, "The time field must be an ISO 8601 string or null.")
    try:
        return parse_event_time(raw)
    except ProtocolError:
        raise Rejected(400, f"Invalid time. {raw}") from None


class TriggerBatch:
    """The triggers of one ``POST /events/batch``: one token, one ``now``. Each body gets
    the record or the :class:`Rejected` that :func:`validate_trigger` gives it; what repeats
    is worked out once: the type, source and permission checks of each (type, source)
    pair (across batches too, :meth:`Directory.checked_pairs`), and the wire text of
    ``now``."""

    def __init__(self, who: Identity, directory: Directory, now_us: int) -> None:
        self.who = who
        self.directory = directory
        self.now_us = now_us
        self.now_text = time_text(now_us)
        self.checked = directory.checked_pairs(who)

    def record(self, body: Any) -> Record:
        """The record of one body (no id yet), or :class:`Rejected`."""
        if type(body) is dict:
            body = in_our_spelling(body)
        pair = _plain_pair(body)
        known = None if pair is None else self.checked.get(pair)
        if known is not None:  # the pair passed every check; nothing else needs one
            return Record(self.now_us << SEQ_BITS, 0, *known, body.get("tag"), None, None)
        rec = validate_trigger(body, self.who, self.directory, self.now_us)
        if pair is not None:
            self.checked[pair] = (rec.type, rec.source, rec.source_guid)
        return rec

    def known(self, raw_type: str, raw_source: str | None) -> Checked | None:
        """What a plain body of this pair comes to, if one passed every check already."""
        return self.checked.get((raw_type, raw_source))

    def time_of(self, rec: Record) -> str | None:
        """The wire time of a record when it is ``now`` (None: it has its own)."""
        return self.now_text if rec.key >> SEQ_BITS == self.now_us else None


def _plain_pair(body: Any) -> tuple[str, str | None] | None:
    """A body's (type, source), both JSON strings (the source may be null), when it has no
    time, datatype or data and its tag passes (null or a short string); else None."""
    if type(body) is not dict:
        return None
    get = body.get
    raw_type, raw_source, tag = get("type"), get("source"), get("tag")
    if type(raw_type) is not str or not (raw_source is None or type(raw_source) is str):
        return None
    if get("time") is not None or get("datatype") is not None or get("data") is not None:
        return None
    if tag is None or (type(tag) is str and len(tag) <= MAX_TAG_LENGTH):
        return raw_type, raw_source
    return None


class BulkReader:
    """Reads the fields of bulk items (mappings or objects with attributes), memoising the
    type and source lookups that repeat across a million items."""

    def __init__(self, directory: Directory, now_us: int) -> None:
        self.directory = directory
        self.now_us = now_us
        self.types: dict[Any, tuple[str, int | None]] = {}
        self.sources: dict[Any, tuple[str | None, str | None]] = {}
        self.retention: int | None = None
        self.user_defined = {k for k, t in directory.types.items() if t.is_user_defined}

    def record(self, item: Any, seq: int, uid: int) -> Record:
        """The record of one item; ``self.retention`` is left set for it (microseconds;
        -1: never stored; None: forever)."""
        if isinstance(item, Mapping):
            raw_type, raw_source, when = item.get("type"), item.get("source"), item.get("time")
            tag, datatype, data = item.get("tag"), item.get("datatype"), item.get("data")
        else:
            raw_type, raw_source, when = item.type, item.source, item.time
            tag, datatype, data = item.tag, item.datatype, item.data
        type_id, self.retention = self._type(raw_type)
        if raw_source is None and type_id in self.user_defined:
            raw_source = f"userDefinedEvents/{type_id}"  # its own source [seed]
        source = self.sources.get(raw_source)
        if source is None:
            source = self.sources[raw_source] = self.directory.loose_source(raw_source)
        if when is None:
            us = self.now_us
        elif isinstance(when, str):
            us = to_us(parse_event_time(when))
        else:
            us = to_us(aware(when))
        blob = None if data is None else orjson.dumps(data)
        kind = datatype if datatype is None else sys.intern(datatype)
        return Record(us << SEQ_BITS | seq, uid, type_id, *source, tag, kind, blob)

    def _type(self, raw: Any) -> tuple[str, int | None]:
        known = self.types.get(raw)
        if known is None:
            type_id = self.directory.type_keys.get(str(canonical_guid(raw)))
            if type_id is None:
                raise ValueError(f"unknown event type {raw!r}")
            retention = self.directory.types[type_id].retention
            micros = None if retention is None else round(retention * 1_000_000) or -1
            known = self.types[raw] = (type_id, micros)
        return known
