"""Trigger ``data`` whose numbers or fragments are held by an enum member or a dataclass
instance: orjson writes those as what they hold (NaN as null, a fragment as raw JSON), so
the data check looks inside them too, over loopback HTTP (tests/hostile.py): refused
before anything is sent, naming where; what JSON carries in them still goes.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import orjson
import pytest

from tests.hostile import PASSWORD, TYPE_ID, USERNAME, Hostile
from xprotect_events import EventTrigger, InvalidInputError, RetryPolicy, XProtectClient


class Level(enum.Enum):
    UNKNOWN = float("nan")
    RANGE = {"top": float("inf")}
    LOW = "low"


@dataclasses.dataclass
class Reading:
    value: Any


@dataclasses.dataclass(slots=True)
class Slotted:
    value: Any


@dataclasses.dataclass
class Unset:
    value: int = dataclasses.field(init=False)


HELD = {
    "NaN as an enum's value": ({"level": Level.UNKNOWN}, "data['level']['value']"),
    "inf inside an enum's value": ({"range": Level.RANGE}, "data['range']['value']['top']"),
    "NaN in a dataclass": ({"r": Reading(float("nan"))}, "data['r']['value']"),
    "a fragment in a slotted dataclass": (
        {"r": [Slotted(orjson.Fragment(b"{}"))]},
        "data['r'][0]['value']",
    ),
    "a dataclass field never set": ({"u": Unset()}, "data['u']"),
}


@pytest.mark.parametrize("case", sorted(HELD))
def test_what_an_enum_or_dataclass_holds_is_checked(case: str) -> None:
    data, where = HELD[case]
    with pytest.raises(InvalidInputError) as caught:
        EventTrigger(type=TYPE_ID, data=data)
    assert str(caught.value).startswith(where)


@pytest.mark.parametrize("case", sorted(HELD))
async def test_a_trigger_holding_it_is_never_sent(hostile: Hostile, case: str) -> None:
    data, _ = HELD[case]
    holder: dict[str, Any] = {}
    trigger = EventTrigger(type=TYPE_ID, data=holder)
    holder.update(data)  # (after construction: checked again when sent)
    async with XProtectClient(
        hostile.url, username=USERNAME, password=PASSWORD, retry=RetryPolicy(attempts=1)
    ) as client:
        with pytest.raises(InvalidInputError):
            await client.trigger_event(trigger)
        report = await client.trigger_events([trigger])
    (result,) = report.results
    assert (result.status, result.sent) == ("rejected", False)
    assert hostile.requests("trigger") == hostile.requests("batch") == []


def test_what_json_carries_in_them_still_goes() -> None:
    data = {"level": Level.LOW, "r": Reading(1.5), "s": Slotted({"a": [1]})}
    trigger = EventTrigger(type=TYPE_ID, data=data)
    assert trigger.data is data
