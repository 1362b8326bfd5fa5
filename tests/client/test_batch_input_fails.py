"""``trigger_events``/``stream_trigger`` when the caller's own input fails mid-batch: every
trigger read before it is sent and reported, and the failure is a library error
(:class:`TriggerInputError`, the input's exception as its cause) carrying the report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from xprotect_events import EventTrigger, InvalidInputError, TriggerInputError, XProtectClient
from xprotect_events.jsonlines import trigger_from_json
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator


class DiskGone(Exception):
    """The caller's own failure."""


def trigger(i: int) -> EventTrigger:
    return EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}", tag=f"t{i}")


def failing(count: int) -> Iterator[EventTrigger]:
    yield from (trigger(i) for i in range(count))
    raise DiskGone("the input's disk is gone")


async def failing_async(count: int) -> AsyncIterator[EventTrigger]:
    for i in range(count):
        yield trigger(i)
    raise DiskGone("the input's network is gone")


@pytest.mark.parametrize("reject_invalid", [False, True])
@pytest.mark.parametrize("make", [failing, failing_async])
async def test_every_trigger_read_before_the_input_failed_is_sent_and_reported(
    sim: Simulator, client: XProtectClient, make: object, reject_invalid: bool
) -> None:
    with pytest.raises(TriggerInputError, match="reading the triggers failed") as info:
        await client.trigger_events(
            make(250),  # type: ignore[operator]
            chunk_size=100,
            reject_invalid=reject_invalid,
        )
    assert isinstance(info.value.__cause__, DiskGone)
    report = info.value.report
    assert report is not None
    assert [r.trigger.tag for r in report.results] == [f"t{i}" for i in range(250)]  # type: ignore[union-attr]
    assert report.accepted == 250
    assert sim.events_stored == 250  # the 50 read into the last, partial chunk too


async def test_stream_trigger_yields_every_result_then_raises(
    sim: Simulator, client: XProtectClient
) -> None:
    seen: list[str | None] = []

    async def consume() -> None:
        async for result in client.stream_trigger(failing(150), chunk_size=100):
            seen.append(result.trigger.tag)  # type: ignore[union-attr]

    with pytest.raises(TriggerInputError) as info:
        await consume()
    assert isinstance(info.value.__cause__, DiskGone)
    assert seen == [f"t{i}" for i in range(150)]
    assert sim.events_stored == 150


async def test_an_input_failing_at_once_sends_nothing(
    sim: Simulator, client: XProtectClient
) -> None:
    with pytest.raises(TriggerInputError) as info:
        await client.trigger_events(failing(0))
    assert info.value.report is not None
    assert info.value.report.results == []
    assert sim.events_stored == 0


class Uncountable:
    """An input whose ``__len__`` fails (its iteration would work)."""

    def __len__(self) -> int:
        raise DiskGone("cannot count")

    def __iter__(self) -> Iterator[EventTrigger]:
        return iter([trigger(0)])


async def test_an_input_that_cannot_be_counted_is_refused_before_anything_is_sent(
    sim: Simulator, client: XProtectClient
) -> None:
    """Its ``len()`` (for the progress total) raised the caller's raw exception."""
    with pytest.raises(InvalidInputError, match=r"triggers could not be counted: .*cannot count"):
        await client.trigger_events(Uncountable())
    stream = client.stream_trigger(Uncountable())
    with pytest.raises(InvalidInputError, match="could not be counted"):
        await anext(stream)
    assert sim.events_stored == 0


@pytest.mark.parametrize("text", ["abc", b"abc", bytearray(b"abc"), memoryview(b"abc")])
async def test_text_is_not_an_input_of_triggers(
    sim: Simulator, client: XProtectClient, text: object
) -> None:
    """A string iterated gave one rejected "trigger" per character."""
    with pytest.raises(InvalidInputError, match="iterable of EventTrigger, got"):
        await client.trigger_events(text)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="iterable of EventTrigger, got"):
        client.stream_trigger(text)  # type: ignore[arg-type]
    assert sim.events_stored == 0


async def test_a_wire_form_dict_is_refused_with_the_function_that_makes_it_a_trigger(
    sim: Simulator, client: XProtectClient
) -> None:
    """An injector holding JSON objects (``{"type": …, "time": "…Z"}``) passes them as they
    are: the error names the function that turns one into an :class:`EventTrigger`, and
    that function does."""
    line = {"type": str(ANALYTICS_EVENT), "time": "2024-05-01T12:00:00Z", "tag": "wire"}
    hint = "xprotect_events.jsonlines.trigger_from_json"
    with pytest.raises(InvalidInputError, match=f"got dict .*{hint}"):
        await client.trigger_event(line)  # type: ignore[arg-type]
    report = await client.trigger_events([line])  # type: ignore[list-item]
    assert [r.status for r in report.results] == ["rejected"]
    assert hint in str(report.results[0].error)
    with pytest.raises(InvalidInputError, match=r"got str$"):  # no dict, no hint
        await client.trigger_event("not a trigger")  # type: ignore[arg-type]
    assert sim.events_stored == 0  # nothing was sent
    event = await client.trigger_event(trigger_from_json(line))
    assert (event.tag, event.time) == ("wire", datetime(2024, 5, 1, 12, tzinfo=UTC))


async def as_async(triggers: list[EventTrigger]) -> AsyncIterator[EventTrigger]:
    for item in triggers:
        yield item


@pytest.mark.parametrize("fail_from", [1, 2])
@pytest.mark.parametrize("make", [list, as_async])
async def test_an_on_progress_that_raises_is_logged_and_every_trigger_still_reported(
    sim: Simulator,
    client: XProtectClient,
    caplog: pytest.LogCaptureFixture,
    fail_from: int,
    make: Callable[[list[EventTrigger]], Any],
) -> None:
    """The caller's progress bar breaking must not lose the report of what was sent. It
    was a TriggerInputError ("reading the triggers failed", which they had not), a wait
    for ever (the chunks collected with it never were), or, from an async input, nothing:
    now logged, as a failing ``on_gap`` is, and the batch goes on."""
    calls = 0

    def broken(done: int, total: int | None) -> None:
        nonlocal calls
        calls += 1
        if calls >= fail_from:
            raise ValueError("the progress bar broke")

    triggers = [trigger(i) for i in range(400)]
    with caplog.at_level(logging.ERROR, logger="xprotect_events"):
        report = await asyncio.wait_for(  # a deadline: it waited for ever
            client.trigger_events(make(triggers), chunk_size=5, concurrency=8, on_progress=broken),
            60,
        )
    assert (report.accepted, report.rejected, report.unknown) == (400, 0, 0)
    assert sim.events_stored == 400
    assert calls == 80  # once per chunk, also after it raised
    failures = [r for r in caplog.records if "on_progress" in r.getMessage()]
    assert len(failures) == 80 - fail_from + 1
    assert all(r.exc_info and "progress bar broke" in str(r.exc_info[1]) for r in failures)


async def test_stream_trigger_goes_on_past_an_on_progress_that_raises(
    sim: Simulator, client: XProtectClient
) -> None:
    def broken(done: int, total: int | None) -> None:
        raise ValueError("the progress bar broke")

    stream = client.stream_trigger([trigger(i) for i in range(300)], on_progress=broken)
    results = [r async for r in stream]
    assert [r.status for r in results] == ["accepted"] * 300
    assert sim.events_stored == 300


async def test_a_coroutine_on_progress_is_refused_before_anything_is_sent(
    sim: Simulator, client: XProtectClient
) -> None:
    """An ``async def`` progress callback was called and never awaited: silently nothing."""

    async def progress(done: int, total: int | None) -> None:
        pass

    with pytest.raises(InvalidInputError, match="on_progress must be a plain function"):
        await client.trigger_events([trigger(0)], on_progress=progress)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="on_progress must be a plain function"):
        client.stream_trigger([trigger(0)], on_progress=progress)  # type: ignore[arg-type]
    assert sum(sim.stats.requests.values()) == 0
