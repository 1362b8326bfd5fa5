"""Stream positions: where a stream stands, as a small value that survives restarts. Pure.

A position is what a checkpoint stores (:mod:`xprotect_events.checkpoints`): the consumer's
place in a stream, as JSON that this and later versions of the library read back.

:class:`SessionPosition` (event sessions, ``client.event_session``)
    ``time``, the newest delivered event time, and ``recent``, the ids (with their times)
    delivered within ``window`` of it. A resumed session asks for ``time gt (time - 10 ms)``
    and drops the events :meth:`~SessionPosition.delivered` says it had: events that share
    the boundary time are neither lost nor repeated, and an event stored a little late (up
    to ``window`` older than the newest one) still comes through. With ``window=0`` the
    rule is the plain one: events strictly before ``time`` were delivered, and at ``time``
    exactly the ids in ``recent``.
:class:`LivePosition` (the WebSocket stream, ``client.subscribe``)
    the server's ``session_id``, the ``event_id`` and ``time`` of the last delivered event:
    what ``startSession`` needs to resume, and the time to fall back on when the server no
    longer has the session.

The format (``version`` 1), one JSON object with sorted keys, times in UTC as the server
writes them::

    {"kind": "session", "version": 1, "time": "…Z", "window_us": 20000,
     "recent": [{"time": "…Z", "ids": ["<guid>", …]}, …],
     "server": "https://host", "filters": "<digest>"}

    {"kind": "live", "version": 1, "session_id": "…", "event_id": "<guid>", "time": "…Z",
     "server": "https://host", "filters": "<digest>"}

A stream saves both with ``server`` (the server's URL, which never holds a credential) and
``filters`` (a digest of the session's filters or the live stream's rules): a stream of
another server or of other filters refuses it (:mod:`.origins`). They are left out when
None, as versions before them wrote it.

Readers ignore fields they do not know (a later version may add some that older readers can
do without); a change that a reader must understand gets a new ``version``, which older
versions refuse with a clear :class:`CheckpointError` rather than guess.

Size: ``recent`` holds at most :data:`MAX_RECENT_IDS` ids (about 0.5 MB of JSON). Beyond that
the oldest are forgotten: those events may be delivered once more after a resume (at least
once still holds: nothing is lost). With event times accurate to 10 ms that takes more than
10 000 events within 20 ms, i.e. a sustained 500 000 events/s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Self, TypeVar

import attrs
import orjson

from .checks import aware, plain_str, read_pairs
from .errors import CheckpointError, InvalidInputError, ProtocolError, XProtectError, shown
from .models import to_uuid
from .wire import format_time, parse_time

#: The format version this library writes, and the newest it reads.
FORMAT_VERSION = 1
#: Event times are accurate to 10 ms [seed].
ACCURACY = timedelta(milliseconds=10)
#: How far back from the newest delivered time a session position remembers ids.
DEFAULT_WINDOW = 2 * ACCURACY
#: The most ids a :class:`SessionPosition` keeps (see the module docstring).
MAX_RECENT_IDS = 10_000
#: The longest server session id a :class:`LivePosition` takes.
MAX_SESSION_ID = 256
#: The longest ``server`` or ``filters`` a position takes.
MAX_ORIGIN = 2048

T = TypeVar("T")


def _utc(value: object) -> datetime:
    return aware(value, "a position time")  # (in range once in UTC, its tzinfo asked once)


def _recent(value: object) -> Mapping[uuid.UUID, datetime]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"recent must be a mapping of id to time, got {shown(value)}")
    pairs = read_pairs("recent", value)
    return MappingProxyType({to_uuid(k, "event id"): _utc(t) for k, t in pairs})


def _window(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidInputError(f"window must be a timedelta >= 0, got {shown(value)}")
    return value


def _origin(value: object) -> str | None:
    if value is None:
        return None
    text = plain_str(value) if isinstance(value, str) else ""
    if not text or len(text) > MAX_ORIGIN:
        raise InvalidInputError(
            f"server and filters must be None or a non-empty string of at most {MAX_ORIGIN} "
            f"characters, got {shown(value)}"
        )
    return text


def _floor(time: datetime, window: timedelta) -> datetime | None:
    """``time - window``, or None when that is before the first representable time."""
    try:
        return time - window
    except OverflowError:
        return None


@attrs.frozen(kw_only=True)
class Position:
    """A stream position: :meth:`to_json` and :meth:`from_json` (see the module docstring)."""

    kind: ClassVar[str] = ""

    def to_json(self) -> str:
        """This position as JSON text (the format of the module docstring)."""
        doc = {"kind": self.kind, "version": FORMAT_VERSION, **self._to_doc()}
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()

    def _to_doc(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """The position ``text`` holds. :class:`CheckpointError` if it is malformed, of an
        unknown kind or version, or (called on a subclass) of another kind."""
        position = _parse(text)
        return cls.expect(position)

    @classmethod
    def expect(cls, position: Position) -> Self:
        """``position`` if it is of this class; else :class:`CheckpointError` naming both."""
        if not isinstance(position, cls):
            raise CheckpointError(
                f"expected a {cls.kind or 'stream'} position, got a {position.kind} position "
                "(a checkpoint belongs to one kind of stream)"
            )
        return position


@attrs.frozen(kw_only=True)
class SessionPosition(Position):
    """Where an event session stands: see the module docstring.

    Build the first one with :meth:`of` and move it with :meth:`advance`; the constructor
    checks that every id in ``recent`` lies within ``window`` of ``time``.
    """

    kind: ClassVar[str] = "session"

    time: datetime = attrs.field(converter=_utc)
    recent: Mapping[uuid.UUID, datetime] = attrs.field(factory=dict, converter=_recent, hash=False)
    window: timedelta = attrs.field(default=DEFAULT_WINDOW, converter=_window)
    #: The server it was made for (its URL), or None: not recorded. Not compared: two
    #: positions are equal when they stand at the same place.
    server: str | None = attrs.field(default=None, converter=_origin, eq=False)
    #: A digest of the filters it was made for, or None: not recorded (not compared).
    filters: str | None = attrs.field(default=None, converter=_origin, eq=False)

    def __attrs_post_init__(self) -> None:
        floor = _floor(self.time, self.window)
        for event_id, when in self.recent.items():
            if when > self.time or (floor is not None and when < floor):
                raise InvalidInputError(
                    f"event {event_id} at {when} is outside the window {self.window} "
                    f"before {self.time}"
                )
        if len(self.recent) > MAX_RECENT_IDS:
            raise InvalidInputError(
                f"a session position keeps at most {MAX_RECENT_IDS} ids, got {len(self.recent)}"
            )

    @classmethod
    def of(
        cls, delivered: Mapping[uuid.UUID, datetime], *, window: timedelta = DEFAULT_WINDOW
    ) -> SessionPosition:
        """The position after delivering ``delivered`` (id → time; at least one).

        Keeps the ids within ``window`` of the newest time, at most :data:`MAX_RECENT_IDS`.
        """
        if not delivered:
            raise InvalidInputError("a session position needs at least one delivered event")
        try:
            return cls._of(delivered, window)
        except XProtectError:
            raise
        except Exception:  # not ids and aware times (a stream's own are): check, then go on
            return cls._of(_recent(delivered), window)

    @classmethod
    def _of(cls, delivered: Mapping[uuid.UUID, datetime], window: timedelta) -> SessionPosition:
        newest = max(delivered.values())
        floor = _floor(newest, _window(window))
        kept = {i: t for i, t in delivered.items() if floor is None or t >= floor}
        if len(kept) > MAX_RECENT_IDS:
            ordered = sorted(kept.items(), key=lambda item: item[1], reverse=True)
            kept = dict(ordered[:MAX_RECENT_IDS])
        return cls(time=newest, recent=kept, window=window)

    def delivered(self, time: datetime, event_id: uuid.UUID) -> bool:
        """Whether the event (``time``, ``event_id``) was delivered before this position.

        Events older than the window were; within it, only the ids in ``recent``.
        """
        floor = _floor(self.time, self.window)
        if floor is not None and time < floor:
            return True
        return event_id in self.recent

    def advance(self, time: datetime, event_id: uuid.UUID) -> SessionPosition:
        """The position once this event has been delivered too.

        A later time starts the window anew (ids that fall out of it are dropped); the same
        time, or one within the window, adds the id; an older one changes nothing.
        """
        floor = _floor(self.time, self.window)
        if floor is not None and time < floor:
            return self
        return self._moved({**self.recent, event_id: time})

    def advance_all(self, events: Iterable[tuple[datetime, uuid.UUID]]) -> SessionPosition:
        """:meth:`advance` for each ``(time, id)`` in turn, in one step."""
        merged = dict(self.recent)
        merged.update((event_id, time) for time, event_id in events)
        return self._moved(merged)

    def _moved(self, delivered: Mapping[uuid.UUID, datetime]) -> SessionPosition:
        """:meth:`of` ``delivered``, with this position's window, server and filters."""
        moved = self.of(delivered, window=self.window)
        if self.server is None and self.filters is None:
            return moved
        return attrs.evolve(moved, server=self.server, filters=self.filters)

    def _to_doc(self) -> dict[str, Any]:
        by_time: dict[datetime, list[str]] = {}
        for event_id, when in self.recent.items():
            by_time.setdefault(when, []).append(str(event_id))
        recent = [
            {"time": format_time(when), "ids": sorted(ids)} for when, ids in sorted(by_time.items())
        ]
        window_us = self.window // timedelta(microseconds=1)
        doc = {"time": format_time(self.time), "window_us": window_us, "recent": recent}
        origin = {"server": self.server, "filters": self.filters}
        return doc | {key: value for key, value in origin.items() if value is not None}

    @classmethod
    def _from_doc(cls, doc: Mapping[str, Any]) -> SessionPosition:
        window_us = _member(doc, "window_us", int)
        if window_us < 0:
            raise CheckpointError(f"window_us must be >= 0, got {window_us}")
        recent: dict[uuid.UUID, datetime] = {}
        for group in _member(doc, "recent", list):
            if not isinstance(group, dict):
                raise CheckpointError(f"recent must hold objects, got {shown(group)}")
            when = _time(group)
            for event_id in _member(group, "ids", list):
                recent[_guid(event_id)] = when
        return cls(
            time=_time(doc),
            recent=recent,
            window=timedelta(microseconds=window_us),
            server=_optional(doc, "server"),
            filters=_optional(doc, "filters"),
        )


def _event_id(value: object) -> uuid.UUID | None:
    return None if value is None else to_uuid(value, "event id")


def _session_id(value: object) -> str:
    text = plain_str(value) if isinstance(value, str) else ""
    if not text or len(text) > MAX_SESSION_ID:
        raise InvalidInputError(
            f"session_id must be a non-empty string of at most {MAX_SESSION_ID} characters, "
            f"got {shown(value)}"
        )
    return text


@attrs.frozen(kw_only=True)
class LivePosition(Position):
    """Where a WebSocket stream stands: the server's session and the last delivered event
    (``event_id``, ``time``), or, before any was delivered, None and the time the stream
    went live (what a restart fills from when the session cannot be resumed)."""

    kind: ClassVar[str] = "live"

    session_id: str = attrs.field(converter=_session_id)
    event_id: uuid.UUID | None = attrs.field(converter=_event_id)
    time: datetime = attrs.field(converter=_utc)
    #: The server it was made for (its URL), or None: not recorded (not compared).
    server: str | None = attrs.field(default=None, converter=_origin, eq=False)
    #: A digest of the stream's rules, or None: not recorded (not compared).
    filters: str | None = attrs.field(default=None, converter=_origin, eq=False)

    def _to_doc(self) -> dict[str, Any]:
        doc = {
            "session_id": self.session_id,
            "event_id": None if self.event_id is None else str(self.event_id),
            "time": format_time(self.time),
        }
        origin = {"server": self.server, "filters": self.filters}
        return doc | {key: value for key, value in origin.items() if value is not None}

    @classmethod
    def _from_doc(cls, doc: Mapping[str, Any]) -> LivePosition:
        none_yet = "event_id" in doc and doc["event_id"] is None  # null: none delivered yet
        event_id = None if none_yet else _guid(_member(doc, "event_id", str))
        return cls(
            session_id=_member(doc, "session_id", str),
            event_id=event_id,
            time=_time(doc),
            server=_optional(doc, "server"),
            filters=_optional(doc, "filters"),
        )


# ---------------------------------------------------------------------- reading


def _parse(text: str | bytes) -> Position:
    if not isinstance(text, str | bytes):
        raise CheckpointError(f"a position is JSON text, got {type(text).__name__}")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"not a stream position: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"not a stream position: expected a JSON object, got {shown(doc)}")
    kind = doc.get("kind")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"not a stream position: no format version (got {shown(version)})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"the position has format version {version}, written by a newer xprotect-events; "
            f"this version reads version {FORMAT_VERSION}: upgrade, or start without it"
        )
    if version < 1:
        raise CheckpointError(f"unknown position format version {version}")
    if kind == SessionPosition.kind:
        return _built(SessionPosition._from_doc, doc)
    if kind == LivePosition.kind:
        return _built(LivePosition._from_doc, doc)
    raise CheckpointError(f"unknown position kind {shown(kind)}; known: 'session', 'live'")


def _built(build: Callable[[Mapping[str, Any]], Position], doc: Mapping[str, Any]) -> Position:
    try:
        return build(doc)
    except InvalidInputError as exc:
        raise CheckpointError(f"malformed {doc.get('kind')} position: {exc}") from None


def _member(doc: Mapping[str, Any], key: str, kind: type[T]) -> T:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CheckpointError(
            f"malformed position: {key!r} must be a {kind.__name__}, got {shown(value)}"
        )
    return value


def _optional(doc: Mapping[str, Any], key: str) -> str | None:
    return None if doc.get(key) is None else _member(doc, key, str)


def _time(doc: Mapping[str, Any]) -> datetime:
    try:
        return parse_time(_member(doc, "time", str))
    except ProtocolError as exc:
        raise CheckpointError(f"malformed position: {exc}") from None


def _guid(value: object) -> uuid.UUID:
    try:
        return to_uuid(value, "event id")
    except InvalidInputError as exc:
        raise CheckpointError(f"malformed position: {exc}") from None
