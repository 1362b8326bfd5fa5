"""The data the Events API speaks about, as attrs classes. Pure: no I/O, no wire names."""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, Literal, Protocol, cast

import attrs

from .checks import aware, json_data, no_controls, utf8
from .errors import InvalidInputError, shown

#: The longest ``tag`` a trigger may carry [profile: not published; generous, but bounded].
MAX_TAG_LENGTH = 1024

ChangeKind = Literal["new", "deleted"]

_HEX32 = re.compile("[0-9a-fA-F]{32}")
_UUID_INT = uuid.UUID.__dict__["int"].__get__


def to_uuid(value: object, what: str = "id") -> uuid.UUID:
    """A UUID from a UUID or a GUID string; anything else is an :class:`InvalidInputError`."""
    if isinstance(value, uuid.UUID):  # a subclass: its value, without its own methods
        return value if type(value) is uuid.UUID else uuid.UUID(int=_UUID_INT(value))
    if isinstance(value, str):
        value = no_controls(what, value)  # (a plain str from here on)
        # uuid.UUID() reads the digits with int(), which skips blanks and takes "_" and
        # "+": " c13f…" with one digit gone would parse as another GUID. 32 digits or none.
        digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
        if _HEX32.fullmatch(digits):
            return uuid.UUID(digits)
    raise InvalidInputError(f"{what} must be a GUID, got {shown(value)}")


def to_source(value: object) -> str | None:
    """None, a GUID, or ``<resource>/<guid>`` (``cameras/…``); returned as a string."""
    if value is None or isinstance(value, uuid.UUID):
        return None if value is None else str(to_uuid(value, "source"))
    if not isinstance(value, str):
        raise InvalidInputError(
            f"source must be None, a GUID or '<resource>/<guid>', got {shown(value)}"
        )
    value = no_controls("source", value)
    resource, sep, guid = value.rpartition("/")
    if sep and ("/" in resource or not resource.isidentifier()):
        raise InvalidInputError(
            f"source resource must be a plain name like 'cameras', got {shown(value)}"
        )
    to_uuid(guid, "source")
    return value


def check_tag(value: object) -> str | None:
    """The tag rule: None or a string of at most :data:`MAX_TAG_LENGTH` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"tag must be a string, got {type(value).__name__}")
    value = no_controls("tag", value)
    if not value.isascii():  # (the call only then: tags by the million)
        utf8("tag", value)
    if len(value) > MAX_TAG_LENGTH:
        raise InvalidInputError(f"tag is {len(value)} characters long; at most {MAX_TAG_LENGTH}")
    return value


def check_optional_str(name: str, value: object) -> str | None:
    """None, or text a server's log can hold (the rule of ``tag``, without its length)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string or None, got {shown(value)}")
    return utf8(name, no_controls(name, value))


def check_data(value: object) -> Mapping[str, Any] | None:
    """None or a mapping of JSON values: :func:`~.checks.json_data` says what is refused
    here (naming where); aware datetimes are sent in UTC as the server writes times."""
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInputError(f"data must be a mapping (JSON object) or None, got {shown(value)}")
    if value is not None and (type(value) is not dict or value):
        json_data(value)
    return value


# Triggers are built by the million and their types and sources repeat: each distinct text
# is checked once (the rules stay those of to_uuid and to_source; these only remember).
_CACHE_SIZE = 4096
_TYPES: dict[str, uuid.UUID] = {}
_SOURCES: set[str] = set()


def trigger_type(value: object) -> uuid.UUID:
    """:func:`to_uuid` for a trigger's ``type``, remembering the GUID texts seen."""
    if type(value) is uuid.UUID:  # (a subclass: to_uuid reads its value)
        return value
    if type(value) is str:
        known = _TYPES.get(value)
        if known is None:
            known = to_uuid(value, "type")
            if len(_TYPES) >= _CACHE_SIZE:
                _TYPES.clear()
            _TYPES[value] = known
        return known
    return to_uuid(value, "type")


def trigger_source(value: object) -> str | None:
    """:func:`to_source` for a trigger's ``source``, remembering the texts that passed."""
    if value is None:
        return None
    if type(value) is str and value in _SOURCES:
        return value
    checked: str | None = to_source(value)
    if type(value) is str:
        if len(_SOURCES) >= _CACHE_SIZE:
            _SOURCES.clear()
        _SOURCES.add(value)
    return checked


def source_guid(source: str | None) -> uuid.UUID | None:
    """The GUID inside a source (``cameras/<guid>`` or ``<guid>``), or None."""
    if not source:
        return None
    try:
        return uuid.UUID(source.rpartition("/")[2])
    except ValueError:
        return None


@attrs.frozen(kw_only=True, weakref_slot=False)
class Event:
    """An event as the server stores it.

    ``data`` is present only when it was asked for (``include_data=True``). ``extra`` keeps
    every wire field this version of the library does not know, as the server sent it.
    (No weak references: decoders build events by the million, see :func:`make_event`.)
    """

    id: uuid.UUID
    time: datetime
    type: uuid.UUID
    source: str | None = None
    tag: str | None = None
    datatype: str | None = None
    data: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)

    @property
    def source_id(self) -> uuid.UUID | None:
        """The GUID of the source, without its ``cameras/`` prefix."""
        return source_guid(self.source)

    @property
    def state_group_id(self) -> uuid.UUID | None:
        """The state group of a stateful event (the WebSocket API's ``stategroupid``)."""
        return source_guid(self.extra.get("stategroupid"))


@attrs.frozen(kw_only=True, init=False)
class EventTrigger:
    """What a trigger POST sends. Validated on construction, and ``data`` again when sent
    (the caller's mapping may have changed since; a subclass's every field, its own code
    may have stored or shown anything): bad input never leaves the process.

    ``type`` is the event type's GUID; ``source`` is None, a GUID or ``cameras/<guid>``;
    ``time`` (optional, the server fills it) must be timezone-aware.
    """

    type: uuid.UUID
    source: str | None = None
    time: datetime | None = None
    datatype: str | None = None
    tag: str | None = None
    data: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    def __init__(
        self,
        *,
        type: uuid.UUID | str,
        source: uuid.UUID | str | None = None,
        time: datetime | None = None,
        datatype: str | None = None,
        tag: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        # Slot stores, not the frozen __setattr__: a batch builds triggers by the million.
        # The rules are the functions above; None (the common case) skips their call.
        _SET_TYPE(self, trigger_type(type))
        _SET_SOURCE(self, None if source is None else trigger_source(source))
        _SET_TIME(self, None if time is None else aware(time, "time"))
        _SET_DATATYPE(self, None if datatype is None else check_optional_str("datatype", datatype))
        _SET_TAG(self, None if tag is None else check_tag(tag))
        _SET_DATA(self, None if data is None else check_data(data))


def _slot_setter(cls: type, name: str) -> Any:
    return cls.__dict__[name].__set__


_SET_TYPE, _SET_SOURCE, _SET_TIME, _SET_DATATYPE, _SET_TAG, _SET_DATA = (
    _slot_setter(EventTrigger, f.name) for f in attrs.fields(EventTrigger)
)


@attrs.frozen(kw_only=True)
class EventType:
    """An item of the Configuration API's ``/eventTypes``."""

    id: uuid.UUID
    name: str
    display_name: str | None = None
    description: str | None = None
    generator_type: str | None = None
    generator_subtype: str | None = None
    generator_name: str | None = None
    generator_id: str | None = None
    generator_group_name: str | None = None
    generator_group_id: str | None = None
    occurs_globally: bool | None = None
    built_in: bool | None = None
    counter_event_id: str | None = None
    source_array: tuple[str, ...] = ()
    state_group_id: str | None = None
    state: str | None = None
    last_modified: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)

    @property
    def user_may_trigger(self) -> bool:
        """Whether a *user* token may trigger this type (service tokens may trigger any).

        User tokens may trigger ``External`` (user-defined) and ``MIPDevice`` (analytics,
        plug-in) event types, but not ``MIPDevice``/``Generic`` (generic events) [seed].
        """
        return self.generator_type in ("External", "MIPDevice") and (
            self.generator_subtype != "Generic"
        )


@attrs.frozen(kw_only=True)
class Camera:
    """An item of the Configuration API's ``/cameras`` (the fields a client needs)."""

    id: uuid.UUID
    name: str
    display_name: str | None = None
    enabled: bool | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)

    @property
    def source(self) -> str:
        """This camera as an event source: ``cameras/<guid>``."""
        return f"cameras/{self.id}"


@attrs.frozen(kw_only=True)
class EventPage:
    """One page of ``GET /events``: the events and the links to the next and previous pages."""

    events: list[Event]
    next: str | None = None
    prev: str | None = None


@attrs.frozen(kw_only=True)
class SessionRead:
    """One read of an event session: new events and events deleted since the previous read."""

    new_events: list[Event]
    deleted_events: list[Event]


@attrs.frozen(kw_only=True)
class SessionChange:
    """One change seen through an event session: ``kind`` is ``"new"`` or ``"deleted"``.

    A session builds ``event`` when it is first read (a consumer that only counts changes
    never pays for the :class:`Event`); its read was checked when it was decoded.
    """

    kind: ChangeKind
    event: Event


@attrs.frozen(kw_only=True)
class Token:
    """An access token. Its value never shows in a repr."""

    access_token: str = attrs.field(repr=False)
    expires_in: float
    token_type: str = "Bearer"
    scope: str | None = None


# Built without the keyword __init__ (slot stores): decoders make these by the thousand a
# second. Each takes every field, in the order the class declares them.
_SET_KIND, _SET_EVENT_OF = (
    _slot_setter(SessionChange, f.name) for f in attrs.fields(SessionChange)
)
_new = object.__new__


class EventParts:
    """An :class:`Event`'s slots, writable: a decoder stores the fields as plain attributes
    and then makes the object the Event by ``__class__`` assignment (the same layout), about
    half the cost of storing through the frozen class's slot descriptors. (CPython allows
    that assignment only without a ``__weakref__`` slot: hence ``weakref_slot=False``.)"""

    __slots__ = tuple(f.name for f in attrs.fields(Event))


def make_event(
    id: uuid.UUID,
    time: datetime,
    type: uuid.UUID,
    source: str | None,
    tag: str | None,
    datatype: str | None,
    data: Mapping[str, Any] | None,
    extra: Mapping[str, Any],
) -> Event:
    """``Event(id=…, …)`` with every field given, for the decoders' hot path (no checks:
    the caller has checked the values)."""
    event: Any = _new(EventParts)
    event.id = id
    event.time = time
    event.type = type
    event.source = source
    event.tag = tag
    event.datatype = datatype
    event.data = data
    event.extra = extra
    event.__class__ = Event
    return cast("Event", event)


class WireForm(Protocol):
    """An event as decoded from the wire, made an :class:`Event` on demand: the fields
    of an event that has no ``data`` and no ``extra``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def time(self) -> datetime: ...
    @property
    def type(self) -> uuid.UUID: ...
    @property
    def source(self) -> str | None: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def datatype(self) -> str | None: ...


def event_of_form(form: WireForm) -> Event:
    """The :class:`Event` of a :class:`WireForm`."""
    return make_event(form.id, form.time, form.type, form.source, form.tag, form.datatype, None, {})


def make_change(kind: ChangeKind, event: Event | WireForm) -> SessionChange:
    """``SessionChange(kind=…, event=…)`` for the session's hot path; a :class:`WireForm`
    becomes the :class:`Event` when ``change.event`` is first read."""
    change: SessionChange = _new(SessionChange)
    _SET_KIND(change, kind)
    _SET_EVENT_OF(change, event)
    return change


def make_changes(kind: ChangeKind, events: Sequence[Event | WireForm]) -> list[SessionChange]:
    """:func:`make_change` of each event, a list at a time (the loops run in C)."""
    changes: list[SessionChange] = list(map(_new, repeat(SessionChange, len(events))))
    deque(map(_SET_KIND, changes, repeat(kind)), maxlen=0)
    deque(map(_SET_EVENT_OF, changes, events), maxlen=0)
    return changes


_EVENT_SLOT = SessionChange.__dict__["event"]


def _event_of(change: SessionChange) -> Event:
    """The event that changed (built from its wire form when first read)."""
    value = _EVENT_SLOT.__get__(change, SessionChange)
    if type(value) is not Event:  # still the wire form: build it, once
        value = event_of_form(value)
        _SET_EVENT_OF(change, value)
    return value


# ``event`` reads through _event_of (attrs' __init__, eq, repr, hash, pickling and evolve
# all go through the attribute, so they see the Event); the slot stays where it was.
setattr(SessionChange, "event", property(_event_of, _SET_EVENT_OF))  # noqa: B010
