"""``trigger_event`` (one ``POST /events``) checks that the 202 answer is the event of the
trigger sent, as the batch path does, over loopback HTTP (tests/hostile.py): an answer
naming another type, tag or camera is a :class:`ProtocolError`, never this trigger's event.
The forms real servers write (upper-case GUIDs, a bare camera GUID, a source or tag the
server filled in, fields left out) are still accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.hostile import CAMERA, PASSWORD, TYPE_ID, USERNAME, Hostile, echo
from xprotect_events import Event, EventTrigger, ProtocolError, RetryPolicy, XProtectClient

ONCE = RetryPolicy(attempts=1)
OTHER_CAMERA = "cameras/0d9e3c5a-1b2f-4c6d-8e7f-a1b2c3d4e5f6"
TRIGGER = EventTrigger(type=TYPE_ID, source=CAMERA, tag="mine")

#: What the server answers, from the trigger's body.
Answer = Callable[[dict[str, Any]], dict[str, Any]]


def answering(event: Answer) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        return web.json_response({"data": event(body)}, status=202)

    return handler


async def trigger(hostile: Hostile, sent: EventTrigger = TRIGGER) -> Event:
    async with XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, retry=ONCE) as c:
        try:
            return await c.trigger_event(sent)
        finally:
            assert len(hostile.requests("trigger")) == 1  # (never sent again)


OTHER: dict[str, Answer] = {
    "another type": lambda b: {**echo(1, b), "type": str(uuid.uuid4())},
    "another tag": lambda b: {**echo(1, b), "tag": "someone else's"},
    "another camera": lambda b: {**echo(1, b), "source": OTHER_CAMERA},
    "another camera, bare": lambda b: {**echo(1, b), "source": OTHER_CAMERA[8:].upper()},
}


@pytest.mark.parametrize("case", sorted(OTHER))
async def test_an_answer_naming_another_trigger_is_a_protocol_error(
    hostile: Hostile, case: str
) -> None:
    hostile.on("trigger", answering(OTHER[case]))
    with pytest.raises(ProtocolError, match="not the event of the trigger sent") as caught:
        await trigger(hostile)
    assert str(caught.value.path).endswith("/events")


NOT_NAMED = ("id", "time", "type", "datatype")
FAITHFUL: dict[str, Answer] = {
    "the same": lambda b: echo(1, b),
    "upper-case type": lambda b: {**echo(1, b), "type": b["type"].upper()},
    "the camera's bare GUID": lambda b: {**echo(1, b), "source": CAMERA[8:].upper()},
    "no tag nor source": lambda b: {k: v for k, v in echo(1, b).items() if k in NOT_NAMED},
    "a null tag": lambda b: {**echo(1, b), "tag": None},
}


@pytest.mark.parametrize("case", sorted(FAITHFUL))
async def test_answers_in_faithful_forms_are_accepted(hostile: Hostile, case: str) -> None:
    hostile.on("trigger", answering(FAITHFUL[case]))
    event = await trigger(hostile)
    assert event.id == uuid.UUID(echo(1, {})["id"])


async def test_a_source_and_tag_the_server_filled_in_are_no_contradiction(
    hostile: Hostile,
) -> None:
    hostile.on("trigger", answering(lambda b: {**echo(1, b), "source": CAMERA, "tag": "x"}))
    event = await trigger(hostile, EventTrigger(type=TYPE_ID))
    assert (event.source, event.tag) == (CAMERA, "x")
