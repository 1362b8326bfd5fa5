"""Event sessions against servers that misbehave: skewed clocks, extreme times, repeats.

Over loopback: the simulator with its faults, or a hostile server (:mod:`tests.hostile`)
whose session reads a test scripts. Waits are on conditions, never on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.helpers import FAST_RETRY, wait_until
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, event
from xprotect_events import (
    CheckpointError,
    MemoryCheckpoint,
    ProtocolError,
    SessionLostError,
    SessionPosition,
    XProtectError,
)
from xprotect_events.client import XProtectClient
from xprotect_events.cursor import MAX_SKEW
from xprotect_events.models import SessionChange
from xprotect_events.testing import Fault, SimClock, Simulator, seed

READ = "GET /api/rest/v1/eventSessions/{id}"
CAMERA = f"cameras/{seed.CAMERA_IDS[0]}"


# ---------------------------------------------------------------------- helpers


class Sessions:
    """A hostile server's sessions: each create gets a new id (its body is kept); reads
    answer ``reads`` in turn (a ``(new, deleted)`` pair, or a status), then nothing."""

    def __init__(self, hostile: Hostile) -> None:
        self.created: list[tuple[str, Any]] = []
        self.deleted: list[str] = []
        self.reads: list[tuple[list[Any], list[Any]] | int] = []
        self.read_count = 0
        hostile.on("create", self._create)
        hostile.on("delete", self._delete)
        hostile.on("read", self._read)

    def starts(self) -> list[str | None]:
        """Each create's ``time gt`` bound (None: no time filter)."""
        bounds: list[str | None] = []
        for _, body in self.created:
            times = [f["value"] for f in body["filterBy"] if f["property"] == "time"]
            bounds.append(times[0] if times else None)
        return bounds

    async def _create(self, request: web.Request) -> web.StreamResponse:
        session_id = str(uuid.uuid4())
        self.created.append((session_id, orjson.loads(await request.read())))
        return web.json_response({"filterBy": [], "orderBy": [], "id": session_id}, status=201)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        self.deleted.append(request.path.rsplit("/", 1)[1])
        return web.json_response({})

    async def _read(self, _: web.Request) -> web.StreamResponse:
        self.read_count += 1
        answer = self.reads.pop(0) if self.reads else ([], [])
        if isinstance(answer, int):
            body = {"error": {"httpCode": answer, "details": [{"errorText": "scripted"}]}}
            return web.json_response(body, status=answer)
        new, deleted = answer
        return web.json_response({"data": {"newEvents": new, "deletedEvents": deleted}})


def at(number: int, time: datetime | str, tag: str | None = None) -> dict[str, Any]:
    """Hostile event ``number`` stamped ``time``."""
    wire = event(number, tag=tag)
    wire["time"] = time if isinstance(time, str) else time.isoformat().replace("+00:00", "Z")
    return wire


@pytest.fixture
async def sessions(hostile: Hostile) -> Sessions:
    return Sessions(hostile)


@pytest.fixture
async def hclient(hostile: Hostile) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=FAST_RETRY
    ) as client:
        yield client


async def collect(
    session: AsyncIterator[SessionChange], got: list[SessionChange], until: Callable[[], bool]
) -> None:
    async for change in session:
        got.append(change)
        if until():
            return


def background(coro: Awaitable[None]) -> asyncio.Task[None]:
    return asyncio.ensure_future(coro)


def sim_store(sim: Simulator, *times: datetime) -> None:
    items = [{"type": seed.ANALYTICS_EVENT, "source": CAMERA, "time": t} for t in times]
    assert sim.store_events(items) == len(times)


# ---------------------------------------------------------------------- clock skew


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock(), session_idle_timeout=60.0) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY
    ) as c:
        yield c


async def test_a_future_dated_event_does_not_make_a_recovery_skip_later_events(
    sim: Simulator, client: XProtectClient
) -> None:
    now = sim.clock.now()
    sim_store(sim, now - timedelta(seconds=1), now + timedelta(hours=1))  # a skewed device
    got: list[SessionChange] = []
    async with client.event_session(types=[seed.ANALYTICS_EVENT], poll_interval=0.01) as session:
        consumer = background(collect(session, got, lambda: len(got) >= 5))
        await wait_until(lambda: len(got) >= 2, "the first two arrived", watch=consumer)
        sim.faults.script(READ, [Fault.drop_session()])
        await wait_until(lambda: session.recoveries >= 1, "the session was resumed")
        later = sim.clock.now()
        sim_store(sim, *(later + timedelta(milliseconds=i) for i in range(3)))
        await asyncio.wait_for(consumer, 20)
    ids = [c.event.id for c in got]
    assert len(ids) == len(set(ids)) == 5


async def test_a_future_dated_event_does_not_move_the_saved_position_past_the_present(
    sim: Simulator, client: XProtectClient
) -> None:
    now = sim.clock.now()
    sim_store(sim, now - timedelta(seconds=1), now + timedelta(hours=1))
    store = MemoryCheckpoint()
    options: dict[str, Any] = {"types": [seed.ANALYTICS_EVENT], "poll_interval": 0.01}
    async with client.event_session(checkpoint=store, **options) as session:
        got: list[SessionChange] = []
        await collect(session, got, lambda: len(got) >= 2)
    saved = store.load()
    assert isinstance(saved, SessionPosition)
    assert saved.time <= datetime.now(UTC) + MAX_SKEW
    sim_store(sim, sim.clock.now() + timedelta(milliseconds=5))  # after the restart
    async with client.event_session(checkpoint=store, **options) as again:
        change = await asyncio.wait_for(anext(again), 20)
    assert change.event.time < now + timedelta(minutes=1)  # the present one, not lost


async def test_a_stored_position_far_ahead_of_the_clock_is_refused(
    hclient: XProtectClient, sessions: Sessions
) -> None:
    ahead = SessionPosition.of({uuid.uuid4(): datetime.now(UTC) + timedelta(hours=2)})
    with pytest.raises(CheckpointError, match="ahead of this machine's clock"):
        async with hclient.event_session(checkpoint=MemoryCheckpoint(ahead)):
            pass
    assert sessions.created == []


# ---------------------------------------------------------------------- extreme times


async def test_an_event_at_the_first_representable_time_is_no_overflow(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [
        ([at(1, "0001-01-01T00:00:00.0010000Z")], []),
        404,
        ([at(2, "2024-05-01T12:00:00Z")], []),
    ]
    got: list[SessionChange] = []
    store = MemoryCheckpoint()
    async with hclient.event_session(poll_interval=0.01, checkpoint=store) as session:
        await asyncio.wait_for(collect(session, got, lambda: len(got) >= 2), 20)
    assert [c.event.tag for c in got] == ["e1", "e2"]
    assert sessions.starts()[1] == "0001-01-01T00:00:00.0000000Z"  # clamped, not an overflow


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:01.005Z"])
async def test_a_checkpoint_at_the_first_representable_time_resumes(
    hclient: XProtectClient, sessions: Sessions, tmp_path: Any, time: str
) -> None:
    path = tmp_path / "position.json"
    doc = {"kind": "session", "version": 1, "time": time, "window_us": 0, "recent": []}
    path.write_bytes(orjson.dumps(doc))
    async with hclient.event_session(poll_interval=0.01, checkpoint=path):
        pass
    assert sessions.starts()[0] is not None
    assert sessions.starts()[0].startswith("0001-01-01T00:00:0")  # type: ignore[union-attr]


# ---------------------------------------------------------------------- order="desc"


@pytest.mark.parametrize("failure", [403, "malformed"])
async def test_desc_is_not_resumed_after_an_error_the_consumer_survives(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions, failure: int | str
) -> None:
    bad: Any = failure if isinstance(failure, int) else ([{"id": 5}], [])
    sessions.reads = [([event(9), event(8)], []), bad, ([event(7), event(6)], [])]
    async with hclient.event_session(order="desc", max_size=2, poll_interval=0.01) as session:
        assert [(await anext(session)).event.tag for _ in range(2)] == ["e9", "e8"]
        with pytest.raises(XProtectError) as first:
            await anext(session)
        assert not isinstance(first.value, SessionLostError)  # the error itself, first
        with pytest.raises(SessionLostError):
            await asyncio.wait_for(anext(session), 5)  # no new session skipping the backlog
    assert len(sessions.created) == 1


async def test_desc_is_not_resumed_after_a_timeout_around_a_step(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [([event(9), event(8)], [])]
    release = asyncio.Event()
    async with hclient.event_session(order="desc", max_size=2, poll_interval=0.01) as session:
        assert [(await anext(session)).event.tag for _ in range(2)] == ["e9", "e8"]
        hostile.on("read", hostile.hold(release))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await anext(session)
        hostile.on("read", sessions._read)
        with pytest.raises(SessionLostError):
            await asyncio.wait_for(anext(session), 5)
        release.set()
    assert len(sessions.created) == 1


# ---------------------------------------------------------------------- pages() and checkpoints


async def crash_at_page_5(
    client: XProtectClient, store: MemoryCheckpoint, interval: float, on_page_3: Any = None
) -> None:
    """Read 5 pages of 10 by ``pages()`` and fail while processing the fifth."""
    options: dict[str, Any] = {"poll_interval": 0.01, "max_size": 10}
    async with client.event_session(
        checkpoint=store, checkpoint_interval=interval, **options
    ) as session:
        count = 0
        async for _ in session.pages():
            count += 1
            if count == 3 and on_page_3 is not None:
                await on_page_3()
            if count == 5:
                raise RuntimeError("crash while processing page 5")


def saved_time(store: MemoryCheckpoint) -> datetime:
    saved = store.load()
    assert isinstance(saved, SessionPosition)
    return saved.time


async def test_pages_save_the_processed_pages_while_running_and_on_a_failure(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [([event(i * 10 + j) for j in range(10)], []) for i in range(5)]
    store = MemoryCheckpoint()

    async def saved_while_running() -> None:  # pages 1 and 2 are processed by now
        await wait_until(lambda: store.saves >= 1, "a save while running", 5)

    with pytest.raises(RuntimeError, match="page 5"):
        await crash_at_page_5(hclient, store, 0, saved_while_running)
    assert saved_time(store) == datetime(2024, 5, 1, 12, 0, 0, 39000, tzinfo=UTC)  # page 4


async def test_pages_honour_the_checkpoint_interval(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [([event(i * 10 + j) for j in range(10)], []) for i in range(5)]
    store = MemoryCheckpoint()

    async def none_yet() -> None:
        assert store.saves == 0  # not due while running

    with pytest.raises(RuntimeError, match="page 5"):
        await crash_at_page_5(hclient, store, 3600, none_yet)
    assert store.saves == 1  # the processed pages, saved on the way out
    assert saved_time(store) == datetime(2024, 5, 1, 12, 0, 0, 39000, tzinfo=UTC)


# ---------------------------------------------------------------------- deletions


async def test_a_deletion_comes_once_however_often_the_server_repeats_it(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [
        ([event(1), event(1)], [event(1), event(1)]),  # twice in one read
        ([event(1)], [event(1)]),  # and again in the next
        ([], [event(2)]),  # a deletion before its event came as new
        ([event(2)], [event(2), event(3)]),  # then the new one, the deletion again
    ]
    got: list[SessionChange] = []
    async with hclient.event_session(poll_interval=0.01) as session:
        consumer = background(collect(session, got, lambda: False))
        await wait_until(lambda: sessions.read_count >= 6, "past the script", 10, watch=consumer)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    kinds = [(c.kind, c.event.tag) for c in got]
    assert kinds == [
        ("new", "e1"),
        ("deleted", "e1"),
        ("deleted", "e2"),
        ("new", "e2"),
        ("deleted", "e3"),
    ]


# ---------------------------------------------------------------------- positions


async def fail_on(client: XProtectClient, store: MemoryCheckpoint, tag: str) -> list[str]:
    """Iterate with ``store`` (every change saved) until the consumer fails on ``tag``."""
    processed: list[str] = []
    options: dict[str, Any] = {"poll_interval": 0.01, "checkpoint_interval": 0}
    async with client.event_session(checkpoint=store, **options) as session:
        async for change in session:
            if change.event.tag == tag:
                raise RuntimeError(f"the consumer failed on {tag}")
            processed.append(str(change.event.tag))
    return processed


async def test_a_saved_position_does_not_pass_an_unprocessed_older_event_of_the_read(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [([event(100), event(50), event(120)], [])]  # out of time order
    store = MemoryCheckpoint()
    with pytest.raises(RuntimeError, match="e50"):
        await fail_on(hclient, store, "e50")
    # Restarted, the server (honouring the bound) still has e50 for it.
    sessions.reads = [([event(50), event(100), event(120)], [])]
    got: list[SessionChange] = []
    async with hclient.event_session(poll_interval=0.01, checkpoint=store) as session:
        await asyncio.wait_for(collect(session, got, lambda: len(got) >= 1), 10)
    bound = sessions.starts()[-1]
    assert bound is not None
    assert bound < event(50)["time"]  # e50 is asked for again
    assert got[0].event.tag == "e50"


async def test_after_a_restart_events_the_position_says_were_delivered_are_dropped(
    hostile: Hostile, hclient: XProtectClient, sessions: Sessions
) -> None:
    sessions.reads = [([event(i) for i in range(1, 51)], [])]
    store = MemoryCheckpoint()
    got: list[SessionChange] = []
    async with hclient.event_session(poll_interval=0.01, checkpoint=store) as session:
        await asyncio.wait_for(collect(session, got, lambda: len(got) >= 50), 10)
    # A server that ignores the time bound returns them all again, and one new event.
    sessions.reads = [([event(i) for i in range(1, 52)], [])]
    again: list[SessionChange] = []
    async with hclient.event_session(poll_interval=0.01, checkpoint=store) as session:
        await asyncio.wait_for(collect(session, again, lambda: len(again) >= 1), 10)
        assert session.position is not None
    assert [c.event.tag for c in again] == ["e51"]


# ---------------------------------------------------------------------- checkpoint files


async def test_a_checkpoint_through_a_symlink_is_the_file_it_names(
    hclient: XProtectClient, sessions: Sessions, tmp_path: Any
) -> None:
    real, alias = tmp_path / "real.json", tmp_path / "alias.json"
    alias.symlink_to("real.json")
    sessions.reads = [([event(1)], [])]
    async with hclient.event_session(poll_interval=0.01, checkpoint=real) as session:
        await anext(session)
        with pytest.raises(CheckpointError, match="in use by another stream"):
            async with hclient.event_session(poll_interval=0.01, checkpoint=alias):
                pass
    async with hclient.event_session(poll_interval=0.01, checkpoint=alias):
        pass  # the saved position is read through the link, and saved back through it
    assert alias.is_symlink()
    assert SessionPosition.from_json(real.read_bytes()).time == datetime(
        2024, 5, 1, 12, 0, 0, 1000, tzinfo=UTC
    )
    assert sessions.starts()[-1] == "2024-05-01T11:59:59.9910000Z"  # resumed from it


# ---------------------------------------------------------------------- session ids


@pytest.mark.parametrize(
    "session_id",
    [
        "\r\n1e0c512f0b4a3e8d6e0f6c9b7a1e22",
        " a1e0c512f0b4a3e8d6e0f6c9b7a1e22",
        "5a1e0c512f0b4a3e8d6e0f6c9b7a1e2\n",
        "{5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22}",
        "urn:uuid:5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22",
        "5a1e0c512f0b-4a3e-8d6e-0f6c9b7a1e22-",
    ],
)
async def test_a_created_session_id_must_be_a_canonical_guid(
    hostile: Hostile, hclient: XProtectClient, session_id: str
) -> None:
    async def create(_: web.Request) -> web.StreamResponse:
        return web.json_response({"filterBy": [], "orderBy": [], "id": session_id}, status=201)

    hostile.on("create", create)
    with pytest.raises(ProtocolError, match="not a GUID"):
        await asyncio.wait_for(hclient.event_session(poll_interval=0.01).__aenter__(), 5)
    assert hostile.requests("read") == []
