"""The fast session-read decoder (typed.py) against the checked one: the same events for
what both accept, the checked one deciding (and refusing) everything else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wire_events import CHANGES, DROP, EVENT_ID, TEXT, TIME_FORMS, TIMES, TYPE_ID, wire_event
from xprotect_events import typed
from xprotect_events.errors import ProtocolError
from xprotect_events.models import Event, event_of_form, make_change
from xprotect_events.wire import (
    event_page_from_wire,
    format_time,
    parse_time,
    session_read_from_wire,
)


def read(new: list[Any], deleted: list[Any] | None = None) -> bytes:
    return json.dumps({"data": {"newEvents": new, "deletedEvents": deleted or []}}).encode()


def as_event(event: typed.AnyEvent) -> Event:
    return event if isinstance(event, Event) else event_of_form(event)


def events_of(decoded: typed.FastRead) -> tuple[list[Event], list[Event]]:
    return (
        [as_event(e) for e in decoded.new_events],
        [as_event(e) for e in decoded.deleted_events],
    )


def same_outcome(raw: bytes) -> typed.FastRead | None:
    """typed.session_read(raw) and the checked decoder agree: the same events, or both refuse."""
    try:
        expected = session_read_from_wire(orjson.loads(raw) if raw.strip() else None)
    except (ProtocolError, orjson.JSONDecodeError):
        with pytest.raises(ProtocolError):
            typed.session_read(raw)
        return None
    got = typed.session_read(raw)
    new, deleted = events_of(got)
    assert new == expected.new_events
    assert deleted == expected.deleted_events
    theirs_all = expected.new_events + expected.deleted_events
    for mine, theirs in zip(new + deleted, theirs_all, strict=True):
        assert (mine.time.tzinfo, mine.extra, mine.data) == (UTC, theirs.extra, theirs.data)
        assert str(mine.id) == str(theirs.id)
    return got


def is_fast(decoded: typed.FastRead) -> bool:
    return all(isinstance(e, typed.WireEvent) for e in decoded.new_events + decoded.deleted_events)


def test_the_canonical_read_takes_the_fast_path() -> None:
    decoded = same_outcome(read([wire_event()], [wire_event(id=str(uuid.uuid4()))]))
    assert decoded is not None
    assert is_fast(decoded)
    first = as_event(decoded.new_events[0])
    assert first.time == datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)  # half up
    assert first.id == uuid.UUID(EVENT_ID)
    assert first.extra == {}
    assert first.data is None


@pytest.mark.parametrize(
    "item",
    [
        wire_event(stategroupid="kept in extra"),  # an unknown key
        wire_event(extra={"a": 1}),  # a key named like a field of Event
        wire_event(data={"n": 12345678901234567890123}),  # data: numbers read by orjson
        wire_event(data=None),
        wire_event(time="2024-05-01T14:00:00.1234567+02:00"),  # an offset
        wire_event(time="2024-05-01T12:00:00.1234567"),  # no zone
        wire_event(id="{" + EVENT_ID + "}"),
        wire_event(id="urn:uuid:" + EVENT_ID),
    ],
)
def test_other_valid_forms_fall_back_and_decode_alike(item: dict[str, Any]) -> None:
    decoded = same_outcome(read([wire_event(id=str(uuid.uuid4())), item]))
    assert decoded is not None
    assert not is_fast(decoded)


@pytest.mark.parametrize(
    "item",
    [
        wire_event(tag=DROP),
        wire_event(id=EVENT_ID.upper()),
        wire_event(type=TYPE_ID.replace("-", "")),
        wire_event(time="2024-05-01T12:00:00Z"),
        wire_event(time="2024-05-01t12:00:00.1234567z"),
        wire_event(time="2024-05-01T12:00:00.1234567+00:00"),
    ],
)
def test_other_forms_with_the_same_events_stay_fast(item: dict[str, Any]) -> None:
    decoded = same_outcome(read([item]))
    assert decoded is not None
    assert is_fast(decoded)


@pytest.mark.parametrize(
    "raw",
    [
        read([wire_event(id="not-a-guid")]),
        read([wire_event(time=None)]),
        read([wire_event(time="9999-12-31T23:59:59.9999995Z")]),
        read([wire_event(source=7)]),
        read([wire_event(id=DROP)]),
        read(["event"]),
        b'{"data": {"newEvents": {}}}',
        b'{"data": []}',
        b"{}",
        b"",
        b"not json",
        read([wire_event()])[:-3],
    ],
)
def test_malformed_reads_are_still_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        typed.session_read(raw)


def test_a_change_builds_its_event_once_when_first_read() -> None:
    decoded = typed.session_read(read([wire_event()]))
    change = make_change("new", decoded.new_events[0])
    first = change.event
    assert isinstance(first, Event)
    assert change.event is first
    assert change == make_change("new", first)


_FORMS = st.sampled_from([str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: f"{{{u}}}"])


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.fixed_dictionaries(
            {
                "id": st.builds(lambda u, f: f(u), st.uuids(), _FORMS),
                "time": st.builds(
                    lambda t, d: format_time(t)[:26] + d + "Z", TIMES, st.sampled_from("0459")
                ),
                "type": st.sampled_from([TYPE_ID, TYPE_ID.upper()]),
                "source": TEXT,
                "tag": TEXT,
                "datatype": TEXT,
            },
            optional={"data": st.none() | st.dictionaries(st.text(max_size=3), st.integers())},
        ),
        max_size=5,
    )
)
def test_generated_reads_decode_alike(items: list[dict[str, Any]]) -> None:
    same_outcome(read(items))


@settings(max_examples=300, deadline=None)
@given(changes=CHANGES)
def test_any_changed_event_decodes_alike_or_is_refused_alike(changes: dict[str, Any]) -> None:
    same_outcome(read([wire_event(), wire_event(**changes)]))


_TIME_CHARS = st.sampled_from([*"0123456789-:.,+TtZz ", "2024-05-01T12:00:00"])


@settings(max_examples=500, deadline=None)
@given(TIME_FORMS | st.lists(_TIME_CHARS, max_size=14).map("".join))
def test_a_time_msgspec_reads_as_utc_is_the_time_parse_time_reads(text: str) -> None:
    try:
        value = msgspec.json.decode(orjson.dumps(text), type=datetime)
    except msgspec.ValidationError:
        return
    if value.tzinfo is UTC:
        assert parse_time(text) == value


def page(items: list[Any], links: Any = DROP) -> bytes:
    body: dict[str, Any] = {"array": items}
    if links is not DROP:
        body["_links"] = links
    return json.dumps(body).encode()


def same_page(raw: bytes) -> None:
    """typed.event_page(raw) and wire.event_page_from_wire agree, or both refuse."""
    try:
        expected = event_page_from_wire(orjson.loads(raw) if raw.strip() else None)
    except (ProtocolError, orjson.JSONDecodeError):
        with pytest.raises(ProtocolError):
            typed.event_page(raw)
        return
    got = typed.event_page(raw)
    assert got == expected
    assert [(e.time.tzinfo, e.extra) for e in got.events] == [
        (e.time.tzinfo, e.extra) for e in expected.events
    ]


@pytest.mark.parametrize(
    "raw",
    [
        page([wire_event()], {"next": "/api/rest/v1/events?page=1", "prev": None}),
        page([wire_event(), wire_event(id=str(uuid.uuid4()))]),
        page([], {}),
        page([wire_event()], None),
        page([wire_event()], {"next": ""}),
        page([wire_event(stategroupid="x")]),
        page([wire_event(data={"a": [1, 2]})]),
        page([wire_event()], {"next": 5}),
        page([wire_event()], []),
        page([wire_event(id="nope")]),
        b'{"_links": {}}',
        b"",
    ],
)
def test_pages_decode_alike(raw: bytes) -> None:
    same_page(raw)


@settings(max_examples=200, deadline=None)
@given(
    changes=CHANGES,
    links=st.sampled_from([DROP, None, {}, {"next": "x"}, {"prev": 1}, "links"]),
)
def test_any_changed_page_decodes_alike(changes: dict[str, Any], links: Any) -> None:
    same_page(page([wire_event(), wire_event(**changes)], links))
