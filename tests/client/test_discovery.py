"""The client's discovery, event-type lookup by name and user-defined events, against the
simulator over loopback."""

from __future__ import annotations

import uuid

import pytest
from yarl import URL

from tests.helpers import FAST_RETRY
from xprotect_events import EventTrigger, XProtectClient
from xprotect_events.config import compact, find_event_type, simulator_retention
from xprotect_events.discovery import Discovered
from xprotect_events.errors import ConfigurationError, InvalidInputError, NotFoundError
from xprotect_events.models import EventType
from xprotect_events.testing import Simulator, seed


async def test_discover_finds_gateway_and_token_endpoint(sim: Simulator) -> None:
    client = await XProtectClient.discover(
        sim.url, username="admin", password="admin", retry=FAST_RETRY
    )
    async with client:
        assert client.profile.api_path == "/API/rest/v1"
        assert client.profile.token_path == "/IDP/connect/token"
        assert client.profile.windows_token_path == "/IDP/connect/token"
        assert await client.list_cameras()
    assert sim.stats.requests["GET /api/.well-known/uris"] == 1
    assert sim.stats.requests["GET /IDP/.well-known/openid-configuration"] == 1


async def test_a_discovered_client_subscribes_at_the_gateway(sim: Simulator) -> None:
    # WIRE-WS.md: the WebSocket API is on the gateway's host (ApiGateways[0]); discovery
    # names no URL of its own for it.
    client = await XProtectClient.discover(
        sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY
    )
    async with client, client.subscribe(types=[seed.ANALYTICS_EVENT]) as live:
        stored = await client.trigger_event(
            EventTrigger(type=seed.ANALYTICS_EVENT, source=f"cameras/{seed.CAMERA_IDS[0]}")
        )
        assert (await anext(live)) == stored
    assert sim.live.connections_total == 1


async def test_discover_for_a_windows_user(sim: Simulator) -> None:
    client = await XProtectClient.discover(
        sim.url,
        username=seed.WINDOWS_USER,
        password=seed.WINDOWS_PASSWORD,
        windows=True,
        retry=FAST_RETRY,
    )
    async with client:
        await client.login()


def test_identity_provider_on_another_host() -> None:
    found = Discovered(
        gateway=URL("https://gw.example/API/"),
        identity_provider=URL("https://ms.example/IDP"),
        token_endpoint=URL("https://ms.example/IDP/connect/token"),
    )
    assert found.server == "https://gw.example"
    assert found.profile().token_path == "/API/IDP/connect/token"
    with pytest.raises(ConfigurationError):
        found.profile(windows=True)


async def test_event_type_by_id_name_and_compact_name(client: XProtectClient) -> None:
    motion = await client.event_type("MotionStarted")
    assert motion.id == seed.MOTION_STARTED
    assert (await client.event_type("motion started")).id == seed.MOTION_STARTED
    assert (await client.event_type("PERSON-DETECTED")).id == seed.ANALYTICS_EVENT
    assert (await client.event_type(str(seed.ANALYTICS_EVENT))).name == "Person Detected"
    assert (await client.event_type(seed.ANALYTICS_EVENT)).name == "Person Detected"
    with pytest.raises(InvalidInputError, match="no event type named"):
        await client.event_type("Nothing Like It")
    with pytest.raises(NotFoundError):
        await client.event_type(uuid.uuid4())


async def test_camera_by_id_source_name_and_compact_name(client: XProtectClient) -> None:
    """There was no way to find a camera by name (``event_type`` had one)."""
    first, fourth = seed.CAMERA_IDS[0], seed.CAMERA_IDS[3]
    assert (await client.camera("Camera 1 - Main Entrance")).id == first
    assert (await client.camera("camera4loadingdock")).id == fourth
    assert (await client.camera(f"cameras/{fourth}")).id == fourth
    assert (await client.camera(str(first))).name == "Camera 1 - Main Entrance"
    assert (await client.camera(first)).source == f"cameras/{first}"
    with pytest.raises(InvalidInputError, match="no camera named 'Camera 9'; known: Camera 1"):
        await client.camera("Camera 9")
    with pytest.raises(InvalidInputError, match=r"no camera .* these credentials may see"):
        await client.camera(uuid.uuid4())
    with pytest.raises(InvalidInputError, match="a camera name must be a non-empty string"):
        await client.camera(5)  # type: ignore[arg-type]


async def test_an_operator_finds_only_the_cameras_it_may_see(sim: Simulator) -> None:
    async with XProtectClient(
        sim.url, username="operator", password="operator", retry=FAST_RETRY
    ) as operator:
        assert (await operator.camera("Camera 2 - Parking")).id == seed.CAMERA_IDS[1]
        with pytest.raises(InvalidInputError, match="no camera"):
            await operator.camera("Camera 3 - Server Room")


def test_find_event_type_prefers_the_exact_name() -> None:
    a = EventType(id=uuid.uuid4(), name="Door Open")
    b = EventType(id=uuid.uuid4(), name="DoorOpen")
    assert find_event_type([a, b], "door open") is a
    assert compact("Motion Started!") == "motionstarted"
    with pytest.raises(InvalidInputError, match="2 event types"):
        find_event_type([a, b, EventType(id=uuid.uuid4(), name="door open")], "Door Open")


async def test_create_trigger_and_delete_a_user_defined_event(
    service_client: XProtectClient, sim: Simulator
) -> None:
    created = await service_client.create_user_defined_event("Injector Heartbeat")
    assert created.name == "Injector Heartbeat"
    assert created.generator_type == "External"
    assert await service_client.can_trigger(created)
    event = await service_client.trigger_event(EventTrigger(type=created.id))
    assert event.type == created.id
    assert (await service_client.event_type("InjectorHeartbeat")).id == created.id
    await service_client.delete_user_defined_event(created.id)
    with pytest.raises(NotFoundError):
        await service_client.get_event_type(created.id)
    with pytest.raises(InvalidInputError):
        await service_client.create_user_defined_event("")


async def test_simulator_retention(client: XProtectClient) -> None:
    retention = await simulator_retention(client)
    assert retention is not None
    assert retention[seed.UNSTORED_EVENT] == 0
    assert retention[seed.USER_DEFINED_EVENT] is None
