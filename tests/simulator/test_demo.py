"""The demo's plan and ``serve --seed-events``: the demo's types in turn, on every camera."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xprotect_events.client import XProtectClient
from xprotect_events.errors import ConfigurationError
from xprotect_events.models import Camera
from xprotect_events.testing import Simulator, seed
from xprotect_events.testing.demo import DEMO_TYPES, DemoPlan, as_event_type, seed_events


def test_the_plan_takes_the_demo_types_in_turn_on_every_camera(sim: Simulator) -> None:
    plan = DemoPlan.of(
        [as_event_type(t) for t in sim.event_types],
        [Camera(id=c.id, name=c.name) for c in sim.cameras],
    )
    assert sorted(t.name for t in plan.types) == sorted(DEMO_TYPES)
    triggers = list(plan.triggers(len(plan.types) * 2, tag="t"))
    assert [t.type for t in triggers] == [t.id for t in plan.types] * 2
    assert {t.source for t in triggers[: len(plan.types)]} == {plan.cameras[0].source}
    assert triggers[-1].source == plan.cameras[1].source
    assert [t.tag for t in triggers[:2]] == ["t-0", "t-1"]
    for made in triggers:
        analytics = made.type in (seed.ANALYTICS_EVENT, seed.LICENSE_PLATE_EVENT)
        assert (made.datatype == "analytics") is analytics
        assert (made.data is not None) is analytics


def test_no_demo_type_or_no_camera_is_a_configuration_error(sim: Simulator) -> None:
    cameras = [Camera(id=c.id, name=c.name) for c in sim.cameras]
    types = [as_event_type(t) for t in sim.event_types]
    with pytest.raises(ConfigurationError, match="none of the demo's"):
        DemoPlan.of([t for t in types if t.name not in DEMO_TYPES], cameras)
    with pytest.raises(ConfigurationError, match="none of the demo's"):
        DemoPlan.of(types, [])


async def test_seeded_events_spread_over_the_last_hour(
    sim: Simulator, service_client: XProtectClient
) -> None:
    before = datetime.now(UTC)
    assert seed_events(sim, 12) == 12
    after = datetime.now(UTC)
    events = [e async for e in service_client.list_events()]
    assert [e.tag for e in events] == [f"seed-{i}" for i in range(12)]
    assert all(before - timedelta(hours=1) <= e.time < after for e in events)
    assert {e.type for e in events} == {t.id for t in sim.event_types if t.name in DEMO_TYPES}
