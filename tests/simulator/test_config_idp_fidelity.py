"""The simulator's Configuration API paging, its JSON media type, the identity provider's
``refresh_token`` grant and its exact paths, each as the real server answers them."""

from __future__ import annotations

import aiohttp
import attrs
import pytest

from xprotect_events.testing import SimClock, Simulator, SimUser

USER_FORM = {"grant_type": "password", "username": "admin", "password": "admin"}


def bearer(sim: Simulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_token('admin')}"}


async def post(http: aiohttp.ClientSession, url: str, form: dict[str, str]) -> tuple[int, dict]:
    async with http.post(url, data=form) as r:
        return r.status, await r.json(content_type=None)


# ------------------------------------------------------------------ paging


@pytest.mark.parametrize(
    "path", ["/cameras", "/eventTypes", "/stateGroups", "/userDefinedEvents", "/analyticsEvents"]
)
async def test_lists_page_by_page_and_whole_unpaged(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    for number in range(5):
        sim.add_camera(f"Extra camera {number}")
        sim.add_event_type(f"Extra type {number}")
        sim.add_event_type(f"Extra analytics {number}", generator_type="MIPDevice")
    async with http.get(sim.api_url + path, headers=bearer(sim)) as r:
        assert r.status == 200
        whole = (await r.json())["array"]
    assert len(whole) >= 2
    paged: list[dict] = []
    for page in range(len(whole) + 1):
        url = f"{sim.api_url}{path}?page={page}&size=2"
        async with http.get(url, headers=bearer(sim)) as r:
            assert r.status == 200
            items = (await r.json())["array"]
        assert len(items) == min(2, max(0, len(whole) - 2 * page))
        paged += items
    assert paged == whole


async def test_a_page_alone_or_a_size_alone_pages(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    for number in range(150):
        sim.add_camera(f"Extra camera {number}")
    async with http.get(sim.api_url + "/cameras?size=3", headers=bearer(sim)) as r:
        assert len((await r.json())["array"]) == 3
    async with http.get(sim.api_url + "/cameras?page=1", headers=bearer(sim)) as r:
        assert len((await r.json())["array"]) == len(sim.cameras) - 100  # the default size


@pytest.mark.parametrize("query", ["page=-1", "size=0", "size=2001", "page=x", "size=1.5"])
async def test_bad_paging_is_a_400(sim: Simulator, http: aiohttp.ClientSession, query: str) -> None:
    async with http.get(f"{sim.api_url}/cameras?{query}", headers=bearer(sim)) as r:
        assert r.status == 400
        assert (await r.json())["error"]["httpCode"] == 400


# ------------------------------------------------------------------ media type


@pytest.mark.parametrize(
    ("method", "path", "charset"),
    [
        ("GET", "/api/rest/v1/cameras", "utf-8"),
        ("GET", "/api/rest/v1/events", "utf-8"),
        ("GET", "/api/rest/v1/nowhere", "utf-8"),
        ("GET", "/api/.well-known/uris", "utf-8"),
        ("GET", "/IDP/.well-known/openid-configuration", "UTF-8"),
        ("POST", "/IDP/connect/token", "UTF-8"),
    ],
)
async def test_json_answers_say_their_charset(
    sim: Simulator, http: aiohttp.ClientSession, method: str, path: str, charset: str
) -> None:
    """ASP.NET Core's JSON formatter sends ``application/json; charset=utf-8``; the
    identity provider's (IdentityServer) ``application/json; charset=UTF-8``."""
    form = {**USER_FORM, "client_id": "GrantValidatorClient"} if method == "POST" else None
    async with http.request(method, sim.url + path, headers=bearer(sim), data=form) as r:
        assert r.headers["Content-Type"] == f"application/json; charset={charset}"


async def test_a_batch_answer_says_its_charset(sim: Simulator, http: aiohttp.ClientSession) -> None:
    from xprotect_events.testing import USER_DEFINED_EVENT

    body = [{"type": str(USER_DEFINED_EVENT), "datatype": None}]
    async with http.post(sim.api_url + "/events/batch", json=body, headers=bearer(sim)) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"


# ------------------------------------------------------------------ refresh tokens


async def test_vms_client_gets_a_refresh_token_and_renews_with_it(
    http: aiohttp.ClientSession,
) -> None:
    """The WebRTC JavaScript sample: a password grant with ``VmsClient`` answers a
    ``refresh_token``; ``grant_type=refresh_token`` with it and the same client answers a
    new access token and a new refresh token; the used one is spent."""
    async with Simulator(clock=SimClock.frozen(), token_lifetime=600) as sim:
        url = sim.url + "/API/IDP/connect/token"
        status, first = await post(http, url, {**USER_FORM, "client_id": "VmsClient"})
        assert status == 200
        assert set(first) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
        sim.clock.advance(700)  # the access token lapsed; the refresh token did not
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        status, second = await post(http, url, {**form, "client_id": "VmsClient"})
        assert status == 200, second
        assert second["expires_in"] == 600
        assert {second["access_token"], second["refresh_token"]}.isdisjoint(first.values())
        headers = {"Authorization": f"Bearer {second['access_token']}"}
        async with http.get(sim.api_url + "/cameras", headers=headers) as r:
            assert r.status == 200
        status, again = await post(http, url, {**form, "client_id": "VmsClient"})
        assert (status, again) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("client_id", ["GrantValidatorClient", "VmsAdminClient"])
async def test_other_user_clients_get_no_refresh_token(
    sim: Simulator, http: aiohttp.ClientSession, client_id: str
) -> None:
    status, body = await post(
        http, sim.url + "/IDP/connect/token", {**USER_FORM, "client_id": client_id}
    )
    assert status == 200
    assert "refresh_token" not in body


async def test_a_service_token_comes_without_a_refresh_token(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client_id, secret = next(iter(sim.directory.service_clients.items()))
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    status, body = await post(http, sim.url + "/IDP/connect/token", form)
    assert status == 200
    assert "refresh_token" not in body


async def refresh_token_of(http: aiohttp.ClientSession, sim: Simulator, user: str = "admin") -> str:
    form = {**USER_FORM, "username": user, "password": user, "client_id": "VmsClient"}
    status, body = await post(http, sim.url + "/IDP/connect/token", form)
    assert status == 200, body
    return str(body["refresh_token"])


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"refresh_token": "nope", "client_id": "VmsClient"}, "invalid_grant"),
        ({"client_id": "VmsClient"}, "invalid_request"),
        ({"refresh_token": "<good>", "client_id": "GrantValidatorClient"}, "invalid_grant"),
        ({"refresh_token": "<good>", "client_id": "someone"}, "invalid_client"),
    ],
)
async def test_a_bad_refresh_grant_is_refused(
    sim: Simulator, http: aiohttp.ClientSession, form: dict[str, str], error: str
) -> None:
    good = await refresh_token_of(http, sim)
    form = {k: good if v == "<good>" else v for k, v in form.items()}
    status, body = await post(
        http, sim.url + "/IDP/connect/token", {"grant_type": "refresh_token", **form}
    )
    assert (status, body) == (400, {"error": error})


async def test_a_refresh_token_lapses_and_a_locked_out_user_cannot_refresh(
    http: aiohttp.ClientSession,
) -> None:
    users = [SimUser("admin", "admin", sources="all"), SimUser("bob", "bob", sources="all")]
    async with Simulator(clock=SimClock.frozen(), users=users) as sim:
        old = await refresh_token_of(http, sim)
        sim.clock.advance(30 * 86400)
        form = {"grant_type": "refresh_token", "refresh_token": old, "client_id": "VmsClient"}
        assert await post(http, sim.url + "/IDP/connect/token", form) == (
            400,
            {"error": "invalid_grant"},
        )
        bobs = await refresh_token_of(http, sim, "bob")
        directory = sim.directory
        directory.users["bob"] = attrs.evolve(directory.users["bob"], locked_out=True)
        form["refresh_token"] = bobs
        assert await post(http, sim.url + "/IDP/connect/token", form) == (
            400,
            {"error": "invalid_grant"},
        )


async def test_discovery_lists_the_refresh_grant(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(sim.url + "/IDP/.well-known/openid-configuration") as r:
        assert "refresh_token" in (await r.json())["grant_types_supported"]


# ------------------------------------------------------------------ exact IDP paths


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/IDP/connect/token/"),
        ("POST", "/API/IDP/connect/token/"),
        ("POST", "/idp/connect/token/"),
        ("GET", "/IDP/.well-known/openid-configuration/"),
    ],
)
async def test_the_identity_provider_takes_no_trailing_slash(
    sim: Simulator, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    """IdentityServer matches its endpoints' paths exactly (but case): ``/connect/token/``
    is no endpoint, so it falls through to a 404."""
    form = {**USER_FORM, "client_id": "GrantValidatorClient"} if method == "POST" else None
    async with http.request(method, sim.url + path, data=form) as r:
        assert r.status == 404
    assert sim.stats.tokens_issued == 0
