"""Stream positions: the JSON format, its versioning, and the session boundary rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xprotect_events.errors import CheckpointError, InvalidInputError, XProtectError
from xprotect_events.positions import (
    DEFAULT_WINDOW,
    FORMAT_VERSION,
    MAX_RECENT_IDS,
    LivePosition,
    Position,
    SessionPosition,
)

T = datetime(2024, 5, 1, 12, tzinfo=UTC)
MS = timedelta(milliseconds=1)
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))

times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.timedeltas(min_value=timedelta(0), max_value=DEFAULT_WINDOW)


@st.composite
def session_positions(draw: st.DrawFn) -> SessionPosition:
    newest = draw(times)
    ids = draw(st.lists(st.uuids(), min_size=1, max_size=20, unique=True))
    delivered = {i: newest - draw(offsets) for i in ids[1:]}
    delivered[ids[0]] = newest
    return SessionPosition.of(delivered)


live_positions = st.builds(
    LivePosition,
    session_id=st.text(min_size=1, max_size=40),
    event_id=st.uuids(),
    time=times,
)


# ============================================================================ round trips


@given(session_positions())
def test_session_position_round_trips(position: SessionPosition) -> None:
    text = position.to_json()
    assert Position.from_json(text) == position
    assert SessionPosition.from_json(text.encode()) == position
    assert SessionPosition.from_json(text).recent == position.recent


@given(live_positions)
def test_live_position_round_trips(position: LivePosition) -> None:
    assert Position.from_json(position.to_json()) == position
    assert LivePosition.from_json(position.to_json()) == position


def test_the_format_is_stable() -> None:
    """The exact text version 1 writes: a change here breaks every stored checkpoint."""
    position = SessionPosition.of({A: T, B: T - 5 * MS})
    assert orjson.loads(position.to_json()) == {
        "kind": "session",
        "version": 1,
        "time": "2024-05-01T12:00:00.0000000Z",
        "window_us": 20000,
        "recent": [
            {"time": "2024-05-01T11:59:59.9950000Z", "ids": [str(B)]},
            {"time": "2024-05-01T12:00:00.0000000Z", "ids": [str(A)]},
        ],
    }
    live = LivePosition(session_id="s-1", event_id=A, time=T)
    assert live.to_json() == (
        '{"event_id":"00000000-0000-0000-0000-000000000001","kind":"live",'
        '"session_id":"s-1","time":"2024-05-01T12:00:00.0000000Z","version":1}'
    )


def test_times_in_other_zones_are_written_in_utc() -> None:
    local = T.astimezone(timezone(timedelta(hours=2)))
    position = LivePosition(session_id="s", event_id=A, time=local)
    assert '"time":"2024-05-01T12:00:00.0000000Z"' in position.to_json()
    assert Position.from_json(position.to_json()) == position


def test_unknown_fields_are_ignored() -> None:
    doc = orjson.loads(LivePosition(session_id="s", event_id=A, time=T).to_json())
    doc["added_later"] = {"x": 1}
    assert LivePosition.from_json(orjson.dumps(doc)).session_id == "s"


# ============================================================================ refused


def test_a_newer_version_is_refused_with_a_clear_error() -> None:
    doc = orjson.loads(LivePosition(session_id="s", event_id=A, time=T).to_json())
    doc["version"] = FORMAT_VERSION + 1
    with pytest.raises(CheckpointError, match="version 2, written by a newer xprotect-events"):
        Position.from_json(orjson.dumps(doc))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"kind": "session"}', "no format version"),
        ('{"kind": "session", "version": "1"}', "no format version"),
        ('{"kind": "session", "version": true}', "no format version"),
        ('{"kind": "session", "version": 0}', "unknown position format version 0"),
        ('{"kind": "kafka", "version": 1}', "unknown position kind 'kafka'"),
        ('{"version": 1}', "unknown position kind None"),
        ('{"kind": "live", "version": 1}', "'event_id' must be a str"),
        (
            '{"kind": "live", "version": 1, "event_id": "x", "session_id": "s", "time": "t"}',
            "event id must be a GUID",
        ),
        (
            '{"kind": "live", "version": 1, "session_id": "", "time": "2024-05-01T12:00:00Z",'
            ' "event_id": "00000000-0000-0000-0000-000000000001"}',
            "session_id must be a non-empty string",
        ),
        ('{"kind": "session", "version": 1, "window_us": -1}', "window_us must be >= 0"),
        ('{"kind": "session", "version": 1, "window_us": 0, "recent": [1]}', "hold objects"),
        (
            '{"kind": "session", "version": 1, "window_us": 0, "recent": [], "time": "yesterday"}',
            "invalid ISO 8601 time",
        ),
        (
            '{"kind": "session", "version": 1, "window_us": 0, "time": "2024-05-01T12:00:00Z",'
            ' "recent": [{"time": "2024-05-01T11:00:00Z", "ids": []}]}',
            "",
        ),
        (
            '{"kind": "session", "version": 1, "window_us": 0, "time": "2024-05-01T12:00:00Z",'
            ' "recent": [{"time": "2024-05-01T11:00:00Z",'
            ' "ids": ["00000000-0000-0000-0000-000000000001"]}]}',
            "outside the window",
        ),
    ],
)
def test_malformed_text_is_refused(text: str, match: str) -> None:
    if match == "":  # an empty group is harmless: accepted, and holds nothing
        assert SessionPosition.from_json(text).recent == {}
        return
    with pytest.raises(CheckpointError, match=match) as caught:
        Position.from_json(text)
    assert isinstance(caught.value, XProtectError)


def test_a_position_of_the_other_kind_is_refused() -> None:
    live = LivePosition(session_id="s", event_id=A, time=T).to_json()
    with pytest.raises(CheckpointError, match="expected a session position, got a live"):
        SessionPosition.from_json(live)
    with pytest.raises(CheckpointError, match="expected a live position, got a session"):
        LivePosition.expect(SessionPosition.of({A: T}))


def test_not_text_is_refused() -> None:
    with pytest.raises(CheckpointError, match="JSON text, got int"):
        Position.from_json(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time": datetime(2024, 5, 1)},  # naive
        {"time": "2024-05-01"},
        {"time": T, "recent": [A]},
        {"time": T, "recent": {"x": T}},
        {"time": T, "recent": {A: T + MS}},  # newer than the position
        {"time": T, "recent": {A: T - DEFAULT_WINDOW - MS}},  # older than the window
        {"time": T, "window": -MS},
        {"time": T, "window": 20},
    ],
)
def test_bad_session_positions_are_invalid_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        SessionPosition(**kwargs)


@pytest.mark.parametrize("session_id", ["", 7, None, "x" * 257])
def test_bad_live_session_ids_are_invalid_input(session_id: object) -> None:
    with pytest.raises(InvalidInputError, match="session_id"):
        LivePosition(session_id=session_id, event_id=A, time=T)  # type: ignore[arg-type]


def test_a_position_needs_an_event() -> None:
    with pytest.raises(InvalidInputError, match="at least one delivered event"):
        SessionPosition.of({})


# ============================================================================ the boundary rules


def test_plain_rule_with_no_window() -> None:
    """Window 0: before the boundary time delivered; at it, only the ids in the set."""
    position = SessionPosition.of({A: T, B: T}, window=timedelta(0))
    assert position.delivered(T - MS, C)
    assert position.delivered(T, A)
    assert position.delivered(T, B)
    assert not position.delivered(T, C)
    assert not position.delivered(T + MS, C)


def test_the_window_lets_late_events_through() -> None:
    position = SessionPosition.of({A: T, B: T - 15 * MS})
    assert position.delivered(T - 15 * MS, B)
    assert not position.delivered(T - 15 * MS, C)  # stored late: not yet delivered
    assert position.delivered(T - DEFAULT_WINDOW - MS, C)  # older than the window


def test_advance_at_the_same_time_adds_the_id() -> None:
    position = SessionPosition.of({A: T}, window=timedelta(0)).advance(T, B)
    assert position.time == T
    assert set(position.recent) == {A, B}


def test_advance_to_a_later_time_starts_a_new_set() -> None:
    position = SessionPosition.of({A: T, B: T}, window=timedelta(0)).advance(T + MS, C)
    assert position.time == T + MS
    assert set(position.recent) == {C}
    assert position.delivered(T, A)  # now before the boundary


def test_advance_keeps_ids_within_the_window() -> None:
    position = SessionPosition.of({A: T}).advance(T + 15 * MS, B).advance(T + 25 * MS, C)
    assert position.recent == {B: T + 15 * MS, C: T + 25 * MS}


def test_advance_within_the_window_adds_a_late_id_and_older_changes_nothing() -> None:
    position = SessionPosition.of({A: T})
    late = position.advance(T - 5 * MS, B)
    assert late.time == T
    assert set(late.recent) == {A, B}
    assert position.advance(T - DEFAULT_WINDOW - MS, C) is position


@given(st.lists(st.tuples(offsets, st.uuids()), min_size=1, max_size=30))
def test_every_advanced_event_counts_as_delivered(
    events: list[tuple[timedelta, uuid.UUID]],
) -> None:
    delivered = [(T + offset, event_id) for offset, event_id in events]
    position = SessionPosition.of({delivered[0][1]: delivered[0][0]})
    for when, event_id in delivered[1:]:
        position = position.advance(when, event_id)
    assert all(position.delivered(when, event_id) for when, event_id in delivered)
    assert position.time == max(when for when, _ in delivered)
    assert position == SessionPosition.of({delivered[0][1]: delivered[0][0]}).advance_all(
        delivered[1:]
    )
    assert Position.from_json(position.to_json()) == position


def test_the_id_set_is_bounded_and_keeps_the_newest() -> None:
    delivered = {uuid.UUID(int=n): T + n * timedelta(microseconds=1) for n in range(1, 10_011)}
    position = SessionPosition.of(delivered)
    assert len(position.recent) == MAX_RECENT_IDS
    newest = sorted(delivered, key=delivered.__getitem__)[-MAX_RECENT_IDS:]
    assert set(position.recent) == set(newest)
    assert not position.delivered(T + timedelta(microseconds=1), uuid.UUID(int=1))  # repeated
    assert len(position.advance(T + 2 * MS, A).recent) == MAX_RECENT_IDS
    with pytest.raises(InvalidInputError, match="at most 10000 ids"):
        SessionPosition(time=max(delivered.values()), recent=delivered)


def test_positions_near_the_first_representable_time() -> None:
    first = datetime.min.replace(tzinfo=UTC)
    position = SessionPosition.of({A: first})
    assert not position.delivered(first, B)
    assert position.advance(first, B).recent == {A: first, B: first}


def test_server_and_filters_round_trip_and_are_left_out_when_none() -> None:
    plain = SessionPosition.of({A: T})
    assert "server" not in plain.to_json()
    assert "filters" not in plain.to_json()
    made = SessionPosition(time=T, recent={A: T}, server="https://vms:8443", filters="ab12")
    again = SessionPosition.from_json(made.to_json())
    assert again == made == SessionPosition(time=T, recent={A: T})  # equal: the same place
    assert (again.server, again.filters) == ("https://vms:8443", "ab12")
    moved = made.advance(T + MS, B)  # a position moved on is of the same stream
    assert (moved.server, moved.filters) == ("https://vms:8443", "ab12")
    assert moved.advance_all([(T + 2 * MS, C)]).server == "https://vms:8443"


@pytest.mark.parametrize("value", [1, "", [], "x" * 2049, True])
def test_a_malformed_server_or_filters_is_refused(value: object) -> None:
    doc = orjson.loads(SessionPosition.of({A: T}).to_json())
    for key in ("server", "filters"):
        with pytest.raises(CheckpointError, match=r"server|filters"):
            SessionPosition.from_json(orjson.dumps({**doc, key: value}))
    with pytest.raises(InvalidInputError, match="server and filters"):
        SessionPosition(time=T, server=value)  # type: ignore[arg-type]
