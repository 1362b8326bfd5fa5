"""A session position records the server and the filters it was made for; reusing it
against another server or other filters is refused before anything is sent (it used to
resume there as ``since=<its time>``: events of that server before it never came, and an
event of the new filter's that the old one did not match was skipped for good), unless
``checkpoint_mismatch="resume"`` says to resume from it anyway."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from tests.helpers import FAST_RETRY
from xprotect_events import (
    CheckpointError,
    EventTrigger,
    InvalidInputError,
    SessionFilter,
    SessionPosition,
    XProtectClient,
)
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, SimClock, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"
OTHER_CAMERA = f"cameras/{CAMERA_IDS[1]}"


def requests(sim: Simulator) -> int:
    return sum(sim.stats.requests.values())


async def trigger(client: XProtectClient, source: str = CAMERA) -> uuid.UUID:
    return (await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=source))).id


async def take_one(client: XProtectClient, path: Path, **options: object) -> uuid.UUID:
    async with client.event_session(
        checkpoint=path,
        poll_interval=0.01,
        **options,  # type: ignore[arg-type]
    ) as session:
        return (await anext(session)).event.id


def client_of(sim: Simulator) -> XProtectClient:
    return XProtectClient(
        sim.url, username="admin", password="admin", retry=FAST_RETRY, clock=sim.clock.time
    )


async def test_the_position_names_the_server_and_the_filters(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    await trigger(client)
    await take_one(client, path, types=[ANALYTICS_EVENT])
    doc = orjson.loads(path.read_bytes())
    assert doc["server"] == str(sim.url).rstrip("/")
    assert isinstance(doc["filters"], str)
    assert "admin" not in path.read_text()  # the URL only: never a credential
    position = SessionPosition.from_json(path.read_bytes())
    assert position.server == doc["server"]
    assert position.filters == doc["filters"]


async def test_another_server_is_refused_before_anything_is_sent(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    await trigger(client)
    await take_one(client, path)
    async with Simulator(clock=SimClock()) as other, client_of(other) as elsewhere:
        await elsewhere.login()
        before = requests(other)
        with pytest.raises(CheckpointError, match="another server") as caught:
            await elsewhere.event_session(checkpoint=path).__aenter__()
        assert requests(other) == before
        assert str(path) in str(caught.value)
        assert "checkpoint_mismatch" in str(caught.value)
        # said explicitly: resumed from it, and the next save records this server
        await trigger(elsewhere)
        await take_one(elsewhere, path, checkpoint_mismatch="resume")
        assert SessionPosition.from_json(path.read_bytes()).server == str(other.url).rstrip("/")


async def test_other_filters_are_refused_the_same_ones_in_another_order_are_not(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    first = SessionFilter("source.id", "oneOf", [CAMERA_IDS[0], CAMERA_IDS[1]])
    types = [ANALYTICS_EVENT]
    await trigger(client)
    await take_one(client, path, types=types, filters=[first])
    before = requests(sim)
    for changed in ({}, {"types": types}, {"sources": [OTHER_CAMERA]}):
        with pytest.raises(CheckpointError, match="other filters"):
            await client.event_session(checkpoint=path, **changed).__aenter__()  # type: ignore[arg-type]
    assert requests(sim) == before
    same = SessionFilter("source.id", "oneOf", [CAMERA_IDS[1], CAMERA_IDS[0]])
    second = await trigger(client, OTHER_CAMERA)
    assert await take_one(client, path, filters=[same], types=types) == second


async def test_a_position_saved_without_an_origin_still_resumes(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    """What earlier versions wrote: no ``server``, no ``filters``; resumed, then recorded."""
    path = tmp_path / "state.json"
    await trigger(client)
    await take_one(client, path)
    doc = orjson.loads(path.read_bytes())
    del doc["server"], doc["filters"]
    path.write_bytes(orjson.dumps(doc))
    later = await trigger(client)
    assert await take_one(client, path, types=[ANALYTICS_EVENT]) == later
    assert "server" in orjson.loads(path.read_bytes())


def test_the_option_is_checked(client: XProtectClient) -> None:
    with pytest.raises(InvalidInputError, match="checkpoint_mismatch"):
        client.event_session(checkpoint="x.pos", checkpoint_mismatch="maybe")  # type: ignore[typeddict-item]


async def test_a_stored_server_is_shown_quoted_in_the_refusal(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    """What the file says is the file's: quoted, cut short, never a terminal escape."""
    path = tmp_path / "state.json"
    await trigger(client)
    await take_one(client, path)
    doc = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**doc, "server": "\x1b[2J" + "x" * 2000}))
    with pytest.raises(CheckpointError, match="another server") as caught:
        await client.event_session(checkpoint=path).__aenter__()
    message = str(caught.value)
    assert "\x1b" not in message
    assert len(message) < 1000
