"""The aiohttp internals the library leans on (xprotect_events/aiohttp_internals.py) are
still there: this fails loudly, naming what changed, after an aiohttp upgrade."""

from __future__ import annotations

import inspect

import aiohttp

from xprotect_events import XProtectClient
from xprotect_events.aiohttp_internals import OneConnection, without_silent_resend
from xprotect_events.testing import Simulator


async def test_client_session_still_has_the_silent_resend_switch() -> None:
    async with aiohttp.ClientSession() as session:
        assert getattr(session, "_retry_connection", None) is True, (
            "aiohttp.ClientSession._retry_connection is gone or no longer on by default: "
            "check how this aiohttp resends requests on a cut keep-alive connection"
        )
        assert without_silent_resend(session) is session
        assert session._retry_connection is False


async def test_every_library_session_has_it_off(sim: Simulator, client: XProtectClient) -> None:
    await client.login()
    assert client.transport.session._retry_connection is False
    connector = OneConnection(client.transport.tls)
    async with client.transport.dedicated_session(connector) as session:
        assert session._retry_connection is False


def test_tcp_connector_connect_still_takes_req_traces_timeout() -> None:
    parameters = list(inspect.signature(aiohttp.TCPConnector.connect).parameters)
    assert parameters == ["self", "req", "traces", "timeout"], (
        f"aiohttp.TCPConnector.connect is now {parameters}: update OneConnection.connect"
    )


async def test_one_connection_records_the_connection_of_each_request(sim: Simulator) -> None:
    connector = OneConnection(False)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(2):
            async with session.get(f"{sim.url}/api/rest/v1/eventTypes") as response:
                await response.read()
        assert len(connector.used) == 2
        assert connector.used[0] is not None
        assert connector.one_connection  # kept alive: both went over one connection
