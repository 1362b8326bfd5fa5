"""Batch triggering against the simulator over loopback HTTP: per-item accounting, faults,
flat memory, progress, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import orjson
import pytest

from xprotect_events import (
    AuthenticationError,
    BadRequestError,
    BatchError,
    ConnectError,
    EventTrigger,
    ForbiddenError,
    InvalidInputError,
    RateLimitedError,
    ServerError,
    TransportError,
    wire,
)
from xprotect_events import batch as batch_module
from xprotect_events.accounting import InvalidTriggerError, TriggerResult
from xprotect_events.client import XProtectClient
from xprotect_events.models import Token
from xprotect_events.policy import RetryPolicy
from xprotect_events.profile import Profile
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    GENERIC_EVENT,
    MOTION_STARTED,
    USER_DEFINED_EVENT,
    Fault,
    Simulator,
)
from xprotect_events.transport import Transport

BATCH = "POST /api/rest/v1/events/batch"
FAST_RETRY = RetryPolicy(attempts=4, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)


def door(i: int, *, tag: str | None = None) -> EventTrigger:
    """A valid trigger for any user: a user-defined event on a camera everyone sees."""
    return EventTrigger(
        type=USER_DEFINED_EVENT, source=f"cameras/{CAMERA_IDS[i % 2]}", tag=tag or f"t{i}"
    )


def doors(n: int) -> list[EventTrigger]:
    return [door(i) for i in range(n)]


def make_client(sim: Simulator, **options: Any) -> XProtectClient:
    options.setdefault("username", "admin")
    options.setdefault("password", "admin")
    return XProtectClient(sim.url, retry=FAST_RETRY, clock=sim.clock.time, **options)


def stored(sim: Simulator) -> tuple[int, int]:
    return sim.stats.events_accepted, sim.stats.events_stored_total


async def stored_tags(client: XProtectClient) -> list[str]:
    return [e.tag or "" async for e in client.list_events(page_size=2000)]


def assert_in_order(results: list[TriggerResult], triggers: list[Any]) -> None:
    assert [r.index for r in results] == list(range(len(triggers)))
    assert all(r.trigger is t for r, t in zip(results, triggers, strict=True))


# --------------------------------------------------------------------------- accounting


async def test_mixed_triggers_are_accounted_as_the_server_decided(
    sim: Simulator, client: XProtectClient
) -> None:
    unknown_type = uuid.uuid4()
    kinds = [USER_DEFINED_EVENT] * 7 + [GENERIC_EVENT, MOTION_STARTED, unknown_type]
    triggers = [
        EventTrigger(type=kinds[i % 10], source=f"cameras/{CAMERA_IDS[i % 4]}", tag=f"t{i}")
        for i in range(10_000)
    ]
    with pytest.raises(ForbiddenError) as single:
        await client.trigger_event(triggers[7])
    before = stored(sim)

    report = await client.trigger_events(triggers)

    accepted, stored_total = stored(sim)
    assert report.accepted == 7_000 == accepted - before[0] == stored_total - before[1]
    assert (report.rejected, report.unknown) == (3_000, 0)
    assert sim.stats.requests[BATCH] == 100
    assert_in_order(report.results, triggers)
    for i, result in enumerate(report.results):
        kind = kinds[i % 10]
        if kind == USER_DEFINED_EVENT:
            assert result.status == "accepted"
            assert result.error is None
            assert result.event is not None
            assert (result.event.tag, result.event.type) == (f"t{i}", kind)
        elif kind == unknown_type:
            assert result.status == "rejected"
            assert result.sent
            assert isinstance(result.error, BadRequestError)
            assert result.error.status == 400
            assert str(unknown_type) in (result.error.error_text or "")
        else:
            assert result.status == "rejected"
            assert result.sent
            assert isinstance(result.error, ForbiddenError)
            assert result.error.status == 403
            assert result.error.error_text == single.value.error_text
    ids = {r.event.id for r in report.results if r.event is not None}
    assert {e.id async for e in client.list_events(page_size=2000)} == ids


async def test_report_counts_and_raise_for_failures(client: XProtectClient) -> None:
    triggers = doors(6)
    triggers[3] = EventTrigger(type=GENERIC_EVENT)
    report = await client.trigger_events(triggers)
    assert (report.accepted, report.rejected, report.unknown) == (5, 1, 0)
    with pytest.raises(BatchError) as caught:
        report.raise_for_failures()
    assert caught.value.failures == (report.results[3],)
    assert "#3 rejected" in str(caught.value)
    assert "403" in str(caught.value)

    (await client.trigger_events(doors(3))).raise_for_failures()  # nothing to raise


async def test_chunks_are_cut_by_count(sim: Simulator, client: XProtectClient) -> None:
    report = await client.trigger_events(doors(250), chunk_size=100)
    assert report.accepted == 250
    assert sim.stats.requests[BATCH] == 3


async def test_chunks_are_cut_by_encoded_size(sim: Simulator) -> None:
    triggers = [door(i, tag=f"{i:04d}" + "x" * 400) for i in range(50)]
    size = len(orjson.dumps(wire.trigger_to_wire(triggers[0])))
    limit = 2_000
    per_chunk = (limit - 1) // (size + 1)  # "[" + each body with its "," or "]"
    async with make_client(sim, profile=Profile(max_batch_bytes=limit)) as client:
        report = await client.trigger_events(triggers, chunk_size=100)
    assert report.accepted == 50
    assert sim.stats.requests[BATCH] == math.ceil(50 / per_chunk)


async def test_a_revoked_token_is_renewed_and_the_chunk_lands_once(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.revoke_token(), times=1)
    report = await client.trigger_events(doors(300), concurrency=1)
    assert report.accepted == 300 == sim.stats.events_stored_total
    assert sim.stats.requests[BATCH] == 4  # the refused one (401, not processed) and 3


# --------------------------------------------------------------------------- faults


async def test_a_chunk_cut_after_it_was_stored_is_unknown_and_not_resent(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.reset_after(), times=1)
    report = await client.trigger_events(doors(1_000), chunk_size=100, concurrency=4)

    unknown = [r.index for r in report.results if r.status == "unknown"]
    assert len(unknown) == 100
    assert unknown[0] % 100 == 0
    assert unknown == list(range(unknown[0], unknown[0] + 100))  # exactly one chunk
    assert all(isinstance(r.error, TransportError) and r.sent for r in report.failures)
    assert report.accepted == 900
    assert sim.stats.requests[BATCH] == 10  # each chunk sent once
    assert sim.stats.events_stored_total == 1_000  # the unknown chunk did land
    assert sorted(await stored_tags(client)) == sorted(f"t{i}" for i in range(1_000))


@pytest.mark.parametrize(
    ("fault", "status", "error_type", "landed"),
    [
        # The connection is cut: the client cannot tell before from after the handler.
        (Fault.reset_after(), "unknown", TransportError, True),
        (Fault.reset_before(), "unknown", TransportError, False),
        (Fault.truncate(), "unknown", TransportError, True),
        # A 5xx other than 503 may come after the events were stored.
        (Fault.status(500), "unknown", ServerError, False),
        (Fault.html(502), "unknown", ServerError, False),
        # A 4xx for the whole request: nothing was processed.
        (Fault.status(400), "rejected", BadRequestError, False),
    ],
    ids=["reset_after", "reset_before", "truncate", "500", "html_502", "400"],
)
async def test_a_whole_chunk_failure_is_accounted_by_the_rule(
    sim: Simulator,
    client: XProtectClient,
    fault: Fault,
    status: str,
    error_type: type[Exception],
    landed: bool,
) -> None:
    sim.faults.add(BATCH, fault, times=1)
    report = await client.trigger_events(doors(300), chunk_size=100, concurrency=1)

    first, rest = report.results[:100], report.results[100:]
    assert all(r.status == status and r.sent for r in first)
    assert all(isinstance(r.error, error_type) for r in first)
    assert all(r.status == "accepted" for r in rest)
    assert sim.stats.requests[BATCH] == 3  # never resent
    assert sim.stats.events_stored_total == (300 if landed else 200)


@pytest.mark.parametrize(
    "fault",
    [Fault.rate_limit(retry_after=0), Fault.status(503, retry_after=0)],
    ids=["429", "503"],
)
async def test_429_and_503_are_waited_out_and_the_chunk_lands_once(
    sim: Simulator, client: XProtectClient, fault: Fault
) -> None:
    sim.faults.add(BATCH, fault, times=1)
    report = await client.trigger_events(doors(300), chunk_size=100, concurrency=1)
    assert report.accepted == 300 == sim.stats.events_stored_total
    assert sim.stats.requests[BATCH] == 4  # the refused one, then each chunk once


async def test_429_that_outlasts_the_retries_is_rejected_and_did_not_land(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.rate_limit(retry_after=0), times=FAST_RETRY.attempts)
    report = await client.trigger_events(doors(200), chunk_size=100, concurrency=1)

    first = report.results[:100]
    assert all(r.status == "rejected" and r.sent for r in first)
    assert all(isinstance(r.error, RateLimitedError) for r in first)
    assert report.accepted == 100 == sim.stats.events_stored_total


@attrs.frozen
class IssuedToken:
    """Credentials holding a token issued beforehand: no identity provider needed."""

    token: str

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token:
        return Token(access_token=self.token, expires_in=3600)


async def test_connect_failure_is_retried_then_rejected_as_not_sent(sim: Simulator) -> None:
    credentials = IssuedToken(sim.issue_token("admin"))
    await sim.stop()  # nothing listens on its port now
    async with make_client(sim, credentials=credentials) as client:
        report = await client.trigger_events(doors(150), chunk_size=100)
    assert report.rejected == 150
    assert all(not r.sent and isinstance(r.error, ConnectError) for r in report.results)


async def test_chunks_are_reported_while_an_async_input_waits(client: XProtectClient) -> None:
    """The input waits for the first chunk's result before it goes on."""
    first_reported = asyncio.Event()

    async def triggers() -> AsyncIterator[EventTrigger]:
        for i in range(250):
            if i == 100:
                await first_reported.wait()
            yield door(i)

    def progress(done: int, total: int | None) -> None:
        first_reported.set()

    async with asyncio.timeout(10):
        report = await client.trigger_events(
            triggers(), chunk_size=100, concurrency=2, on_progress=progress
        )
    assert report.accepted == 250


async def test_refused_credentials_raise_before_anything_is_sent(sim: Simulator) -> None:
    async with make_client(sim, password="wrong") as client:
        with pytest.raises(AuthenticationError):
            await client.trigger_events(doors(10))
    assert sim.stats.requests[BATCH] == 0


# --------------------------------------------------------------------------- invalid input


async def test_invalid_triggers_are_rejected_without_sending(sim: Simulator) -> None:
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    thing = uuid.uuid4()
    triggers: list[Any] = [
        door(0),
        "not a trigger",
        EventTrigger(type=ANALYTICS_EVENT, datatype="analytics", data={"kinds": {1, 2}}),
        EventTrigger(type=ANALYTICS_EVENT, datatype="analytics", data={"huge": "x" * 5_000}),
        EventTrigger(type=ANALYTICS_EVENT, datatype="analytics", data={"at": when, "id": thing}),
        door(5),
    ]
    async with make_client(sim, profile=Profile(max_batch_bytes=4_096)) as client:
        report = await client.trigger_events(triggers)

    assert_in_order(report.results, triggers)
    assert [r.status for r in report.results] == ["accepted"] + ["rejected"] * 3 + ["accepted"] * 2
    for result in report.results[1:4]:
        assert not result.sent
        assert isinstance(result.error, InvalidInputError)
    assert "EventTrigger" in (report.results[1].reason or "")
    assert "set" in (report.results[2].reason or "")
    assert "4096" in (report.results[3].reason or "")
    # UUIDs and aware datetimes in data are encoded as trigger_event encodes them: strings,
    # the times as the server writes them (UTC, 7 digits, Z).
    event = report.results[4].event
    assert event is not None
    assert event.data == {"at": "2024-05-01T12:00:00.0000000Z", "id": str(thing)}
    assert sim.stats.requests[BATCH] == 1
    assert sim.stats.events_accepted == 3


async def test_reject_invalid_raises_before_anything_is_sent(
    sim: Simulator, client: XProtectClient
) -> None:
    triggers: list[Any] = doors(500)
    triggers[321] = object()
    requests = dict(sim.stats.requests)

    with pytest.raises(InvalidTriggerError) as caught:
        await client.trigger_events(triggers, reject_invalid=True)

    assert isinstance(caught.value, InvalidInputError)
    assert caught.value.index == 321
    assert caught.value.report is not None
    assert caught.value.report.results == []
    assert dict(sim.stats.requests) == requests  # not even a token was asked for


async def test_reject_invalid_on_a_stream_stops_before_the_chunk_holding_it(
    sim: Simulator, client: XProtectClient
) -> None:
    pulled = 0

    def triggers() -> Iterator[Any]:
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield "bad" if i == 35 else door(i)

    with pytest.raises(InvalidTriggerError) as caught:
        await client.trigger_events(triggers(), chunk_size=10, concurrency=2, reject_invalid=True)

    assert caught.value.index == 35
    assert pulled == 36  # nothing after it was read
    report = caught.value.report
    assert report is not None
    assert [r.index for r in report.results] == list(range(30))  # chunks sent before it
    assert report.accepted == 30 == sim.stats.events_stored_total
    assert sim.stats.requests[BATCH] == 3


@pytest.mark.parametrize(
    "options",
    [
        {"chunk_size": 0},
        {"chunk_size": 101},
        {"chunk_size": True},
        {"concurrency": 0},
        {"concurrency": 101},  # above the connection limit (100)
    ],
)
async def test_bad_options_raise_before_sending(
    sim: Simulator, client: XProtectClient, options: dict[str, Any]
) -> None:
    requests = dict(sim.stats.requests)
    with pytest.raises(InvalidInputError):
        await client.trigger_events(doors(5), **options)
    with pytest.raises(InvalidInputError):
        client.stream_trigger(doors(5), **options)  # at the call, not at the first step
    assert dict(sim.stats.requests) == requests


async def test_limits_come_from_the_profile_and_the_connection_pool(sim: Simulator) -> None:
    async with make_client(sim, profile=Profile(max_batch=50), limit=4) as client:
        with pytest.raises(InvalidInputError, match="chunk_size must be 1 to 50"):
            await client.trigger_events(doors(5), chunk_size=51)
        with pytest.raises(InvalidInputError, match="concurrency must be 1 to 4"):
            await client.trigger_events(doors(5), chunk_size=50, concurrency=5)
        with pytest.raises(InvalidInputError, match="iterable"):
            await client.trigger_events(door(0), chunk_size=50, concurrency=4)  # type: ignore[arg-type]
        report = await client.trigger_events(doors(120), chunk_size=50, concurrency=4)
    assert report.accepted == 120
    assert sim.stats.requests[BATCH] == 3


# --------------------------------------------------------------------------- inputs


async def test_an_async_iterable_is_accepted(client: XProtectClient) -> None:
    triggers = doors(250)
    progress: list[tuple[int, int | None]] = []

    async def source() -> AsyncIterator[EventTrigger]:
        for trigger in triggers:
            yield trigger

    report = await client.trigger_events(
        source(), chunk_size=30, on_progress=lambda *a: progress.append(a)
    )
    assert report.accepted == 250
    assert_in_order(report.results, triggers)
    assert [r.event.tag for r in report.results if r.event] == [f"t{i}" for i in range(250)]
    assert all(total is None for _, total in progress)


async def test_a_generator_is_read_only_as_chunks_finish(client: XProtectClient) -> None:
    chunk_size, concurrency = 10, 4
    bound = (concurrency + 1) * chunk_size
    pulled = received = 0
    worst = 0

    def triggers() -> Iterator[EventTrigger]:
        nonlocal pulled, worst
        for i in range(3_000):
            pulled += 1
            worst = max(worst, pulled - received)
            yield door(i)

    seen = set()
    stream = client.stream_trigger(triggers(), chunk_size=chunk_size, concurrency=concurrency)
    async with contextlib.aclosing(stream):
        async for result in stream:
            received += 1
            seen.add(result.index)
            assert result.status == "accepted"
    assert worst <= bound
    assert seen == set(range(3_000))


async def test_progress_is_reported_after_each_chunk(client: XProtectClient) -> None:
    calls: list[tuple[int, int | None]] = []
    triggers: list[Any] = doors(1_050)
    triggers[17] = None  # invalid ones count too

    await client.trigger_events(triggers, chunk_size=100, on_progress=lambda *a: calls.append(a))

    assert len(calls) == 11
    assert all(total == 1_050 for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(set(done))
    assert done[-1] == 1_050


# --------------------------------------------------------------------------- cancellation


def batch_tasks() -> list[asyncio.Task[Any]]:
    """The tasks batch.py started (chunks in flight, an async input being read) still alive."""
    codes = {batch_module.send_chunk.__code__, batch_module.next_chunk.__code__}
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "cr_code", None) in codes]


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a condition the test cannot be told about (the server got the requests)."""
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


async def stalled() -> AsyncIterator[EventTrigger]:
    """400 triggers, then an input that waits for ever."""
    for i in range(400):
        yield door(i)
    await asyncio.Event().wait()


@pytest.mark.parametrize("source", [lambda: doors(2_000), stalled], ids=["list", "async"])
async def test_cancelling_the_caller_cancels_the_chunks_in_flight(
    sim: Simulator, source: Callable[[], Any]
) -> None:
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))
    sim.faults.add(BATCH, Fault.delay(30), times=None)
    try:
        client = make_client(sim)
        await client.open()
        call = asyncio.create_task(client.trigger_events(source(), concurrency=4))
        await until(lambda: sim.stats.requests[BATCH] >= 4)

        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

        assert batch_tasks() == []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await client.close()
            gc.collect()
        assert [str(w.message) for w in caught] == []
        assert problems == []
    finally:
        sim.faults.clear()
        loop.set_exception_handler(None)


async def test_leaving_a_stream_early_cancels_the_chunks_in_flight(
    client: XProtectClient,
) -> None:
    stream = client.stream_trigger(doors(2_000), chunk_size=50, concurrency=8)
    async with contextlib.aclosing(stream):
        async for result in stream:
            assert result.status == "accepted"
            break
    assert batch_tasks() == []
