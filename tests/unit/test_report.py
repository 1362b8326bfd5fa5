"""The compact batch report: the results it builds on demand equal the eager ones, its
counts are right, and it keeps no object per accepted trigger."""

from __future__ import annotations

import tracemalloc
import uuid
from typing import Any

import pytest

from xprotect_events import BatchError, ConnectError, EventTrigger, ForbiddenError
from xprotect_events.accounting import (
    BatchReport,
    TriggerResult,
    answers,
    chunk_answered,
    chunk_failed,
    not_sent,
)
from xprotect_events.errors import InvalidInputError, ServerError
from xprotect_events.testing import CAMERA_IDS, USER_DEFINED_EVENT
from xprotect_events.wire import dumps

PATH = "/api/rest/v1/events/batch"
TIME = "2024-05-01T12:00:00.1234560Z"


def door(i: int, **more: Any) -> EventTrigger:
    return EventTrigger(type=USER_DEFINED_EVENT, source=f"cameras/{CAMERA_IDS[i % 2]}", **more)


def echo(trigger: EventTrigger, time: str = TIME, **more: Any) -> dict[str, Any]:
    """What a server answers for a trigger: its body plus an id and a time."""
    item = {
        "id": str(uuid.uuid4()),
        "time": time,
        "type": str(trigger.type),
        "source": trigger.source,
        "tag": trigger.tag,
        "datatype": trigger.datatype,
    }
    item.update(more)
    return item


FORBIDDEN = {"error": {"httpCode": 403, "details": [{"errorText": "No."}]}}


def mixed() -> tuple[list[EventTrigger], list[Any]]:
    triggers = [door(i, tag=f"t{i}") for i in range(8)]
    triggers[5] = door(5, tag="with data", datatype="d", data={"k": 1})
    items: list[Any] = [
        echo(t, time=f"2024-05-01T12:00:0{i}.1234560Z") for i, t in enumerate(triggers)
    ]
    items[1] = {"id": "e1"}  # an event that is not an echo: kept as it came
    items[2] = FORBIDDEN
    items[3] = dict(items[3], tag="changed by the server")
    items[5] = echo(triggers[5], data={"k": 1})
    items[6] = FORBIDDEN
    items[7] = dict(items[7], extra=True)
    return triggers, items


def eager(
    indices: list[int], triggers: list[EventTrigger], items: list[Any]
) -> list[TriggerResult]:
    """The results as the report built them before it was made compact."""
    out = []
    for index, trigger, item in zip(indices, triggers, items, strict=True):
        if "id" in item:
            out.append(TriggerResult(index=index, trigger=trigger, status="accepted", answer=item))
        else:
            out.append(TriggerResult(index=index, trigger=trigger, status="rejected"))
    return out


def test_built_results_equal_the_eager_ones() -> None:
    triggers, items = mixed()
    indices = list(range(10, 18))
    report = chunk_answered(indices, triggers, {"array": items}, PATH)
    built = report.results()
    expected = eager(indices, triggers, items)
    assert [(r.index, r.trigger, r.status, r.sent, r.answer) for r in built] == [
        (r.index, r.trigger, r.status, r.sent, r.answer) for r in expected
    ]
    assert all(b.trigger is t for b, t in zip(built, triggers, strict=True))
    first = built[0].event
    assert first is not None
    assert first.id == uuid.UUID(items[0]["id"])
    rejected = [r for r in built if r.status == "rejected"]
    assert all(isinstance(r.error, ForbiddenError) for r in rejected)
    assert rejected[0].error is rejected[1].error  # alike rejections share one error
    assert report.results() == built  # built again: equal
    again = answers(indices, triggers, {"array": items}, PATH)  # (errors made anew)
    assert [(r.status, r.answer, r.reason) for r in again] == [
        (r.status, r.answer, r.reason) for r in built
    ]
    assert report.failures() == rejected
    assert report.counts() == (6, 2, 0)


def test_only_plain_echoes_are_reduced() -> None:
    triggers, items = mixed()
    report = chunk_answered(list(range(8)), triggers, {"array": items}, PATH)
    assert sorted(report.odd) == [1, 3, 5, 7]  # not an echo, changed, with data, extra key
    assert sorted(report.errors) == [2, 6]
    assert isinstance(report.indices, range)


def test_a_report_of_chunks_counts_orders_and_fails_alike() -> None:
    triggers, items = mixed()
    answered = chunk_answered(list(range(8, 16)), triggers, {"array": items}, PATH)
    answered.invalid = [not_sent(16, "bad", InvalidInputError("not a trigger"))]
    lost = chunk_failed(list(range(8)), triggers, ServerError(status=500), PATH)
    refused = chunk_failed([17, 19], triggers[:2], ConnectError("refused"), PATH)
    refused.invalid = [not_sent(18, None, InvalidInputError("no"))]
    report = BatchReport.of_chunks([refused, answered, lost])

    assert (report.accepted, report.rejected, report.unknown) == (6, 2 + 1 + 3, 8)
    assert report.total == 20
    failures = report.failures  # built without building the accepted results
    assert [r.index for r in report.iter_results()] == list(range(20))
    results = report.results
    assert [r.index for r in results] == list(range(20))
    assert failures == [r for r in results if r.status != "accepted"]
    assert report.failures == failures
    assert [r.status for r in results[:8]] == ["unknown"] * 8
    assert [(r.status, r.sent) for r in results[17:]] == [("rejected", False)] * 3
    with pytest.raises(BatchError, match="14 of 20 triggers were not accepted"):
        report.raise_for_failures()
    assert report == BatchReport(results=results)


def test_a_report_of_ready_results_is_what_it_was() -> None:
    results = [TriggerResult(index=0, trigger=None, status="accepted", answer={"id": "x"})]
    report = BatchReport(results=results)
    assert report.results == results
    assert (report.accepted, report.rejected, report.unknown, report.total) == (1, 0, 0, 1)
    assert BatchReport().results == []
    assert "1 triggers: 1 accepted" in repr(report)


def test_the_compact_report_keeps_no_object_per_accepted_trigger() -> None:
    triggers = [door(i, tag=f"bench-{i}") for i in range(100)]
    answers_ = [{"array": [echo(t) for t in triggers]} for _ in range(50)]  # 5,000 items
    bodies = [dumps(a) for a in answers_]  # alive through the measurement
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        reports = [
            chunk_answered(range(100 * n, 100 * (n + 1)), triggers, a, PATH)
            for n, a in enumerate(answers_)
        ]
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(bodies) == len(reports) == 50
    assert all(not r.odd and not r.errors for r in reports)
    per_item = kept / 5_000
    assert per_item < 60, f"{per_item:.0f} bytes kept per accepted trigger"  # the 36-byte id
    report = BatchReport.of_chunks(reports)
    assert report.accepted == 5_000
    assert report.results[4_321].answer == answers_[43]["array"][21]
