"""The fast decoder of a WebSocket event batch (msgspec) against the checked one: the same
events for what both accept, the checked one deciding (and refusing) everything else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wire_events import CAMERA, DROP, EVENT_ID, TEXT, TIME_FORMS, TIMES, TYPE_ID, wire_event
from xprotect_events.errors import ProtocolError
from xprotect_events.models import Event
from xprotect_events.wire import format_time
from xprotect_events.ws_typed import event_batch
from xprotect_events.ws_wire import Reply, checked_frame, parse_frame

GROUP = "d4c79fa6-3b3e-4dd6-a0a5-23a6b0f9f2e8"


def pushed(**changes: Any) -> dict[str, Any]:
    return wire_event(**{"tag": None, **changes})


def frame(*events: Any) -> str:
    return json.dumps({"events": list(events)})


def same_outcome(text: str | bytes) -> list[Event] | None:
    """parse_frame(text) and the checked decoder agree: the same events (exactly: type,
    ids, times, ``extra``, hash), or both refuse; the fast one decides only what it may."""
    fast = event_batch(text)
    try:
        expected = checked_frame(text)
    except ProtocolError:
        assert fast is None
        with pytest.raises(ProtocolError):
            parse_frame(text)
        return None
    got = parse_frame(text)
    if isinstance(expected, Reply):
        assert fast is None
        assert isinstance(got, Reply)
        return None
    assert isinstance(got, list)
    for decoded in (got, fast) if fast is not None else (got,):
        assert decoded == expected
        for a, b in zip(decoded, expected, strict=True):
            assert type(a) is Event
            assert (a.id.int, a.time, a.time.tzinfo, a.type.int) == (
                b.id.int,
                b.time,
                b.time.tzinfo,
                b.type.int,
            )
            assert (a.source, a.tag, a.datatype, a.data, dict(a.extra)) == (
                b.source,
                b.tag,
                b.datatype,
                b.data,
                dict(b.extra),
            )
            assert hash(a) == hash(b)
            assert str(a.id) == str(b.id)
    return got


def test_the_servers_form_takes_the_fast_path() -> None:
    text = frame(pushed(), pushed(id=str(uuid.uuid4()), tag="door"))
    fast = event_batch(text)
    assert fast is not None
    assert fast == checked_frame(text)
    assert fast[0].time == datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)  # half up
    assert fast[0].extra == {}
    assert fast[1].tag == "door"
    assert event_batch(text.encode()) == fast  # bytes too


def test_stateful_keys_go_to_extra_as_the_checked_decoder_puts_them() -> None:
    text = frame(pushed(stategroupid=GROUP), pushed(stategroupid=GROUP, specVersion="1.0"))
    fast = event_batch(text)
    assert fast is not None
    assert fast[0].extra == {"stategroupid": GROUP}
    assert fast[1].extra == {"stategroupid": GROUP, "specVersion": "1.0"}
    assert fast[0].state_group_id == uuid.UUID(GROUP)
    assert same_outcome(text) == fast


def test_an_empty_batch_is_no_events() -> None:
    assert event_batch('{"events":[]}') == []


@pytest.mark.parametrize(
    "text",
    [
        frame(pushed(other="kept in extra")),  # a key it does not know
        frame(pushed(data={"n": 1.5, "big": 2**64})),  # data: numbers read differently
        frame(pushed(data=None)),
        frame(pushed(stategroupid=None)),
        frame(pushed(stategroupid=7)),
        frame(pushed(time="2024-05-01T14:00:00.1234567+02:00")),  # an offset
        frame(pushed(time="2024-05-01T12:00:00.12345678")),  # no zone
        frame(pushed(id="{" + EVENT_ID + "}")),
        frame(pushed(id="urn:uuid:" + EVENT_ID)),
        frame(pushed(type="{" + TYPE_ID + "}")),  # a type the fast path does not read
        frame(pushed(type=" " + TYPE_ID)),
        '{"events": [], "more": 1}',
        '{"commandId": 3, "status": 200, "events": []}',
    ],
    ids=[
        "unknown-key",
        "data",
        "null-data",
        "null-group",
        "number-group",
        "offset",
        "naive",
        "braces",
        "urn",
        "type-braces",
        "type-blank",
        "top-level-key",
        "reply",
    ],
)
def test_other_forms_fall_back_to_the_checked_decoder(text: str) -> None:
    assert event_batch(text) is None
    same_outcome(text)


@pytest.mark.parametrize(
    "text",
    [
        frame(pushed(time="9999-12-31T23:59:59.9999995Z")),  # rounds past the range
        frame(pushed(time="2024-02-30T12:00:00Z")),
        frame(pushed(id="not-a-guid")),
        frame(pushed(id=DROP)),
        frame(pushed(type=42)),
        frame(pushed(type="not-a-guid")),
        frame(pushed(source=7)),
        frame(pushed(tag=["x"])),
        frame(pushed(data="text")),
        '{"events": null}',
        '{"events": [1]}',
        "[]",
        '{"events": []} trailing',
        '{"events": ["\\ud800"]}',
        b'{"events": [{"id": "\xff"}]}',
    ],
)
def test_malformed_frames_are_still_protocol_errors(text: str | bytes) -> None:
    assert event_batch(text) is None
    with pytest.raises(ProtocolError):
        parse_frame(text)


_GUIDS = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, "{" + str(u) + "}"])
)
_ODD: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.just([])
)


@st.composite
def _events(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": draw(_GUIDS),
        "time": draw(TIME_FORMS),
        "type": draw(st.sampled_from([TYPE_ID, TYPE_ID.upper()]) | _GUIDS),
        "source": draw(st.sampled_from([None, CAMERA]) | TEXT),
        "tag": draw(TEXT),
        "datatype": draw(st.sampled_from([None, "analytics"])),
    }
    for key, value in draw(
        st.dictionaries(
            st.sampled_from(["stategroupid", "specVersion", "data", "other", "id", "time"]),
            st.sampled_from([GROUP, "1.0"]) | _ODD,
            max_size=2,
        )
    ).items():
        d[key] = value
    for key in draw(st.sets(st.sampled_from(["source", "tag", "datatype", "id"]), max_size=1)):
        del d[key]
    return d


@settings(max_examples=400, deadline=None)
@given(
    events=st.lists(_events(), max_size=4),
    ascii_only=st.booleans(),
    as_bytes=st.booleans(),
)
def test_any_generated_batch_gives_the_checked_decoders_outcome(
    events: list[dict[str, Any]], ascii_only: bool, as_bytes: bool
) -> None:
    text = json.dumps({"events": events}, ensure_ascii=ascii_only)  # \\u escapes too
    same_outcome(text.encode() if as_bytes else text)


@settings(max_examples=300, deadline=None)
@given(
    when=TIMES,
    seventh=st.sampled_from("0123456789"),
    source=TEXT,
    tag=TEXT,
    group=st.none() | st.just(GROUP),
)
def test_generated_server_batches_decode_fast_and_alike(
    when: datetime, seventh: str, source: Any, tag: Any, group: Any
) -> None:
    time = format_time(when)[:26] + seventh + "Z"
    d = pushed(id=str(uuid.uuid4()), time=time, source=source, tag=tag)
    if group is not None:
        d["stategroupid"] = group
    text = frame(d)
    assert event_batch(text) is not None
    assert same_outcome(text) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60))
def test_any_text_gives_the_checked_decoders_outcome(text: str | bytes) -> None:
    same_outcome(text)


@pytest.mark.parametrize(
    "text",
    [
        frame(pushed(tag="fizz")),
        frame(pushed(time="2024-05-01T12:00:00.1234567z")),  # RFC 3339 allows "z"
        frame(pushed(time="2024-05-01t12:00:00.1234567Z")),
        frame(pushed(time="2024-05-01T12:00:00.1234567@")).replace("@", "\\u007a"),
    ],
)
def test_lower_case_forms_stay_fast_and_decode_alike(text: str) -> None:
    assert event_batch(text) is not None
    assert same_outcome(text) is not None
