"""The token manager against the simulator's identity provider."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from tests.helpers import FAST_RETRY
from xprotect_events import AuthenticationError, XProtectClient
from xprotect_events.auth import renewal_skew
from xprotect_events.testing import Fault, SimClock, Simulator, SimUser, seed

TOKEN_ROUTE = "POST /IDP/connect/token"


def user_client(
    sim: Simulator, username: str = "admin", password: str = "admin", **kw: object
) -> XProtectClient:
    return XProtectClient(
        sim.url,
        username=username,
        password=password,
        retry=FAST_RETRY,
        clock=sim.clock.time,
        **kw,  # type: ignore[arg-type]
    )


def test_skew_scales_with_lifetime() -> None:
    assert renewal_skew(60) == 12
    assert renewal_skew(3600) == 300
    assert 0 < renewal_skew(1) < 1


async def test_renews_before_expiry_without_a_401() -> None:
    async with Simulator(clock=SimClock(), token_lifetime=60) as sim, user_client(sim) as client:
        await client.list_event_types()
        sim.clock.advance(30)
        await client.list_event_types()
        assert sim.stats.token_requests == 1  # a 60 s token is not renewed on every call
        sim.clock.advance(20)  # 50 s: inside the last fifth of its life
        await client.list_event_types()
        assert sim.stats.token_requests == 2
        assert sim.stats.requests["GET /api/rest/v1/eventTypes"] == 6  # 2 pages each, no 401


async def test_expired_token_is_renewed_even_if_client_clock_disagrees() -> None:
    # The client's own clock says the token is fresh; the server says it expired.
    sim = Simulator(clock=SimClock(), token_lifetime=60)
    async with sim, XProtectClient(sim.url, username="admin", password="admin") as client:
        await client.list_event_types()
        sim.clock.advance(61)
        await client.list_event_types()
        assert sim.stats.token_requests == 2


async def test_hundred_concurrent_calls_cause_one_token_request(sim: Simulator) -> None:
    async with user_client(sim) as client:
        await asyncio.gather(*(client.list_event_types() for _ in range(100)))
        assert sim.stats.token_requests == 1
        sim.clock.advance(3600)  # now every one of them finds the token expired
        await asyncio.gather(*(client.list_event_types() for _ in range(100)))
        assert sim.stats.token_requests == 2


async def test_revoked_token_one_renewal_and_the_call_succeeds(sim: Simulator) -> None:
    async with user_client(sim) as client:
        await client.list_event_types()
        sim.revoke_tokens()
        types = await asyncio.gather(*(client.list_event_types() for _ in range(20)))
        assert all(types)
        assert sim.stats.token_requests == 2


async def test_second_401_raises(sim: Simulator) -> None:
    from xprotect_events import UnauthorizedError

    async with user_client(sim) as client:
        await client.login()
        sim.faults.add("GET /api/rest/v1/eventTypes", Fault.revoke_token(), times=2)
        with pytest.raises(UnauthorizedError) as info:
            await client.list_event_types()
        assert info.value.status == 401
        assert sim.stats.token_requests == 2


@pytest.mark.parametrize(
    ("user", "code"),
    [
        (SimUser("locked", "pw", locked_out=True), "LockedOut"),
        (SimUser("expired", "pw", change_password=True), "ChangePassword"),
    ],
)
async def test_refused_accounts_carry_the_server_code(user: SimUser, code: str) -> None:
    async with Simulator(users=[user]) as sim, user_client(sim, user.username, "pw") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.login()
        assert info.value.error_code == code
        assert sim.stats.token_requests == 1


async def test_bad_password_one_token_request_never_retried(sim: Simulator) -> None:
    async with user_client(sim, password="wrong") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_event_types()
        assert info.value.error_code == "InvalidCredentials"
        assert info.value.error == "invalid_grant"
        assert "wrong" not in str(info.value) + repr(info.value)
        assert sim.stats.token_requests == 1


async def test_bad_client_secret(sim: Simulator) -> None:
    async with XProtectClient(sim.url, client_id="service", client_secret="nope") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.login()
        assert info.value.error == "invalid_client"


@pytest.mark.parametrize("password", ["p&a+s=s%20w ord", "pässwörd✓", "a&b=c+d%e f"])
async def test_passwords_are_form_encoded(password: str) -> None:
    async with Simulator(users=[SimUser("u", password)]) as sim:
        client = user_client(sim, "u", password)
        async with client:
            await client.login()
        assert sim.stats.tokens_issued == 1


async def test_network_failure_on_token_endpoint_is_retried(sim: Simulator) -> None:
    sim.faults.script(TOKEN_ROUTE, [Fault.status(503), Fault.reset_before()])
    async with user_client(sim) as client:
        await client.login()
    assert sim.stats.requests[TOKEN_ROUTE] == 3
    assert sim.stats.tokens_issued == 1


@pytest.mark.parametrize("path", ["/IDP/connect/token", "/API/IDP/connect/token"])
async def test_token_path_is_selectable(sim: Simulator, path: str) -> None:
    async with user_client(sim, token_path=path) as client:
        await client.login()
    assert sim.stats.tokens_issued == 1


async def test_service_client_gets_a_service_token(service_client: XProtectClient) -> None:
    assert service_client.is_service
    generic = await service_client.get_event_type(seed.GENERIC_EVENT)
    assert await service_client.can_trigger(generic)


async def test_secrets_never_in_debug_logs_or_reprs(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"pw-{uuid.uuid4()}"
    secret = f"secret-{uuid.uuid4()}"
    caplog.set_level(logging.DEBUG)
    sim_users = [SimUser("marker", marker)]
    async with Simulator(users=sim_users, service_clients={"svc": secret}) as sim2:
        async with user_client(sim2, "marker", marker) as client:
            await client.list_event_types()
            sim2.revoke_tokens()
            await client.list_event_types()
            token = await client.tokens.token()
            texts = [repr(client), repr(client.credentials), repr(client.tokens)]
        async with XProtectClient(sim2.url, client_id="svc", client_secret=secret) as svc:
            await svc.list_event_types()
            texts += [repr(svc), repr(svc.credentials)]
        async with user_client(sim2, "marker", marker + "x") as bad:
            with pytest.raises(AuthenticationError) as info:
                await bad.login()
            texts += [str(info.value), repr(info.value)]
    everything = caplog.text + "".join(texts)
    assert "GET /api/rest/v1/eventTypes" in caplog.text  # DEBUG logging did happen
    for needle in (marker, secret, token):
        assert needle not in everything
