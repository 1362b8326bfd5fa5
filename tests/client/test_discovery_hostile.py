"""Discovery (``XProtectClient.discover``) goes where the client's own requests go and keeps
their TLS (fresh-eyes audit): through the proxy given, not through the environment's when
``trust_env=False``; and a server asked over https that names an ``http://`` gateway or
identity provider (every later request, the password's grant first, would travel in clear)
is refused."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import trustme
from aiohttp import web
from yarl import URL

from tests.helpers import FAST_RETRY
from tests.proxy import ForwardProxy
from xprotect_events import ConfigurationError, XProtectClient, XProtectError
from xprotect_events.testing import Simulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
DISCOVERY = [
    ("GET", "/api/.well-known/uris"),
    ("GET", "/IDP/.well-known/openid-configuration"),
]


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def paths(proxy: ForwardProxy) -> list[tuple[str, str]]:
    return [(method, URL(target).path) for method, target in proxy.requests]


async def test_discovery_goes_through_the_given_proxy(sim: Simulator) -> None:
    async with ForwardProxy() as proxy:
        client = await XProtectClient.discover(
            sim.url, username="admin", password="admin", proxy=proxy.url, retry=FAST_RETRY
        )
        async with client:
            await client.login()
    assert paths(proxy) == [*DISCOVERY, ("POST", "/IDP/connect/token")]


async def test_discovery_ignores_the_environments_proxy_with_trust_env_false(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = await XProtectClient.discover(
            sim.url, username="admin", password="admin", trust_env=False, retry=FAST_RETRY
        )
        async with client:
            await client.login()
    assert proxy.requests == []


# ---------------------------------------------------------------------------- https kept


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def https_server(ca: trustme.CA, documents: dict[str, Any]) -> AsyncIterator[str]:
    """An https server on loopback answering each path of ``documents`` with its JSON
    (``{url}`` in a string: the server's own https URL)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    url = [""]

    async def answer(request: web.Request) -> web.Response:
        text = orjson.dumps(documents[request.path]).decode().replace("{url}", url[0])
        return web.Response(text=text, content_type="application/json")

    app = web.Application()
    for path in documents:
        app.router.add_get(path, answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    url[0] = f"https://127.0.0.1:{port}"
    try:
        yield url[0]
    finally:
        await runner.cleanup()


def documents(gateway: str, identity: str) -> dict[str, Any]:
    return {
        "/api/.well-known/uris": {"IdentityProvider": identity, "ApiGateways": [gateway]},
        "/IDP/.well-known/openid-configuration": {"token_endpoint": identity + "/connect/token"},
    }


CLEARTEXT = {
    "the gateway": documents("http://127.0.0.1:1/API/", "{url}/IDP"),
    "the identity provider": documents("{url}/API/", "http://127.0.0.1:1/IDP"),
}


@pytest.mark.parametrize("what", sorted(CLEARTEXT))
async def test_an_https_server_naming_a_cleartext_url_is_refused(
    ca: trustme.CA, tmp_path: Any, what: str
) -> None:
    path = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(path)
    async with https_server(ca, CLEARTEXT[what]) as url:
        with pytest.raises(ConfigurationError, match="https"):
            await XProtectClient.discover(url, username="u", password="p", verify=path)


async def test_an_https_server_naming_https_urls_is_followed(ca: trustme.CA, tmp_path: Any) -> None:
    path = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(path)
    async with https_server(ca, documents("{url}/API/", "{url}/IDP")) as url:
        client = await XProtectClient.discover(url, username="u", password="p", verify=path)
        assert client.url == url
        assert client.profile.token_path == "/IDP/connect/token"


# ---------------------------------------------------------------------------- checked first

BAD_OPTIONS: dict[str, dict[str, Any]] = {
    "retry": {"retry": "often"},
    "max_response_bytes": {"max_response_bytes": "big"},
    "profile": {"profile": {"api_path": "/x"}},
    "windows": {"windows": "no"},
    "password": {"password": 123},
    "proxy": {"proxy": "ftp://proxy:21"},
    "misspelt": {"pasword": "admin"},
}


@pytest.mark.parametrize("bad", sorted(BAD_OPTIONS))
async def test_bad_options_are_refused_before_discovery_sends_anything(
    sim: Simulator, bad: str
) -> None:
    options = {"username": "admin", "password": "admin", **BAD_OPTIONS[bad]}
    with pytest.raises(XProtectError):
        await XProtectClient.discover(sim.url, **options)
    assert sum(sim.stats.requests.values()) == 0
