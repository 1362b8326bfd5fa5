"""Event sessions against the simulator over loopback HTTP: delivery, recovery, cleanup.

Time moves with ``sim.clock``; waits are on conditions with a deadline, never on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import wait_until
from xprotect_events import SessionLostError
from xprotect_events.client import XProtectClient
from xprotect_events.cursor import ACCURACY, MAX_RECENT_IDS, Cursor
from xprotect_events.errors import (
    BadRequestError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from xprotect_events.filters import SessionFilter
from xprotect_events.models import Event, EventTrigger, SessionChange
from xprotect_events.policy import RetryPolicy
from xprotect_events.sessions import EventSession
from xprotect_events.testing import Fault, SimClock, Simulator, seed

READ = "GET /api/rest/v1/eventSessions/{id}"
CREATE = "POST /api/rest/v1/eventSessions"
DELETE = "DELETE /api/rest/v1/eventSessions/{id}"
FAST = RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)
TOKEN_LIFETIME = 30.0
DEADLINE = 20.0
CAMERAS = [f"cameras/{c}" for c in seed.CAMERA_IDS]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        clock=SimClock(), token_lifetime=TOKEN_LIFETIME, session_idle_timeout=60.0
    ) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[XProtectClient]:
    """A service client whose token clock is *not* the simulator's: expiry shows as 401."""
    async with XProtectClient(
        sim.url, client_id="service", client_secret="service-secret", retry=FAST
    ) as c:
        yield c


# ---------------------------------------------------------------------- helpers


class Stamps:
    """Increasing event times near the simulator's now, ``group`` events per timestamp."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.last = clock.now() - timedelta(seconds=1)

    def take(self, count: int, group: int = 1) -> Iterator[datetime]:
        base = max(self.last + timedelta(microseconds=1), self.clock.now() - ACCURACY)
        for i in range(count):
            self.last = base + timedelta(microseconds=i // group)
            yield self.last


def store(
    sim: Simulator,
    times: Iterable[datetime],
    type_id: uuid.UUID = seed.ANALYTICS_EVENT,
    sources: list[str] | None = None,
) -> int:
    sources = sources or CAMERAS[:1]
    items = [
        {"type": type_id, "source": sources[i % len(sources)], "time": when}
        for i, when in enumerate(times)
    ]
    return sim.store_events(items)


async def stored_ids(client: XProtectClient, **filters: Any) -> list[uuid.UUID]:
    """Every stored event's id (oldest first), through the listing."""
    return [e.id async for e in client.list_events(page_size=2000, **filters)]


async def consume(
    client: XProtectClient, got: list[SessionChange], want: int, **options: Any
) -> EventSession:
    """Collect changes until ``want`` arrived; the session is deleted on return."""
    options.setdefault("poll_interval", 0.01)
    async with client.event_session(**options) as session:
        async for change in session:
            got.append(change)
            if len(got) >= want:
                break
    return session


def new_ids(changes: list[SessionChange]) -> list[uuid.UUID]:
    return [c.event.id for c in changes if c.kind == "new"]


def assert_time_order(changes: list[SessionChange]) -> None:
    times = [c.event.time for c in changes if c.kind == "new"]
    assert times == sorted(times)


# ---------------------------------------------------------------------- delivery


async def test_exactly_once_across_drop_restart_and_token_expiry(
    sim: Simulator, client: XProtectClient
) -> None:
    stamps = Stamps(sim.clock)
    got: list[SessionChange] = []
    consumer = asyncio.create_task(
        consume(client, got, 5000, types=[seed.ANALYTICS_EVENT], max_size=100)
    )

    stored = 0

    async def phase(count: int, group: int, disrupt: Callable[[], Any]) -> None:
        nonlocal stored
        stored += store(sim, stamps.take(count, group))
        await wait_until(lambda: len(got) >= stored - count * 2 // 3, "a third of it arrived")
        outcome = disrupt()
        if asyncio.iscoroutine(outcome):
            await outcome

    # 1000 events sharing one timestamp: the drop lands inside the tie.
    await phase(1000, 1000, sim.drop_sessions)
    await phase(1000, 3, sim.restart)
    await phase(1000, 7, lambda: sim.clock.advance(TOKEN_LIFETIME + 1))  # token expired
    await phase(1000, 1, sim.revoke_tokens)
    # Phase 5: triggered over HTTP, with an idle drop (clock past the idle timeout).
    before = len(got)
    for i in range(1000):
        await client.trigger_event(_trigger(seed.ANALYTICS_EVENT, CAMERAS[i % 4]))
        if i == 500:
            await wait_until(lambda: len(got) > before, "HTTP events arrive")
            sim.clock.advance(61)
    session = await asyncio.wait_for(consumer, DEADLINE)

    delivered = new_ids(got)
    assert len(delivered) == len(set(delivered)) == 5000
    assert sorted(map(str, delivered)) == sorted(map(str, await stored_ids(client)))
    assert_time_order(got)
    assert session.recoveries >= 3  # drop, restart, idle drop (tokens renew in place)
    assert sim.sessions_alive == 0


async def test_events_buffered_by_a_lost_session_come_through_the_next(
    sim: Simulator, client: XProtectClient
) -> None:
    # The read after the first page drops every session, then gets 404: the second page,
    # which the old session had ready, must come from the new one.
    store(sim, Stamps(sim.clock).take(250, 10))
    sim.faults.script(READ, [None, Fault.drop_session()])
    got: list[SessionChange] = []
    session = await consume(client, got, 250, max_size=100)
    assert new_ids(got) == await stored_ids(client)
    assert session.recoveries == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500),
        Fault.status(502),
        Fault.status(503),
        Fault.rate_limit(0),
        Fault.reset_before(),
        Fault.reset_after(),
        Fault.truncate(),
        Fault.html(),
        Fault.revoke_token(),
    ],
    ids=lambda f: f.kind + str(f.http_status or ""),
)
async def test_transient_faults_on_reads_are_recovered(
    sim: Simulator, client: XProtectClient, fault: Fault
) -> None:
    stamps = Stamps(sim.clock)
    store(sim, stamps.take(300, 4))
    # Every third read fails, in the backlog and while live events arrive.
    sim.faults.script(READ, [None, None, fault] * 6)
    got: list[SessionChange] = []
    consumer = asyncio.create_task(consume(client, got, 600, max_size=50))
    await wait_until(lambda: len(got) >= 300, "the backlog arrived")
    store(sim, stamps.take(300, 4))
    await asyncio.wait_for(consumer, DEADLINE)
    assert new_ids(got) == await stored_ids(client)
    assert sim.faults.injected[fault.kind] >= 1


async def test_transient_faults_on_create_are_recovered(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(200))
    sim.faults.script(READ, [None, Fault.drop_session()])
    sim.faults.script(CREATE, [None, Fault.status(503), Fault.reset_before(), Fault.status(500)])
    got: list[SessionChange] = []
    await consume(client, got, 200, max_size=50)
    assert new_ids(got) == await stored_ids(client)


async def test_a_session_dropped_as_idle_is_resumed(sim: Simulator, client: XProtectClient) -> None:
    stamps = Stamps(sim.clock)
    store(sim, stamps.take(10))
    got: list[SessionChange] = []
    async with client.event_session(poll_interval=0.01) as session:
        async for change in session:
            got.append(change)
            if len(got) == 5:
                sim.clock.advance(120)  # the consumer is slow: the session goes idle
                store(sim, stamps.take(10))
            if len(got) == 20:
                break
    assert new_ids(got) == await stored_ids(client)
    assert session.recoveries == 1


async def test_deleted_events_surface_when_retention_lapses() -> None:
    async with (
        Simulator(clock=SimClock(), session_idle_timeout=3600.0) as long_idle,
        XProtectClient(
            long_idle.url, client_id="service", client_secret="service-secret", retry=FAST
        ) as client,
    ):
        short = [await client.trigger_event(_trigger(seed.SHORT_RETENTION_EVENT)) for _ in "abc"]
        kept = [await client.trigger_event(_trigger(seed.ANALYTICS_EVENT)) for _ in "ab"]
        got: list[SessionChange] = []
        async with client.event_session(include_data=True, poll_interval=0.01) as session:
            async for change in session:
                got.append(change)
                if len(got) == 5:
                    long_idle.clock.advance(seed.SHORT_RETENTION_SECONDS + 1)
                if len(got) == 8:
                    break
    assert [c.kind for c in got] == ["new"] * 5 + ["deleted"] * 3
    assert {c.event.id for c in got[:5]} == {e.id for e in short + kept}
    assert {c.event.id for c in got[5:]} == {e.id for e in short}
    assert all(c.event.type == seed.SHORT_RETENTION_EVENT for c in got[5:])


async def test_two_streams_on_one_client_each_get_their_events(
    sim: Simulator, client: XProtectClient
) -> None:
    stamps = Stamps(sim.clock)
    types = [seed.ANALYTICS_EVENT, seed.LICENSE_PLATE_EVENT, seed.USER_DEFINED_EVENT]
    items = [
        {"type": types[i % 3], "source": CAMERAS[i % 4], "time": when}
        for i, when in enumerate(stamps.take(1200, 5))
    ]
    want_type = sum(it["type"] == seed.LICENSE_PLATE_EVENT for it in items)
    want_cam = sum(it["source"] == CAMERAS[1] for it in items)
    by_type: list[SessionChange] = []
    by_camera: list[SessionChange] = []
    by_name: list[SessionChange] = []
    streams = asyncio.gather(
        consume(client, by_type, want_type, types=[seed.LICENSE_PLATE_EVENT], max_size=37),
        consume(client, by_camera, want_cam, sources=[seed.CAMERA_IDS[1]], max_size=50),
        consume(client, by_name, want_cam, source_names=["Camera 2 - Parking"]),
    )
    # Half before the streams start (backlog), half while they run (live), one drop between.
    sim.store_events(items[:600])
    await wait_until(lambda: len(by_type) > 50 and len(by_camera) > 50, "both streams run")
    sim.drop_sessions()
    sim.store_events(items[600:])
    await asyncio.wait_for(streams, DEADLINE)

    stored = await _events(client)
    assert new_ids(by_type) == [e.id for e in stored if e.type == seed.LICENSE_PLATE_EVENT]
    assert new_ids(by_camera) == [e.id for e in stored if e.source == CAMERAS[1]]
    assert new_ids(by_name) == new_ids(by_camera)
    assert sim.sessions_alive == 0


async def test_a_backlog_drains_without_waiting_the_poll_interval(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(2500, 2))
    sim.stats.requests.clear()
    got: list[SessionChange] = []
    # A poll interval of an hour: any wait between full pages would hit the deadline.
    async with asyncio.timeout(DEADLINE):
        await consume(client, got, 2500, max_size=100, poll_interval=3600.0)
    assert len(got) == 2500
    assert sim.stats.requests[READ] == 25


async def test_an_empty_read_waits_the_poll_interval(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(10))
    got: list[SessionChange] = []
    task = asyncio.create_task(consume(client, got, 11, max_size=100, poll_interval=3600.0))
    await wait_until(lambda: len(got) == 10, "the backlog arrived")
    await asyncio.sleep(0.05)
    assert sim.stats.requests[READ] == 1  # a short page: the next read waits an hour
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.sessions_alive == 0


async def test_the_consumer_may_stop_and_go_on_without_loss(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(30))
    seen: list[uuid.UUID] = []
    async with client.event_session(max_size=100, poll_interval=0.01) as session:
        for stop in (7, 19, 30):  # each loop stops inside the one buffered page
            async for change in session:
                seen.append(change.event.id)
                if len(seen) == stop:
                    break
        position = session.position
        assert position is not None
        assert position.time == max(e.time for e in await _events(client))
        assert seen[-1] in position.recent
    assert seen == await stored_ids(client)


async def _events(client: XProtectClient) -> list[Event]:
    return [e async for e in client.list_events(page_size=2000)]


async def test_a_timeout_around_one_read_loses_nothing(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(10))
    sim.faults.script(READ, [Fault.delay(0.5)])  # the server answers after the timeout
    seen: list[uuid.UUID] = []
    async with client.event_session(poll_interval=0.01) as session:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await anext(session)
        async for change in session:
            seen.append(change.event.id)
            if len(seen) == 10:
                break
    assert seen == await stored_ids(client)
    await wait_until(lambda: sim.sessions_alive == 0, "the late read is over")


async def test_since_skips_older_events_and_survives_recovery(
    sim: Simulator, client: XProtectClient
) -> None:
    stamps = Stamps(sim.clock)
    store(sim, stamps.take(20))
    since = stamps.last
    store(sim, stamps.take(20))
    sim.faults.script(READ, [Fault.drop_session()])
    got: list[SessionChange] = []
    await consume(client, got, 20, since=since)
    assert new_ids(got) == (await stored_ids(client))[20:]


async def test_stream_events_is_a_plain_generator(sim: Simulator, client: XProtectClient) -> None:
    store(sim, Stamps(sim.clock).take(12))
    seen = []
    async with contextlib.aclosing(client.stream_events(poll_interval=0.01)) as stream:
        async for change in stream:
            seen.append(change.event.id)
            if len(seen) == 12:
                break
    assert seen == await stored_ids(client)
    assert sim.sessions_alive == 0


# ---------------------------------------------------------------------- desc


async def test_desc_yields_newest_first_and_is_not_resumed(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(10))
    sim.faults.script(READ, [None, Fault.drop_session()])
    got: list[SessionChange] = []
    with pytest.raises(SessionLostError) as caught:
        await consume(client, got, 10, order="desc", max_size=4)
    assert isinstance(caught.value.__cause__, NotFoundError)
    assert new_ids(got) == (await stored_ids(client))[::-1][:4]
    assert sim.sessions_alive == 0


# ---------------------------------------------------------------------- errors


async def test_a_bad_request_raises_on_entry(sim: Simulator, client: XProtectClient) -> None:
    session = client.event_session(filters=[SessionFilter("colour", "equals", "red")])
    with pytest.raises(BadRequestError):
        await session.__aenter__()
    assert sim.sessions_alive == 0


async def test_forbidden_raises_to_the_consumer_and_iteration_can_go_on(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(10))
    sim.faults.script(READ, [None, Fault.status(403)])
    seen: list[uuid.UUID] = []
    async with client.event_session(max_size=5, poll_interval=0.01) as session:
        with pytest.raises(ForbiddenError):
            await _drain(session, seen)
        async for change in session:  # the failed session is replaced, from the position
            seen.append(change.event.id)
            if len(seen) == 10:
                break
    assert seen == await stored_ids(client)
    assert sim.sessions_alive == 0


async def test_a_404_on_create_is_not_retried(sim: Simulator, client: XProtectClient) -> None:
    sim.faults.add(CREATE, Fault.status(404))
    with pytest.raises(NotFoundError):
        async with client.event_session():
            pass


@pytest.mark.parametrize(
    "options",
    [
        {"max_size": 0},
        {"max_size": 2001},
        {"max_size": True},
        {"max_size": 1.5},
        {"poll_interval": 0},
        {"poll_interval": -1.0},
        {"poll_interval": float("nan")},
        {"poll_interval": float("inf")},
        {"types": ["not-a-guid"]},
        {"types": []},
        {"sources": ["cameras/nope"]},
        {"sources": [None]},
        {"source_names": [""]},
        {"filters": [{"property": "tag", "operator": "equals", "value": "x"}]},
        {"since": datetime(2024, 1, 1)},  # naive
        {"order": "up"},
        {"include_data": "yes"},
    ],
)
def test_bad_options_raise_before_anything_is_sent(options: dict[str, Any]) -> None:
    client = XProtectClient("http://127.0.0.1:9", username="u", password="p")  # never opened
    with pytest.raises(InvalidInputError):
        client.event_session(**options)


def test_single_values_and_guid_forms_are_accepted() -> None:
    client = XProtectClient("http://127.0.0.1:9", username="u", password="p")
    client.event_session(
        types=str(seed.ANALYTICS_EVENT),
        sources=[seed.CAMERA_IDS[0], CAMERAS[1]],
        since=datetime(2024, 1, 1, tzinfo=UTC),
        max_size=2000,
    )


async def test_iterating_without_entering_is_an_error(client: XProtectClient) -> None:
    session = client.event_session()
    with pytest.raises(RuntimeError, match="async with"):
        await session.__anext__()


async def test_iterating_after_exit_ends_at_once(sim: Simulator, client: XProtectClient) -> None:
    store(sim, Stamps(sim.clock).take(3))
    async with client.event_session(poll_interval=0.01) as session:
        await session.__anext__()
    assert [c async for c in session] == []


# ---------------------------------------------------------------------- cleanup


async def _running_consumer(
    sim: Simulator, client: XProtectClient, **options: Any
) -> asyncio.Task[EventSession]:
    got: list[SessionChange] = []
    task = asyncio.create_task(consume(client, got, 10**9, **options))
    await wait_until(lambda: sim.sessions_alive == 1, "the session exists")
    await wait_until(lambda: sim.stats.requests[READ] >= 2, "the consumer polls")
    return task


async def test_cancelling_the_consumer_deletes_the_session(
    sim: Simulator, client: XProtectClient
) -> None:
    task = await _running_consumer(sim, client)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.sessions_alive == 0


async def test_cancelling_during_a_read_deletes_the_session(
    sim: Simulator, client: XProtectClient
) -> None:
    task = await _running_consumer(sim, client)
    sim.faults.add(READ, Fault.delay(30.0))
    await wait_until(lambda: sim.faults.injected["delay"] == 1, "a read hangs")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.sessions_alive == 0


async def test_cancelling_during_the_delete_still_deletes(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(3))
    sim.faults.add(DELETE, Fault.delay(0.2))
    task = asyncio.create_task(consume(client, [], 3))
    await wait_until(lambda: sim.faults.injected["delay"] == 1, "the delete is under way")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.sessions_alive == 0


async def test_break_and_raise_delete_the_session(sim: Simulator, client: XProtectClient) -> None:
    store(sim, Stamps(sim.clock).take(5))
    async with client.event_session(poll_interval=0.01) as session:
        async for _ in session:
            break
    assert sim.sessions_alive == 0
    with pytest.raises(ValueError, match="consumer failed"):
        await _fail_inside(client)
    assert sim.sessions_alive == 0


async def _fail_inside(client: XProtectClient) -> None:
    async with client.event_session(poll_interval=0.01) as session:
        async for _ in session:
            raise ValueError("consumer failed")


async def _drain(session: EventSession, into: list[uuid.UUID]) -> None:
    async for change in session:
        into.append(change.event.id)


async def test_another_task_may_close_the_session_to_stop_the_consumer(
    sim: Simulator, client: XProtectClient
) -> None:
    store(sim, Stamps(sim.clock).take(5))
    got: list[SessionChange] = []
    async with client.event_session(poll_interval=0.01) as session:
        consumer = asyncio.create_task(_drain_changes(session, got))
        await wait_until(lambda: len(got) == 5 and sim.stats.requests[READ] >= 3, "polling")
        await session.aclose()
        await asyncio.wait_for(consumer, DEADLINE)
        assert sim.sessions_alive == 0
    assert sim.sessions_alive == 0


async def _drain_changes(session: EventSession, into: list[SessionChange]) -> None:
    async for change in session:
        into.append(change)


async def test_a_failed_delete_never_masks_the_error(
    sim: Simulator, client: XProtectClient, caplog: pytest.LogCaptureFixture
) -> None:
    store(sim, Stamps(sim.clock).take(5))
    sim.faults.add(DELETE, Fault.status(500), times=None)
    with (
        caplog.at_level(logging.WARNING, "xprotect_events.sessions"),
        pytest.raises(ValueError, match="consumer failed"),
    ):
        await _fail_inside(client)
    assert "could not delete event session" in caplog.text


async def test_a_hanging_delete_is_bounded(sim: Simulator, client: XProtectClient) -> None:
    sim.faults.add(DELETE, Fault.delay(3600.0))
    async with asyncio.timeout(DEADLINE):
        async with client.event_session(
            types=None,
            sources=None,
            source_names=None,
            filters=None,
            since=None,
            order="asc",
            include_data=False,
            max_size=10,
            poll_interval=0.01,
            close_timeout=0.1,
        ):
            pass


async def test_a_second_reader_of_one_session_is_refused(
    sim: Simulator, client: XProtectClient
) -> None:
    async with client.event_session(poll_interval=3600.0) as session:
        first = asyncio.create_task(session.__anext__())
        await wait_until(lambda: sim.stats.requests[READ] == 1, "the first reader waits")
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="another task"):
            await session.__anext__()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    assert sim.sessions_alive == 0


# ---------------------------------------------------------------------- the cursor (pure)


def _event(when: datetime) -> Event:
    return Event(id=uuid.uuid4(), time=when, type=seed.ANALYTICS_EVENT)


def test_the_cursor_remembers_only_the_window_and_the_count() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    cursor = Cursor(since=None)
    for i in range(0, 30_000, 100):  # pages of 100 events, 1 ms apart: more than the count
        cursor.advance([_event(t0 + timedelta(milliseconds=i + j)) for j in range(100)])
    assert len(cursor) == MAX_RECENT_IDS
    assert cursor.resume_after() == t0 + timedelta(milliseconds=29_999) - ACCURACY
    sparse = Cursor(since=None)
    for i in range(30):  # one event a second: the window (10 s) is the bound
        sparse.advance([_event(t0 + timedelta(seconds=i))])
    assert len(sparse) == 11


def test_the_cursor_keeps_every_id_of_a_tie() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    cursor = Cursor(since=None)
    tie = [_event(t0) for _ in range(500)]
    cursor.advance(tie[:250])
    cursor.advance(tie[250:])
    late = _event(t0)
    assert cursor.unseen([*tie, late]) == [late]


def test_the_cursor_resumes_after_since_until_it_passes_it() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    cursor = Cursor(since=since)
    assert cursor.resume_after() == since
    cursor.advance([_event(since + timedelta(milliseconds=5))])
    assert cursor.resume_after() == since
    cursor.advance([_event(since + timedelta(milliseconds=50))])
    assert cursor.resume_after() == since + timedelta(milliseconds=40)


def _trigger(type_id: uuid.UUID, source: str | None = None) -> EventTrigger:
    return EventTrigger(type=type_id, source=source or CAMERAS[0])


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.reset_after(), Fault.html(502)])
async def test_a_failed_create_on_entry_is_retried(
    sim: Simulator, client: XProtectClient, fault: Fault
) -> None:
    # A create that happened twice leaves an unused session for the server to drop when
    # idle: harmless, so the create is retried like a GET.
    sim.faults.add(CREATE, fault)
    store(sim, Stamps(sim.clock).take(3))
    async with client.event_session(poll_interval=0.01) as session:
        got = [await session.__anext__() for _ in range(3)]
    assert len(got) == 3
    assert sim.stats.requests[CREATE] == 2
