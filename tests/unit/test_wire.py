"""The pure wire core: times, events, triggers, envelopes, error bodies, the converter."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xprotect_events.convert import structure
from xprotect_events.errors import ErrorDetail, InvalidInputError, ProtocolError
from xprotect_events.models import Camera, Event, EventPage, EventTrigger, EventType, Token
from xprotect_events.responses import ErrorBody, parse_error_body
from xprotect_events.wire import (
    array_envelope,
    data_envelope,
    dumps,
    error_body_to_wire,
    event_from_wire,
    event_page_from_wire,
    event_to_wire,
    format_time,
    loads,
    parse_time,
    session_read_from_wire,
    token_from_wire,
    trigger_to_wire,
)

# Verbatim copies of the captured samples in shared/spec (so the tests run from a clean
# clone); test_embedded_samples_match_shared_spec checks them against the files when present.
SPEC = Path("/work/shared/spec")
EVENT_TYPE_FILE = "milestonexprotectrestpython-1.0.5.config-rest.eventType.sample.json"
TOKEN_FILE = "milestonexprotectrestpython-1.0.5.idp.token-response.sample.json"
EVENT_TYPE_SAMPLE: dict[str, Any] = {
    "displayName": "Motion Stopped",
    "id": "6f55a7a7-d21c-4629-ac18-af1975e395a2",
    "name": "MotionStopped",
    "lastModified": "2023-06-25T21:22:20.3930000Z",
    "description": "",
    "generatorType": "RecorderPlugin",
    "generatorSubtype": "Server",
    "generatorName": "Motion Detection Plugin",
    "generatorID": "F020C881-72BF-4014-8504-2B4A5A658F1A",
    "generatorGroupName": "Analytics Events",
    "generatorGroupId": "a96692c8-51b1-4f87-b12c-0d3d9cbfc5a4",
    "occursGlobally": False,
    "builtIn": False,
    "counterEventID": "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77",
    "sourceArray": ["Camera", "CameraGroup"],
    "sourceFilterArray": ["", ""],
    "stateGroupId": "720ef62a-78be-418a-8e4c-ee04ffca6429",
    "state": "No Motion",
    "relations": {
        "parent": {"type": "eventTypeGroups", "id": "1ae79228-ad07-4e56-be43-5ebf9b7c54a5"},
        "self": {"type": "eventTypes", "id": "6f55a7a7-d21c-4629-ac18-af1975e395a2"},
    },
}
TOKEN_SAMPLE: dict[str, Any] = {
    "access_token": "eyJhbGciOiJSUzI ... redacted ...",
    "expires_in": 3600,
    "token_type": "Bearer",
    "scope": "managementserver",
}

EVENT_ID = "0b4c5a3e-1c1f-4f0a-9a57-3f0f5f0b2c11"
TYPE_ID = "481d4d6c-9156-4698-af7e-74b32f9e4359"  # the seed's trigger sample
CAMERA_ID = "e028f597-c64b-4f27-bb8d-08f5cd768e1c"  # the seed's trigger sample
STATE_GROUP_ID = "720ef62a-78be-418a-8e4c-ee04ffca6429"

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")


def seed_event(**changes: Any) -> dict[str, Any]:
    """The event shape of the seed (trigger sample plus the server's ``id``), with ``data``."""
    event: dict[str, Any] = {
        "id": EVENT_ID,
        "time": "2024-05-01T12:00:00.1234567Z",
        "type": TYPE_ID,
        "source": f"cameras/{CAMERA_ID}",
        "tag": "My custom tag",
        "datatype": "analytics",
        "data": {
            "description": "Person detected",
            "objectList": [{"name": "person", "confidence": 0.93}],
            "vendor": {"name": "ACME"},
        },
    }
    event.update(changes)
    return event


# ============================================================================ parse_time


@pytest.mark.parametrize(
    ("text", "microsecond"),
    [
        ("2024-05-01T12:00:00Z", 0),
        ("2024-05-01T12:00:00.1Z", 100000),
        ("2024-05-01T12:00:00.12Z", 120000),
        ("2024-05-01T12:00:00.123Z", 123000),
        ("2024-05-01T12:00:00.1234Z", 123400),
        ("2024-05-01T12:00:00.12345Z", 123450),
        ("2024-05-01T12:00:00.123456Z", 123456),
        ("2024-05-01T12:00:00.1234560Z", 123456),
        ("2024-05-01T12:00:00.1234564Z", 123456),  # 7th digit 4: down
        ("2024-05-01T12:00:00.1234565Z", 123457),  # 7th digit 5: half up
        ("2024-05-01T12:00:00.1234567Z", 123457),
        ("2024-05-01T12:00:00.12345649Z", 123456),  # only the 7th digit decides
        ("2024-05-01T12:00:00.123456999999Z", 123457),
        ("2024-05-01T12:00:00.0000004Z", 0),
        ("2024-05-01T12:00:00.0000005Z", 1),
    ],
)
def test_parse_time_fraction_digits(text: str, microsecond: int) -> None:
    value = parse_time(text)
    assert value == datetime(2024, 5, 1, 12, 0, 0, microsecond, tzinfo=UTC)
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # carry into the next second, minute, hour, day, month and year
        ("2024-05-01T12:00:59.9999995Z", datetime(2024, 5, 1, 12, 1, 0, tzinfo=UTC)),
        ("2024-05-01T23:59:59.9999999Z", datetime(2024, 5, 2, tzinfo=UTC)),
        ("2024-02-28T23:59:59.99999951Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2023-12-31T23:59:59.9999995Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2023-12-31T23:59:59.9999994Z", datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_parse_time_rounding_carries(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T07:30:00.5-04:30", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:00:00+00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00-00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        # offset moves the day back, and the 7th digit still rounds
        (
            "2024-05-01T01:00:00.9999999+02:00",
            datetime(2024, 4, 30, 23, 0, 1, tzinfo=UTC),
        ),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # no zone: UTC
        ("2009-02-15T00:00:00.0000000Z", datetime(2009, 2, 15, tzinfo=UTC)),
        # other ISO 8601 spellings fromisoformat takes: the 7th digit still rounds
        ("2024-05-01T12:00:00,1234567Z", datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)),
        ("20240501T120000.1234567Z", datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)),
    ],
)
def test_parse_time_offsets_become_utc(text: str, expected: datetime) -> None:
    value = parse_time(text)
    assert value == expected
    assert value.tzinfo is UTC
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a time",
        "2024-13-01T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "2024-05-01T12:00:00+25:00",
        "2024-05-01T12:00:00.1234567 garbage",
        "9999-12-31T23:59:59.9999999Z",  # rounds past datetime.max
        "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
        "9999-12-31T23:00:00-02:00",  # after datetime.max once in UTC
    ],
)
def test_parse_time_invalid_text_is_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_time(text)
    assert repr(text) in str(caught.value)  # what the server sent, not the 6-digit form


def test_parse_time_error_shows_a_huge_text_cut() -> None:
    with pytest.raises(ProtocolError, match="invalid ISO 8601 time") as caught:
        parse_time("2024-05-01T12:00:00Z" + "x" * 100_000)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("value", [None, 42, 1.5, b"2024-05-01T12:00:00Z", [], {}])
def test_parse_time_non_string_is_protocol_error(value: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_time(value)


@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
    fraction=st.integers(0, 9_999_999),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_parse_time_seven_digits_round_half_up(
    moment: datetime, fraction: int, offset_minutes: int
) -> None:
    local = moment.replace(microsecond=0)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{local.isoformat()}.{fraction:07d}{sign}{hours:02d}:{minutes:02d}"
    expected = (
        local
        - timedelta(minutes=offset_minutes)
        + timedelta(microseconds=(fraction + 5) // 10)  # half up
    ).replace(tzinfo=UTC)
    value = parse_time(text)
    assert value == expected
    assert value.tzinfo is UTC


# ============================================================================ format_time


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC), "2024-05-01T12:00:00.1234560Z"),
        (datetime(2009, 2, 15, tzinfo=UTC), "2009-02-15T00:00:00.0000000Z"),
        (
            datetime(2024, 5, 1, 14, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T12:00:00.0000010Z",
        ),
        (
            datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2023-12-31T19:30:00.0000000Z",
        ),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.0000000Z"),
    ],
)
def test_format_time(value: datetime, text: str) -> None:
    assert format_time(value) == text


def test_format_time_naive_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        format_time(datetime(2024, 5, 1, 12))
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2024, 5, 1, 12))


def test_format_time_out_of_range_in_utc_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        format_time(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


OFFSETS = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59, seconds=-59),
        max_value=timedelta(hours=23, minutes=59, seconds=59),
    ),
)
AWARE = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS
)


@given(AWARE)
def test_format_time_shape(value: datetime) -> None:
    text = format_time(value)
    assert TIME_RE.fullmatch(text), text


@given(AWARE)
def test_time_round_trip_any_fixed_offset(value: datetime) -> None:
    back = parse_time(format_time(value))
    assert back == value
    assert back.tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.timezones(),
    )
)
def test_time_round_trip_named_zones(value: datetime) -> None:
    # Compared in UTC: inter-zone == is always False for ambiguous/imaginary local times.
    back = parse_time(format_time(value))
    assert back == value.astimezone(UTC)
    assert back.tzinfo is UTC


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_format_of_parse_is_identity_for_server_text(value: datetime) -> None:
    text = f"{value.replace(microsecond=0).isoformat()}.{value.microsecond:06d}0Z"
    assert format_time(parse_time(text)) == text


# ============================================================================ JSON helpers


def test_loads_and_dumps() -> None:
    assert loads(b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert loads('{"a": null}') == {"a": None}
    assert orjson.loads(dumps({"a": [1, "é"]})) == {"a": [1, "é"]}


@pytest.mark.parametrize("body", [b"", b"<html>", b"\xff\xfe", b'{"a": ', "nope"])
def test_loads_not_json_is_protocol_error(body: bytes | str) -> None:
    with pytest.raises(ProtocolError):
        loads(body)


def test_dumps_unencodable_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        dumps({"a": object()})


# ============================================================================ events


def test_event_from_wire_seed_shape() -> None:
    wire = seed_event()
    event = event_from_wire(wire)
    assert event == Event(
        id=uuid.UUID(EVENT_ID),
        time=datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC),
        type=uuid.UUID(TYPE_ID),
        source=f"cameras/{CAMERA_ID}",
        tag="My custom tag",
        datatype="analytics",
        data=wire["data"],
    )
    assert event.extra == {}
    assert event.source_id == uuid.UUID(CAMERA_ID)


def test_event_from_wire_minimal() -> None:
    event = event_from_wire({"id": EVENT_ID, "time": "2024-05-01T12:00:00Z", "type": TYPE_ID})
    assert (event.source, event.tag, event.datatype, event.data) == (None, None, None, None)
    assert event.extra == {}


def test_event_from_wire_accepts_uppercase_guids_and_bare_guid_source() -> None:
    event = event_from_wire(seed_event(id=EVENT_ID.upper(), type=TYPE_ID.upper(), source=CAMERA_ID))
    assert event.id == uuid.UUID(EVENT_ID)
    assert event.type == uuid.UUID(TYPE_ID)
    assert event.source == CAMERA_ID


def test_event_stategroupid_without_data_is_kept_in_extra_and_reemitted() -> None:
    # Exactly 7 keys: a stateful event listed without include=data.
    wire = seed_event(stategroupid=STATE_GROUP_ID)
    del wire["data"]
    event = event_from_wire(wire)
    assert event.data is None
    assert event.extra == {"stategroupid": STATE_GROUP_ID}
    out = event_to_wire(event)
    assert out["stategroupid"] == STATE_GROUP_ID
    assert "data" not in out


def test_event_unknown_fields_kept_and_reemitted() -> None:
    wire = seed_event(
        stategroupid=STATE_GROUP_ID, futureField={"nested": [1, 2]}, priority=3, note=None
    )
    event = event_from_wire(wire)
    assert event.extra == {
        "stategroupid": STATE_GROUP_ID,
        "futureField": {"nested": [1, 2]},
        "priority": 3,
        "note": None,
    }
    assert "stategroupid" not in repr(event)  # extra is not in the repr
    out = event_to_wire(event)
    for key in ("stategroupid", "futureField", "priority", "note"):
        assert out[key] == wire[key]


def test_event_to_wire_is_inverse_of_event_from_wire() -> None:
    wire = seed_event(time="2024-05-01T12:00:00.1234560Z", stategroupid=STATE_GROUP_ID)
    assert event_to_wire(event_from_wire(wire)) == wire
    # a 7th digit is rounded to microseconds, then written back with a trailing 0
    rounded = event_to_wire(event_from_wire(seed_event()))
    assert rounded["time"] == "2024-05-01T12:00:00.1234570Z"


def test_event_to_wire_data_only_when_present() -> None:
    no_data = seed_event()
    del no_data["data"]
    out = event_to_wire(event_from_wire(no_data))
    assert "data" not in out
    assert out["source"] == f"cameras/{CAMERA_ID}"
    assert out["datatype"] == "analytics"

    null_data = event_from_wire(seed_event(data=None))
    assert null_data.data is None
    assert "data" not in event_to_wire(null_data)

    empty = event_to_wire(event_from_wire(seed_event(data={})))
    assert empty["data"] == {}


def test_event_to_wire_nulls_and_json() -> None:
    event = event_from_wire(
        {"id": EVENT_ID, "time": "2024-05-01T12:00:00Z", "type": TYPE_ID, "source": None}
    )
    out = event_to_wire(event)
    assert out == {
        "id": EVENT_ID,
        "time": "2024-05-01T12:00:00.0000000Z",
        "type": TYPE_ID,
        "source": None,
        "tag": None,
        "datatype": None,
    }
    assert orjson.loads(dumps(out)) == out


def _without(key: str) -> dict[str, Any]:
    event = seed_event()
    del event[key]
    return event


MALFORMED_EVENTS: list[Any] = [
    _without("id"),
    _without("time"),
    _without("type"),
    seed_event(id="not-a-guid"),
    seed_event(id=42),
    seed_event(id=None),
    seed_event(id=[EVENT_ID]),
    seed_event(time=1714564800),
    seed_event(time=None),
    seed_event(time="yesterday"),
    seed_event(time={"value": "2024-05-01T12:00:00Z"}),
    seed_event(type=None),
    seed_event(type=""),
    seed_event(type={"id": TYPE_ID}),
    seed_event(source=42),
    seed_event(source=["cameras", CAMERA_ID]),
    seed_event(tag=["a"]),
    seed_event(tag=1.5),
    seed_event(datatype={"kind": "analytics"}),
    seed_event(datatype=True),
    seed_event(data=[1, 2]),
    seed_event(data="text"),
    seed_event(data=0),
    seed_event(data=True),
    [seed_event()],
    "an event",
    None,
    42,
    [],
]


@pytest.mark.parametrize("value", MALFORMED_EVENTS)
def test_event_from_wire_malformed_is_protocol_error(value: Any) -> None:
    with pytest.raises(ProtocolError):
        event_from_wire(value)


# ============================================================================ arbitrary input

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
GUIDS = st.uuids().map(str)
TIMES = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | st.from_regex(
    r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?\Z"
)
#: Objects that look like events, with any member missing or replaced by junk.
EVENTISH = st.fixed_dictionaries(
    {},
    optional={
        "id": GUIDS | JSON,
        "time": TIMES | JSON,
        "type": GUIDS | JSON,
        "source": st.none() | GUIDS.map(lambda g: f"cameras/{g}") | JSON,
        "tag": st.none() | st.text(max_size=10) | JSON,
        "datatype": st.none() | st.just("analytics") | JSON,
        "data": st.dictionaries(st.text(max_size=5), JSON, max_size=3) | JSON,
        "stategroupid": GUIDS | JSON,
    },
)
ANY_EVENT = EVENTISH | JSON
EVENT_LISTS = st.lists(ANY_EVENT, max_size=3) | JSON
PAGES = (
    st.fixed_dictionaries(
        {},
        optional={
            "array": EVENT_LISTS,
            "_links": st.fixed_dictionaries(
                {}, optional={"next": st.none() | st.text() | JSON, "prev": JSON}
            )
            | JSON,
        },
    )
    | JSON
)
SESSION_READS = (
    st.fixed_dictionaries(
        {},
        optional={
            "data": st.fixed_dictionaries(
                {}, optional={"newEvents": EVENT_LISTS, "deletedEvents": EVENT_LISTS}
            )
            | JSON
        },
    )
    | JSON
)
TOKENS = (
    st.fixed_dictionaries(
        {},
        optional={
            "access_token": st.text(max_size=20) | JSON,
            "expires_in": st.integers() | st.text(max_size=8) | JSON,
            "token_type": st.just("Bearer") | JSON,
            "scope": st.just("managementserver") | JSON,
        },
    )
    | JSON
)
EVENT_TYPES = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": GUIDS | JSON,
            "name": st.text(max_size=10) | JSON,
            "displayName": st.text(max_size=10) | JSON,
            "generatorType": st.sampled_from(["External", "MIPDevice"]) | JSON,
            "generatorID": GUIDS | JSON,
            "occursGlobally": st.booleans() | JSON,
            "counterEventID": GUIDS | JSON,
            "sourceArray": st.lists(st.text(max_size=5), max_size=3) | JSON,
            "lastModified": TIMES | JSON,
            "relations": JSON,
        },
    )
    | JSON
)
CAMERAS = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": GUIDS | JSON,
            "name": st.text(max_size=10) | JSON,
            "displayName": st.text(max_size=10) | JSON,
            "enabled": st.booleans() | JSON,
            "relations": JSON,
        },
    )
    | JSON
)


def _only_protocol_error(decode: Callable[[Any], Any], value: Any, kind: type) -> None:
    """``decode(value)`` gives a ``kind`` or raises ProtocolError; anything else fails."""
    try:
        result = decode(value)
    except ProtocolError:
        return
    assert isinstance(result, kind)


@given(ANY_EVENT)
def test_event_from_wire_arbitrary_input(value: Any) -> None:
    _only_protocol_error(event_from_wire, value, Event)


@given(PAGES)
def test_event_page_from_wire_arbitrary_input(value: Any) -> None:
    _only_protocol_error(event_page_from_wire, value, EventPage)


@given(SESSION_READS)
def test_session_read_from_wire_arbitrary_input(value: Any) -> None:
    from xprotect_events.models import SessionRead

    _only_protocol_error(session_read_from_wire, value, SessionRead)


@given(TOKENS)
def test_token_from_wire_arbitrary_input(value: Any) -> None:
    _only_protocol_error(token_from_wire, value, Token)


@given(EVENT_TYPES)
def test_structure_event_type_arbitrary_input(value: Any) -> None:
    _only_protocol_error(lambda v: structure(v, EventType), value, EventType)


@given(CAMERAS)
def test_structure_camera_arbitrary_input(value: Any) -> None:
    _only_protocol_error(lambda v: structure(v, Camera), value, Camera)


@given(EVENTISH)
def test_event_from_wire_result_reflects_input(value: dict[str, Any]) -> None:
    try:
        event = event_from_wire(value)
    except ProtocolError:
        return
    assert str(event.id) == str(uuid.UUID(value["id"]))
    assert event.time.tzinfo is UTC
    assert event.data == value.get("data")
    expected_extra = {k: v for k, v in value.items() if k == "stategroupid"}
    assert event.extra == expected_extra


# ============================================================================ envelopes


def test_data_and_array_envelopes() -> None:
    assert data_envelope({"data": {"a": 1}}) == {"a": 1}
    assert array_envelope({"array": [1, 2]}) == [1, 2]
    for bad in ({"data": [1]}, {}, [], None, "x"):
        with pytest.raises(ProtocolError):
            data_envelope(bad)
    for bad in ({"array": {}}, {"array": None}, {}, [1]):
        with pytest.raises(ProtocolError):
            array_envelope(bad)


def test_event_page_from_wire() -> None:
    page = event_page_from_wire(
        {
            "_links": {"next": "/api/rest/v1/events?page=2", "prev": "/api/rest/v1/events?page=0"},
            "array": [seed_event(), seed_event(id=str(uuid.UUID(int=1)))],
        }
    )
    assert [e.id for e in page.events] == [uuid.UUID(EVENT_ID), uuid.UUID(int=1)]
    assert page.next == "/api/rest/v1/events?page=2"
    assert page.prev == "/api/rest/v1/events?page=0"


@pytest.mark.parametrize(
    "links", [None, {}, {"next": None}, {"next": ""}, {"prev": "/x"}], ids=repr
)
def test_event_page_without_next_is_last(links: Any) -> None:
    body: dict[str, Any] = {"array": []}
    if links is not None:
        body["_links"] = links
    page = event_page_from_wire(body)
    assert page.next is None
    assert page.events == []


@pytest.mark.parametrize(
    "body",
    [
        {"_links": {}},
        {"array": {}},
        {"array": [seed_event(id="x")]},
        {"array": [], "_links": []},
        {"array": [], "_links": "next"},
        {"array": [], "_links": {"next": 2}},
        {"array": [], "_links": {"prev": ["x"]}},
        [],
        None,
    ],
)
def test_event_page_malformed(body: Any) -> None:
    with pytest.raises(ProtocolError):
        event_page_from_wire(body)


def test_session_read_from_wire() -> None:
    read = session_read_from_wire(
        {"data": {"newEvents": [seed_event()], "deletedEvents": [seed_event(data=None)]}}
    )
    assert [e.tag for e in read.new_events] == ["My custom tag"]
    assert len(read.deleted_events) == 1
    assert read.deleted_events[0].data is None
    empty = session_read_from_wire({"data": {"newEvents": None}})
    assert (empty.new_events, empty.deleted_events) == ([], [])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": []},
        {"data": {"newEvents": {}}},
        {"data": {"newEvents": ""}},
        {"data": {"newEvents": 0}},
        {"data": {"deletedEvents": {"a": 1}}},
        {"data": {"newEvents": [{"id": EVENT_ID}]}},
        {"newEvents": []},
    ],
)
def test_session_read_malformed(body: Any) -> None:
    with pytest.raises(ProtocolError):
        session_read_from_wire(body)


# ============================================================================ tokens


@pytest.mark.parametrize(
    ("name", "embedded"), [(EVENT_TYPE_FILE, EVENT_TYPE_SAMPLE), (TOKEN_FILE, TOKEN_SAMPLE)]
)
def test_embedded_samples_match_shared_spec(name: str, embedded: dict[str, Any]) -> None:
    path = SPEC / name
    if not path.exists():
        pytest.skip(f"{path} is not here (not a checkout with shared/spec)")
    assert json.loads(path.read_text()) == embedded


def test_token_from_wire_sample() -> None:
    token = token_from_wire(copy.deepcopy(TOKEN_SAMPLE))
    assert token == Token(
        access_token="eyJhbGciOiJSUzI ... redacted ...",
        expires_in=3600.0,
        token_type="Bearer",
        scope="managementserver",
    )


def test_token_from_wire_defaults_and_string_expiry() -> None:
    assert token_from_wire({"access_token": "t"}) == Token(access_token="t", expires_in=3600.0)
    assert token_from_wire({"access_token": "t", "expires_in": "120"}).expires_in == 120.0
    assert token_from_wire({"access_token": "t", "expires_in": 1.5}).expires_in == 1.5
    assert token_from_wire({"access_token": "t", "scope": 5}).scope is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"access_token": None},
        {"access_token": 5},
        {"access_token": "t", "expires_in": 0},
        {"access_token": "t", "expires_in": -1},
        {"access_token": "t", "expires_in": True},
        {"access_token": "t", "expires_in": None},
        {"access_token": "t", "expires_in": "abc"},
        {"access_token": "t", "expires_in": "²"},  # isdigit() but not int()-able
        {"access_token": "t", "expires_in": "9" * 5000},  # too long for int()
        {"access_token": "t", "expires_in": [3600]},
        [],
        "token",
    ],
)
def test_token_from_wire_malformed(body: Any) -> None:
    with pytest.raises(ProtocolError):
        token_from_wire(body)


# ============================================================================ structure


def test_structure_event_type_sample() -> None:
    sample = copy.deepcopy(EVENT_TYPE_SAMPLE)
    et = structure(sample, EventType)
    assert et.id == uuid.UUID("6f55a7a7-d21c-4629-ac18-af1975e395a2")
    assert et.name == "MotionStopped"
    assert et.display_name == "Motion Stopped"
    assert et.description == ""
    assert et.generator_type == "RecorderPlugin"
    assert et.generator_subtype == "Server"
    assert et.generator_name == "Motion Detection Plugin"
    assert et.generator_id == "F020C881-72BF-4014-8504-2B4A5A658F1A"  # wire name generatorID
    assert et.generator_group_name == "Analytics Events"
    assert et.generator_group_id == "a96692c8-51b1-4f87-b12c-0d3d9cbfc5a4"
    assert et.occurs_globally is False
    assert et.built_in is False
    assert et.counter_event_id == "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"  # counterEventID
    assert et.source_array == ("Camera", "CameraGroup")
    assert et.state_group_id == "720ef62a-78be-418a-8e4c-ee04ffca6429"
    assert et.state == "No Motion"
    assert et.last_modified == datetime(2023, 6, 25, 21, 22, 20, 393000, tzinfo=UTC)
    assert et.extra == {
        "sourceFilterArray": ["", ""],
        "relations": sample["relations"],
    }
    assert et.user_may_trigger is False  # RecorderPlugin


def test_structure_event_type_minimal() -> None:
    et = structure({"id": TYPE_ID, "name": "Analytics"}, EventType)
    assert et == EventType(id=uuid.UUID(TYPE_ID), name="Analytics")
    assert et.extra == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": "not-a-guid"},
        {"name": None},
        {"name": ["MotionStopped"]},
        {"name": 5},
        {"occursGlobally": "false"},
        {"builtIn": 0},
        {"sourceArray": "Camera"},
        {"sourceArray": [1, 2]},
        {"sourceArray": {"a": "b"}},
        {"lastModified": "yesterday"},
        {"lastModified": 5},
    ],
    ids=repr,
)
def test_structure_event_type_wrong_types(changes: dict[str, Any]) -> None:
    sample = copy.deepcopy(EVENT_TYPE_SAMPLE)
    sample.update(changes)
    with pytest.raises(ProtocolError):
        structure(sample, EventType)


@pytest.mark.parametrize("value", [None, [], "x", 5, {}, {"id": TYPE_ID}, {"name": "x"}])
def test_structure_event_type_malformed(value: Any) -> None:
    with pytest.raises(ProtocolError):
        structure(value, EventType)


def test_structure_camera() -> None:
    wire = {
        "id": CAMERA_ID,
        "name": "Camera main entry",
        "displayName": "Main entry",
        "enabled": True,
        "relations": {"self": {"type": "cameras", "id": CAMERA_ID}},
    }
    camera = structure(wire, Camera)
    assert camera.id == uuid.UUID(CAMERA_ID)
    assert (camera.name, camera.display_name, camera.enabled) == (
        "Camera main entry",
        "Main entry",
        True,
    )
    assert camera.extra == {"relations": wire["relations"]}
    assert camera.source == f"cameras/{CAMERA_ID}"
    with pytest.raises(ProtocolError):
        structure({**wire, "enabled": "yes"}, Camera)


def test_structure_event_goes_through_event_from_wire() -> None:
    assert structure(seed_event(), Event) == event_from_wire(seed_event())
    with pytest.raises(ProtocolError):
        structure(seed_event(id=1), Event)


# ============================================================================ triggers


def test_trigger_to_wire_minimal_has_null_datatype_and_nothing_else() -> None:
    body = trigger_to_wire(EventTrigger(type=TYPE_ID))
    assert body == {"type": TYPE_ID, "source": None, "datatype": None}


def test_trigger_to_wire_seed_request_sample() -> None:
    trigger = EventTrigger(
        type=TYPE_ID,
        source=f"cameras/{CAMERA_ID}",
        time=datetime(2009, 2, 15, tzinfo=UTC),
        datatype="analytics",
        tag="My custom tag",
        data={},
    )
    assert trigger_to_wire(trigger) == {
        "type": TYPE_ID,
        "source": f"cameras/{CAMERA_ID}",
        "time": "2009-02-15T00:00:00.0000000Z",
        "datatype": "analytics",
        "tag": "My custom tag",
        "data": {},
    }


def test_trigger_to_wire_formats_time_in_utc_and_keeps_data() -> None:
    data = {"description": "x", "objectList": [{"name": "car"}]}
    body = trigger_to_wire(
        EventTrigger(
            type=uuid.UUID(TYPE_ID),
            source=uuid.UUID(CAMERA_ID),
            time=datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
            data=data,
        )
    )
    assert body == {
        "type": TYPE_ID,
        "source": CAMERA_ID,
        "datatype": None,
        "time": "2024-05-01T12:00:00.0000050Z",
        "data": data,
    }
    assert "tag" not in body
    assert orjson.loads(dumps(body)) == body


def test_trigger_to_wire_tag_only() -> None:
    body = trigger_to_wire(EventTrigger(type=TYPE_ID, tag="t"))
    assert body == {"type": TYPE_ID, "source": None, "datatype": None, "tag": "t"}


# ============================================================================ error bodies


def test_parse_error_body_wrapped() -> None:
    body = orjson.dumps(
        {
            "error": {
                "httpCode": 404,
                "details": [
                    {
                        "errorText": "Device not found.",
                        "errorTextId": "VMO61008",
                        "propertyName": "source",
                    }
                ],
            }
        }
    )
    parsed = parse_error_body(body)
    assert parsed == ErrorBody(
        http_code=404,
        details=(
            ErrorDetail(
                error_text="Device not found.", error_text_id="VMO61008", property_name="source"
            ),
        ),
    )
    assert parsed.snippet is None


def test_parse_error_body_token_expired_sample() -> None:
    body = (
        '{"error": {"httpCode": 401, "details": '
        '[{"errorText": "Token validation failed: the token is expired."}]}}'
    )
    parsed = parse_error_body(body)
    assert parsed.http_code == 401
    assert parsed.details == (
        ErrorDetail(error_text="Token validation failed: the token is expired."),
    )


@pytest.mark.parametrize("code", ["400", " 400 ", 400])
def test_parse_error_body_unwrapped_http_code_as_string(code: Any) -> None:
    body = orjson.dumps({"httpCode": code, "details": [{"errorText": "Bad filter"}]})
    parsed = parse_error_body(body)
    assert parsed.http_code == 400
    assert parsed.details == (ErrorDetail(error_text="Bad filter"),)


@pytest.mark.parametrize("code", ["abc", "4o4", "²", "-1", "9" * 5000, True, 4.5, None, [400]])
def test_parse_error_body_bad_http_code_is_none(code: Any) -> None:
    parsed = parse_error_body(orjson.dumps({"error": {"httpCode": code, "details": []}}))
    assert parsed.http_code is None


def test_parse_error_body_skips_odd_details() -> None:
    body = orjson.dumps(
        {
            "error": {
                "httpCode": 400,
                "details": [
                    "text",
                    None,
                    {"errorText": 5, "errorTextId": "X1"},
                    {"errorText": "ok"},
                ],
            }
        }
    )
    parsed = parse_error_body(body)
    assert parsed.details == (
        ErrorDetail(error_text=None, error_text_id="X1"),
        ErrorDetail(error_text="ok"),
    )
    assert parse_error_body(b'{"httpCode": 500, "details": {"errorText": "x"}}').details == ()


@pytest.mark.parametrize("code", ["InvalidCredentials", "LockedOut", "ChangePassword"])
def test_parse_error_body_oauth(code: str) -> None:
    body = orjson.dumps(
        {
            "error": "invalid_grant",
            "error_description": "invalid_username_or_password",
            "error_code": code,
        }
    )
    parsed = parse_error_body(body)
    assert parsed.error == "invalid_grant"
    assert parsed.error_description == "invalid_username_or_password"
    assert parsed.error_code == code
    assert parsed.http_code is None
    assert parsed.details == (ErrorDetail(error_text="invalid_username_or_password"),)


def test_parse_error_body_oauth_without_description() -> None:
    parsed = parse_error_body(b'{"error": "invalid_client"}')
    assert parsed.error == "invalid_client"
    assert parsed.error_description is None
    assert parsed.error_code is None


def test_parse_error_body_html_proxy_page() -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    parsed = parse_error_body(page)
    assert parsed.snippet == "502 Bad Gateway 502 Bad Gateway nginx"
    assert (parsed.http_code, parsed.details, parsed.error) == (None, (), None)


def test_parse_error_body_long_page_snippet_is_bounded() -> None:
    parsed = parse_error_body("<p>" + "word " * 1000 + "</p>")
    assert parsed.snippet is not None
    assert 0 < len(parsed.snippet) <= 200
    assert "<" not in parsed.snippet


@pytest.mark.parametrize("body", [b"", "", None])
def test_parse_error_body_empty(body: bytes | str | None) -> None:
    assert parse_error_body(body) == ErrorBody()


@pytest.mark.parametrize(
    ("body", "snippet"), [(b"[1, 2]", "[1, 2]"), (b"42", "42"), ("null", "null")]
)
def test_parse_error_body_json_not_an_object(body: bytes | str, snippet: str) -> None:
    parsed = parse_error_body(body)
    assert parsed.snippet == snippet
    assert (parsed.http_code, parsed.details, parsed.error) == (None, (), None)


def test_parse_error_body_invalid_utf8() -> None:
    parsed = parse_error_body(b"\xff\xfe<p>Service \xc3 unavailable</p>")
    assert parsed.snippet is not None
    assert "Service" in parsed.snippet
    assert "unavailable" in parsed.snippet
    assert "<" not in parsed.snippet


def test_error_body_to_wire_round_trip() -> None:
    details = (
        ErrorDetail(error_text="Device not found.", error_text_id="VMO61008"),
        ErrorDetail(error_text="Bad", property_name="time"),
    )
    wire = error_body_to_wire(404, *details)
    assert wire == {
        "error": {
            "httpCode": 404,
            "details": [
                {"errorText": "Device not found.", "errorTextId": "VMO61008"},
                {"errorText": "Bad", "propertyName": "time"},
            ],
        }
    }
    assert parse_error_body(orjson.dumps(wire)) == ErrorBody(http_code=404, details=details)


@given(st.binary() | st.text() | JSON.map(json.dumps))
def test_parse_error_body_never_raises(body: bytes | str) -> None:
    assert isinstance(parse_error_body(body), ErrorBody)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "error": st.fixed_dictionaries(
                {}, optional={"httpCode": JSON | st.text(), "details": JSON}
            )
            | JSON,
            "httpCode": JSON,
            "details": st.lists(st.dictionaries(st.text(max_size=12), JSON), max_size=3) | JSON,
            "error_description": JSON,
            "error_code": JSON,
        },
    )
)
def test_parse_error_body_never_raises_on_error_shapes(doc: dict[str, Any]) -> None:
    parsed = parse_error_body(json.dumps(doc))  # json: integers beyond 64 bits too
    assert isinstance(parsed, ErrorBody)
    assert parsed.http_code is None or isinstance(parsed.http_code, int)
    assert all(isinstance(d, ErrorDetail) for d in parsed.details)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00.1234564Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T12:00:00.1234565Z", datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)),
        ("2024-12-31T23:59:59.9999995Z", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_event_times_in_the_servers_form_round_the_seventh_digit(
    text: str, expected: datetime
) -> None:
    raw = {"id": str(uuid.uuid4()), "time": text, "type": str(uuid.uuid4())}
    assert event_from_wire(raw).time == expected
