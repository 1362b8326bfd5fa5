"""The simulator's state, without HTTP: clock, directory of config items, event store, sessions.

Pure Python (no aiohttp). Built to stay fast with a million stored events:

- every index is a pair of parallel lists ``keys``/``recs`` sorted by ``key``, where
  ``key = time_in_microseconds << 32 | insertion_seq``: time order, ties in insertion order;
  appending in time order is O(1), an out-of-order insert is a ``bisect.insort``;
- one index over all events, one per source GUID, one per event type; a listing narrows the
  time range with ``bisect`` and picks page ``p`` of several source indexes with a k-th
  element search, never a scan from the start;
- retention deletes lazily: a heap of expiry times, checked on each request (one comparison
  when nothing is due);
- a session read costs what it returns (plus the events that arrived since its last read).
"""

from __future__ import annotations

import heapq
import re
import time as _time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from random import Random
from typing import Any

import attrs
import orjson

from ..errors import ProtocolError
from ..models import MAX_TAG_LENGTH, Event
from ..wire import format_time, parse_time
from .seed import SimCamera, SimEventType, SimUser

SEQ_BITS = 32
SEQ_MASK = (1 << SEQ_BITS) - 1
KEY_MAX = 1 << 127
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

# A time exactly as format_time writes it: the text can be kept as the event's wire time.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}0Z\Z")

# --------------------------------------------------------------------------- clock


class SimClock:
    """Simulated time: the real wall clock plus an offset that :meth:`advance` grows.

    Tests move time forward instead of sleeping: tokens expire, retention lapses and idle
    sessions are dropped, all evaluated lazily against :meth:`now` on each request.
    ``SimClock(start)`` starts at ``start`` and then runs; :meth:`frozen` (or :meth:`freeze`)
    stops time entirely so that only :meth:`advance` moves it. Kept in whole microseconds.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._offset_us = 0 if start is None else to_us(_aware(start)) - _wall_us()
        self._frozen_us: int | None = None

    @classmethod
    def frozen(cls, at: datetime | None = None) -> SimClock:
        """A clock stopped at ``at`` (default: now)."""
        clock = cls()
        clock._frozen_us = _wall_us() if at is None else to_us(_aware(at))
        return clock

    @property
    def is_frozen(self) -> bool:
        return self._frozen_us is not None

    def freeze(self) -> None:
        """Stop time where it is; :meth:`advance` still moves it."""
        self._frozen_us = self.now_us()

    def unfreeze(self) -> None:
        """Let time run again from where it stands."""
        if self._frozen_us is not None:
            self._offset_us = self._frozen_us - _wall_us()
            self._frozen_us = None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("the simulated clock never goes backwards")
        step = round(seconds * 1_000_000)
        if self._frozen_us is not None:
            self._frozen_us += step
        else:
            self._offset_us += step

    def now_us(self) -> int:
        """Microseconds since the epoch."""
        if self._frozen_us is not None:
            return self._frozen_us
        return _wall_us() + self._offset_us

    def time(self) -> float:
        """Seconds since the epoch (like ``time.time()``)."""
        return self.now_us() / 1_000_000

    def now(self) -> datetime:
        """An aware UTC datetime."""
        return EPOCH + timedelta(microseconds=self.now_us())

    def __repr__(self) -> str:
        return f"SimClock({self.now().isoformat()}, frozen={self.is_frozen})"


def _wall_us() -> int:
    return _time.time_ns() // 1000


def _aware(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"a naive datetime is ambiguous; give it a timezone: {value!r}")
    return value


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // ONE_US


# --------------------------------------------------------------------------- errors


class Rejected(Exception):
    """A request the simulated server refuses: ``status`` and the ``errorText`` to send."""

    def __init__(self, status: int, text: str, text_id: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.text_id = text_id


FORBIDDEN_TEXT = "You do not have sufficient permissions to complete the operation."
FORBIDDEN_ID = "VMO61008"  # [sample]


def forbidden() -> Rejected:
    """The 403 of the real sample [sample]."""
    return Rejected(403, FORBIDDEN_TEXT, FORBIDDEN_ID)


def canonical_guid(text: object) -> str | None:
    """The lower-case ``8-4-4-4-12`` form of a GUID string, or None if it is not one."""
    if isinstance(text, uuid.UUID):
        return str(text)
    if not isinstance(text, str):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


# --------------------------------------------------------------------------- identities


@attrs.frozen
class Identity:
    """Who a token speaks for: a basic/Windows user, or a service client (``service=True``)."""

    name: str
    service: bool = False

    @property
    def key(self) -> str:
        return f"{'service' if self.service else 'user'}:{self.name}"


Visible = frozenset[str | None] | None  # None: everything


class Directory:
    """The configuration the server knows: users, service clients, cameras, event types.

    Visibility [seed]: a service token sees every source; a user sees the cameras in its
    ``sources`` (all when ``"all"``), cameras added with ``visible_to`` naming it or ``"all"``,
    and every null or user-defined-event source.
    """

    def __init__(
        self,
        users: Iterable[SimUser],
        service_clients: Mapping[str, str],
        cameras: Iterable[SimCamera],
        event_types: Iterable[SimEventType],
    ) -> None:
        self.users: dict[str, SimUser] = {u.username: u for u in users}
        self.service_clients: dict[str, str] = dict(service_clients)
        self.cameras: dict[str, SimCamera] = {}
        self.types: dict[str, SimEventType] = {}
        self.retention: dict[str, float | None] = {}
        self._user_triggerable: set[str] = set()
        self._visible: dict[str, Visible] = {}
        for camera in cameras:
            self.add_camera(camera)
        for event_type in event_types:
            self.add_event_type(event_type)

    def add_camera(self, camera: SimCamera) -> None:
        self.cameras[str(camera.id)] = camera
        self._visible.clear()

    def add_event_type(self, event_type: SimEventType) -> None:
        key = str(event_type.id)
        self.types[key] = event_type
        self.retention[key] = event_type.retention
        if event_type.user_may_trigger:
            self._user_triggerable.add(key)
        self._visible.clear()

    def may_trigger(self, who: Identity, type_id: str) -> bool:
        """Service tokens trigger any type; users External and MIPDevice but Generic [seed]."""
        return who.service or type_id in self._user_triggerable

    def visible(self, who: Identity) -> Visible:
        """The source GUIDs ``who`` may see (None: all of them)."""
        if who.service:
            return None
        if who.name not in self._visible:
            self._visible[who.name] = self._compute_visible(who.name)
        return self._visible[who.name]

    def _compute_visible(self, username: str) -> Visible:
        user = self.users.get(username)
        if user is None:
            return frozenset((None,))
        if user.sources == "all":
            return None
        allowed: set[str | None] = {None, *(str(s) for s in user.sources)}
        allowed.update(key for key, t in self.types.items() if t.is_user_defined)
        for key, camera in self.cameras.items():
            if camera.visible_to == "all" or (
                isinstance(camera.visible_to, frozenset) and username in camera.visible_to
            ):
                allowed.add(key)
        return frozenset(allowed)

    def source_name(self, guid: str | None) -> str | None:
        """The name of a source: the camera's, or the user-defined event's."""
        if guid is None:
            return None
        camera = self.cameras.get(guid)
        if camera is not None:
            return camera.name
        event_type = self.types.get(guid)
        return event_type.name if event_type is not None else None

    def resolve_source(self, text: str) -> tuple[str, str]:
        """``(source, guid)`` for a trigger's source: ``cameras/<guid>``, ``<guid>`` or
        ``userDefinedEvents/<guid>`` of a known item [seed: "If the source device is camera
        the format can be cameras/{id} or simply {id}"]. The event stores the resource-path
        form, GUID in lower case [profile]. Unknown: 400 "Device not found. …" [sample].
        """
        resource, _, raw = text.rpartition("/")
        guid = raw if raw in self.cameras or raw in self.types else canonical_guid(raw)
        if guid is None:
            raise Rejected(400, f"Invalid source. {text}")
        if resource in ("", "cameras") and guid in self.cameras:
            return f"cameras/{guid}", guid
        event_type = self.types.get(guid)
        if resource in ("", "userDefinedEvents") and event_type and event_type.is_user_defined:
            return f"userDefinedEvents/{guid}", guid
        raise Rejected(400, f"Device not found. {text}")  # [sample]

    def loose_source(self, source: object) -> tuple[str | None, str | None]:
        """Like :meth:`resolve_source` but unknown items are kept (bulk seeding)."""
        if source is None:
            return None, None
        text = str(source)
        try:
            return self.resolve_source(text)
        except Rejected:
            guid = canonical_guid(text.rpartition("/")[2])
            if guid is None:
                msg = f"source must be None, a GUID or '<resource>/<guid>': {text!r}"
                raise ValueError(msg) from None
            return text, guid


# --------------------------------------------------------------------------- records


class Record:
    """One stored event. ``key`` orders it: time in microseconds, then insertion order.

    ``data`` is kept as JSON bytes: a million stored events then hold few objects for
    Python's garbage collector to walk (it would otherwise slow every request down).
    """

    __slots__ = (
        "data",
        "datatype",
        "deleted",
        "id",
        "key",
        "source",
        "source_guid",
        "tag",
        "time",
        "time_text",
        "type",
    )

    def __init__(
        self,
        key: int,
        id: str,
        time: datetime,
        type: str,
        source: str | None,
        source_guid: str | None,
        tag: str | None,
        datatype: str | None,
        data: bytes | None,
        time_text: str | None = None,
    ) -> None:
        self.key = key
        self.id = id
        self.time = time
        self.type = type
        self.source = source
        self.source_guid = source_guid
        self.tag = tag
        self.datatype = datatype
        self.data = data
        self.time_text = time_text
        self.deleted = False

    @property
    def seq(self) -> int:
        return self.key & SEQ_MASK

    def to_wire(self, include_data: bool) -> dict[str, Any]:
        """The event's JSON object; the same as ``wire.event_to_wire(self.to_event())`` (a
        test holds them equal), built directly because listings send thousands."""
        text = self.time_text
        if text is None:
            text = self.time_text = format_time(self.time)
        out: dict[str, Any] = {
            "id": self.id,
            "time": text,
            "type": self.type,
            "source": self.source,
            "tag": self.tag,
            "datatype": self.datatype,
        }
        if include_data and self.data is not None:
            out["data"] = orjson.Fragment(self.data)
        return out

    def to_event(self) -> Event:
        """The core :class:`xprotect_events.models.Event` of this record."""
        return Event(
            id=uuid.UUID(self.id),
            time=self.time,
            type=uuid.UUID(self.type),
            source=self.source,
            tag=self.tag,
            datatype=self.datatype,
            data=None if self.data is None else orjson.loads(self.data),
        )

    def __repr__(self) -> str:
        return f"Record({self.id}, {self.time.isoformat()}, type={self.type})"


def _key(rec: Record) -> int:
    return rec.key


def _seq(rec: Record) -> int:
    return rec.key & SEQ_MASK


class SortedIndex:
    """Records sorted by key, as parallel ``keys``/``recs`` lists."""

    __slots__ = ("keys", "recs")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.recs: list[Record] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, rec: Record) -> None:
        """Append when in order (O(1)), else insert in place."""
        keys, k = self.keys, rec.key
        if not keys or k > keys[-1]:
            keys.append(k)
            self.recs.append(rec)
        else:
            i = bisect_right(keys, k)
            keys.insert(i, k)
            self.recs.insert(i, rec)

    def extend(self, recs: list[Record]) -> None:
        """Add many records: appended if they follow in order, else one sort (bulk loads)."""
        if not recs:
            return
        keys = [r.key for r in recs]
        in_order = keys == sorted(keys) and (not self.keys or keys[0] > self.keys[-1])
        self.keys += keys
        self.recs += recs
        if not in_order:
            self.recs.sort(key=_key)
            self.keys = [r.key for r in self.recs]

    def remove(self, rec: Record) -> None:
        i = bisect_left(self.keys, rec.key)
        if i < len(self.keys) and self.keys[i] == rec.key:
            del self.keys[i]
            del self.recs[i]

    def purge(self) -> None:
        """Drop every deleted record in one pass (after a large retention sweep)."""
        self.recs = [r for r in self.recs if not r.deleted]
        self.keys = [r.key for r in self.recs]

    def window(self, lo: int, hi: int) -> tuple[int, int]:
        """The positions ``[a, b)`` of the keys strictly between ``lo`` and ``hi``."""
        keys = self.keys
        a = bisect_right(keys, lo) if lo >= 0 else 0
        b = bisect_left(keys, hi) if hi < KEY_MAX else len(keys)
        return a, b


# --------------------------------------------------------------------------- filters

#: Operators each ``/events`` query property takes [seed].
LIST_OPERATORS: Mapping[str, frozenset[str]] = {
    "time": frozenset(("gt", "lt")),
    "source.name": frozenset(
        ("equals", "notEquals", "contains", "startsWith", "oneOf", "containsOneOf")
    ),
    "source.id": frozenset(("equals", "notEquals", "oneOf")),
}
_STRING_OPERATORS = LIST_OPERATORS["source.name"]
_ID_OPERATORS = LIST_OPERATORS["source.id"]
#: Operators each event-session filter property takes [profile].
SESSION_OPERATORS: Mapping[str, frozenset[str]] = {
    "type": _ID_OPERATORS,
    "source.id": _ID_OPERATORS,
    "source.name": _STRING_OPERATORS,
    "tag": _STRING_OPERATORS,
    "datatype": _STRING_OPERATORS,
    "time": LIST_OPERATORS["time"],
}
ARRAY_OPERATORS = frozenset(("oneOf", "containsOneOf"))

CondValue = str | tuple[str, ...]
StrTest = Callable[[str | None], bool]


@attrs.frozen
class Cond:
    """One checked condition: ``property``, ``operator`` and a string or tuple of strings."""

    prop: str
    op: str
    value: CondValue


def _string_test(op: str, value: CondValue, fold: bool) -> StrTest:
    """The test of one string operator; None (no value) passes only ``notEquals`` [profile]."""
    norm: Callable[[str], str] = str.casefold if fold else str
    if isinstance(value, tuple):
        values = tuple(norm(v) for v in value)
        if op == "oneOf":
            members = frozenset(values)
            return lambda x: x is not None and norm(x) in members
        return lambda x: x is not None and any(v in norm(x) for v in values)
    v = norm(value)
    tests: dict[str, StrTest] = {
        "equals": lambda x: x is not None and norm(x) == v,
        "notEquals": lambda x: x is None or norm(x) != v,
        "startsWith": lambda x: x is not None and norm(x).startswith(v),
        "contains": lambda x: x is not None and v in norm(x),
    }
    return tests[op]


def _all(tests: Sequence[StrTest]) -> StrTest | None:
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda x: all(t(x) for t in tests)


def _guids(prop: str, value: CondValue) -> CondValue:
    """GUID values in canonical form; ``source.id`` also takes ``cameras/<guid>`` [seed]."""

    def one(text: str) -> str:
        raw = text.rpartition("/")[2] if prop == "source.id" else text
        guid = canonical_guid(raw)
        if guid is None:
            raise Rejected(400, f"Invalid filter value for '{prop}': {text!r} is not a GUID.")
        return guid

    return tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)


def _time_us(prop: str, value: CondValue) -> int:
    if not isinstance(value, str):
        raise Rejected(400, f"Invalid filter value for '{prop}': expected a date-time.")
    try:
        return to_us(parse_time(value))
    except ProtocolError:
        msg = f"Invalid filter value for '{prop}': {value!r} is not a date-time."
        raise Rejected(400, msg) from None


class Query:
    """Compiled filters: a time window on keys, plus tests on source, type, tag, datatype
    and the identity's visibility. ``source_ok`` answers per source GUID and is memoised."""

    def __init__(self, conds: Iterable[Cond], directory: Directory, visible: Visible) -> None:
        self.lo = -1
        self.hi = KEY_MAX
        self.visible = visible
        self._names = directory
        source_tests: list[StrTest] = []
        type_tests: list[StrTest] = []
        tag_tests: list[StrTest] = []
        datatype_tests: list[StrTest] = []
        self.type_keys: frozenset[str] | None = None
        for c in conds:
            self._add(c, source_tests, type_tests, tag_tests, datatype_tests)
        self._source_test = _all(source_tests)
        self._type_test = _all(type_tests)
        self._tag_test = _all(tag_tests)
        self._datatype_test = _all(datatype_tests)
        self._source_memo: dict[str | None, bool] = {}
        self.source_unfiltered = self._source_test is None and visible is None

    def _add(
        self,
        c: Cond,
        source_tests: list[StrTest],
        type_tests: list[StrTest],
        tag_tests: list[StrTest],
        datatype_tests: list[StrTest],
    ) -> None:
        if c.prop == "time":
            us = _time_us(c.prop, c.value)
            if c.op == "gt":
                self.lo = max(self.lo, us << SEQ_BITS | SEQ_MASK)
            else:
                self.hi = min(self.hi, us << SEQ_BITS)
        elif c.prop == "source.id":
            source_tests.append(_string_test(c.op, _guids(c.prop, c.value), False))
        elif c.prop == "source.name":
            test = _string_test(c.op, c.value, True)
            source_tests.append(lambda g: test(self._names.source_name(g)))
        elif c.prop == "type":
            value = _guids(c.prop, c.value)
            type_tests.append(_string_test(c.op, value, False))
            if c.op != "notEquals":
                keys = frozenset(value if isinstance(value, tuple) else (value,))
                self.type_keys = keys if self.type_keys is None else self.type_keys & keys
        elif c.prop == "tag":
            tag_tests.append(_string_test(c.op, c.value, False))
        else:
            datatype_tests.append(_string_test(c.op, c.value, False))

    def source_ok(self, guid: str | None) -> bool:
        """Whether events of this source pass the source filters and the visibility."""
        memo = self._source_memo.get(guid)
        if memo is None:
            memo = (self.visible is None or guid in self.visible) and (
                self._source_test is None or self._source_test(guid)
            )
            self._source_memo[guid] = memo
        return memo

    def match(self, rec: Record) -> bool:
        """Whether one record passes every filter."""
        return (
            self.lo < rec.key < self.hi
            and (self.source_unfiltered or self.source_ok(rec.source_guid))
            and (self._type_test is None or self._type_test(rec.type))
            and (self._tag_test is None or self._tag_test(rec.tag))
            and (self._datatype_test is None or self._datatype_test(rec.datatype))
        )


def check_cond(prop: str, op: str, value: object, operators: Mapping[str, frozenset[str]]) -> Cond:
    """A :class:`Cond` if ``prop`` takes ``op`` and ``value`` has the right kind, else 400."""
    allowed = operators.get(prop)
    if allowed is None:
        raise Rejected(400, f"Unknown filter property '{prop}'. Allowed: {', '.join(operators)}.")
    if op not in allowed:
        names = ", ".join(sorted(allowed))
        raise Rejected(400, f"Operator '{op}' is not allowed on '{prop}'. Allowed: {names}.")
    if isinstance(value, list | tuple):
        value = tuple(str(v) if isinstance(v, int) else v for v in value)
        if op in ARRAY_OPERATORS and all(isinstance(v, str) for v in value):
            return Cond(prop, op, value)
    elif isinstance(value, int) and not isinstance(value, bool) and prop != "time":
        value = str(value)
    if isinstance(value, str) and op not in ARRAY_OPERATORS:
        return Cond(prop, op, value)
    need = "an array of strings" if op in ARRAY_OPERATORS else "a string"
    raise Rejected(400, f"Operator '{op}' on '{prop}' takes {need}.")


# --------------------------------------------------------------------------- triggers


def parse_event_time(text: str) -> tuple[datetime, str | None]:
    """A time string: fast for the canonical 7-digit form (its text is kept), else
    :func:`xprotect_events.wire.parse_time`. Raises :class:`ProtocolError`."""
    if _CANONICAL_TIME.match(text):
        return datetime.fromisoformat(text[:26] + "+00:00"), text
    return parse_time(text), None


def validate_trigger(body: Any, who: Identity, directory: Directory, now_us: int) -> Record:
    """The trigger body rules [seed], then the permissions [seed]; :class:`Rejected` if any
    fails (400 for the body, 403 for the permissions). The time defaults to ``now_us``.

    The record has no id and no insertion number yet: :meth:`EventStore.admit` gives them.
    """
    if not isinstance(body, dict):
        raise Rejected(400, "The event must be a JSON object.")
    type_id = _trigger_type(body.get("type"), directory)
    event_type = directory.types[type_id]
    if "datatype" not in body:
        raise Rejected(400, "The datatype field is required (it may be null).")
    datatype, data, tag = body["datatype"], body.get("data"), body.get("tag")
    _check_payload(datatype, data, tag, event_type)
    source, guid = _trigger_source(body.get("source"), event_type, directory)
    when, text = _trigger_time(body.get("time"))
    if not directory.may_trigger(who, type_id):
        raise forbidden()
    visible = directory.visible(who)
    if visible is not None and guid not in visible:
        raise forbidden()
    if when is None:
        us, when = now_us, EPOCH + timedelta(microseconds=now_us)
    else:
        us = to_us(when)
    blob = None if data is None else orjson.dumps(data)
    return Record(us << SEQ_BITS, "", when, type_id, source, guid, tag, datatype, blob, text)


def _trigger_type(raw: object, directory: Directory) -> str:
    if raw is None:
        raise Rejected(400, "The type field is required.")
    if isinstance(raw, str) and raw in directory.types:
        return raw
    type_id = canonical_guid(raw) if isinstance(raw, str) else None
    if type_id is None:
        raise Rejected(400, f"Invalid type. {raw!r} is not a GUID.")
    if type_id not in directory.types:
        raise Rejected(400, f"Event type not found. {raw}")
    return type_id


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


def _trigger_time(raw: object) -> tuple[datetime | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        raise Rejected(400, "The time field must be an ISO 8601 string or null.")
    try:
        return parse_event_time(raw)
    except ProtocolError:
        raise Rejected(400, f"Invalid time. {raw}") from None


# --------------------------------------------------------------------------- the store

_UUID4_CLEAR = ~(0xF << 76 | 0xC << 60)
_UUID4_SET = 4 << 76 | 8 << 60


class _BulkFields:
    """Reads the fields of bulk items (mappings or objects with attributes), memoising the
    type and source lookups that repeat across a million items."""

    def __init__(self, directory: Directory, now_us: int) -> None:
        self.directory = directory
        self.now_us = now_us
        self.now = EPOCH + timedelta(microseconds=now_us)
        self.types: dict[Any, tuple[str, int | None]] = {}
        self.sources: dict[Any, tuple[str | None, str | None]] = {}
        self.retention: int | None = None
        self.user_defined = {k for k, t in directory.types.items() if t.is_user_defined}

    def record(self, item: Any, seq: int, event_id: str) -> Record:
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
        text = None
        if when is None:
            when, us = self.now, self.now_us
        elif isinstance(when, str):
            when, text = parse_event_time(when)
            us = to_us(when)
        else:
            us = to_us(_aware(when))
        key = us << SEQ_BITS | seq
        blob = None if data is None else orjson.dumps(data)
        return Record(key, event_id, when, type_id, *source, tag, datatype, blob, text)

    def _type(self, raw: Any) -> tuple[str, int | None]:
        known = self.types.get(raw)
        if known is None:
            type_id = canonical_guid(raw)
            if type_id is None or type_id not in self.directory.types:
                raise ValueError(f"unknown event type {raw!r}")
            retention = self.directory.types[type_id].retention
            micros = None if retention is None else round(retention * 1_000_000) or -1
            known = self.types[raw] = (type_id, micros)
        return known


class EventSession:
    """A live view over the stored events matching a query, for one identity.

    Events with ``seq <= snap`` (stored when it was created) are its backlog, walked in
    order from ``cursor``; later events are read from the store's insertion log from
    ``live_seq``. That split makes "no event twice" hold by construction.
    """

    def __init__(
        self,
        id: str,
        owner: str,
        query: Query,
        desc: bool,
        snap: int,
        candidates: list[SortedIndex],
        del_pos: int,
        now_us: int,
        echo: dict[str, Any],
    ) -> None:
        self.id = id
        self.owner = owner
        self.query = query
        self.desc = desc
        self.snap = snap
        self.candidates = candidates
        self.cursor: int | None = None
        self.backlog_done = not candidates
        self.live_seq = snap
        self.del_pos = del_pos
        self.last_read = now_us
        self.echo = echo

    def returned(self, rec: Record) -> bool:
        """Whether an earlier read of this session returned ``rec``."""
        if not self.query.match(rec):
            return False
        if rec.seq > self.snap:
            return rec.seq <= self.live_seq
        if self.backlog_done:
            return True
        if self.cursor is None:
            return False
        return rec.key >= self.cursor if self.desc else rec.key <= self.cursor


class EventStore:
    """Every stored event, its indexes, retention and the event sessions over them."""

    def __init__(
        self, directory: Directory, *, session_idle_timeout: float = 60.0, seed: int | None = None
    ) -> None:
        self.directory = directory
        self.session_idle_us = round(session_idle_timeout * 1_000_000)
        self.by_id: dict[str, Record] = {}
        self.all = SortedIndex()
        self.by_source: dict[str | None, SortedIndex] = {}
        self.by_type: dict[str, SortedIndex] = {}
        self.stored_total = 0
        self._seq = 0
        self._rng = Random(seed)
        self._expiry: list[tuple[int, int, Record]] = []
        self.sessions: dict[str, EventSession] = {}
        self._log: list[Record] = []  # insertion log, kept only while sessions exist
        self._deleted: list[Record] = []  # deletion log, idem
        self._deleted_base = 0
        #: Called with every accepted trigger once it is numbered (the WebSocket room).
        self.listeners: list[Callable[[Record], None]] = []

    # ----------------------------------------------------------------- inserting

    def _new_id(self) -> str:
        """A random version-4 GUID string (from a seeded generator: fast, not secret)."""
        h = "%032x" % (self._rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def admit(self, rec: Record, now_us: int) -> bool:
        """Number a validated record (insertion order, id), then :meth:`insert` it."""
        self._seq += 1
        rec.key |= self._seq
        rec.id = self._new_id()
        stored = self.insert(rec, now_us)
        for listener in self.listeners:
            listener(rec)
        return stored

    def _expiry_us(self, rec: Record) -> int | None:
        """When the record is due for deletion; -1: never stored; None: kept forever."""
        retention = self.directory.retention[rec.type]
        if retention is None:
            return None
        if retention <= 0:
            return -1
        return (rec.key >> SEQ_BITS) + round(retention * 1_000_000)

    def insert(self, rec: Record, now_us: int) -> bool:
        """Store one record unless its type's retention says no [profile]; True if stored."""
        expiry = self._expiry_us(rec)
        if expiry is not None and expiry < now_us:
            return False
        self.by_id[rec.id] = rec
        self.all.add(rec)
        by_source = self.by_source.get(rec.source_guid)
        if by_source is None:
            by_source = self.by_source[rec.source_guid] = SortedIndex()
        by_source.add(rec)
        by_type = self.by_type.get(rec.type)
        if by_type is None:
            by_type = self.by_type[rec.type] = SortedIndex()
        by_type.add(rec)
        if expiry is not None:
            heapq.heappush(self._expiry, (expiry, rec.seq, rec))
        if self.sessions:
            self._log.append(rec)
        self.stored_total += 1
        return True

    @staticmethod
    def _index(table: dict[Any, SortedIndex], key: Any) -> SortedIndex:
        index = table.get(key)
        if index is None:
            index = table[key] = SortedIndex()
        return index

    def bulk(self, items: Iterable[Any], now_us: int) -> int:
        """Store many events fast (no validation beyond shape); returns how many were stored.

        Records are built first, then each index is extended once (and sorted once if the
        times came out of order).
        """
        fields = _BulkFields(self.directory, now_us)
        new: list[Record] = []
        expiring: list[tuple[int, int, Record]] = []
        for item in items:
            self._seq += 1
            rec = fields.record(item, self._seq, self._new_id())
            retention = fields.retention
            if retention is not None:
                us = rec.key >> SEQ_BITS
                if retention < 0 or us < now_us - retention:
                    continue
                expiring.append((us + retention, self._seq, rec))
            new.append(rec)
        self._add_many(new, expiring)
        return len(new)

    def _add_many(self, new: list[Record], expiring: list[tuple[int, int, Record]]) -> None:
        self.by_id.update((r.id, r) for r in new)
        self.all.extend(new)
        by_source: dict[str | None, list[Record]] = {}
        by_type: dict[str, list[Record]] = {}
        for rec in new:
            by_source.setdefault(rec.source_guid, []).append(rec)
            by_type.setdefault(rec.type, []).append(rec)
        for guid, recs in by_source.items():
            self._index(self.by_source, guid).extend(recs)
        for type_id, recs in by_type.items():
            self._index(self.by_type, type_id).extend(recs)
        if len(expiring) * 8 > len(self._expiry):
            self._expiry.extend(expiring)
            heapq.heapify(self._expiry)
        else:
            for entry in expiring:
                heapq.heappush(self._expiry, entry)
        if self.sessions:
            self._log.extend(new)
        self.stored_total += len(new)

    def _indexes(self) -> Iterator[SortedIndex]:
        yield self.all
        yield from self.by_source.values()
        yield from self.by_type.values()

    # ----------------------------------------------------------------- retention

    def sweep(self, now_us: int) -> int:
        """Delete every event whose retention ran out by ``now_us``; returns how many."""
        heap = self._expiry
        if not heap or heap[0][0] >= now_us:
            return 0
        due: list[Record] = []
        while heap and heap[0][0] < now_us:
            rec = heapq.heappop(heap)[2]
            if not rec.deleted:
                rec.deleted = True
                due.append(rec)
        self._remove(due)
        return len(due)

    def _remove(self, due: list[Record]) -> None:
        for rec in due:
            del self.by_id[rec.id]
        if len(due) > 64:
            for index in self._indexes():
                index.purge()
        else:
            for rec in due:
                self.all.remove(rec)
                self.by_source[rec.source_guid].remove(rec)
                self.by_type[rec.type].remove(rec)
        if self.sessions:
            self._deleted.extend(due)

    # ----------------------------------------------------------------- reading

    def get(self, event_id: str) -> Record | None:
        return self.by_id.get(event_id)

    def list_candidates(self, query: Query) -> list[SortedIndex]:
        """The indexes whose every event passes the source filters and visibility."""
        if query.source_unfiltered:
            return [self.all]
        return [idx for guid, idx in self.by_source.items() if idx and query.source_ok(guid)]

    def page(self, query: Query, desc: bool, page: int, size: int) -> tuple[list[Record], bool]:
        """Page ``page`` of ``size`` events (time and source filters only); True if more."""
        windows = []
        for index in self.list_candidates(query):
            a, b = index.window(query.lo, query.hi)
            if a < b:
                windows.append((index, a, b))
        total = sum(b - a for _, a, b in windows)
        start = page * size
        if start >= total:
            return [], False
        count = min(size, total - start)
        recs = _select(windows, total - start - count if desc else start, count)
        if desc:
            recs.reverse()
        return recs, start + count < total

    # ----------------------------------------------------------------- sessions

    def create_session(
        self, owner: str, query: Query, desc: bool, echo: dict[str, Any], now_us: int
    ) -> EventSession:
        self.expire_sessions(now_us)
        if not self.sessions:
            self._log.clear()
            self._deleted.clear()
            self._deleted_base = 0
        session = EventSession(
            str(uuid.uuid4()),
            owner,
            query,
            desc,
            self._seq,
            self._session_candidates(query),
            self._deleted_base + len(self._deleted),
            now_us,
            echo,
        )
        self.sessions[session.id] = session
        return session

    def _session_candidates(self, query: Query) -> list[SortedIndex]:
        by_source = self.list_candidates(query)
        if query.type_keys is None:
            return [i for i in by_source if i]
        by_type = [self.by_type[t] for t in query.type_keys if self.by_type.get(t)]
        if sum(map(len, by_type)) < sum(map(len, by_source)):
            return by_type
        return [i for i in by_source if i]

    def find_session(self, session_id: str, owner: str, now_us: int) -> EventSession | None:
        """The session if it exists, is not idle too long and belongs to ``owner``."""
        self.expire_sessions(now_us)
        session = self.sessions.get(session_id)
        return session if session is not None and session.owner == owner else None

    def delete_session(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    def drop_sessions(self) -> None:
        self.sessions.clear()

    def expire_sessions(self, now_us: int) -> None:
        """Drop the sessions not read for the idle timeout [profile: the length]."""
        limit = now_us - self.session_idle_us
        for sid in [s.id for s in self.sessions.values() if s.last_read < limit]:
            del self.sessions[sid]

    def read_session(
        self, session: EventSession, max_size: int, now_us: int
    ) -> tuple[list[Record], list[Record]]:
        """``(new, deleted)`` since the previous read, at most ``max_size`` new ones."""
        session.last_read = now_us
        deleted = self._deleted_since(session)
        new = [] if session.backlog_done else self._backlog(session, max_size)
        if len(new) < max_size:
            live = self._live(session, max_size - len(new))
            live.sort(key=_key, reverse=session.desc)
            new.extend(live)
        self._trim_logs()
        return new, deleted

    def _deleted_since(self, session: EventSession) -> list[Record]:
        pending = self._deleted[session.del_pos - self._deleted_base :]
        session.del_pos = self._deleted_base + len(self._deleted)
        return [rec for rec in pending if session.returned(rec)]

    def _backlog(self, session: EventSession, limit: int) -> list[Record]:
        query = session.query
        streams = [_walk(i, query, session.cursor, session.desc) for i in session.candidates]
        merged: Iterable[Record] = (
            streams[0]
            if len(streams) == 1
            else heapq.merge(*streams, key=_key, reverse=session.desc)
        )
        out: list[Record] = []
        for rec in merged:
            if rec.key & SEQ_MASK <= session.snap and query.match(rec):
                out.append(rec)
                if len(out) == limit:
                    session.cursor = rec.key
                    return out
        session.backlog_done = True
        return out

    def _live(self, session: EventSession, limit: int) -> list[Record]:
        log = self._log
        start = bisect_right(log, session.live_seq, key=_seq)
        out: list[Record] = []
        for i in range(start, len(log)):
            rec = log[i]
            session.live_seq = rec.key & SEQ_MASK
            if not rec.deleted and session.query.match(rec):
                out.append(rec)
                if len(out) == limit:
                    break
        return out

    def _trim_logs(self) -> None:
        if len(self._log) > 65536:
            low = min(s.live_seq for s in self.sessions.values())
            cut = bisect_right(self._log, low, key=_seq)
            if cut > len(self._log) // 2:
                del self._log[:cut]
        if len(self._deleted) > 65536:
            cut = min(s.del_pos for s in self.sessions.values()) - self._deleted_base
            if cut > len(self._deleted) // 2:
                del self._deleted[:cut]
                self._deleted_base += cut


def _walk(index: SortedIndex, query: Query, cursor: int | None, desc: bool) -> Iterator[Record]:
    """The records of ``index`` after ``cursor`` in the walk's direction, within the time
    window of ``query``."""
    a, b = index.window(query.lo, query.hi)
    recs = index.recs
    if desc:
        if cursor is not None:
            b = min(b, bisect_left(index.keys, cursor))
        return (recs[i] for i in range(b - 1, a - 1, -1))
    if cursor is not None:
        a = max(a, bisect_right(index.keys, cursor))
    return (recs[i] for i in range(a, b))


def _select(windows: list[tuple[SortedIndex, int, int]], start: int, count: int) -> list[Record]:
    """Events ``start .. start+count`` (ascending) of the union of sorted windows.

    One window is a slice. Several: binary search on the key for the ``start``-th smallest
    (each probe is one ``bisect`` per window), then a merge of ``count`` from there.
    """
    if len(windows) == 1:
        index, a, _ = windows[0]
        return index.recs[a + start : a + start + count]

    def below(v: int) -> int:
        return sum(bisect_left(i.keys, v, a, b) - a for i, a, b in windows)

    lo = min(i.keys[a] for i, a, _ in windows)
    hi = max(i.keys[b - 1] for i, _, b in windows) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if below(mid) > start:
            hi = mid
        else:
            lo = mid + 1
    kth = lo - 1
    slices = []
    for index, a, b in windows:
        p = bisect_left(index.keys, kth, a, b)
        slices.append(index.recs[p : min(b, p + count)])
    return list(islice(heapq.merge(*slices, key=_key), count))
