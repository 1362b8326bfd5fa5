"""The Events and State WebSocket wire format: rules, commands, frames, gaps. Pure: no I/O.

Facts and their sources are in ``WIRE-WS.md``: every frame is one JSON object in a text
frame; the client sends commands (``{"command", "commandId", …}``), the server sends command
responses (``{"commandId", "status", …}``, a failure adds ``"error": {"errorText"}``) and
event batches (``{"events": […]}``) interleaved on one socket [sample].
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeGuard

import attrs

from . import wire, ws_typed
from .checks import plain_str, read_list
from .errors import InvalidInputError, ProtocolError, shown
from .models import Event, source_guid, to_source, to_uuid

Modifier = Literal["include", "exclude"]
ANY = "*"

# --------------------------------------------------------------------------- rules


def _guids(
    values: Iterable[uuid.UUID | str] | None,
    what: str,
    read: Callable[[object], uuid.UUID] | None = None,
) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    if isinstance(values, str | uuid.UUID) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{what} must be an iterable of GUIDs or None, got {shown(values)}")
    out = tuple(to_uuid(v, what) if read is None else read(v) for v in read_list(what, values))
    if not out:
        raise InvalidInputError(f"{what} is empty: give None (any) or at least one GUID")
    return out


def _source_id(value: object) -> uuid.UUID:
    """A source's GUID: given as a GUID or, as the REST side writes sources,
    ``<resource>/<guid>`` (``cameras/…``)."""
    guid = source_guid(to_source(value))
    if guid is None:
        raise InvalidInputError("a source must be a GUID or 'cameras/<guid>', got None")
    return guid


def _names(values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInputError(f"resource_types must be an iterable of names, got {shown(values)}")
    out = tuple(
        plain_str(v) if isinstance(v, str) else v for v in read_list("resource_types", values)
    )
    for name in out:
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidInputError(
                f"a resource type is a plain name like 'cameras': {shown(name)}"
            )
    if not out:
        raise InvalidInputError("resource_types is empty: give None (any) or at least one name")
    return out


@attrs.frozen(kw_only=True)
class Rule:
    """One subscription filter: ``include`` or ``exclude`` events of these types, from these
    sources (GUIDs; ``cameras/<guid>`` is taken too, as the REST side writes a source), of
    these resource types (``cameras``, ``userDefinedEvents`` …).

    None means any (``"*"`` on the wire). Build it with :meth:`include` or :meth:`exclude`.
    A session delivers an event when an include rule matches it and no exclude rule does.
    """

    modifier: Modifier = "include"
    types: tuple[uuid.UUID, ...] | None = None
    sources: tuple[uuid.UUID, ...] | None = None
    resource_types: tuple[str, ...] | None = None

    @classmethod
    def include(
        cls,
        *,
        types: Iterable[uuid.UUID | str] | None = None,
        sources: Iterable[uuid.UUID | str] | None = None,
        resource_types: Iterable[str] | None = None,
    ) -> Rule:
        """A rule that delivers events of these types, sources and resource types (each
        None: any). :class:`InvalidInputError` for a value that is not a GUID or a name."""
        return cls(
            modifier="include",
            types=_guids(types, "types"),
            sources=_guids(sources, "sources", _source_id),
            resource_types=_names(resource_types),
        )

    @classmethod
    def exclude(
        cls,
        *,
        types: Iterable[uuid.UUID | str] | None = None,
        sources: Iterable[uuid.UUID | str] | None = None,
        resource_types: Iterable[str] | None = None,
    ) -> Rule:
        """A rule that holds back events :meth:`include` would match with these arguments,
        even when an include rule matches them."""
        return attrs.evolve(
            cls.include(types=types, sources=sources, resource_types=resource_types),
            modifier="exclude",
        )

    def matches(self, type_id: uuid.UUID, source: str | None) -> bool:
        """Whether an event of ``type_id`` from ``source`` (``cameras/<guid>``) fits."""
        if self.types is not None and type_id not in self.types:
            return False
        resource, _, guid = (source or "").rpartition("/")
        if self.resource_types is not None and resource not in self.resource_types:
            return False
        if self.sources is not None:
            try:
                return uuid.UUID(guid) in self.sources
            except ValueError:
                return False
        return True


def delivered(rules: Iterable[Rule], type_id: uuid.UUID, source: str | None) -> bool:
    """An include rule matches and no exclude rule does [profile, MIP SDK semantics]."""
    included = False
    for rule in rules:
        if rule.matches(type_id, source):
            if rule.modifier == "exclude":
                return False
            included = True
    return included


def _list_or_any(values: Sequence[object] | None) -> list[str]:
    return [ANY] if values is None else [str(v) for v in values]


def rule_to_wire(rule: Rule) -> dict[str, Any]:
    """The filter object of ``addSubscription`` [sample]."""
    return {
        "modifier": rule.modifier,
        "resourceTypes": _list_or_any(rule.resource_types),
        "sourceIds": _list_or_any(rule.sources),
        "eventTypes": _list_or_any(rule.types),
    }


def _wire_list(d: Mapping[str, Any], key: str) -> list[str] | None:
    value = d.get(key, [ANY])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"filter {key!r} must be an array of strings")
    return None if ANY in value else value


def rule_from_wire(d: Any) -> Rule:
    """A filter as a server reads it; the modifier's case is ignored [sample: JS sends
    ``Include``]. A malformed filter is a :class:`ProtocolError`."""
    if not isinstance(d, dict):
        raise ProtocolError("a filter must be an object")
    modifier = d.get("modifier")
    if not isinstance(modifier, str) or modifier.lower() not in ("include", "exclude"):
        raise ProtocolError("filter 'modifier' must be 'include' or 'exclude'")
    try:
        types = _wire_list(d, "eventTypes")
        sources = _wire_list(d, "sourceIds")
        resources = _wire_list(d, "resourceTypes")
        return Rule(
            modifier="include" if modifier.lower() == "include" else "exclude",
            types=None if types is None else tuple(uuid.UUID(t) for t in types),
            sources=None if sources is None else tuple(uuid.UUID(s) for s in sources),
            resource_types=None if resources is None else tuple(resources),
        )
    except ValueError:
        raise ProtocolError("filter ids must be GUIDs or '*'") from None


def subscription_rules(
    types: Iterable[uuid.UUID | str] | None,
    sources: Iterable[uuid.UUID | str] | None,
    resource_types: Iterable[str] | None,
    rules: Iterable[Rule] | None,
) -> tuple[Rule, ...]:
    """``subscribe``'s arguments as rules: one include rule from ``types``/``sources``/
    ``resource_types`` (unless only ``rules`` are given), then ``rules`` as they are."""
    given = () if rules is None else rules
    if isinstance(given, Rule) or not isinstance(given, Iterable):
        raise InvalidInputError(f"rules must be an iterable of Rule objects, got {shown(rules)}")
    explicit = tuple(read_list("rules", given))
    for rule in explicit:
        if not isinstance(rule, Rule):
            raise InvalidInputError(f"rules must hold Rule objects, got {shown(rule)}")
    implicit = types is not None or sources is not None or resource_types is not None
    if implicit or not any(r.modifier == "include" for r in explicit):
        base = Rule.include(types=types, sources=sources, resource_types=resource_types)
        return (base, *explicit)
    return explicit


# --------------------------------------------------------------------------- frames


def command(name: str, command_id: int, **fields: Any) -> bytes:
    """A command frame's JSON text."""
    return wire.dumps({"command": name, "commandId": command_id, **fields})


@attrs.frozen
class Reply:
    """A command response: ``status`` (HTTP-like), ``body`` (the whole object), and the
    server's ``errorText`` when it failed."""

    command_id: int
    status: int
    body: Mapping[str, Any] = attrs.field(repr=False)
    error_text: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _error_text(d: Mapping[str, Any]) -> str | None:
    error = d.get("error")
    if isinstance(error, dict) and isinstance(error.get("errorText"), str):
        return str(error["errorText"])
    return error if isinstance(error, str) else None


def parse_frame(text: str | bytes) -> Reply | list[Event]:
    """A server frame: a :class:`Reply` or the events of a batch (a :class:`ProtocolError`
    for anything else). A batch in the server's form is decoded by
    :func:`.ws_typed.event_batch`; anything else here, with the same result."""
    events = ws_typed.event_batch(text)
    return checked_frame(text) if events is None else events


def checked_frame(text: str | bytes) -> Reply | list[Event]:
    """:func:`parse_frame` checking every field, for any form of the frame."""
    d = wire.loads(text)
    if not isinstance(d, dict):
        raise ProtocolError(f"a frame must be a JSON object, got {type(d).__name__}")
    if "commandId" in d:
        command_id, status = d["commandId"], d.get("status")
        if not _is_int(command_id) or not _is_int(status):
            raise ProtocolError("a response needs an integer 'commandId' and 'status'")
        if "events" in d:  # its events would be lost without a word
            raise ProtocolError("a frame is both a command response and an event batch")
        return Reply(command_id, status, d, _error_text(d))
    events = d.get("events")
    if not isinstance(events, list):
        raise ProtocolError("a frame is neither a command response nor an event batch")
    return [wire.event_from_wire(e) for e in events]


def _is_int(value: object) -> TypeGuard[int]:
    """An integer on the wire (``true`` is not one, though Python's ``bool`` is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def command_id_of(text: str | bytes) -> int | None:
    """The ``commandId`` of a frame that may be malformed otherwise; None if it has none
    (or carries events too: its events are not one command's to lose)."""
    try:
        d = wire.loads(text)
    except ProtocolError:
        return None
    if not isinstance(d, dict) or "events" in d:
        return None
    command_id = d.get("commandId")
    return command_id if _is_int(command_id) else None


def states_from_reply(reply: Reply) -> list[Event]:
    """The ``states`` of a ``getState`` answer [sample]."""
    states = reply.body.get("states", [])
    if not isinstance(states, list):
        raise ProtocolError("getState 'states' must be an array")
    return [wire.event_from_wire(e) for e in states]


# --------------------------------------------------------------------------- gaps


@attrs.frozen(kw_only=True)
class Gap:
    """Events between ``start`` and ``end`` may be missing from the stream.

    Reported when the server could not resume the session (a ``201`` to ``startSession``)
    and the missing events could not all be fetched from the REST store. ``start`` is the
    time of the last event the stream delivered (the server's clock; or when the stream
    started, this machine's), ``end`` when the new session started (this machine's clock:
    with the clocks apart, widen the span by their difference). ``types`` names the event
    types that may be missing (those the subscription covers that are not known to be
    stored); None: any type that the REST store does not keep. ``filled`` counts the
    events fetched from the store for the gap.
    """

    start: datetime
    end: datetime
    types: tuple[uuid.UUID, ...] | None = None
    filled: int = 0


#: What ``subscribe(on_gap=…)`` takes: a function or a coroutine function of the gap.
OnGap = Callable[[Gap], Awaitable[None] | None]


def gap_types(
    rules: Iterable[Rule], stored: frozenset[uuid.UUID] | Literal["all"] | None
) -> tuple[uuid.UUID, ...] | Literal[False] | None:
    """What a gap may lack: the included types not known to be stored; None when unknown;
    ``False`` when nothing (every included type is stored)."""
    if stored == "all":
        return False
    included: set[uuid.UUID] = set()
    for rule in rules:
        if rule.modifier == "include":
            if rule.types is None:
                return None
            included.update(rule.types)
    missing = tuple(sorted(included - (stored or frozenset()), key=str))
    return missing or False


_ID_INT = operator.attrgetter("id.int")


class RecentIds:
    """The ids of at least the last ``size`` events seen, for dropping repeats.

    Two generations of sets keyed on the id's integer (a C hash, no ``UUID.__hash__``
    call): when the newer one holds ``size`` ids it becomes the older one, so between
    ``size`` and ``2 * size`` ids are remembered, at O(1) per event and no per-event
    eviction.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._new: set[int] = set()
        self._old: set[int] = set()

    def seen(self, event_id: uuid.UUID) -> bool:
        """True if ``event_id`` was seen already; otherwise remember it."""
        return not self._first(event_id.int)

    def fresh(self, events: Sequence[Event]) -> list[Event]:
        """The events of ``events`` not seen before (in order), now remembered."""
        new, old = self._new, self._old
        keys = set(map(_ID_INT, events))  # in C, as the set operations below
        if len(keys) == len(events) and keys.isdisjoint(new) and keys.isdisjoint(old):
            new |= keys  # no repeat: the common case
            fresh = list(events)
        else:
            fresh = []
            for event in events:
                key = event.id.int
                if key not in new and key not in old:
                    new.add(key)
                    fresh.append(event)
        if len(new) >= self._size:
            self._old, self._new = new, set()
        return fresh

    def _first(self, key: int) -> bool:
        if key in self._new or key in self._old:
            return False
        self._new.add(key)
        if len(self._new) >= self._size:
            self._old, self._new = self._new, set()
        return True
