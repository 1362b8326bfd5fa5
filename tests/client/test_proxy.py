"""Proxies: every request of a login, a list and a batch goes through a real loopback
forward proxy (tests/proxy.py) when ``proxy=`` is given, and when only the environment's
``HTTP_PROXY``/``HTTPS_PROXY`` names one; ``NO_PROXY`` is respected; proxy credentials are
sent to the proxy and shown nowhere."""

from __future__ import annotations

import pytest
from yarl import URL

from tests.proxy import ForwardProxy
from xprotect_events import InvalidInputError, XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without proxy variables (either case)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def login_list_batch(client: XProtectClient) -> None:
    triggers = [EventTrigger(type=seed.USER_DEFINED_EVENT, tag=f"p{i}") for i in range(3)]
    await client.login()
    report = await client.trigger_events(triggers)
    assert report.accepted == 3
    assert len([e async for e in client.list_events()]) == 3


def paths(proxy: ForwardProxy) -> list[tuple[str, str]]:
    return [(method, URL(target).path) for method, target in proxy.requests]


EXPECTED = [
    ("POST", "/API/IDP/connect/token"),
    ("POST", "/api/rest/v1/events/batch"),
    ("GET", "/api/rest/v1/events"),
]


async def test_every_request_goes_through_the_given_proxy(sim: Simulator) -> None:
    async with (
        ForwardProxy() as proxy,
        XProtectClient(sim.url, username="admin", password="admin", proxy=proxy.url) as client,
    ):
        await login_list_batch(client)
    assert paths(proxy) == EXPECTED
    assert all(target.startswith(sim.url) for _, target in proxy.requests)


async def test_http_proxy_from_the_environment(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with XProtectClient(sim.url, username="admin", password="admin") as client:
            await login_list_batch(client)
    assert paths(proxy) == EXPECTED


async def test_https_proxy_from_the_environment_tunnels_with_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Simulator(https=True) as sim, ForwardProxy() as proxy:
        assert sim.ca_path is not None
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for https: unused
        async with XProtectClient(
            sim.url, username="admin", password="admin", verify=str(sim.ca_path)
        ) as client:
            await login_list_batch(client)
    assert proxy.requests
    host_port = URL(sim.url).authority
    assert all(request == ("CONNECT", host_port) for request in proxy.requests)


async def test_no_proxy_and_trust_env_false_go_direct(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with XProtectClient(sim.url, username="admin", password="admin") as client:
            await client.login()
        monkeypatch.delenv("NO_PROXY")
        async with XProtectClient(
            sim.url, username="admin", password="admin", trust_env=False
        ) as client:
            await client.login()
    assert proxy.requests == []


async def test_proxy_credentials_are_sent_to_the_proxy_and_never_shown(sim: Simulator) -> None:
    async with ForwardProxy() as proxy:
        with_auth = URL(proxy.url).with_user("pxuser").with_password("px-s3cret")
        async with XProtectClient(
            sim.url, username="admin", password="admin", proxy=str(with_auth)
        ) as client:
            await client.login()
            shown = f"{client!r} {client.transport.proxy} {client.tokens!r}"
    assert proxy.proxy_auth == ["Basic cHh1c2VyOnB4LXMzY3JldA=="]  # pxuser:px-s3cret
    assert "px-s3cret" not in shown


def test_a_bad_proxy_is_refused_before_anything_is_sent() -> None:
    for bad in ("ftp://proxy:21", "http://", "http://u:hush@:80"):
        with pytest.raises(InvalidInputError) as caught:
            XProtectClient("http://127.0.0.1:1", username="a", password="b", proxy=bad)
        assert "hush" not in str(caught.value)
