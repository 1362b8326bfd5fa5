"""Event sessions against servers that make the client hammer them: a full page of
repeats on every read, a ``Retry-After: 0`` on every failure.

Over loopback, a hostile server (:mod:`tests.hostile`). Before the fixes each made the
client read (or create sessions) as fast as the loopback allows, for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import wait_until
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, error_json, event
from xprotect_events import RetryPolicy, XProtectClient
from xprotect_events.models import SessionChange


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    async with Hostile() as server:
        yield server


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
