"""What Milestone's Python samples do, replayed against the simulator over loopback HTTP and
WebSockets. The requests are written here from what the samples were seen to send and expect
when they ran unchanged against ``xprotect-events serve`` (and from the output their
screenshots show from real servers); no sample code is copied.

- RestfulCommunicationPython: create, read, rename (``PUT``) and delete a user-defined event.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from xprotect_events.testing import Simulator, seed
from xprotect_events.wire import format_time


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_token(http: aiohttp.ClientSession, sim: Simulator) -> str:
    """The samples' password grant at the gateway's token path."""
    form = "grant_type=password&username=admin&password=admin&client_id=GrantValidatorClient"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(sim.url + "/API/IDP/connect/token", data=form, headers=headers) as r:
        assert r.status == 200
        return str((await r.json())["access_token"])


async def call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> tuple[int, Any]:
    """A JSON body sent with no Content-Type, as the RESTful sample sends its bodies."""
    data = None if body is None else json.dumps(body).encode()
    async with http.request(
        method, url, data=data, headers=bearer(token), skip_auto_headers=("Content-Type",)
    ) as r:
        assert "Content-Type" not in r.request_info.headers
        return r.status, await r.json()


async def test_restful_sample_creates_reads_renames_and_deletes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.clock.freeze()
    token = await admin_token(http, sim)
    url = sim.api_url + "/userDefinedEvents"
    status, body = await call(http, "POST", url, token, {"name": "my Python event"})
    assert status == 201
    created = body["result"]
    assert (created["state"], created["subtype"]) == ("Success", "UserDefined")
    assert created["path"] == {"type": "userDefinedEvents", "id": created["id"]}
    assert created["lastModified"] == format_time(sim.clock.now())
    item = f"{url}/{created['id']}"
    status, body = await call(http, "GET", item, token)
    assert (status, body["data"]["name"]) == (200, "my Python event")
    sim.clock.advance(0.037)
    status, body = await call(http, "PUT", item, token, {"name": "my updated Python event"})
    assert status == 200
    updated = body["data"]
    assert (updated["id"], updated["name"], updated["displayName"]) == (
        created["id"],
        "my updated Python event",
        "my updated Python event",
    )
    assert updated["lastModified"] == format_time(sim.clock.now())
    assert (await call(http, "GET", item, token))[1]["data"] == updated
    assert await call(http, "DELETE", item, token) == (200, {"state": "Success"})
    assert (await call(http, "GET", item, token))[0] == 404


async def test_renames_that_are_refused(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await admin_token(http, sim)
    url = sim.api_url + "/userDefinedEvents"
    taken = f"{url}/{seed.USER_DEFINED_EVENT}"
    assert (await call(http, "PUT", taken, token, {"name": "DOORBELL PRESSED"}))[0] == 400
    assert (await call(http, "PUT", taken, token, {"name": ""}))[0] == 400
    built_in = f"{url}/{seed.REQUEST_PLAY_AUDIO}"
    assert (await call(http, "PUT", built_in, token, {"name": "Mine"}))[0] == 400
    operator = sim.issue_token("operator")
    assert (await call(http, "PUT", taken, operator, {"name": "Mine"}))[0] == 403
    status, body = await call(http, "PUT", taken, token, {"name": "door forced open"})
    assert (status, body["data"]["name"]) == (200, "door forced open")  # its own name
