"""The simulator's identity provider and token checks, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import SimClock, Simulator, SimUser

TOKEN_PATHS = ["/IDP/connect/token", "/API/IDP/connect/token", "/idp/connect/token"]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(), token_lifetime=600) as s:
        yield s


async def post_form(
    http: aiohttp.ClientSession, url: str, form: dict[str, str] | str
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(url, data=form, headers=headers) as r:
        return r.status, await r.json(content_type=None)


def password_form(username: str, password: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": "GrantValidatorClient",
    }


async def get_events(http: aiohttp.ClientSession, sim: Simulator, token: str) -> tuple[int, Any]:
    async with http.get(sim.api_url + "/events", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_password_grant_on_every_alias(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    status, body = await post_form(http, sim.url + path, password_form("admin", "admin"))
    assert status == 200
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["expires_in"] == 600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "managementserver"
    assert (await get_events(http, sim, body["access_token"]))[0] == 200
    assert sim.stats.requests["POST /IDP/connect/token"] == 1


async def test_password_with_special_characters() -> None:
    password = "p&a+s%s= wörd€'\"ü"
    user = SimUser("jörg", password)
    async with Simulator(users=[user]) as sim, aiohttp.ClientSession() as http:
        status, body = await post_form(
            http, sim.url + "/IDP/connect/token", password_form("jörg", password)
        )
        assert status == 200, body
        status, body = await post_form(
            http, sim.url + "/IDP/connect/token", password_form("jörg", password[:-1])
        )
        assert status == 400


async def test_client_credentials_grant(sim: Simulator, http: aiohttp.ClientSession) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "service",
        "client_secret": "service-secret",
        "scope": "managementserver",
    }
    status, body = await post_form(http, sim.url + "/IDP/connect/token", form)
    assert status == 200
    assert (await get_events(http, sim, body["access_token"]))[0] == 200


async def test_bad_client_secret(sim: Simulator, http: aiohttp.ClientSession) -> None:
    form = {"grant_type": "client_credentials", "client_id": "service", "client_secret": "x"}
    assert await post_form(http, sim.url + "/IDP/connect/token", form) == (
        400,
        {"error": "invalid_client"},
    )


async def test_unknown_grant(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await post_form(http, sim.url + "/IDP/connect/token", {"grant_type": "magic"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def test_password_grant_needs_grant_validator_client(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    form = password_form("admin", "admin")
    del form["client_id"]
    status, body = await post_form(http, sim.url + "/IDP/connect/token", form)
    assert (status, body) == (400, {"error": "invalid_client"})


@pytest.mark.parametrize(("username", "password"), [("admin", "wrong"), ("nobody", "admin")])
async def test_bad_credentials(
    sim: Simulator, http: aiohttp.ClientSession, username: str, password: str
) -> None:
    status, body = await post_form(
        http, sim.url + "/IDP/connect/token", password_form(username, password)
    )
    assert status == 400
    assert body == {
        "error": "invalid_grant",
        "error_description": "invalid_username_or_password",
        "error_code": "InvalidCredentials",
    }


@pytest.mark.parametrize(
    ("flag", "code"), [("locked_out", "LockedOut"), ("change_password", "ChangePassword")]
)
async def test_locked_out_and_change_password(flag: str, code: str) -> None:
    user = SimUser("u", "p", **{flag: True})
    async with Simulator(users=[user]) as sim, aiohttp.ClientSession() as http:
        status, body = await post_form(
            http, sim.url + "/IDP/connect/token", password_form("u", "p")
        )
        assert (status, body["error"], body["error_code"]) == (400, "invalid_grant", code)


async def test_windows_grant_is_challenged(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(
        sim.url + "/IDP/connect/token",
        data={"grant_type": "windows_credentials", "client_id": "GrantValidatorClient"},
    ) as r:
        assert r.status == 401
        assert r.headers.getall("WWW-Authenticate") == ["Negotiate", "NTLM"]


async def test_windows_hook_issues_a_token() -> None:
    async def hook(request: Any, form: Any) -> str:
        return "DOMAIN\\alice"

    user = SimUser("DOMAIN\\alice", "", windows=True)
    async with Simulator(users=[user]) as sim, aiohttp.ClientSession() as http:
        sim.windows_auth = hook
        form = {"grant_type": "windows_credentials", "client_id": "GrantValidatorClient"}
        status, body = await post_form(http, sim.url + "/IDP/connect/token", form)
        assert status == 200
        assert (await get_events(http, sim, body["access_token"]))[0] == 200


async def test_token_counters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await post_form(http, sim.url + "/IDP/connect/token", password_form("admin", "admin"))
    await post_form(http, sim.url + "/IDP/connect/token", password_form("admin", "bad"))
    assert (sim.stats.token_requests, sim.stats.tokens_issued) == (2, 1)


async def test_token_expires_with_the_clock(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await post_form(
        http, sim.url + "/IDP/connect/token", password_form("admin", "admin")
    )
    token = body["access_token"]
    sim.clock.advance(599)
    assert (await get_events(http, sim, token))[0] == 200
    sim.clock.advance(1)
    status, body = await get_events(http, sim, token)
    assert status == 401
    assert body == {
        "error": {
            "httpCode": 401,
            "details": [{"errorText": "Token validation failed: the token is expired."}],
        }
    }


async def test_revoke_tokens(sim: Simulator, http: aiohttp.ClientSession) -> None:
    old = sim.issue_token("admin")
    sim.revoke_tokens()
    status, body = await get_events(http, sim, old)
    assert status == 401
    assert body["error"]["httpCode"] == 401
    assert (await get_events(http, sim, sim.issue_token("admin")))[0] == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer nope"])
async def test_missing_or_unknown_token(
    sim: Simulator, http: aiohttp.ClientSession, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    async with http.get(sim.api_url + "/events", headers=headers) as r:
        assert r.status == 401
        body = await r.json()
    assert body["error"]["httpCode"] == 401
    assert body["error"]["details"][0]["errorText"].startswith("Token validation failed")


def test_secrets_not_in_repr() -> None:
    assert "hunter2" not in repr(SimUser("bob", "hunter2"))
