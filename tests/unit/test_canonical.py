"""The fast decoder of canonical events against the checked one: the same result for what
both accept, the checked one deciding (and refusing) everything else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wire_events import CHANGES, DROP, EVENT_ID, TEXT, TIMES, TYPE_ID, wire_event
from xprotect_events.canonical import canonical_event, canonical_guid, canonical_time
from xprotect_events.errors import ProtocolError
from xprotect_events.models import Event, to_uuid
from xprotect_events.wire import checked_event_from_wire, event_from_wire, format_time


def same_outcome(d: Any) -> Event | None:
    """event_from_wire(d) and the checked decoder agree: the same event, or both refuse."""
    try:
        expected = checked_event_from_wire(d)
    except ProtocolError:
        with pytest.raises(ProtocolError):
            event_from_wire(d)
        assert canonical_event(d) is None
        return None
    got = event_from_wire(d)
    assert got == expected
    assert (got.id.int, got.time, got.type, got.extra) == (
        expected.id.int,
        expected.time,
        expected.type,
        expected.extra,
    )
    assert hash(got) == hash(expected)
    assert str(got.id) == str(expected.id)
    return got


def test_the_canonical_form_takes_the_fast_path() -> None:
    d = wire_event()
    fast = canonical_event(d)
    assert fast is not None
    assert fast == checked_event_from_wire(d)
    assert fast.time == datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)  # half up
    assert fast.extra == {}
    assert isinstance(fast.id, uuid.UUID)
    assert fast.id == uuid.UUID(EVENT_ID)


def test_data_is_part_of_the_canonical_form() -> None:
    d = wire_event(data={"plate": "AB-123", "n": [1, 2]})
    fast = canonical_event(d)
    assert fast is not None
    assert fast.data == {"plate": "AB-123", "n": [1, 2]}
    same_outcome(d)


@pytest.mark.parametrize(
    "d",
    [
        wire_event(extra="kept in extra"),  # an unknown key
        wire_event(tag=DROP),  # a key missing
        wire_event(data=None),  # null data (7 keys)
        wire_event(time="2024-05-01T12:00:00Z"),  # not 7 digits
        wire_event(time="2024-05-01T14:00:00.1234567+02:00"),  # an offset
        wire_event(time="2024-05-01T12:00:00.12345678"),  # 8 digits, no zone
        wire_event(id=EVENT_ID.upper()),
        wire_event(id="{" + EVENT_ID + "}"),
        wire_event(id="urn:uuid:" + EVENT_ID),
        wire_event(type=TYPE_ID.replace("-", "")),
    ],
    ids=[
        "extra",
        "missing",
        "null-data",
        "short-time",
        "offset",
        "8-digits",
        "upper",
        "braces",
        "urn",
        "bare",
    ],
)
def test_other_valid_forms_decode_alike(d: dict[str, Any]) -> None:
    assert same_outcome(d) is not None


@pytest.mark.parametrize(
    "d",
    [
        wire_event(id="not-a-guid"),
        wire_event(id=42),
        wire_event(type="7f9a3c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6g"),
        wire_event(time="2024-13-01T12:00:00.1234567Z"),
        wire_event(time=None),
        wire_event(source=7),
        wire_event(tag=["x"]),
        wire_event(datatype={}),
        wire_event(data="text"),
        wire_event(id=DROP),
        [wire_event()],
        "event",
    ],
)
def test_malformed_events_are_still_protocol_errors(d: Any) -> None:
    assert canonical_event(d) is None
    with pytest.raises(ProtocolError):
        event_from_wire(d)


@pytest.mark.parametrize(
    "text",
    [
        " " + EVENT_ID[1:],  # a blank for a digit: int() would read 0…
        EVENT_ID[:8] + "_" + EVENT_ID[10:],  # "_" between digits, one digit short
        "+" + EVENT_ID[1:],
        EVENT_ID[:-1] + "\n",
        "0x" + "a" * 30,
        "0X" + "a" * 30,
    ],
)
def test_what_int_reads_but_a_guid_is_not_is_the_checked_decoders(text: str) -> None:
    assert canonical_guid(text) is None
    same_outcome(wire_event(id=text))
    with pytest.raises(ProtocolError):
        event_from_wire(wire_event(id=text))
    with pytest.raises(ProtocolError):
        event_from_wire(wire_event(type=text))


def test_the_last_representable_time_does_not_overflow() -> None:
    assert canonical_time("9999-12-31T23:59:59.9999995Z") is None  # rounds past the range
    with pytest.raises(ProtocolError):
        event_from_wire(wire_event(time="9999-12-31T23:59:59.9999995Z"))


@settings(max_examples=300, deadline=None)
@given(st.uuids(), st.sampled_from([str, lambda u: str(u).upper(), lambda u: u.hex]))
def test_guids_equal_uuid_parsing(value: uuid.UUID, form: Any) -> None:
    text = form(value)
    guid = canonical_guid(text)
    assert guid is not None
    assert guid == uuid.UUID(text)
    assert guid.int == value.int
    assert hash(guid) == hash(value)
    assert str(guid) == str(value)
    assert guid.version == value.version


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.uuids().map(str).map(lambda t: t.replace(t[3], " ")))
def test_any_text_is_a_guid_only_when_uuid_says_so(text: str) -> None:
    try:
        expected: uuid.UUID | None = uuid.UUID(text)
    except ValueError:
        expected = None
    got = canonical_guid(text)
    assert got is None or got == expected
    if got is not None:  # and the checked decoder takes it too, as the same GUID
        assert to_uuid(text) == got


@settings(max_examples=500, deadline=None)
@given(
    when=TIMES,
    seventh=st.sampled_from("0123456789"),
    source=TEXT,
    tag=TEXT,
    datatype=TEXT,
    data=st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
def test_generated_canonical_events_decode_fast_and_alike(
    when: datetime, seventh: str, source: Any, tag: Any, datatype: Any, data: Any
) -> None:
    text = format_time(when)[:26] + seventh + "Z"
    d = wire_event(time=text, source=source, tag=tag, datatype=datatype)
    if data is not None:
        d["data"] = data
    assert canonical_event(d) is not None
    assert same_outcome(d) is not None


@settings(max_examples=500, deadline=None)
@given(changes=CHANGES)
def test_any_variation_gives_the_checked_decoders_outcome(changes: dict[str, Any]) -> None:
    same_outcome(wire_event(**changes))
