"""Event sessions against servers that make the client hammer them (a full page of
repeats on every read, a ``Retry-After: 0`` on every failure: before the fixes the client
read, or made sessions, as fast as the loopback allows, for ever), and what a session
says and saves after its block.

Over loopback, a hostile server (:mod:`tests.hostile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import wait_until
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, error_json, event
from xprotect_events import RetryPolicy, SessionPosition, XProtectClient
from xprotect_events.models import SessionChange


def client_of(hostile: Hostile, retry: RetryPolicy | None = None) -> XProtectClient:
    return XProtectClient(
        hostile.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        retry=retry or RetryPolicy(attempts=1, backoff_initial=0.01, jitter=0),
    )


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_full_page_of_repeats_waits_the_poll_interval(hostile: Hostile) -> None:
    """The server returns the same full page on every read (it never counts them as
    returned): the first is a backlog, read on at once; the repeat brings nothing new,
    so the next read waits the poll interval (an hour) instead of following at once."""
    page = [event(i) for i in range(5)]

    async def read(_: web.Request) -> web.StreamResponse:
        return web.json_response({"data": {"newEvents": page, "deletedEvents": []}})

    hostile.on("read", read)
    got: list[SessionChange] = []
    async with (
        client_of(hostile) as client,
        client.event_session(max_size=5, poll_interval=3600.0) as session,
    ):

        async def consume() -> None:
            async for change in session:
                got.append(change)

        consumer = asyncio.ensure_future(consume())
        await wait_until(lambda: len(hostile.requests("read")) >= 2, "the repeat", watch=consumer)
        await asyncio.sleep(0.1)  # not a race: after the fix no read is due for an hour
        reads = len(hostile.requests("read"))
        await stop(consumer)
    assert [c.event.tag for c in got] == [f"e{i}" for i in range(5)]
    assert reads == 2


_WAIT = re.compile(r"reconnecting in (\d+\.\d) s")


def announced(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [float(m[1]) for r in caplog.records if (m := _WAIT.search(r.getMessage()))]


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(503, "0", 30.0), (429, "0", 30.0), (503, "60", 60.0)],
)
async def test_a_retry_after_shorter_than_the_backoff_waits_the_backoff(
    hostile: Hostile,
    caplog: pytest.LogCaptureFixture,
    status: int,
    retry_after: str,
    expected: float,
) -> None:
    """Every read answered 503/429 with ``Retry-After: 0``: the recovery waits the
    policy's backoff (30 s here) before the next session, not 0 s for ever; a longer
    ``Retry-After`` is still waited as the server asks."""
    caplog.set_level(logging.INFO, logger="xprotect_events")
    body = error_json(status, b"busy")
    hostile.on("read", hostile.answer(status, body, {"Retry-After": retry_after}))
    policy = RetryPolicy(attempts=1, backoff_initial=30.0, backoff_max=30.0, jitter=0)
    async with client_of(hostile, policy) as client, client.event_session() as session:
        consumer = asyncio.ensure_future(anext(session))
        await wait_until(lambda: bool(announced(caplog)), "the recovery's wait", watch=consumer)
        await stop(consumer)
    assert announced(caplog) == [expected]
    assert len(hostile.requests("create")) == 1


# ---------------------------------------------------------------------- after the block


def saved(path: Path) -> tuple[datetime, set[uuid.UUID]]:
    position = SessionPosition.from_json(path.read_bytes())
    return position.time, set(position.recent)


async def test_after_the_block_the_position_and_a_commit_stay_where_it_stopped(
    hostile: Hostile, tmp_path: Path
) -> None:
    """Two reads of one event each, both taken: the exit saves e2's position. Read after
    the block, ``position`` is that one (it was e1's: the last read was dropped), and a
    ``commit()`` neither writes e1's back nor keeps the file locked for good."""
    hostile.reads = [[event(1)], [event(2)]]
    path = tmp_path / "position.json"
    async with client_of(hostile) as client:
        async with client.event_session(poll_interval=0.01, checkpoint=path) as session:
            assert [(await anext(session)).event.tag for _ in range(2)] == ["e1", "e2"]
        at_exit = saved(path)
        assert at_exit[0] == datetime(2024, 5, 1, 12, 0, 0, 2000, tzinfo=UTC)
        position = session.position
        assert position is not None
        assert (position.time, set(position.recent)) == at_exit
        await session.commit()
        assert saved(path) == at_exit
        async with client.event_session(poll_interval=0.01, checkpoint=path):
            pass  # the file is free again
