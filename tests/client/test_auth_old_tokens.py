"""An answer that comes after the token it was sent with was renewed twice (fresh-eyes
audit of authentication): with short-lived tokens a slow batch chunk outlives two renewals
(a 60 s token is renewed every 48 s; a chunk may take ``connect_timeout + 4 * timeout``,
130 s); an item error echoing that token must not show it (only the current and the
previous token were hidden)."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from tests.helpers import wait_until
from tests.hostile import PASSWORD, TOKEN, TYPE_ID, USERNAME, Hostile, leaks
from xprotect_events import EventTrigger, RetryPolicy, XProtectClient

LIFETIME = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_slow_chunk_echoing_a_token_renewed_twice_never_shows_it(
    hostile: Hostile,
) -> None:
    clock = Clock()
    issued: list[str] = []
    release = asyncio.Event()
    held: list[str] = []

    async def token(_: web.Request) -> web.StreamResponse:
        issued.append(f"{TOKEN}-{len(issued)}")
        return web.json_response({"access_token": issued[-1], "expires_in": LIFETIME})

    async def batch(request: web.Request) -> web.StreamResponse:
        sent_with = request.headers["Authorization"].removeprefix("Bearer ")
        if not held:  # the first chunk: slow, and it echoes its token
            held.append(sent_with)
            await release.wait()
            text = f"token {sent_with} is not valid for this source"
            item = {"error": {"httpCode": 403, "details": [{"errorText": text}]}}
            return web.Response(
                body=orjson.dumps({"array": [item]}), content_type="application/json"
            )
        clock.now += LIFETIME  # every other chunk: the token is due for renewal after it
        return await hostile._good(request)

    hostile.on("token", token)
    hostile.on("batch", batch)
    triggers = [EventTrigger(type=TYPE_ID, tag=f"t{i}") for i in range(4)]
    async with XProtectClient(
        hostile.url,
        username=USERNAME,
        password=PASSWORD,
        retry=RetryPolicy(attempts=1),
        clock=clock,
    ) as client:
        run = asyncio.ensure_future(client.trigger_events(triggers, chunk_size=1, concurrency=2))
        await wait_until(lambda: len(issued) >= 3, "the first token was renewed twice", watch=run)
        await wait_until(lambda: hostile.in_flight["batch"] == 1, "only the slow chunk is left")
        release.set()
        report = await run
    first = report.results[0]
    assert first.status == "rejected"
    assert "not valid for this source" in str(first.reason)
    assert not leaks(str(first.reason) + repr(first), {"the first token": issued[0]})
