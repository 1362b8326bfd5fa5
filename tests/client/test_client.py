"""The events calls of XProtectClient against the simulator."""

from __future__ import annotations

import gc
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from xprotect_events import (
    Event,
    EventTrigger,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    XProtectClient,
    contains,
    gt,
    one_of,
    starts_with,
)
from xprotect_events.testing import Simulator, seed

CAM1, CAM2, CAM3, _ = seed.CAMERA_IDS
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def bulk(
    n: int, *, start: datetime = T0, step: float = 1.0, type_id: uuid.UUID = seed.ANALYTICS_EVENT
) -> list[dict[str, object]]:
    cams = seed.CAMERA_IDS
    return [
        {
            "type": type_id,
            "source": f"cameras/{cams[i % len(cams)]}",
            "time": start + timedelta(seconds=i * step),
            "tag": f"n{i}",
            "datatype": "analytics",
            "data": {"i": i},
        }
        for i in range(n)
    ]


async def test_trigger_then_get(client: XProtectClient) -> None:
    trigger = EventTrigger(
        type=seed.ANALYTICS_EVENT,
        source=f"cameras/{CAM1}",
        time=T0,
        tag="hello",
        datatype="analytics",
        data={"description": "a person"},
    )
    event = await client.trigger_event(trigger)
    assert (event.type, event.source, event.time, event.tag) == (
        seed.ANALYTICS_EVENT,
        f"cameras/{CAM1}",
        T0,
        "hello",
    )
    plain = await client.get_event(event.id)
    assert plain.data is None
    full = await client.get_event(str(event.id), include_data=True)
    assert full.data == {"description": "a person"}
    assert full in {full}  # hashable although data is a dict


async def test_server_fills_the_time(client: XProtectClient, sim: Simulator) -> None:
    event = await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert abs(event.time - sim.clock.now()) < timedelta(seconds=5)


async def test_get_unknown_event_is_not_found(client: XProtectClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_event(uuid.uuid4())
    assert info.value.status == 404
    assert info.value.error_text
    assert "GET /api/rest/v1/events/" in str(info.value)


async def test_user_may_not_trigger_generic(client: XProtectClient) -> None:
    generic = await client.get_event_type(seed.GENERIC_EVENT)
    assert not await client.can_trigger(generic)
    assert await client.can_trigger(seed.ANALYTICS_EVENT)
    with pytest.raises(ForbiddenError) as info:
        await client.trigger_event(EventTrigger(type=seed.GENERIC_EVENT, source=f"cameras/{CAM1}"))
    assert info.value.error_text_id == "VMO61008"


async def test_list_ten_thousand_each_once_in_order(client: XProtectClient, sim: Simulator) -> None:
    sim.store_events(bulk(10_000))
    seen = [e.tag async for e in client.list_events(page_size=100)]
    assert seen == [f"n{i}" for i in range(10_000)]
    assert sim.stats.requests["GET /api/rest/v1/events"] == 100


def events_alive() -> int:
    """The Events alive in this process (each is tracked by the cyclic GC; an Event takes
    no weak reference)."""
    return sum(1 for obj in gc.get_objects() if type(obj) is Event)


async def most_alive(client: XProtectClient, page_size: int) -> tuple[int, int]:
    """(events listed, most Events alive at once beyond those alive before), sampled."""
    before, most, seen = events_alive(), 0, 0
    async for _ in client.list_events(page_size=page_size):
        seen += 1
        if seen % 37 == 0:
            most = max(most, events_alive() - before)
    return seen, most


async def test_list_holds_one_page_at_a_time(client: XProtectClient, sim: Simulator) -> None:
    # Constant memory, measured structurally: the simulator shares this process, so a
    # memory figure would mostly measure it. Events already yielded must be freed.
    sim.store_events(bulk(5_000))
    seen, most = await most_alive(client, 100)
    assert seen == 5_000
    assert 0 < most <= 2 * 100


async def test_a_large_page_is_built_a_slice_at_a_time(
    client: XProtectClient, sim: Simulator
) -> None:
    # A page of 1,000 Events built at once outlives the GC's young generation: they are
    # built a hundred at a time, and those yielded are freed.
    sim.store_events(bulk(3_000))
    seen, most = await most_alive(client, 1000)
    assert seen == 3_000
    assert 0 < most <= 2 * 100


async def test_list_filters_and_order(client: XProtectClient, sim: Simulator) -> None:
    sim.store_events(bulk(40))
    desc = [e.tag async for e in client.list_events(order="desc", limit=3)]
    assert desc == ["n39", "n38", "n37"]
    window = [
        e.tag
        async for e in client.list_events(
            since=T0 + timedelta(seconds=9), until=T0 + timedelta(seconds=13)
        )
    ]
    assert window == ["n10", "n11", "n12"]
    by_id = [e.source async for e in client.list_events(source_id=CAM2)]
    assert set(by_id) == {f"cameras/{CAM2}"}
    assert len(by_id) == 10
    by_ids = {e.source async for e in client.list_events(source_id=one_of(CAM1, f"cameras/{CAM3}"))}
    assert by_ids == {f"cameras/{CAM1}", f"cameras/{CAM3}"}
    names = {e.source async for e in client.list_events(source_name=contains("Entrance"))}
    assert names == {f"cameras/{CAM1}"}
    starts = {e.source async for e in client.list_events(source_name=starts_with("Camera 2"))}
    assert starts == {f"cameras/{CAM2}"}
    with_data = [e.data async for e in client.list_events(include_data=True, limit=1)]
    assert with_data == [{"i": 0}]


async def test_raw_filters_escape_hatch(client: XProtectClient, sim: Simulator) -> None:
    sim.store_events(bulk(5))
    tags = [
        e.tag async for e in client.list_events(filters={"time": gt(T0 + timedelta(seconds=2))})
    ]
    assert tags == ["n3", "n4"]


async def test_special_characters_in_source_names_survive(
    client: XProtectClient, sim: Simulator
) -> None:
    name = "O'Brien's cam, (east): +50% / ü & more"
    cam = sim.add_camera(name)
    sim.store_events([{"type": seed.ANALYTICS_EVENT, "source": f"cameras/{cam}", "time": T0}])
    found = [e.source async for e in client.list_events(source_name=name)]
    assert found == [f"cameras/{cam}"]


async def test_operator_sees_only_its_cameras(sim: Simulator) -> None:
    sim.store_events(bulk(8))
    async with XProtectClient(sim.url, username="operator", password="operator") as op:
        sources = {e.source async for e in op.list_events()}
        cameras = {c.id for c in await op.list_cameras()}
    assert sources == {f"cameras/{CAM1}", f"cameras/{CAM2}"}
    assert cameras == {CAM1, CAM2}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": datetime(2024, 1, 1)},  # naive
        {"page_size": 0},
        {"page_size": 2001},
        {"order": "sideways"},
        {"source_id": "not-a-guid"},
        {"source_id": contains("x")},  # source.id takes equals/notEquals/oneOf only
        {"source_name": gt("x")},
        {"limit": -1},
    ],
)
async def test_bad_list_input_fails_before_sending(
    client: XProtectClient, sim: Simulator, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidInputError):
        client.list_events(**kwargs)  # type: ignore[arg-type]
    assert sim.stats.requests["GET /api/rest/v1/events"] == 0


async def test_bad_ids_fail_before_sending(client: XProtectClient, sim: Simulator) -> None:
    with pytest.raises(InvalidInputError):
        await client.get_event("nope")
    with pytest.raises(InvalidInputError):
        await client.trigger_event({"type": "x"})  # type: ignore[arg-type]
    assert sim.stats.token_requests == 0


async def test_event_types_and_cameras(client: XProtectClient) -> None:
    types = {t.id: t for t in await client.list_event_types()}
    assert types[seed.MOTION_STARTED].generator_type == "RecorderPlugin"
    assert not types[seed.MOTION_STARTED].user_may_trigger
    assert types[seed.USER_DEFINED_EVENT].user_may_trigger
    cameras = await client.list_cameras()
    assert {c.id for c in cameras} == set(seed.CAMERA_IDS)
    assert all(c.source.startswith("cameras/") for c in cameras)
