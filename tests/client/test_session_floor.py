"""A recovered event session keeps to the ``time gt`` bound it asked for: a server that
ignores the filter on the recreated session and replays events older than the 10 s
de-duplication memory does not get them yielded twice (over loopback, tests/hostile.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.client.test_sessions_hostile import Sessions, at, collect
from tests.helpers import FAST_RETRY
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile
from xprotect_events import XProtectClient
from xprotect_events.models import SessionChange

T = datetime(2024, 5, 1, 12, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.fixture
async def client(hostile: Hostile) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=FAST_RETRY
    ) as c:
        yield c


async def test_a_recreated_session_ignoring_its_time_bound_replays_nothing(
    hostile: Hostile, client: XProtectClient
) -> None:
    sessions = Sessions(hostile)
    old = [at(i, T + i * timedelta(milliseconds=1)) for i in range(1, 4)]
    recent = at(4, T + timedelta(seconds=30))  # the memory has forgotten the old ones
    sessions.reads = [(old, []), ([recent], []), 404, ([*old, recent, at(5, T + 31 * S)], [])]
    got: list[SessionChange] = []
    async with client.event_session(poll_interval=0.01) as session:
        await asyncio.wait_for(collect(session, got, lambda: len(got) >= 5), 20)
        assert session.recoveries == 1
    assert [c.event.tag for c in got] == ["e1", "e2", "e3", "e4", "e5"]
    assert sessions.starts()[1] is not None  # the new session asked for a bound


async def test_a_first_session_ignoring_since_yields_nothing_before_it(
    hostile: Hostile, client: XProtectClient
) -> None:
    # broke: the first session asked for time gt since, but what a server ignoring that
    # bound returned from before it was yielded (only a recreated session kept to it)
    sessions = Sessions(hostile)
    before, after = at(1, T - S), at(2, T + S)
    sessions.reads = [([before, after], []), ([at(3, T + 2 * S)], [])]
    got: list[SessionChange] = []
    async with client.event_session(since=T, poll_interval=0.01) as session:
        await asyncio.wait_for(collect(session, got, lambda: len(got) >= 2), 20)
    assert [c.event.tag for c in got] == ["e2", "e3"]
