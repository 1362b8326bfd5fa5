"""A live stream's position records the server and the rules it was made for; reusing it
against another server or other rules is refused before anything is sent (a restart with
other rules resumed the old server session, whose subscriptions then chose what came),
unless ``checkpoint_mismatch="resume"``: then a new session is filled from its time."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from tests.helpers import next_event, service_client_of
from xprotect_events import CheckpointError, EventTrigger, InvalidInputError, XProtectClient
from xprotect_events.checkpoints import MemoryCheckpoint
from xprotect_events.positions import LivePosition
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, MOTION_STARTED, Simulator
from xprotect_events.ws_wire import Rule

CAMERA = f"cameras/{CAMERA_IDS[0]}"
OTHER = f"cameras/{CAMERA_IDS[1]}"


async def trigger(client: XProtectClient, type_: uuid.UUID = ANALYTICS_EVENT) -> uuid.UUID:
    return (await client.trigger_event(EventTrigger(type=type_, source=CAMERA))).id


async def one_run(sim: Simulator, checkpoint: Path | MemoryCheckpoint, **options: object) -> None:
    """A stream that takes one event and leaves normally (its position is saved)."""
    async with (
        service_client_of(sim) as client,
        client.subscribe(checkpoint=checkpoint, **options) as live,  # type: ignore[arg-type]
    ):
        sent = await trigger(client)
        assert (await next_event(live)).id == sent


async def test_the_position_names_the_server_and_the_rules(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "live.json"
    await one_run(sim, path, types=[ANALYTICS_EVENT])
    doc = orjson.loads(path.read_bytes())
    assert doc["server"] == str(sim.url).rstrip("/")
    assert isinstance(doc["filters"], str)
    position = LivePosition.from_json(path.read_bytes())
    assert (position.server, position.filters) == (doc["server"], doc["filters"])


async def test_another_server_is_refused_before_anything_is_sent(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "live.json"
    await one_run(sim, path)
    async with Simulator() as other, service_client_of(other) as elsewhere:
        with pytest.raises(CheckpointError, match="another server") as caught:
            await elsewhere.subscribe(checkpoint=path).__aenter__()
        assert other.live.connections_total == 0
        assert str(path) in str(caught.value)


async def test_other_rules_are_refused_the_same_ones_in_another_order_are_not(
    sim: Simulator,
) -> None:
    store = MemoryCheckpoint()
    first = (Rule.include(types=[ANALYTICS_EVENT, MOTION_STARTED]), Rule.exclude(sources=[OTHER]))
    await one_run(sim, store, rules=[Rule.include(types=[ANALYTICS_EVENT])])
    async with service_client_of(sim) as client:
        with pytest.raises(CheckpointError, match="other filters"):
            await client.subscribe(checkpoint=store, types=[MOTION_STARTED]).__aenter__()
    store = MemoryCheckpoint()
    await one_run(sim, store, rules=[first[1], first[0]], stored_types="all")
    async with (
        service_client_of(sim) as client,
        client.subscribe(checkpoint=store, rules=list(first)) as live,
    ):
        await live.state()
        assert live.resumes == 1  # the same rules: its server session is resumed


async def test_resume_all_the_same_starts_a_new_session_filled_from_its_time(
    sim: Simulator,
) -> None:
    store = MemoryCheckpoint()
    await one_run(sim, store, types=[ANALYTICS_EVENT])
    saved = store.load()
    assert isinstance(saved, LivePosition)
    async with service_client_of(sim) as client:
        missed = await trigger(client, MOTION_STARTED)  # while no stream ran
        live = client.subscribe(
            checkpoint=store,
            types=[MOTION_STARTED],
            stored_types="all",
            checkpoint_mismatch="resume",
        )
        async with live:
            assert (await next_event(live)).id == missed  # filled from the position's time
            assert live.resumes == 0
            assert live.session_id != saved.session_id
    position = store.load()
    assert isinstance(position, LivePosition)
    assert position.filters != saved.filters  # the next save records the new rules


async def test_a_position_saved_without_an_origin_still_resumes(sim: Simulator) -> None:
    store = MemoryCheckpoint()
    await one_run(sim, store, types=[ANALYTICS_EVENT])
    saved = store.load()
    assert isinstance(saved, LivePosition)
    store.save(LivePosition(session_id=saved.session_id, event_id=saved.event_id, time=saved.time))
    async with (
        service_client_of(sim) as client,
        client.subscribe(checkpoint=store, types=[MOTION_STARTED]) as live,
    ):
        await live.state()
        assert live.resumes == 1


@pytest.mark.parametrize("value", ["ignore", None, 1])
async def test_a_bad_checkpoint_mismatch_is_refused_before_anything_is_sent(
    sim: Simulator, value: object
) -> None:
    async with service_client_of(sim) as client:
        with pytest.raises(InvalidInputError, match="checkpoint_mismatch"):
            client.subscribe(checkpoint=MemoryCheckpoint(), checkpoint_mismatch=value)  # type: ignore[arg-type]
    assert sim.live.connections_total == 0
