"""POST /events/batch answers each body as POST /events answers it, also when a body follows
others of the same type and source (each (type, source) pair is checked once per token,
until the configuration changes)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    GENERIC_EVENT,
    UNSTORED_EVENT,
    USER_DEFINED_EVENT,
    SimClock,
    Simulator,
)
from xprotect_events.testing.batch_accept import accept_batch, plain_bodies
from xprotect_events.testing.directory import Identity

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CAM = [f"cameras/{c}" for c in CAMERA_IDS]

#: (type, source) pairs: valid for some tokens, refused for others.
PAIRS: list[tuple[str, str | None]] = [
    (str(ANALYTICS_EVENT), CAM[0]),
    (str(ANALYTICS_EVENT), CAM[2]),  # the operator may not see it
    (str(ANALYTICS_EVENT), None),
    (str(ANALYTICS_EVENT).upper(), str(CAMERA_IDS[1]).upper()),
    (str(USER_DEFINED_EVENT), None),
    (str(UNSTORED_EVENT), CAM[1]),
    (str(GENERIC_EVENT), CAM[0]),  # users may not trigger it
]

#: What a body adds to its pair: each kind of field, valid and not.
VARIANTS: list[dict[str, Any]] = [
    {},
    {"tag": "t"},
    {"tag": None, "datatype": None},
    {"tag": "x" * 1024},
    {"tag": "x" * 1025},
    {"tag": 5},
    {"datatype": "analytics"},
    {"datatype": 3},
    {"data": {"k": [1]}},
    {"data": [1]},
    {"time": "2009-02-15T00:00:00.1234567Z"},
    {"time": "noon"},
    {"time": 5},
    {"extra": "ignored"},
]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(NOW)) as s:
        yield s


async def post(http: aiohttp.ClientSession, url: str, token: str, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(url, headers=headers, json=body) as response:
        return response.status, await response.json()


async def get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


def without_id(item: Any) -> Any:
    """An answered event without its (random) id; an error as it is."""
    if isinstance(item, dict) and "id" in item:
        assert len(item["id"]) == 36
        return {k: v for k, v in item.items() if k != "id"}
    return item


def bodies() -> list[Any]:
    """Every variant of every pair, each after a plain body of its pair, then some that are
    not objects or whose type or source is not a string."""
    out: list[Any] = []
    for event_type, source in PAIRS:
        for variant in VARIANTS:
            out.append({"type": event_type, "source": source})
            out.append({"type": event_type, "source": source, **variant})
    bad: list[Any] = [[], "x", 0, {"source": CAM[0]}, {"type": 1, "source": CAM[0]}]
    bad += [{"type": str(ANALYTICS_EVENT), "source": 7}, {"type": str(ANALYTICS_EVENT)}]
    return out + bad


@pytest.mark.parametrize("who", ["admin", "operator", "service"])
async def test_batch_items_equal_single_answers(
    sim: Simulator, http: aiohttp.ClientSession, who: str
) -> None:
    token = sim.issue_token(who)
    every = bodies()
    answers = []
    for start in range(0, len(every), 100):
        status, got = await post(http, sim.api_url + "/events/batch", token, every[start:][:100])
        assert status == 200
        answers += got["array"]
    assert len(answers) == len(every)
    accepted_in_batches = sim.stats.events_accepted
    for body, item in zip(every, answers, strict=True):
        status, single = await post(http, sim.api_url + "/events", token, body)
        expected = single["data"] if status == 202 else single
        assert without_id(item) == without_id(expected), body
    assert sim.stats.events_accepted == 2 * accepted_in_batches
    assert 0 < accepted_in_batches < len(every)


def plain_bodies_of_every_pair() -> list[Any]:
    """The bodies of :func:`bodies` that the fast reader takes (fields of strings or null
    only, none unknown, no data, a tag of at most 1,024): each after a plain one of its pair."""
    return [
        body
        for body in bodies()
        if isinstance(body, dict)
        and body.keys() <= {"type", "source", "tag", "datatype", "time"}
        and isinstance(body.get("type"), str)
        and all(v is None or isinstance(v, str) for v in body.values())
        and len(body.get("tag") or "") <= 1024
    ]


@pytest.mark.parametrize("who", ["admin", "operator", "service"])
async def test_a_plain_batch_answers_as_the_checked_reader_does(
    sim: Simulator, http: aiohttp.ClientSession, who: str
) -> None:
    """Batches the fast reader takes (every body plain) answer, store and count as the
    checked reader does for the same bodies, item by item; the first item of each pair
    goes through every check, the repeats take the known-pair path."""
    token = sim.issue_token(who)
    every = plain_bodies_of_every_pair()
    assert len(every) > 50
    state = sim._state
    base = sim.events_stored, sim.stats.events_accepted
    checked = accept_batch(state, Identity(who, service=who == "service"), every, state.now_us())
    stored, accepted = sim.events_stored - base[0], sim.stats.events_accepted - base[1]
    assert 0 < stored < accepted < len(every)  # unstored types, refusals
    base = sim.events_stored, sim.stats.events_accepted
    answers = []
    for start in range(0, len(every), 100):
        chunk = every[start:][:100]
        assert plain_bodies(orjson.dumps(chunk)) is not None  # the fast reader's batch
        status, got = await post(http, sim.api_url + "/events/batch", token, chunk)
        assert status == 200
        answers += got["array"]
    assert [without_id(a) for a in answers] == [without_id(c) for c in checked]
    assert (sim.events_stored - base[0], sim.stats.events_accepted - base[1]) == (stored, accepted)
    ids = [a["id"] for a in answers if "id" in a]
    assert len(set(ids)) == len(ids) == accepted
    for event_id in ids:
        if sim.store.by_id.get(uuid.UUID(event_id).int) is not None:
            status, single = await get(http, sim.api_url + f"/events/{event_id}", token)
            assert status == 200
            assert single["data"] == next(a for a in answers if a.get("id") == event_id)


async def batch_of(
    sim: Simulator, http: aiohttp.ClientSession, token: str, body: dict[str, Any], count: int
) -> list[Any]:
    status, got = await post(http, sim.api_url + "/events/batch", token, [body] * count)
    assert status == 200
    items: list[Any] = got["array"]
    return items


async def test_a_pair_checked_for_one_token_is_checked_again_for_another(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """The pairs that passed every check are remembered across batches per identity: a
    pair the service may trigger is still refused to a user who may not (a generic event;
    a camera the operator may not see)."""
    for body in (
        {"type": str(GENERIC_EVENT), "source": CAM[0]},
        {"type": str(ANALYTICS_EVENT), "source": CAM[2]},
    ):
        service = await batch_of(sim, http, sim.issue_token("service"), body, 3)
        assert all("id" in item for item in service)
        user = await batch_of(sim, http, sim.issue_token("operator"), body, 3)
        assert [item["error"]["httpCode"] for item in user] == [403] * 3


async def test_a_configuration_change_is_seen_by_the_next_batch(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """What the checks of a pair came to is forgotten when the configuration changes: a
    deleted user-defined event is refused by the next batch, a camera added for one user
    only is seen by that user's next batch."""
    token = sim.issue_token("service")
    kind = sim.add_event_type("Gone soon")
    body = {"type": str(kind), "source": None}
    assert all("id" in item for item in await batch_of(sim, http, token, body, 3))
    async with http.delete(
        sim.api_url + f"/userDefinedEvents/{kind}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status < 300
    gone = await batch_of(sim, http, token, body, 3)
    assert [item["error"]["httpCode"] for item in gone] == [400] * 3
    operator = sim.issue_token("operator")
    hidden = {"type": str(ANALYTICS_EVENT), "source": CAM[2]}
    assert "error" in (await batch_of(sim, http, operator, hidden, 2))[0]
    camera = sim.add_camera("Lobby", visible_to=["operator"])
    shown = {"type": str(ANALYTICS_EVENT), "source": f"cameras/{camera}"}
    assert all("id" in item for item in await batch_of(sim, http, operator, shown, 2))
    assert "error" in (await batch_of(sim, http, operator, hidden, 2))[0]


async def test_a_batch_of_known_unstored_pairs_answers_as_the_checked_reader(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """An injector's steady state (every pair checked by an earlier batch, none stored,
    no time of its own) takes the batch-at-once path: the same answer and counts."""
    token = sim.issue_token("service")
    chunk = [
        {"type": str(UNSTORED_EVENT), "source": CAM[i % 3], "tag": f"t{i}" if i % 4 else None}
        for i in range(60)
    ]
    state = sim._state
    checked = accept_batch(state, Identity("service", service=True), chunk, state.now_us())
    for _ in range(2):  # the second batch finds every pair known
        accepted, stored = sim.stats.events_accepted, sim.events_stored
        status, got = await post(http, sim.api_url + "/events/batch", token, chunk)
        assert status == 200
        answers = got["array"]
        assert [without_id(a) for a in answers] == [without_id(c) for c in checked]
        assert len({a["id"] for a in answers}) == len(chunk)
        assert (sim.stats.events_accepted - accepted, sim.events_stored - stored) == (60, 0)
