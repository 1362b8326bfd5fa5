"""A trigger's ``data`` changed after the trigger was made is checked again when it is sent.

``EventTrigger`` promises that bad input never leaves the process, and checks ``data``
when it is made; but ``data`` is the caller's mapping, which can be changed afterwards. A
NaN put into it then was sent as ``null``, a raw JSON fragment as written, a naive
datetime as a time without a zone. Now each send checks it as it is then: a single trigger
raises before anything is sent; in a batch that trigger is reported rejected, unsent, and
the others go.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import pytest

from xprotect_events import EventTrigger, InvalidInputError, XProtectClient
from xprotect_events.testing import Simulator, seed

CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "nan": lambda data: data.update(score=math.nan),
    "infinity in a nested list": lambda data: data["boxes"].append(math.inf),
    "fragment": lambda data: data.update(raw=orjson.Fragment(b'{"injected": true}')),
    "naive datetime": lambda data: data.update(seen=datetime(2024, 5, 1, 12)),
}


def made_then_changed(change: Callable[[dict[str, Any]], None]) -> EventTrigger:
    data: dict[str, Any] = {"score": 0.5, "boxes": [1.0, 2.0]}
    source = f"cameras/{seed.CAMERA_IDS[0]}"
    trigger = EventTrigger(type=seed.ANALYTICS_EVENT, source=source, data=data)
    change(data)
    return trigger


@pytest.mark.parametrize("name", CHANGES)
async def test_a_single_trigger_is_refused_before_it_is_sent(
    sim: Simulator, service_client: XProtectClient, name: str
) -> None:
    trigger = made_then_changed(CHANGES[name])
    with pytest.raises(InvalidInputError, match="data"):
        await service_client.trigger_event(trigger)
    assert sim.events_stored == 0


@pytest.mark.parametrize("name", CHANGES)
async def test_in_a_batch_it_is_rejected_unsent_and_the_others_go(
    sim: Simulator, service_client: XProtectClient, name: str
) -> None:
    good = [EventTrigger(type=seed.ANALYTICS_EVENT, tag=f"n{i}") for i in range(3)]
    triggers = [good[0], made_then_changed(CHANGES[name]), *good[1:]]
    report = await service_client.trigger_events(triggers, chunk_size=10)
    assert [r.status for r in report.results] == ["accepted", "rejected", "accepted", "accepted"]
    bad = report.results[1]
    assert bad.sent is False
    assert "data" in (bad.reason or "")
    assert sim.events_stored == 3
    stored = [event async for event in service_client.list_events(include_data=True)]
    assert all(event.data is None for event in stored)
