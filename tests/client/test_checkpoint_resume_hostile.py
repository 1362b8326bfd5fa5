"""A checkpointed session against a server that deletes the session mid-drain (404), then
returns every event again from the recreated session, and again after a restart from the
checkpoint (ignoring the ``time gt`` bound): each event comes once, none is lost."""

from __future__ import annotations

from tests.client.test_sessions_hostile import Sessions, at
from tests.helpers import FAST_RETRY
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile
from xprotect_events import MemoryCheckpoint, XProtectClient

T = "2024-05-01T12:00:00.{:03d}0000Z"


def events(*numbers: int) -> list[dict[str, object]]:
    return [at(n, T.format(n * 5)) for n in numbers]


async def _drain(client: XProtectClient, store: MemoryCheckpoint, count: int) -> list[str]:
    got: list[str] = []
    async with client.event_session(checkpoint=store, poll_interval=0.01, max_size=3) as session:
        async for change in session:
            got.append(change.event.tag)
            if len(got) == count:
                break
    return got


async def test_a_404_mid_drain_then_repeats_then_a_restart_lose_and_repeat_nothing(
    hostile: Hostile,
) -> None:
    sessions = Sessions(hostile)
    sessions.reads = [(events(1, 2, 3), []), 404, (events(1, 2, 3, 4, 5), []), (events(6), [])]
    store = MemoryCheckpoint()
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=FAST_RETRY
    ) as client:
        first = await _drain(client, store, 6)
        sessions.reads = [(events(4, 5, 6, 7), []), (events(8), [])]  # 4 to 6 again, then new
        second = await _drain(client, store, 2)
    assert first == [f"e{n}" for n in range(1, 7)]
    assert second == ["e7", "e8"]
    assert len(sessions.created) == 3
    assert len(set(sessions.deleted)) == len(sessions.deleted)
