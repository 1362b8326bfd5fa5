"""``client.reconcile`` with results a caller made (times that are no aware datetimes, a
window that is empty or unbounded, times at the edge of what a datetime holds), with
triggers that share a tag, and with answers that are no GUIDs, over loopback HTTP
(tests/hostile.py): a library error before anything is sent, a verdict rather than an
overflow, and never ``rejected`` (safe to send again) or ``accepted`` without the store
showing it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest

from tests.hostile import CAMERA, PASSWORD, TYPE_ID, USERNAME, Hostile, event
from xprotect_events import (
    EventTrigger,
    InvalidInputError,
    RetryPolicy,
    TriggerResult,
    XProtectClient,
    wire,
)
from xprotect_events.filters import parse_conditions

ONCE = RetryPolicy(attempts=1)
NOW = datetime.now(UTC)
SENT_FROM, SENT_UNTIL = NOW - timedelta(seconds=60), NOW - timedelta(seconds=59)


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    async with Hostile() as server:
        server.events = []
        yield server


def connect(hostile: Hostile) -> XProtectClient:
    return XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, retry=ONCE)


def trigger(tag: str = "job-1") -> EventTrigger:
    return EventTrigger(type=TYPE_ID, source=CAMERA, tag=tag)


def unknown(tag: str = "job-1", **times: Any) -> TriggerResult:
    times = {"sent_from": SENT_FROM, "sent_until": SENT_UNTIL, **times}
    return TriggerResult(index=0, trigger=trigger(tag), status="unknown", **times)


def stored(number: int, tag: str = "job-1") -> dict[str, Any]:
    """Event ``number``, stored while the triggers were sent."""
    return {**event(number, tag=tag), "time": wire.format_time(SENT_FROM)}


async def reconciled(hostile: Hostile, results: list[TriggerResult], **kw: Any) -> list[str]:
    async with connect(hostile) as client:
        out = await client.reconcile(results, wait=False, **kw)
    return [r.status for r in out]


BAD_TIMES = {
    "a naive sent_until": {"sent_until": SENT_UNTIL.replace(tzinfo=None)},
    "a naive sent_from": {"sent_from": SENT_FROM.replace(tzinfo=None)},
    "a text for a time": {"sent_until": "yesterday"},
    "from after until": {"sent_from": NOW + timedelta(days=1)},
}


@pytest.mark.parametrize("case", sorted(BAD_TIMES))
async def test_sent_times_that_are_no_window_are_invalid_input(hostile: Hostile, case: str) -> None:
    with pytest.raises(InvalidInputError, match="sent_"):
        await reconciled(hostile, [unknown(**BAD_TIMES[case])], stored_types=[TYPE_ID])
    assert hostile.requests("list") == []


async def test_when_it_was_first_sent_is_not_known_it_is_never_safe_to_resend(
    hostile: Hostile,
) -> None:
    hostile.events = [stored(1)]  # it landed
    result = unknown(sent_from=None)  # (sent_until alone: no window to look in)
    assert await reconciled(hostile, [result], stored_types=[TYPE_ID]) == ["unknown"]


async def test_one_stored_event_is_the_landing_of_one_trigger_only(hostile: Hostile) -> None:
    hostile.events = [stored(1)]  # two triggers with one tag; one of them landed
    results = [unknown(), unknown()]
    assert await reconciled(hostile, results, stored_types=[TYPE_ID]) == ["unknown"] * 2


async def test_an_event_another_result_holds_is_not_found_again(hostile: Hostile) -> None:
    hostile.events = [stored(1)]
    landed = TriggerResult(index=0, trigger=trigger(), status="accepted", answer=stored(1))
    results = [landed, unknown()]  # the same tag: the store holds only the first one's event
    assert await reconciled(hostile, results, stored_types=[TYPE_ID]) == ["accepted", "rejected"]


@pytest.mark.parametrize("answer", [{}, {"id": "../../eventSessions"}, {"id": 5}], ids=repr)
async def test_an_accepted_answer_without_a_guid_is_no_evidence(
    hostile: Hostile, answer: dict[str, Any]
) -> None:
    accepted = TriggerResult(index=0, trigger=trigger("a"), status="accepted", answer=answer)
    statuses = await reconciled(hostile, [accepted, unknown()])
    assert statuses == ["accepted", "unknown"]
    assert {s.route for s in hostile.seen} == {"token", "list"}  # (no GET of what it holds)


async def test_an_event_of_another_type_is_no_evidence_for_this_one(hostile: Hostile) -> None:
    hostile.events = [{**event(7), "type": str(uuid.uuid4())}]  # what GET /events/{id} says
    answer = {**event(7), "id": str(uuid.UUID(int=7))}
    accepted = TriggerResult(index=0, trigger=trigger("a"), status="accepted", answer=answer)
    statuses = await reconciled(hostile, [accepted, unknown()])
    assert statuses == ["accepted", "unknown"]
    assert len(hostile.requests("get")) == 1


async def test_its_tag_stored_outside_the_window_is_never_safe_to_resend(
    hostile: Hostile,
) -> None:
    """A server whose clock is an hour behind: the event with the trigger's unique tag is
    stored at a time it was not sent at, and listed (the window of a slow chunk covers it)."""
    hostile.events = [{**stored(1), "time": wire.format_time(SENT_FROM - timedelta(hours=1))}]
    slow = unknown("slow", sent_from=SENT_FROM - timedelta(hours=2))
    statuses = await reconciled(hostile, [slow, unknown()], stored_types=[TYPE_ID])
    assert statuses == ["rejected", "unknown"]


FIRST, LAST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def time_ops(hostile: Hostile) -> list[str]:
    """The conditions of the one listing's time filter, by operator."""
    (seen,) = hostile.requests("list")
    text = parse_qs(urlsplit(seen.url).query)["time"][0]
    return [op for op, _ in parse_conditions(text)]


@pytest.mark.parametrize(("when", "ops"), [(FIRST, ["lt"]), (LAST, ["gt"])], ids=["first", "last"])
async def test_a_trigger_at_the_edge_of_time_is_looked_up_unbounded_on_that_side(
    hostile: Hostile, when: datetime, ops: list[str]
) -> None:
    """A time at the first or last datetime: the window ± 10 ms cannot be held in a
    datetime on one side (it was a raw OverflowError), so that side has no bound."""
    hostile.events = [{**event(1, tag="job-1"), "time": wire.format_time(when)}]
    result = TriggerResult(
        index=0, trigger=attrs.evolve(trigger(), time=when), status="unknown", sent_from=SENT_FROM
    )
    assert await reconciled(hostile, [result], stored_types=[TYPE_ID]) == ["accepted"]
    assert time_ops(hostile) == ops


@pytest.mark.parametrize("when", [FIRST, LAST], ids=["first", "last"])
async def test_sent_at_the_edge_of_time_is_a_verdict_not_an_overflow(
    hostile: Hostile, when: datetime
) -> None:
    result = unknown(sent_from=when, sent_until=when)
    expected = "rejected" if when == FIRST else "unknown"  # (the last: "not found yet")
    assert await reconciled(hostile, [result], stored_types=[TYPE_ID]) == [expected]


async def test_a_sent_until_in_the_future_waits_no_longer_than_settle(hostile: Hostile) -> None:
    """``wait=True`` waits until ``settle`` has passed since the last send; one the caller
    dated years ahead would have slept that long. It waits ``settle`` at most, and the
    result stays unknown ("not found yet")."""
    result = unknown(sent_until=NOW + timedelta(days=365 * 100))
    async with connect(hostile) as client:
        out = await asyncio.wait_for(
            client.reconcile([result], settle=0.01, stored_types=[TYPE_ID]),
            timeout=30,
        )
    assert [r.status for r in out] == ["unknown"]
    assert "not found yet" in str(out[0].error)
