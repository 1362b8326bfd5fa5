"""Batch input that is hostile in ways the checks had not met, over loopback HTTP
(tests/hostile.py): a subclass of EventTrigger whose own code stores or shows unchecked
fields, an ``on_progress`` that raises or is a coroutine function, a report made of what
is not a result. Every error is a library error, before anything is sent; every trigger
read is reported.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import attrs
import orjson
import pytest

from tests.hostile import CAMERA, PASSWORD, TYPE_ID, USERNAME, Hostile
from xprotect_events import (
    BatchReport,
    EventTrigger,
    InvalidInputError,
    RetryPolicy,
    XProtectClient,
)

ONCE = RetryPolicy(attempts=1)


def connect(hostile: Hostile) -> XProtectClient:
    return XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, retry=ONCE)


def sent_bodies(hostile: Hostile) -> list[dict[str, Any]]:
    return [body for seen in hostile.requests("batch") for body in orjson.loads(seen.body)]


@attrs.frozen(kw_only=True)
class JobTrigger(EventTrigger):
    """A natural subclass: attrs writes its __init__, which stores every field unchecked."""

    job: str = ""


class ShowsAnotherTag(EventTrigger):
    @property
    def tag(self) -> str:  # type: ignore[override]
        return "line\r\nbreak"


class Unreadable(EventTrigger):
    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


GOOD = EventTrigger(type=TYPE_ID, source=CAMERA, tag="good")
UNCHECKED = {
    "a type that is no GUID": {"type": "not a guid"},
    "a tag with a line break": {"type": TYPE_ID, "tag": "a\r\nb"},
    "a naive time": {"type": TYPE_ID, "time": datetime(2024, 1, 1)},
    "data JSON cannot carry": {"type": TYPE_ID, "data": {"x": float("nan")}},
}


@pytest.mark.parametrize("case", sorted(UNCHECKED))
async def test_a_subclass_that_stores_unchecked_fields_is_rejected_unsent(
    hostile: Hostile, case: str
) -> None:
    bad = JobTrigger(job="j1", **UNCHECKED[case])
    async with connect(hostile) as client:
        report = await client.trigger_events([GOOD, bad])
        with pytest.raises(InvalidInputError):
            await client.trigger_event(bad)
    good, rejected = report.results
    assert good.status == "accepted"
    assert (rejected.status, rejected.sent, type(rejected.error)) == (
        "rejected",
        False,
        InvalidInputError,
    )
    assert [b["tag"] for b in sent_bodies(hostile)] == ["good"]
    assert hostile.requests("trigger") == []


async def test_a_subclass_is_sent_as_it_was_made_not_as_its_properties_show(
    hostile: Hostile,
) -> None:
    shows = ShowsAnotherTag(type=TYPE_ID, source=CAMERA, tag="made")
    unreadable = Unreadable(type=TYPE_ID, source=CAMERA, tag="hidden")
    async with connect(hostile) as client:
        report = await client.trigger_events([shows, unreadable, GOOD])
        event = await client.trigger_event(shows)
    assert [r.status for r in report.results] == ["accepted"] * 3
    assert [r.event.tag for r in report.results if r.event] == ["made", "hidden", "good"]
    assert [b["tag"] for b in sent_bodies(hostile)] == ["made", "hidden", "good"]
    assert orjson.loads(hostile.requests("trigger")[0].body)["tag"] == "made"
    assert event.id  # (the single trigger went out and was answered)


def _raises(done: int, total: int | None) -> None:
    raise RuntimeError(f"progress {done}/{total} failed")


async def test_an_on_progress_that_raises_loses_no_result(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    triggers = [EventTrigger(type=TYPE_ID, tag=f"t{i}") for i in range(10)]
    async with connect(hostile) as client:
        report = await client.trigger_events(
            triggers, chunk_size=2, concurrency=2, on_progress=_raises
        )
        streamed = [
            r.status
            async for r in client.stream_trigger(
                iter(triggers), chunk_size=3, concurrency=2, on_progress=_raises
            )
        ]
    assert [r.status for r in report.results] == ["accepted"] * 10
    assert streamed == ["accepted"] * 10
    assert len(hostile.requests("batch")) == 5 + 4
    failed = [r for r in caplog.records if "on_progress" in r.getMessage()]
    assert failed
    assert all(r.levelno == logging.ERROR for r in failed)


async def test_a_coroutine_function_as_on_progress_is_refused_before_sending(
    hostile: Hostile,
) -> None:
    async def progress(done: int, total: int | None) -> None:  # never awaited: refused
        pass

    async with connect(hostile) as client:
        with pytest.raises(InvalidInputError, match="on_progress"):
            await client.trigger_events([GOOD], on_progress=progress)
    assert hostile.requests("batch") == []


@pytest.mark.parametrize(
    "results", [[1], [GOOD], 5, None], ids=["ints", "triggers", "an int", "None"]
)
def test_a_report_of_what_is_not_results_is_invalid_input(results: Any) -> None:
    with pytest.raises(InvalidInputError):
        BatchReport(results=results)
