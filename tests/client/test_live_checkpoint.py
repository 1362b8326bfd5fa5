"""``client.subscribe(checkpoint=…)``: a restarted stream resumes from its saved position."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import next_event, service_client_of, wait_until
from xprotect_events import EventTrigger, InvalidInputError, XProtectClient
from xprotect_events.checkpoints import MemoryCheckpoint
from xprotect_events.live import LiveStream
from xprotect_events.positions import CheckpointError, LivePosition, Position, SessionPosition
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"


class Stop(Exception):
    """Ends a block with an exception: the event in hand is not processed."""


async def trigger(client: XProtectClient, n: int) -> list[uuid.UUID]:
    return [(await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=CAMERA))).id
            for _ in range(n)]  # fmt: skip


async def first_run(sim: Simulator, checkpoint: Path | MemoryCheckpoint) -> list[uuid.UUID]:
    """Five events; two processed and committed, a third handed out, then an exception."""
    sent: list[uuid.UUID] = []
    async with service_client_of(sim) as client:
        with pytest.raises(Stop):
            await consume_then_fail(client, checkpoint, sent)
    return sent


async def consume_then_fail(
    client: XProtectClient, checkpoint: Path | MemoryCheckpoint, sent: list[uuid.UUID]
) -> None:
    async with client.subscribe(
        types=[ANALYTICS_EVENT], checkpoint=checkpoint, checkpoint_interval=3600
    ) as live:
        sent += await trigger(client, 5)
        assert [(await next_event(live)).id for _ in range(2)] == sent[:2]
        await live.commit()  # the second, in hand, is processed
        assert (await next_event(live)).id == sent[2]
        raise Stop


async def second_run(
    sim: Simulator, checkpoint: Path | MemoryCheckpoint, expected: int
) -> tuple[list[uuid.UUID], LiveStream]:
    async with service_client_of(sim) as client:
        live = client.subscribe(
            types=[ANALYTICS_EVENT],
            checkpoint=checkpoint,
            stored_types="all",
        )
        async with live:
            got = [(await next_event(live)).id for _ in range(expected)]
            marker = await trigger(client, 1)
            assert (await next_event(live)).id == marker[0]  # and nothing more before it
        return [*got, *marker], live


async def test_restart_within_the_resume_window_resumes_the_session(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    path = tmp_path / "live.json"
    sent = await first_run(sim, path)
    saved = LivePosition.from_json(path.read_text())
    assert saved.event_id == sent[1]
    sent += await trigger(service_client, 2)  # while no stream runs
    got, live = await second_run(sim, path, expected=5)
    assert got[:5] == sent[2:]  # the third repeats: handed out after the last save
    assert live.resumes == 1
    assert live.session_id == saved.session_id
    assert LivePosition.from_json(path.read_text()).event_id == got[-1]  # saved on exit


async def test_restart_after_the_session_expired_fills_from_the_store(
    sim: Simulator, service_client: XProtectClient
) -> None:
    sim.clock.freeze()  # every event of the first run shares one time: the boundary rule
    store = MemoryCheckpoint()
    sent = await first_run(sim, store)
    sim.clock.advance(sim.live.resume_window + 1)  # the server forgets the session
    sent += await trigger(service_client, 2)
    got, live = await second_run(sim, store, expected=5)
    assert got[:5] == sent[2:]
    assert live.resumes == 0
    assert live.gaps == []


async def test_saves_are_batched_and_made_on_exit(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store = MemoryCheckpoint()
    async with service_client.subscribe(
        types=[ANALYTICS_EVENT], checkpoint=store, checkpoint_interval=3600
    ) as live:
        sent = await trigger(service_client, 3)
        for _ in range(3):
            await next_event(live)
        await wait_until(lambda: store.saves == 1, "the session saved when it went live")
        assert store.saves == 1  # the events: not yet
    assert store.saves == 2  # a normal exit: the event in hand counts as processed
    position = store.load()
    assert isinstance(position, LivePosition)
    assert position.event_id == sent[2]


async def test_interval_zero_saves_each_processed_event(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store = MemoryCheckpoint()
    async with service_client.subscribe(
        types=[ANALYTICS_EVENT], checkpoint=store, checkpoint_interval=0
    ) as live:
        sent = await trigger(service_client, 3)
        await next_event(live)
        await next_event(live)  # asking for the second: the first is processed
        # saved in the background (the consumer does not wait for the store)
        await wait_until(lambda: store.saves == 2, "the session and the first event saved")
        position = store.load()
        assert isinstance(position, LivePosition)
        assert position.event_id == sent[0]


async def test_a_checkpoint_of_the_wrong_kind_is_refused(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    session = SessionPosition.of({uuid.uuid4(): datetime.now(UTC)})
    with pytest.raises(CheckpointError, match="expected a live position, got a session position"):
        async with service_client.subscribe(checkpoint=MemoryCheckpoint(session)):
            pass
    path = tmp_path / "session.json"
    path.write_text(session.to_json())
    with pytest.raises(CheckpointError, match=f"{path}: expected a live position") as info:
        async with service_client.subscribe(checkpoint=path):
            pass
    assert info.value.path == str(path)
    assert sim.live.connections_total == 0  # refused before connecting
    assert Position.from_json(path.read_text()) == session  # left as it was


async def test_bad_checkpoint_arguments_are_refused_before_connecting(
    service_client: XProtectClient,
) -> None:
    with pytest.raises(InvalidInputError, match="checkpoint must be a file path or a store"):
        service_client.subscribe(checkpoint=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="interval"):
        service_client.subscribe(checkpoint=MemoryCheckpoint(), checkpoint_interval=-1)


async def test_one_file_serves_one_stream(service_client: XProtectClient, tmp_path: Path) -> None:
    path = tmp_path / "live.json"
    async with service_client.subscribe(checkpoint=path):
        with pytest.raises(CheckpointError, match="in use by another stream"):
            async with service_client.subscribe(checkpoint=path):
                pass
    async with service_client.subscribe(checkpoint=path):  # released on exit
        pass


async def test_commit_without_a_checkpoint_is_refused(service_client: XProtectClient) -> None:
    async with service_client.subscribe() as live:
        with pytest.raises(Exception, match="needs a checkpoint"):
            await live.commit()


class BrokenStore:
    """A user's store whose load fails, or loads what is not a position."""

    def __init__(self, loads: object) -> None:
        self.loads = loads

    def load(self) -> object:
        if isinstance(self.loads, BaseException):
            raise self.loads
        return self.loads

    def save(self, position: Position) -> None:  # pragma: no cover - never reached
        raise AssertionError("not saved")


@pytest.mark.parametrize("loads", [OSError("disk gone"), KeyError("x"), "not a position", 7])
async def test_a_failing_store_is_a_checkpoint_error_before_connecting(
    sim: Simulator, service_client: XProtectClient, loads: object
) -> None:
    with pytest.raises(CheckpointError, match="checkpoint store"):
        async with service_client.subscribe(checkpoint=BrokenStore(loads)):  # type: ignore[arg-type]
            pass
    assert sim.live.connections_total == 0


async def stopped_before_any_event(sim: Simulator, store: MemoryCheckpoint) -> LivePosition:
    """A stream that went live and was stopped before the server pushed anything."""
    async with (
        service_client_of(sim) as client,
        client.subscribe(types=[ANALYTICS_EVENT], checkpoint=store) as live,
    ):
        session = live.session_id
    saved = store.load()
    assert isinstance(saved, LivePosition)
    assert (saved.session_id, saved.event_id) == (session, None)
    return saved


@pytest.mark.parametrize("expired", [False, True])
async def test_a_stream_stopped_before_any_event_resumes_after_a_restart(
    sim: Simulator, service_client: XProtectClient, expired: bool
) -> None:
    """Nothing was saved until an event was processed: the restart started a new session
    from "now", and the events triggered while no stream ran were never delivered."""
    store = MemoryCheckpoint()
    saved = await stopped_before_any_event(sim, store)
    if expired:
        sim.clock.advance(sim.live.resume_window + 1)  # the server forgets the session
    sent = await trigger(service_client, 2)  # while no stream runs
    got, live = await second_run(sim, store, expected=2)
    assert got[:2] == sent
    assert live.resumes == (0 if expired else 1)
    assert (live.session_id == saved.session_id) is not expired
    assert live.gaps == []


def test_a_position_without_an_event_round_trips() -> None:
    position = LivePosition(session_id="s", event_id=None, time=datetime(2026, 1, 1, tzinfo=UTC))
    again = Position.from_json(position.to_json())
    assert again == position
    assert isinstance(again, LivePosition)
    assert again.event_id is None
