"""The demo's events: which seeded types on which cameras, and seeding a simulator with them.

``xprotect-events demo`` triggers :meth:`DemoPlan.triggers` through the API;
``xprotect-events serve --seed-events N`` stores them directly with :func:`seed_events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Camera, EventTrigger, EventType
from .seed import SimEventType
from .simulator import Simulator

#: The seeded event types the demo triggers (a user token may trigger them all).
DEMO_TYPES = ("Person Detected", "License Plate Recognized", "Door Forced Open")


@attrs.frozen(kw_only=True)
class DemoPlan:
    """What the demo triggers: the demo's event types, in turn, on every camera."""

    types: list[EventType]
    cameras: list[Camera]

    @classmethod
    def of(cls, types: Iterable[EventType], cameras: Iterable[Camera]) -> DemoPlan:
        """The plan over the demo's types among ``types`` (in their order) and ``cameras``.
        :class:`ConfigurationError` when there is none of either."""
        usable = [t for t in types if t.name in DEMO_TYPES]
        cameras = list(cameras)
        if not usable or not cameras:
            raise ConfigurationError("the server has none of the demo's event types or cameras")
        return cls(types=usable, cameras=cameras)

    def triggers(self, count: int, *, tag: str) -> Iterator[EventTrigger]:
        """``count`` triggers tagged ``{tag}-{i}``; the analytics ones carry data."""
        for i in range(count):
            event_type = self.types[i % len(self.types)]
            camera = self.cameras[(i // len(self.types)) % len(self.cameras)]
            analytics = event_type.generator_type == "MIPDevice"
            yield EventTrigger(
                type=event_type.id,
                source=camera.source,
                tag=f"{tag}-{i}",
                datatype="analytics" if analytics else None,
                data=analytics_data(event_type, camera, i) if analytics else None,
            )


def analytics_data(event_type: EventType, camera: Camera, i: int) -> dict[str, Any]:
    """The data of the ``i``-th demo event of an analytics type."""
    return {
        "description": f"{event_type.name} on {camera.name}",
        "vendor": {"name": "xprotect-events demo"},
        "objectList": [{"name": "person" if i % 2 else "car", "confidence": 0.9}],
    }


def as_event_type(sim_type: SimEventType) -> EventType:
    """A simulator's event type as the client sees it."""
    return EventType(
        id=sim_type.id,
        name=sim_type.name,
        generator_type=sim_type.generator_type,
        generator_subtype=sim_type.generator_subtype,
    )


def seed_events(sim: Simulator, count: int) -> int:
    """Store ``count`` events of the demo's types on every camera, spread over the last hour.
    Returns how many were stored."""
    plan = DemoPlan.of(
        [as_event_type(t) for t in sim.event_types],
        [Camera(id=c.id, name=c.name) for c in sim.cameras],
    )
    now = datetime.now(UTC)
    triggers = (
        attrs.evolve(trigger, time=now - timedelta(seconds=3600 * (count - i) / count))
        for i, trigger in enumerate(plan.triggers(count, tag="seed"))
    )
    return sim.store_events(triggers)
