"""More input checks and answers at the edge, against loopback servers (the hostile one of
tests/hostile.py and the simulator): Retry-After dates past a datetime, 429/503 without
Retry-After on trigger POSTs, lone surrogates in filters, pages shorter than asked for,
non-finite numbers in trigger data, ``get_event``'s ``include_data`` and the fields of
:class:`RetryPolicy`."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from aiohttp import web

from tests.hostile import CLIENT_ID, CLIENT_SECRET, TYPE_ID, Handler, Hostile, event
from xprotect_events import (
    EventTrigger,
    InvalidInputError,
    RateLimitedError,
    ServerError,
    SessionFilter,
    XProtectClient,
    contains,
    one_of,
)
from xprotect_events.policy import RetryPolicy, parse_retry_after
from xprotect_events.testing import Simulator, seed

QUICK = RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.02, jitter=0)
EVENT_ID = "0b2c9a8e-56e1-4d4e-9f3a-000000000001"
TOO_FAR = [
    "01 Jan 99999999999999999999 00:00:00 GMT",  # a year past what a datetime holds
    "Fri, 01 Jan 2100 00:00:00 +9999999999999",  # an offset past what a timedelta holds
]


@pytest.fixture
async def client(hostile: Hostile) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=QUICK
    ) as c:
        yield c


def busy(status: int, retry_after: str | None = None) -> Handler:
    """Always ``status`` with an error body, and ``Retry-After`` when given."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}

    async def handler(_: web.Request) -> web.StreamResponse:
        body = {"error": {"httpCode": status, "details": [{"errorText": "busy"}]}}
        return web.json_response(body, status=status, headers=headers)

    return handler


def one() -> EventTrigger:
    return EventTrigger(type=TYPE_ID, tag="once")


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize("value", TOO_FAR)
def test_a_retry_after_date_too_far_for_a_datetime_is_the_longest_wait(value: str) -> None:
    assert parse_retry_after(value) == math.inf
    assert RetryPolicy().delay(1, parse_retry_after(value)) == 120.0


@pytest.mark.parametrize("value", TOO_FAR)
async def test_a_retry_after_too_far_is_a_library_error_and_not_waited(
    hostile: Hostile, client: XProtectClient, value: str
) -> None:
    for route in ("get", "trigger", "batch"):
        hostile.on(route, busy(503, value))
    with pytest.raises(ServerError) as info:
        await client.get_event(EVENT_ID)
    assert info.value.retry_after == math.inf
    with pytest.raises(ServerError):
        await client.trigger_event(one())
    report = await client.trigger_events([one(), one()])
    # The server said it did not act (a 503 with Retry-After), for longer than we wait.
    assert [r.status for r in report.results] == ["rejected", "rejected"]
    assert [len(hostile.requests(r)) for r in ("get", "trigger", "batch")] == [1, 1, 1]


# --------------------------------------------------------------------------- 429/503


@pytest.mark.parametrize(
    ("status", "error", "batch_status"),
    [(503, ServerError, "unknown"), (429, RateLimitedError, "rejected")],
)
async def test_a_trigger_answered_without_retry_after_is_not_sent_again(
    hostile: Hostile,
    client: XProtectClient,
    status: int,
    error: type[Exception],
    batch_status: str,
) -> None:
    """DESIGN: a trigger POST is resent only for 429/503 *with* Retry-After. A bare 503
    (a gateway whose backend acted, then timed out) may have happened: "unknown"; a bare
    429 is a refusal of the whole request, as every 4xx: "rejected", but not resent."""
    hostile.on("trigger", busy(status))
    hostile.on("batch", busy(status))
    with pytest.raises(error):
        await client.trigger_event(one())
    report = await client.trigger_events([one(), one()])
    assert [r.status for r in report.results] == [batch_status] * 2
    assert all(r.sent and isinstance(r.error, error) for r in report.results)
    assert len(hostile.requests("trigger")) == len(hostile.requests("batch")) == 1


async def test_a_trigger_answered_503_with_retry_after_is_sent_again(
    hostile: Hostile, client: XProtectClient
) -> None:
    hostile.on("trigger", hostile.then(busy(503, "0")))
    await client.trigger_event(one())
    assert len(hostile.requests("trigger")) == 2


async def test_a_get_answered_503_without_retry_after_is_still_retried(
    hostile: Hostile, client: XProtectClient
) -> None:
    hostile.on("get", busy(503))
    with pytest.raises(ServerError):
        await client.get_event(EVENT_ID)
    assert len(hostile.requests("get")) == QUICK.attempts


# --------------------------------------------------------------------------- surrogates

LONE = ["\ud800", "Cam\udc80 1", "\ud83d"]


@pytest.mark.parametrize("text", LONE)
def test_a_lone_surrogate_in_a_filter_value_is_refused(text: str) -> None:
    for build in (contains, lambda t: one_of("A", t)):
        with pytest.raises(InvalidInputError, match="lone surrogate"):
            build(text)
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        SessionFilter("source.name", "equals", text)
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        SessionFilter("tag\udfff", "equals", "x")


@pytest.mark.parametrize(
    "options",
    [
        {"source_name": "Cam\ud800 1"},
        {"filters": {"tag\ud800": "x"}},
        {"filters": {"tag": "\ud800"}},
    ],
    ids=["name", "filter-property", "filter-value"],
)
async def test_a_lone_surrogate_in_list_events_is_refused_before_sending(
    hostile: Hostile, client: XProtectClient, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        client.list_events(**options)
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        client.event_session(source_names=["ok", "\ud800"])
    assert hostile.seen == []


async def test_non_ascii_filter_text_still_goes_as_utf8(
    hostile: Hostile, client: XProtectClient
) -> None:
    _ = [e async for e in client.list_events(source_name=contains("Caméra 🎥"))]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(hostile.requests("list")[0].url).query)
    assert query["source.name"] == ["contains:'Caméra 🎥'"]


# --------------------------------------------------------------------------- paging


def paged(store: list[int], *, cap: int = 2000, always_next: bool = False) -> Handler:
    """``GET /events`` over ``store`` by page number, at most ``cap`` a page, with a
    ``next`` link while more are left (always, with ``always_next``). It ignores the time
    filter: the listing's second read (its first under a narrowed time bound) shows it,
    and the listing reads on by page number from page 1 (tests/client/test_listing.py).
    Its events are a second apart: within the filter's 10 ms accuracy, the listing could
    not tell that the filter is ignored."""

    async def handler(request: web.Request) -> web.StreamResponse:
        page, size = int(request.query["page"]), min(int(request.query["size"]), cap)
        desc = request.query["orderBy"].startswith("desc")
        items = sorted(store, reverse=desc)[page * size : (page + 1) * size]
        links = {}
        if always_next or (page + 1) * size < len(store):
            links["next"] = str(request.url.update_query(page=str(page + 1)))
        array = [{**event(n), "time": f"2024-05-01T12:{n // 60:02d}:{n % 60:02d}Z"} for n in items]
        return web.json_response({"_links": links, "array": array})

    return handler


async def test_a_server_that_caps_the_page_size_loses_nothing(
    hostile: Hostile, client: XProtectClient
) -> None:
    hostile.on("list", paged(list(range(1, 21)), cap=5))
    tags = [e.tag async for e in client.list_events(page_size=10)]
    assert tags == [f"e{n}" for n in range(1, 21)]
    assert len(hostile.requests("list")) == 5  # 4 pages + 1 finding the filter ignored


async def test_a_next_link_on_every_page_ends_at_the_first_empty_page(
    hostile: Hostile, client: XProtectClient
) -> None:
    hostile.on("list", paged(list(range(1, 16)), always_next=True))
    assert len([e async for e in client.list_events(page_size=10)]) == 15
    assert len(hostile.requests("list")) == 4  # 10, 1 finding the filter ignored, 5, 0


async def test_a_limit_counts_what_was_yielded_across_capped_pages(
    hostile: Hostile, client: XProtectClient
) -> None:
    hostile.on("list", paged(list(range(1, 21)), cap=5))
    tags = [e.tag async for e in client.list_events(page_size=10, limit=12)]
    assert tags == [f"e{n}" for n in range(1, 13)]
    assert len(hostile.requests("list")) == 4  # 3 pages + 1 finding the filter ignored


@pytest.mark.parametrize(("stored", "reads"), [(250, 3), (200, 2), (0, 1)])
async def test_the_simulator_is_read_in_as_many_pages_as_before(
    sim: Simulator, stored: int, reads: int
) -> None:
    """A last page that is full has no next link: no read of an empty page after it."""
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    sim.store_events(
        [
            {"type": seed.ANALYTICS_EVENT, "time": t0 + timedelta(seconds=i), "tag": f"n{i}"}
            for i in range(stored)
        ]
    )
    async with XProtectClient(sim.url, username="admin", password="admin", retry=QUICK) as c:
        seen = [e.tag async for e in c.list_events(page_size=100)]
    assert seen == [f"n{i}" for i in range(stored)]
    assert sim.stats.requests["GET /api/rest/v1/events"] == reads


async def test_an_event_stored_between_two_desc_pages_is_yielded_once(
    hostile: Hostile, client: XProtectClient
) -> None:
    """Page-number paging, newest first: an event stored between the reads shifts the
    next page by one; its first event was the last of the page before."""
    store = list(range(1, 21))
    serve = paged(store)

    async def growing(request: web.Request) -> web.StreamResponse:
        if request.query["page"] == "1":
            store.append(21)
        return await serve(request)

    hostile.on("list", growing)
    tags = [e.tag async for e in client.list_events(order="desc", page_size=10)]
    assert tags == [f"e{n}" for n in range(20, 0, -1)]


# --------------------------------------------------------------------------- trigger data


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    ("shape", "where"),
    [
        (lambda x: {"x": x}, "data['x']"),
        (lambda x: {"a": [1, {"b": x}]}, "data['a'][1]['b']"),
        (lambda x: {"t": (0.5, x)}, "data['t'][1]"),
    ],
    ids=["top", "nested", "tuple"],
)
def test_non_finite_numbers_in_trigger_data_are_refused_naming_where(
    number: float, shape: Callable[[float], dict[str, Any]], where: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        EventTrigger(type=TYPE_ID, data=shape(number))
    assert str(info.value).startswith(f"{where} is {number!r}")


def test_finite_shared_and_deep_trigger_data_is_still_taken() -> None:
    shared = {"v": 1.5}
    deep: dict[str, Any] = {"leaf": 2.0}
    for _ in range(10_000):  # deeper than Python recurses
        deep = {"a": deep}
    for data in ({"a": shared, "b": [shared, shared]}, deep, {"x": 1e308, "y": -0.0}):
        assert EventTrigger(type=TYPE_ID, data=data).data is data
    cyclic: dict[str, Any] = {}
    cyclic["me"] = cyclic
    EventTrigger(type=TYPE_ID, data=cyclic)  # (JSON encoding refuses it when sent)


async def test_a_trigger_with_nan_data_is_never_sent(hostile: Hostile) -> None:
    with pytest.raises(InvalidInputError):
        EventTrigger(type=TYPE_ID, data={"score": math.nan})
    assert hostile.seen == []


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("value", ["no", 1, None])
async def test_get_event_include_data_must_be_a_bool(
    hostile: Hostile, client: XProtectClient, value: object
) -> None:
    with pytest.raises(InvalidInputError, match="include_data must be True or False"):
        await client.get_event(EVENT_ID, include_data=value)  # type: ignore[arg-type]
    assert hostile.seen == []
    await client.get_event(EVENT_ID, include_data=True)
    assert hostile.requests("get")[0].url.endswith("?include=data")


@pytest.mark.parametrize(
    "fields",
    [
        {"attempts": 2.5},
        {"attempts": 0},
        {"attempts": True},
        {"attempts": "3"},
        {"jitter": "x"},
        {"jitter": math.inf},
        {"jitter": -0.1},
        {"backoff_initial": math.nan},
        {"backoff_max": None},
        {"backoff_max": 10**400},
        {"max_retry_after": math.nan},
        {"max_retry_after": True},
    ],
)
def test_every_retry_policy_field_is_checked_when_made(fields: dict[str, Any]) -> None:
    (name,) = fields
    with pytest.raises(InvalidInputError, match=f"RetryPolicy.{name} must be"):
        RetryPolicy(**fields)
    with pytest.raises(InvalidInputError):
        attrs.evolve(RetryPolicy(), **fields)


def test_plain_retry_policies_are_still_taken() -> None:
    policy = RetryPolicy(attempts=1, backoff_initial=0, backoff_max=0, jitter=0, max_retry_after=0)
    assert policy.delay(1) == 0.0
    assert RetryPolicy(jitter=1, backoff_max=30).delay(1) <= 1.2
