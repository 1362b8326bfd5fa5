"""Regressions: hostile inputs that escaped as raw Python errors (or worse) before.

Each test here failed before its fix: a datetime whose tzinfo fails (RuntimeError,
TypeError, ValueError out of every entry that takes a time), naive datetimes inside a
trigger's data (sent as an ambiguous time), aware ones in data (written with an offset,
not as the server writes times), a tzinfo that raises inside data (a segmentation fault in
the JSON encoder), and subclasses of str/int/float/list/dict whose own methods raise.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Any

import orjson
import pytest

from tests.hostile_values import (
    FarTz,
    HostileDict,
    HostileFloat,
    HostileInt,
    HostileList,
    HostileMapping,
    HostileStr,
    HostileUUID,
    NoneTz,
    RaisingTz,
    TextTz,
    Unindexable,
)
from xprotect_events import (
    EventTrigger,
    InvalidInputError,
    InvalidTriggerError,
    LivePosition,
    RetryPolicy,
    Rule,
    SessionFilter,
    SessionPosition,
    XProtectClient,
)
from xprotect_events import filters as f
from xprotect_events.testing import Simulator, seed
from xprotect_events.wire import dumps, format_time, trigger_to_wire

TYPE = seed.ANALYTICS_EVENT
ID = uuid.UUID(int=5)
WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)
BAD_ZONES = [RaisingTz, TextTz, FarTz]


def offline() -> XProtectClient:
    return XProtectClient("http://127.0.0.1:1", username="u", password="p")


TIME_ENTRIES: dict[str, tuple[str, Callable[[datetime], object]]] = {
    "EventTrigger(time)": ("time", lambda t: EventTrigger(type=TYPE, time=t)),
    "list_events(since)": ("since", lambda t: offline().list_events(since=t)),
    "list_events(until)": ("until", lambda t: offline().list_events(until=t)),
    "list_events(filters)": (
        "a filter time",
        lambda t: offline().list_events(filters={"time": f.gt(t)}),
    ),
    "event_session(since)": ("since", lambda t: offline().event_session(since=t)),
    "gt": ("a filter time", f.gt),
    "SessionPosition(time)": ("a position time", lambda t: SessionPosition(time=t)),
    "SessionPosition(recent)": (
        "a position time",
        lambda t: SessionPosition(time=WHEN, recent={ID: t}),
    ),
    "LivePosition(time)": (
        "a position time",
        lambda t: LivePosition(session_id="s", event_id=ID, time=t),
    ),
    "format_time": ("a time", format_time),
}


# ----------------------------------------------------------------- 1. tzinfos that fail


@pytest.mark.parametrize("zone", BAD_ZONES, ids=lambda z: z.__name__)
@pytest.mark.parametrize("entry", sorted(TIME_ENTRIES))
def test_a_time_whose_tzinfo_fails_is_invalid_input_naming_the_argument(
    entry: str, zone: type
) -> None:
    name, use = TIME_ENTRIES[entry]
    with pytest.raises(InvalidInputError) as info:
        use(datetime(2024, 5, 1, tzinfo=zone()))
    assert str(info.value).startswith(f"{name} must be a timezone-aware datetime, but its tzinfo")
    assert zone.__name__ in str(info.value)


@pytest.mark.parametrize("entry", sorted(TIME_ENTRIES))
def test_a_tzinfo_that_gives_no_offset_is_a_naive_time(entry: str) -> None:
    name, use = TIME_ENTRIES[entry]
    with pytest.raises(InvalidInputError, match=f"^{name} must be a timezone-aware datetime"):
        use(datetime(2024, 5, 1, tzinfo=NoneTz()))


class OneHour(tzinfo):
    """A well-behaved custom tzinfo (UTC+1)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)


def test_a_custom_tzinfo_is_asked_once_and_kept_as_the_utc_instant() -> None:
    local = datetime(2024, 5, 1, 13, tzinfo=OneHour())
    trigger = EventTrigger(type=TYPE, time=local)
    assert type(trigger.time) is datetime
    assert trigger.time == WHEN
    assert trigger.time.tzinfo is UTC
    assert trigger_to_wire(trigger)["time"] == "2024-05-01T12:00:00.0000000Z"
    plain = datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert EventTrigger(type=TYPE, time=plain).time is plain  # a plain one stays as given


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))),
    ],
)
def test_a_time_out_of_range_in_utc_is_refused_when_given(when: datetime) -> None:
    with pytest.raises(InvalidInputError, match=r"^time is out of range once in UTC"):
        EventTrigger(type=TYPE, time=when)


# ----------------------------------------------------------------- 2. datetimes in data


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"start": datetime(2024, 5, 1)}, "data['start']"),
        ({"a": [1, {"b": (datetime(2024, 5, 1),)}]}, "data['a'][1]['b'][0]"),
        ({"t": datetime(2024, 5, 1, tzinfo=RaisingTz())}, "data['t']"),
        ({"t": datetime(2024, 5, 1, tzinfo=TextTz())}, "data['t']"),
    ],
    ids=["naive", "nested naive", "raising tzinfo", "text tzinfo"],
)
def test_a_naive_or_unreadable_datetime_in_data_is_refused_naming_where(
    data: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        EventTrigger(type=TYPE, data=data)
    assert str(info.value).startswith(f"{where} must be a timezone-aware datetime")


def test_aware_datetimes_in_data_are_written_as_the_server_writes_times() -> None:
    data = {
        "start": datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
        "end": [datetime(2024, 5, 1, 13, 0, 0, 250, tzinfo=OneHour())],
        "day": WHEN.date(),
    }
    body = orjson.loads(dumps(trigger_to_wire(EventTrigger(type=TYPE, data=data))))
    assert body["data"] == {
        "start": "2024-05-01T12:00:00.0000000Z",
        "end": ["2024-05-01T12:00:00.0002500Z"],
        "day": "2024-05-01",
    }


@pytest.mark.parametrize(
    ("value", "says"),
    [(time(12), "a time of day"), (orjson.Fragment(b"{oops"), "a raw JSON fragment")],
)
def test_times_of_day_and_raw_fragments_in_data_are_refused(value: object, says: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^data\['x'\] is {says}"):
        EventTrigger(type=TYPE, data={"x": value})


def test_a_raising_tzinfo_in_data_is_an_error_not_a_crash() -> None:
    """orjson asks a custom tzinfo for its offset itself: one that raises crashed the
    process (SIGSEGV). The data is changed after the trigger was made (checked again when
    it is sent, and refused by the encoder itself)."""
    code = textwrap.dedent(
        """
        from datetime import datetime
        from tests.hostile_values import RaisingTz
        from xprotect_events import EventTrigger, InvalidInputError
        from xprotect_events.testing import seed
        from xprotect_events.wire import dumps, trigger_to_wire
        data = {}
        trigger = EventTrigger(type=seed.ANALYTICS_EVENT, data=data)
        data["t"] = datetime(2024, 5, 1, tzinfo=RaisingTz())
        try:
            dumps(trigger_to_wire(trigger))
        except InvalidInputError as exc:
            print("refused:", exc)
        try:  # the encoder itself, below the send-time check of data
            dumps({"data": data})
        except InvalidInputError as exc:
            print("refused:", exc)
        """
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sent, encoded = done.stdout.splitlines()
    assert sent.startswith("refused: data['t'] must be a timezone-aware datetime")
    assert encoded.startswith("refused: cannot encode as JSON: body['data']['t'] must be")


def _spoiled(data: dict[str, Any]) -> EventTrigger:
    """A trigger whose data is given a naive time after it was made (and checked)."""
    trigger = EventTrigger(type=TYPE, datatype="analytics", data=data)
    data["start"] = datetime(2024, 5, 1, 12)
    return trigger


def good(i: int) -> EventTrigger:
    return EventTrigger(type=TYPE, datatype="analytics", tag=f"t{i}", data={"n": i})


async def test_a_batch_reports_a_trigger_with_a_naive_time_in_data_as_invalid(
    sim: Simulator, client: XProtectClient
) -> None:
    triggers = [good(0), _spoiled({}), good(2)]
    report = await client.trigger_events(triggers)
    assert [r.status for r in report.results] == ["accepted", "rejected", "accepted"]
    bad = report.results[1]
    assert not bad.sent
    assert isinstance(bad.error, InvalidInputError)
    assert "data['start'] must be a timezone-aware datetime" in (bad.reason or "")
    assert sim.stats.events_accepted == 2

    streamed = [r async for r in client.stream_trigger([good(3), _spoiled({})])]
    assert sorted(r.status for r in streamed) == ["accepted", "rejected"]

    requests = dict(sim.stats.requests)
    with pytest.raises(InvalidTriggerError) as caught:
        await client.trigger_events([good(4), _spoiled({})], reject_invalid=True)
    assert caught.value.index == 1
    assert dict(sim.stats.requests) == requests


async def test_trigger_event_refuses_a_naive_time_in_data_before_sending(
    sim: Simulator, client: XProtectClient
) -> None:
    await client.login()
    requests = dict(sim.stats.requests)
    with pytest.raises(InvalidInputError, match=r"data\['start'\] must be"):
        await client.trigger_event(_spoiled({}))
    assert dict(sim.stats.requests) == requests


# ----------------------------------------------------------------- 3. hostile subclasses


def test_hostile_subclasses_are_read_as_their_plain_values() -> None:
    guid = HostileStr(str(ID))
    trigger = EventTrigger(
        type=guid, source=HostileUUID(int=7), tag=HostileStr("t"), datatype=HostileStr("d")
    )
    assert (trigger.type, trigger.source) == (ID, str(uuid.UUID(int=7)))
    assert type(trigger.tag) is str
    assert type(trigger.datatype) is str
    assert f.contains(HostileStr("door")).encode() == "contains:'door'"
    assert f.equals(HostileInt(5)).encode() == "equals:5"
    assert f.one_of(HostileUUID(int=1)).encode() == f"oneOf:('{uuid.UUID(int=1)}')"
    assert f.Condition(HostileStr("oneOf"), HostileList(["a"])).encode() == "oneOf:('a')"
    assert SessionFilter(HostileStr("tag"), "equals", "x").to_wire()["property"] == "tag"
    assert RetryPolicy(attempts=HostileInt(2), jitter=HostileFloat(0.5)).attempts == 2
    assert Rule.include(types=HostileList([ID])).types == (ID,)
    assert LivePosition(session_id=HostileStr("s"), event_id=ID, time=WHEN).session_id == "s"
    offline().list_events(filters=HostileDict(tag="x"))
    data = {"score": HostileFloat(0.5), "d": HostileDict(a=1), "l": HostileList([1])}
    EventTrigger(type=TYPE, data=data)


@pytest.mark.parametrize(
    "use",
    [
        lambda: EventTrigger(type=TYPE, data={"x": HostileFloat("nan")}),
        lambda: EventTrigger(type=TYPE, data={"x": [HostileFloat("inf")]}),
        lambda: offline().list_events(order=Unindexable()),
        lambda: offline().list_events(filters=HostileMapping()),
        lambda: offline().event_session(types=Unindexable()),
        lambda: offline().event_session(source_names=[HostileStr("")]),
        lambda: Rule.include(types=(_ for _ in [str(ID), Unindexable()])),
        lambda: Rule.include(resource_types=Unindexable()),
        lambda: f.as_conditions(Unindexable()),
        lambda: SessionPosition(time=WHEN, recent=HostileMapping()),
        lambda: SessionPosition.of({ID: WHEN, uuid.UUID(int=6): datetime(2024, 5, 1)}),
        lambda: SessionPosition.of({ID: datetime(2024, 5, 1, tzinfo=RaisingTz())}),
        lambda: EventTrigger(type=TYPE, datatype="a\r\nb"),
        lambda: EventTrigger(type=TYPE, datatype="\ud800"),
        lambda: EventTrigger(type=TYPE, tag="x\udfff"),
    ],
    ids=[
        "nan float subclass",
        "inf float subclass in a list",
        "order whose __eq__ raises",
        "filters whose items() raise",
        "types whose __iter__ raises",
        "a source name whose __len__ raises",
        "a generator of types that fails",
        "resource_types whose __iter__ raises",
        "conditions whose __iter__ raises",
        "recent whose items() raise",
        "of() with a naive time",
        "of() with a raising tzinfo",
        "datatype with CRLF",
        "datatype with a lone surrogate",
        "tag with a lone surrogate",
    ],
)
def test_hostile_and_odd_values_are_invalid_input(use: Callable[[], object]) -> None:
    with pytest.raises(InvalidInputError):
        use()


def test_non_finite_numbers_still_named_like_before() -> None:
    with pytest.raises(InvalidInputError, match=r"^data\['x'\] is nan: JSON numbers"):
        EventTrigger(type=TYPE, data={"x": math.nan})


def test_a_uuid_subclass_as_a_trigger_type_is_kept_as_a_plain_uuid() -> None:
    class Hostile(uuid.UUID):
        def __str__(self) -> str:
            raise RuntimeError("boom")

    trigger = EventTrigger(type=Hostile("afbbf1ed-2068-40fa-97a3-7225149024c6"))
    assert type(trigger.type) is uuid.UUID
    assert str(trigger.type) == "afbbf1ed-2068-40fa-97a3-7225149024c6"
