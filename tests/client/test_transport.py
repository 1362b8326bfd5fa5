"""The HTTP core: TLS, retries, error mapping, redirects, timeouts."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

from tests.helpers import FAST_RETRY
from xprotect_events import (
    ConnectError,
    EventTrigger,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TLSError,
    TransportError,
    XProtectClient,
)
from xprotect_events.cli.connection import connection_from_options
from xprotect_events.client import InsecureTransportWarning
from xprotect_events.policy import RetryPolicy, parse_retry_after
from xprotect_events.testing import Fault, SimClock, Simulator, seed

TYPES = "GET /api/rest/v1/eventTypes"
TRIGGER = "POST /api/rest/v1/events"


def admin(url: str, **kw: object) -> XProtectClient:
    options: dict[str, object] = {"retry": FAST_RETRY, **kw}
    return XProtectClient(url, username="admin", password="admin", **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- TLS


async def test_https_with_the_generated_ca(tmp_path: object) -> None:
    async with Simulator(https=True) as sim:
        assert sim.url.startswith("https://")
        async with admin(sim.url, verify=sim.ca_path) as client:
            assert await client.list_event_types()
        async with admin(sim.url, verify=sim.ssl_context()) as client:
            assert await client.list_event_types()


async def test_https_with_a_wrong_ca_fails_with_tls_error(tmp_path: pytest.TempPathFactory) -> None:
    other = trustme.CA()
    path = f"{tmp_path}/other-ca.pem"
    other.cert_pem.write_to_path(path)
    async with Simulator(https=True) as sim:
        for verify in (path, True):
            async with admin(sim.url, verify=verify) as client:
                with pytest.raises(TLSError):
                    await client.login()
        assert sim.stats.token_requests == 0
        async with admin(sim.url, verify=False) as client:  # the user's explicit choice
            await client.login()


def test_cleartext_credentials_warn_once_for_remote_hosts() -> None:
    with pytest.warns(InsecureTransportWarning, match="clear text"):
        XProtectClient("http://vms-warn.example.com", username="u", password="p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        XProtectClient("http://vms-warn.example.com", username="u", password="p")
        XProtectClient("http://127.0.0.1:1", username="u", password="p")
        XProtectClient("http://localhost:1", username="u", password="p")
        XProtectClient("https://vms-other.example.com", username="u", password="p")


def test_unverified_tls_warns_once_for_remote_hosts() -> None:
    with pytest.warns(InsecureTransportWarning, match="not verified"):
        XProtectClient(
            "https://vms-unverified.example.com", client_id="c", client_secret="s", verify=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        XProtectClient(
            "https://vms-unverified.example.com", username="u", password="p", verify=False
        )
        XProtectClient("https://127.0.0.1:1", username="u", password="p", verify=False)
        XProtectClient("https://vms-verified.example.com", username="u", password="p")


def test_cli_insecure_prints_the_warning(capsys: pytest.CaptureFixture[str]) -> None:
    connection = connection_from_options(
        url="https://vms-cli-insecure.example.com",
        username="u",
        password="p",
        client_id=None,
        client_secret=None,
        windows=False,
        ca_bundle=None,
        insecure=True,
        timeout=5.0,
    )
    connection.client()
    err = capsys.readouterr().err
    assert "warning: credentials and tokens will travel to vms-cli-insecure.example.com" in err
    assert "not verified" in err


# ---------------------------------------------------------------------------- retries


async def test_get_retries_5xx_and_cut_connections(sim: Simulator) -> None:
    sim.faults.script(TYPES, [Fault.status(500), Fault.html(502), Fault.truncate()])
    async with admin(sim.url) as client:
        assert await client.list_event_types()
    assert sim.stats.requests[TYPES] == 5  # three faults, the page, the empty page after it


async def test_get_gives_up_after_the_attempts(sim: Simulator) -> None:
    sim.faults.add(TYPES, Fault.html(502), times=None)
    async with admin(sim.url, retry=RetryPolicy(attempts=3, backoff_initial=0.01)) as client:
        with pytest.raises(ServerError) as info:
            await client.list_event_types()
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)  # the proxy page, stripped of its tags
    assert "<" not in str(info.value)
    assert sim.stats.requests[TYPES] == 3


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.status(502), Fault.reset_after()])
async def test_trigger_is_not_resent_when_it_may_have_landed(sim: Simulator, fault: Fault) -> None:
    sim.faults.add(TRIGGER, fault)
    async with admin(sim.url) as client:
        with pytest.raises((ServerError, TransportError)):
            await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert sim.stats.requests[TRIGGER] == 1


async def test_trigger_is_not_resent_after_a_read_timeout(sim: Simulator) -> None:
    sim.faults.add(TRIGGER, Fault.delay(2.0))
    async with admin(sim.url, timeout=0.2) as client:
        await client.login()
        with pytest.raises(RequestTimeoutError) as info:
            await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert info.value.sent
    assert sim.stats.requests[TRIGGER] == 1


@pytest.mark.parametrize(
    "fault", [Fault.rate_limit(retry_after=1), Fault.status(503, retry_after=1)]
)
async def test_trigger_honours_retry_after_and_lands_once(
    sim: Simulator, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xprotect_events")
    sim.faults.add(TRIGGER, fault)
    async with admin(sim.url) as client:
        await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert sim.stats.requests[TRIGGER] == 2
    assert sim.stats.events_accepted == 1
    assert "retrying in 1.00 s" in caplog.text


async def test_too_long_retry_after_raises_at_once(sim: Simulator) -> None:
    sim.faults.add(TYPES, Fault.rate_limit(retry_after=3600))
    async with admin(sim.url) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.list_event_types()
    assert info.value.retry_after == 3600
    assert sim.stats.requests[TYPES] == 1


async def test_connect_failure_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    async with admin(
        f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=2, backoff_initial=0.01)
    ) as client:
        with pytest.raises(ConnectError) as info:
            await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert not info.value.sent


async def test_trigger_after_a_server_restart() -> None:
    async with Simulator(clock=SimClock()) as sim:
        async with admin(sim.url) as client:
            await client.login()
            await sim.restart()  # the kept-alive connection is gone
            await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
        assert sim.stats.events_accepted == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# ---------------------------------------------------------------------------- odd servers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def odd_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """A loopback server whose API answers are whatever the test says (the token is real)."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        async def token(_: web.Request) -> web.Response:
            return web.json_response({"access_token": "t", "expires_in": 3600})

        app = web.Application()
        app.router.add_post("/API/IDP/connect/token", token)
        app.router.add_route("*", "/api/rest/v1/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"array": 5}',
        b'{"array": [{"id": 1}]}',
        b"[]",
        b'{"array": [null]}',
        b"\xff\xfe",
    ],
)
async def test_unexpected_shapes_are_protocol_errors(
    odd_server: Callable[[Handler], Awaitable[str]], body: bytes
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    url = await odd_server(handler)
    async with admin(url) as client:
        with pytest.raises(ProtocolError) as info:
            await client.list_event_types()
    assert info.value.method == "GET"
    assert info.value.path == "/api/rest/v1/eventTypes"


async def test_redirects_are_not_followed(odd_server: Callable[[Handler], Awaitable[str]]) -> None:
    seen: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"array": []})

    other = await odd_server(elsewhere)

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound(other + "/api/rest/v1/eventTypes")

    url = await odd_server(redirect)
    async with admin(url) as client:
        with pytest.raises(ProtocolError, match="redirected"):
            await client.list_event_types()
    assert seen == []
