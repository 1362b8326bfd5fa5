"""A batch answer that lies about which trigger is which, or is odd enough to trip the
accounting, over loopback HTTP (tests/hostile.py): nothing lost, nothing twice. A trigger
the answer may have landed is never ``rejected`` (safe to send again): items in another
order, another trigger's event, one event id for two triggers, an item nested deeper than
JSON is written. What real servers do (upper-case GUIDs, a bare camera GUID, a source the
server filled in) is still accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.hostile import CAMERA, PASSWORD, TYPE_ID, USERNAME, Hostile, echo
from xprotect_events import EventTrigger, ProtocolError, RetryPolicy, XProtectClient
from xprotect_events.accounting import chunk_answered

ONCE = RetryPolicy(attempts=1)
OTHER_CAMERA = "cameras/0d9e3c5a-1b2f-4c6d-8e7f-a1b2c3d4e5f6"

#: What the server answers a chunk: the answer items, from the request's bodies.
Answer = Callable[[list[dict[str, Any]]], list[Any]]


def answering(items: Answer) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        bodies = orjson.loads(await request.read())
        return web.json_response({"array": items(bodies)})

    return handler


def raw(body: bytes) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    return handler


def tagged(n: int, data: dict[str, Any] | None = None) -> list[EventTrigger]:
    datatype = None if data is None else "analytics"
    return [
        EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"t{i}", datatype=datatype, data=data)
        for i in range(n)
    ]


async def statuses(hostile: Hostile, triggers: list[EventTrigger]) -> list[str]:
    async with XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, retry=ONCE) as c:
        report = await c.trigger_events(triggers)
    assert len(hostile.requests("batch")) == 1  # (never sent again)
    assert report.total == len(triggers) == len(report.results)
    return [r.status for r in report.results]


ERROR = {"error": {"httpCode": 400, "details": [{"errorText": "no"}]}}

#: Answers whose items cannot be told apart: the chunk is unknown, never rejected.
UNTRUSTED: dict[str, Answer] = {
    "in reverse order": lambda bodies: [echo(i, b) for i, b in enumerate(bodies)][::-1],
    "an error, then the first trigger's event in the second's place": lambda bodies: [
        ERROR,
        echo(0, bodies[0]),
        echo(2, bodies[2]),
    ],
    "another trigger's tag": lambda bodies: [
        echo(0, bodies[0]),
        {**echo(1, bodies[1]), "tag": "t0"},
        echo(2, bodies[2]),
    ],
    "another camera": lambda bodies: [
        echo(0, bodies[0]),
        {**echo(1, bodies[1]), "source": OTHER_CAMERA},
        echo(2, bodies[2]),
    ],
    "another type": lambda bodies: [
        echo(0, bodies[0]),
        {**echo(1, bodies[1]), "type": str(uuid.uuid4())},
        echo(2, bodies[2]),
    ],
    "one event id for two triggers": lambda bodies: [
        echo(0, bodies[0]),
        echo(0, bodies[1]),
        echo(2, bodies[2]),
    ],
    "one event id for two, in another case": lambda bodies: [
        echo(0, bodies[0]),
        {**echo(0, bodies[1]), "id": echo(0, bodies[1])["id"].upper()},
        echo(2, bodies[2]),
    ],
}


@pytest.mark.parametrize("data", [None, {"zone": "A"}])  # data: the checked path at once
@pytest.mark.parametrize("case", sorted(UNTRUSTED))
async def test_an_answer_that_mixes_up_the_triggers_leaves_the_chunk_unknown(
    hostile: Hostile, case: str, data: dict[str, Any] | None
) -> None:
    hostile.on("batch", answering(UNTRUSTED[case]))
    assert await statuses(hostile, tagged(3, data)) == ["unknown"] * 3


def _bare_camera(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "source": body["source"].rpartition("/")[2].upper()}


#: Answers in forms real servers write: accepted as they are.
FAITHFUL: dict[str, Answer] = {
    "upper-case type": lambda bodies: [
        {**echo(i, b), "type": b["type"].upper()} for i, b in enumerate(bodies)
    ],
    "the camera's bare GUID": lambda bodies: [
        echo(i, _bare_camera(b)) for i, b in enumerate(bodies)
    ],
    "no tag, source or type in the answer": lambda bodies: [
        {"id": echo(i, b)["id"], "time": echo(i, b)["time"]} for i, b in enumerate(bodies)
    ],
    "a null tag": lambda bodies: [{**echo(i, b), "tag": None} for i, b in enumerate(bodies)],
    "an extra field": lambda bodies: [{**echo(i, b), "x": 1} for i, b in enumerate(bodies)],
    "an error among them": lambda bodies: [echo(0, bodies[0]), ERROR, echo(2, bodies[2])],
}


@pytest.mark.parametrize("case", sorted(FAITHFUL))
async def test_answers_in_other_faithful_forms_are_still_accepted(
    hostile: Hostile, case: str
) -> None:
    hostile.on("batch", answering(FAITHFUL[case]))
    expected = ["accepted", "rejected", "accepted"] if "error" in case else ["accepted"] * 3
    assert await statuses(hostile, tagged(3)) == expected


async def test_a_source_and_tag_the_server_filled_in_are_no_contradiction(
    hostile: Hostile,
) -> None:
    hostile.on(
        "batch",
        answering(
            lambda bodies: [
                {**echo(i, b), "source": CAMERA, "tag": "x"} for i, b in enumerate(bodies)
            ]
        ),
    )
    assert await statuses(hostile, [EventTrigger(type=TYPE_ID)] * 2) == ["accepted"] * 2


DEEP = b"[" * 300 + b"1" + b"]" * 300  # JSON that reads, but is deeper than orjson writes
AGAIN = b"[" * 1020 + b"1" + b"]" * 1020  # deeper than repr() goes


def _answer(middle: bytes) -> bytes:
    bodies = [{"type": TYPE_ID, "source": CAMERA, "tag": f"t{i}"} for i in range(3)]
    first, last = (orjson.dumps(echo(i, bodies[i])) for i in (0, 2))
    return b'{"array":[' + first + b"," + middle + b"," + last + b"]}"


@pytest.mark.parametrize("nested", [DEEP, AGAIN], ids=["300 deep", "1020 deep"])
async def test_an_odd_item_nested_deep_leaves_its_chunk_unknown_not_rejected(
    hostile: Hostile, nested: bytes
) -> None:
    hostile.on("batch", raw(_answer(b'{"x":' + nested + b"}")))
    assert await statuses(hostile, tagged(3)) == ["unknown"] * 3


async def test_an_error_item_with_deep_details_rejects_only_its_trigger(hostile: Hostile) -> None:
    hostile.on("batch", raw(_answer(b'{"error":{"httpCode":400,"details":' + DEEP + b"}}")))
    assert await statuses(hostile, tagged(3)) == ["accepted", "rejected", "accepted"]


def test_the_checked_path_refuses_what_the_fast_path_leaves_to_it() -> None:
    """The pure rule, as ``chunk_answered`` applies it to the bodies sent."""
    bodies = [{"type": TYPE_ID, "source": CAMERA, "datatype": None, "tag": f"t{i}"} for i in (0, 1)]
    swapped = {"array": [echo(1, bodies[1]), echo(0, bodies[0])]}
    sent = orjson.dumps(bodies)
    triggers = tagged(2)
    with pytest.raises(ProtocolError, match="not the event of the trigger sent at that place"):
        chunk_answered([0, 1], triggers, swapped, "/x", sent=sent)
    # without the request body (the old call), only the answer's own shape is checked
    assert chunk_answered([0, 1], triggers, swapped, "/x").counts() == (2, 0, 0)
