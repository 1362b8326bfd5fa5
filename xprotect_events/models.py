"""The data the Events API speaks about, as attrs classes. Pure: no I/O, no wire names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from .checks import aware, no_controls
from .errors import InvalidInputError, shown

#: The longest ``tag`` a trigger may carry [profile: not published; generous, but bounded].
MAX_TAG_LENGTH = 1024

ChangeKind = Literal["new", "deleted"]

_HEX32 = re.compile("[0-9a-fA-F]{32}")


def to_uuid(value: object, what: str = "id") -> uuid.UUID:
    """A UUID from a UUID or a GUID string; anything else is an :class:`InvalidInputError`."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        no_controls(what, value)
        # uuid.UUID() reads the digits with int(), which skips blanks and takes "_" and
        # "+": " c13f…" with one digit gone would parse as another GUID. 32 digits or none.
        digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
        if _HEX32.fullmatch(digits):
            return uuid.UUID(digits)
    raise InvalidInputError(f"{what} must be a GUID, got {shown(value)}")


def _to_type(value: object) -> uuid.UUID:
    return to_uuid(value, "type")


def to_source(value: object) -> str | None:
    """None, a GUID, or ``<resource>/<guid>`` (``cameras/…``); returned as a string."""
    if value is None or isinstance(value, uuid.UUID):
        return None if value is None else str(value)
    if not isinstance(value, str):
        raise InvalidInputError(
            f"source must be None, a GUID or '<resource>/<guid>', got {shown(value)}"
        )
    no_controls("source", value)
    resource, sep, guid = value.rpartition("/")
    if sep and ("/" in resource or not resource.isidentifier()):
        raise InvalidInputError(
            f"source resource must be a plain name like 'cameras', got {shown(value)}"
        )
    to_uuid(guid, "source")
    return value


def _check_aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None:
        aware(value, attribute.name)


def _check_tag(_: object, __: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInputError(f"tag must be a string, got {type(value).__name__}")
    no_controls("tag", value)
    if len(value) > MAX_TAG_LENGTH:
        raise InvalidInputError(f"tag is {len(value)} characters long; at most {MAX_TAG_LENGTH}")


def _check_optional_str(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{attribute.name} must be a string or None, got {shown(value)}")


def _check_data(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInputError(f"data must be a mapping (JSON object) or None, got {shown(value)}")


def source_guid(source: str | None) -> uuid.UUID | None:
    """The GUID inside a source (``cameras/<guid>`` or ``<guid>``), or None."""
    if not source:
        return None
    try:
        return uuid.UUID(source.rpartition("/")[2])
    except ValueError:
        return None


@attrs.frozen(kw_only=True)
class Event:
    """An event as the server stores it.

    ``data`` is present only when it was asked for (``include_data=True``). ``extra`` keeps
    every wire field this version of the library does not know, as the server sent it.
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


@attrs.frozen(kw_only=True)
class EventTrigger:
    """What a trigger POST sends. Validated on construction: bad input never leaves the process.

    ``type`` is the event type's GUID; ``source`` is None, a GUID or ``cameras/<guid>``;
    ``time`` (optional, the server fills it) must be timezone-aware.
    """

    type: uuid.UUID = attrs.field(converter=_to_type)
    source: str | None = attrs.field(default=None, converter=to_source)
    time: datetime | None = attrs.field(default=None, validator=_check_aware)
    datatype: str | None = attrs.field(default=None, validator=_check_optional_str)
    tag: str | None = attrs.field(default=None, validator=_check_tag)
    data: Mapping[str, Any] | None = attrs.field(default=None, validator=_check_data, hash=False)


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
    """One change seen through an event session: ``kind`` is ``"new"`` or ``"deleted"``."""

    kind: ChangeKind
    event: Event


@attrs.frozen(kw_only=True)
class Token:
    """An access token. Its value never shows in a repr."""

    access_token: str = attrs.field(repr=False)
    expires_in: float
    token_type: str = "Bearer"
    scope: str | None = None
