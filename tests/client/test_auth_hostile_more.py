"""A hostile identity provider and API against the token manager and the grants (fresh-eyes
audit of authentication): concurrent callers share one token fetch also when the identity
provider hands out the same token again or one that is stale at once, and an answer whose
``token_type`` the client does not understand is refused before the token is used.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import wait_until
from tests.hostile import PASSWORD, TOKEN, USERNAME, Hostile
from xprotect_events import ProtocolError, RetryPolicy, UnauthorizedError, XProtectClient

ONCE = RetryPolicy(attempts=1)
CALLERS = 20


def user(hostile: Hostile, **options: Any) -> XProtectClient:
    options.setdefault("retry", ONCE)
    return XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, **options)


def held_after_first(hostile: Hostile, release: asyncio.Event) -> Any:
    """The token route: the first grant at once, every later one only after ``release``."""
    calls = [0]
    hold = hostile.hold(release)

    async def handler(request: web.Request) -> web.StreamResponse:
        calls[0] += 1
        if calls[0] == 1:
            return await hostile._good(request)
        return await hold(request)

    return handler


async def test_callers_refused_together_share_one_renewal_of_the_same_token(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    # An identity provider may hand out the token it issued before (a cached one): the
    # callers whose requests were refused with it must still share one renewal, not each
    # fetch "the same stale token" again in turn (a renewal storm: one grant per caller).
    caplog.set_level(logging.DEBUG, logger="xprotect_events")
    release = asyncio.Event()
    hostile.on("token", held_after_first(hostile, release))
    hostile.on("get", hostile.answer(401, b'{"error": {"httpCode": 401, "details": []}}'))

    def refused() -> int:
        return sum("-> 401" in r.getMessage() for r in caplog.records)

    async with user(hostile) as client:
        await client.login()
        calls = [asyncio.ensure_future(client.get_event(uuid.uuid4())) for _ in range(CALLERS)]
        # every caller logs its 401 and then waits for the renewal, with no pause between
        await wait_until(lambda: refused() == CALLERS, "every caller was refused once")
        release.set()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, UnauthorizedError) for o in outcomes), outcomes
    assert len(hostile.requests("token")) == 2  # the login and one renewal


async def test_a_token_stale_on_arrival_is_fetched_once_for_all_waiting_callers(
    hostile: Hostile,
) -> None:
    # A lifetime shorter than the grant's round trip: the token is due for renewal the
    # moment it arrives. The callers that waited for it get it; they do not each fetch
    # another one in turn.
    hostile.token_answer = {"access_token": TOKEN, "expires_in": 1e-9}
    async with user(hostile) as client:
        await asyncio.gather(*(client.login() for _ in range(CALLERS)))
    assert len(hostile.requests("token")) == 1


@pytest.mark.parametrize("token_type", ["mac", "DPoP", "N_A", 42, ["Bearer"], {"a": 1}])
async def test_a_token_type_other_than_bearer_is_refused_before_it_is_used(
    hostile: Hostile, token_type: object
) -> None:
    # RFC 6749 7.1: a client must not use a token whose type it does not understand. The
    # client sends ``Authorization: Bearer``, so a token of another type is refused with
    # a clear error, and the API never sees it.
    hostile.token_answer = {"access_token": TOKEN, "expires_in": 3600, "token_type": token_type}
    async with user(hostile) as client:
        with pytest.raises(ProtocolError, match="token_type"):
            await client.get_event(uuid.uuid4())
    assert hostile.requests("get") == []


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER", None, ""])
async def test_a_bearer_token_in_any_case_or_without_a_type_is_used(
    hostile: Hostile, token_type: object
) -> None:
    answer: dict[str, object] = {"access_token": TOKEN, "expires_in": 3600}
    if token_type is not None:
        answer["token_type"] = token_type
    hostile.token_answer = answer
    async with user(hostile) as client:
        assert (await client.get_event(uuid.uuid4())).tag == "e1"
    assert len(hostile.requests("get")) == 1
