"""A live stream's WebSocket upgrade answered with a redirect (fresh-eyes audit of the
transport): "redirects are not followed, so credentials never leave for another host"
(README, TLS) holds for the upgrade too. aiohttp's ``ws_connect`` follows redirects by
itself: to another host it drops the ``Authorization`` header, but the stream then ran on
whatever server the ``Location`` named, and with ``Profile(ws_auth="command")`` sent it the
token in its ``authenticate`` command."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.hostile_ws import TOKEN, TYPE_ID, HostileWS, Socket
from xprotect_events import APIError, RetryPolicy
from xprotect_events.profile import Profile

ONCE = RetryPolicy(attempts=1)
WS_PATH = "/api/ws/events/v1"


def redirected_first(where: list[str], status: int) -> object:
    """The upgrade: the first one redirected to ``where[0]``, any later one accepted."""
    calls = [0]

    async def upgrade(request: web.Request) -> web.StreamResponse | None:
        calls[0] += 1
        if calls[0] > 1:
            return None
        return web.Response(status=status, headers={"Location": where[0]})

    return upgrade


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("ws_auth", ["header", "command"])
@pytest.mark.parametrize("target", ["another host", "the same host"])
async def test_a_redirected_upgrade_is_not_followed(status: int, ws_auth: str, target: str) -> None:
    where = [""]
    upgrade = redirected_first(where, status)
    async with (
        HostileWS(Socket.serve) as elsewhere,
        HostileWS(Socket.serve, upgrade=upgrade) as home,  # type: ignore[arg-type]
    ):
        where[0] = (elsewhere if target == "another host" else home).url + WS_PATH + "?moved=1"
        profile = Profile(ws_auth=ws_auth)  # type: ignore[arg-type]
        async with home.client(retry=ONCE, profile=profile) as client:
            with pytest.raises(APIError) as caught:
                async with client.subscribe(types=[TYPE_ID]):
                    pass
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)
    assert (elsewhere.upgrades, home.upgrades) == (0, 1)  # the Location was never asked
    assert elsewhere.sockets == home.sockets == []  # so no command went anywhere


async def test_the_refusal_keeps_no_copy_of_the_token() -> None:
    # what rides along (the exception's context) keeps the request's headers only masked
    where = [""]
    async with HostileWS(Socket.serve, upgrade=redirected_first(where, 302)) as home:  # type: ignore[arg-type]
        where[0] = "http://127.0.0.1:1" + WS_PATH
        async with home.client(retry=ONCE) as client:
            with pytest.raises(APIError) as caught:
                async with client.subscribe(types=[TYPE_ID]):
                    pass
    seen: list[object] = []
    todo: list[object] = [caught.value]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        for name in ("__cause__", "__context__", "request_info", "headers", "history"):
            value = getattr(item, name, None)
            todo += list(value) if isinstance(value, tuple) else [value]
    assert not [s for s in seen if TOKEN in repr(s)]
