"""``client.subscribe`` against a WebSocket server that repeats, loses and misroutes on
purpose (tests/hostile_ws.py): replays after a resume, resumes that are not one, answers
that carry events or answer nothing the client asked."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.hostile_ws import TYPE_ID, HostileWS, Socket, event, items, number
from xprotect_events import Event, Gap, ProtocolError, live_gap


def numbers(got: list[Event | Gap]) -> list[int]:
    return [number(item) for item in got]


async def first_session(socket: Socket, *sent: int) -> None:
    """A new session S1 that sends ``sent``, then drops once the client has them all."""
    await socket.open("S1")
    await socket.events(*sent)


async def test_a_resumed_session_replaying_delivered_events_delivers_each_once() -> None:
    # held before: repeats within the id memory were dropped; not tested against a server
    # that replays out of order, within one frame and across frames
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await first_session(socket, 1, 2, 3)
            return
        await socket.answer(await socket.command("startSession"), 200, sessionId="S1")
        await socket.events(3, 1, 2, 4, 4)  # all of them again, out of order, 4 twice
        await socket.events(4, 2, 5)
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        got = await items(live, 5)
    assert numbers(got) == [1, 2, 3, 4, 5]
    assert live.resumes == 1


async def test_a_replayed_event_last_in_a_frame_does_not_move_the_resume_point_back() -> None:
    # broke: the resume point was the last event of the last frame, a repeat included, so
    # the next resume asked the server to replay from an event long delivered
    drop = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await first_session(socket, 1, 2, 3)
            await socket.events(4, 1)  # 1 again, last
            await drop.wait()
            return
        await socket.answer(await socket.command("startSession"), 200, sessionId="S1")
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        assert numbers(await items(live, 4)) == [1, 2, 3, 4]
        drop.set()
        await live.state()  # on the second connection
    assert server.sockets[1].commands[0]["eventId"] == event(4)["id"]


async def test_a_resume_answered_200_with_another_session_id_is_a_new_session() -> None:
    # broke: any 200 counted as resumed, so the new session was never subscribed and the
    # gap (event 2) was never filled from the store
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await first_session(socket, 1)
            return
        await socket.answer(await socket.command("startSession"), 200, sessionId="S9")
        await socket.events(3)
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in (1, 2, 3)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            got = await items(live, 3)
    assert numbers(got) == [1, 2, 3]
    assert (live.session_id, live.resumes) == ("S9", 0)
    assert [c["command"] for c in server.sockets[1].commands[:2]] == [
        "startSession",
        "addSubscription",
    ]


async def test_a_refused_resume_whose_live_events_repeat_the_gap_delivers_each_once() -> None:
    # held before (not tested): events older than the last delivered one, live and in the
    # store's answer too, are dropped by id
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await first_session(socket, 1, 2, 3)
            return
        command = await socket.command("startSession")
        await socket.events(2, 4)  # before the answer: older than the last delivered
        await socket.answer(command, 201, sessionId="S2")
        await socket.answer(await socket.command("addSubscription"), subscriptionId="s2")
        await socket.events(3, 5)
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in (1, 2, 3, 4, 5)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            got = await items(live, 5)
    assert numbers(got) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "body",
    [{}, {"sessionId": ""}, {"sessionId": 42}, {"sessionId": None}, {"sessionId": ["S1"]}],
    ids=["none", "empty", "number", "null", "array"],
)
async def test_a_start_session_answer_without_a_session_id_ends_the_stream(
    body: dict[str, Any],
) -> None:
    # held before (not tested): a ProtocolError from ``async with``, the socket closed
    async def scenario(socket: Socket) -> None:
        await socket.answer(await socket.command("startSession"), 201, **body)
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(ProtocolError, match="sessionId"):
            async with client.subscribe(types=[TYPE_ID]):
                pass
    assert [s.close_code for s in server.sockets] == [1000]


async def test_events_in_the_frame_of_an_answer_are_not_dropped_silently() -> None:
    # broke: a frame that was both an answer and an event batch was taken as the answer
    # alone; its events were lost without a word
    async def scenario(socket: Socket) -> None:
        command = await socket.command("startSession")
        await socket.answer(command, 201, sessionId="S1", events=[event(1)])
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(ProtocolError, match="both"):
            async with asyncio.timeout(10), client.subscribe(types=[TYPE_ID]):
                pass
    assert [s.close_code for s in server.sockets] == [1000]


async def test_events_in_a_get_state_answer_end_the_stream() -> None:
    # broke: the answer was taken, its events dropped; now the command fails and the
    # stream ends, both with the ProtocolError
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        command = await socket.command("getState")
        await socket.answer(command, states=[], events=[event(1)])
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError, match="both"):
            await live.state()
        with pytest.raises(ProtocolError, match="both"):
            await items(live, 1)


async def test_answers_to_no_waiting_command_are_ignored() -> None:
    # held before (not tested): an answer to an id never used, a second answer to an
    # answered command and one to a command that gave up change nothing
    async def scenario(socket: Socket) -> None:
        start = await socket.command("startSession")
        await socket.answer(start, 201, sessionId="S1")
        await socket.answer(start, 500, sessionId="S666")  # answered twice
        await socket.answer(await socket.command("addSubscription"), subscriptionId="s")
        await socket.send({"commandId": 999, "status": 200, "states": [event(7)]})
        await socket.events(1)
        command = await socket.command("getState")
        await socket.answer(command, states=[dict(event(2), stategroupid="g")])
        await socket.answer(command, states=[dict(event(3), stategroupid="g")])
        await socket.events(4)
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        assert numbers(await items(live, 1)) == [1]
        assert numbers(list(await live.state())) == [2]
        assert numbers(await items(live, 1)) == [4]
        assert live.session_id == "S1"


async def test_an_answer_whose_command_id_is_a_boolean_answers_no_command() -> None:
    # broke: ``true`` is an int in Python, so it answered command 1 (startSession); it is
    # a frame the server should not send: the stream ends with ProtocolError
    async def scenario(socket: Socket) -> None:
        command = await socket.command("startSession")
        await socket.send({"commandId": True, "status": 200, "sessionId": "S-bool"})
        await socket.answer(command, 201, sessionId="S1")
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(ProtocolError, match="integer 'commandId'"):
            async with asyncio.timeout(10), client.subscribe(types=[TYPE_ID]):
                pass
    assert [s.close_code for s in server.sockets] == [1000]


async def refused_resume_asking_state(socket: Socket, drop: asyncio.Event) -> dict[str, Any] | None:
    """Connection 1: a session whose state is read and event 1 sent, dropped on ``drop``
    (None). Later ones: the resume refused (201), subscribed again, and the gap's
    ``getState`` command, left for the caller to answer."""
    if socket.number == 1:
        await socket.open("S1")
        await socket.answer(await socket.command("getState"), states=[])
        await socket.events(1)
        await drop.wait()
        return None
    await socket.answer(await socket.command("startSession"), 201, sessionId="S2")
    await socket.answer(await socket.command("addSubscription"), subscriptionId="s2")
    return await socket.command("getState")


async def test_live_events_reach_the_consumer_while_the_gaps_get_state_waits() -> None:
    # broke: after a refused resume the live events were held until the gap's getState
    # was answered (minutes on a large system), so a consumer that kept up still got
    # SlowConsumerError past twice ``buffer``; here the server waits for the consumer
    drop, consumed, stated = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        command = await refused_resume_asking_state(socket, drop)
        if command is None:
            return
        await socket.events(100, stategroupid="g1")
        await socket.events(*range(101, 110))
        await consumed.wait()
        rows = [dict(event(3), stategroupid="g1"), dict(event(4), stategroupid="g2")]
        await socket.answer(command, states=rows)  # 3 is stale: 100 of its group came
        await stated.wait()
        await socket.events(500)
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1), event(2)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            got: list[int] = []
            try:
                async with asyncio.timeout(10):
                    await live.state()
                    async for item in live:
                        got.append(number(item))
                        drop.set()
                        if got[-1] == 109:
                            consumed.set()
                        if got[-1] == 4:
                            stated.set()
                        if got[-1] == 500:
                            break
            finally:  # the server's handler ends, whatever came
                consumed.set()
                stated.set()
    assert got == [1, 2, *range(100, 110), 4, 500]
    assert live.gaps == []


async def test_state_groups_seen_while_the_gaps_get_state_waits_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # memory: a server that sends events of ever new state groups while the gap's getState
    # waits does not grow what the stream keeps past MAX_STATE_KEYS; the rows are then not
    # delivered (which are stale is unknown) and the gap says its types are unknown
    monkeypatch.setattr(live_gap, "MAX_STATE_KEYS", 3)

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.answer(await socket.command("getState"), states=[])
            await socket.events(1)
            return
        await socket.answer(await socket.command("startSession"), 201, sessionId="S2")
        await socket.answer(await socket.command("addSubscription"), subscriptionId="s2")
        command = await socket.command("getState")
        for n in range(100, 105):
            await socket.events(n, stategroupid=f"g{n}")
        await socket.answer(command, states=[dict(event(4), stategroupid="g4")])
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            await live.state()
            got = numbers(await items(live, 7))
    assert got[:6] == [1, 100, 101, 102, 103, 104]
    assert isinstance(live.gaps[0], Gap)
    assert live.gaps[0].types is None


async def test_events_before_a_resumes_answer_are_delivered_after_it_in_order() -> None:
    # held before (not tested for a 200): what comes before the answer is held, then
    # delivered in order, repeats dropped
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await first_session(socket, 1, 2)
            return
        command = await socket.command("startSession")
        await socket.events(2, 3)
        await socket.answer(command, 200, sessionId="S1")
        await socket.events(3, 4)
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        assert numbers(await items(live, 4)) == [1, 2, 3, 4]
    assert live.resumes == 1


@pytest.mark.parametrize("state_answer", [200, 500])
async def test_the_gap_comes_before_the_live_events_that_flow_while_get_state_waits(
    state_answer: int,
) -> None:
    # broke once (while the live events were let through during the gap's getState): the
    # Gap came after them, so a consumer reading it as "here events may be missing" put it
    # in the wrong place; a getState that fails then says state changes may be missing too
    drop, consumed, second_gap = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        command = await refused_resume_asking_state(socket, drop)
        if command is None:
            return
        await socket.events(100, 101)
        await consumed.wait()
        if state_answer == 200:
            await socket.answer(command, states=[])
        else:
            await socket.answer(command, 500, error={"errorText": "busy"})
            await second_gap.wait()  # (500 would otherwise race the second gap)
        await socket.events(500)
        await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1), event(2)]
        async with client.subscribe(types=[TYPE_ID]) as live:
            got: list[Event | Gap] = []
            try:
                async with asyncio.timeout(10):
                    await live.state()
                    async for item in live:
                        got.append(item)
                        drop.set()
                        if number(item) == 101:
                            consumed.set()
                        if isinstance(item, Gap) and len(got) > 3:
                            second_gap.set()
                        if number(item) == 500:
                            break
            finally:
                consumed.set()
                second_gap.set()
    assert numbers(got[:2]) == [1, 2]
    first = got[2]
    assert isinstance(first, Gap)
    assert first.types == (uuid.UUID(TYPE_ID),)
    if state_answer == 200:
        assert numbers(got[3:]) == [100, 101, 500]
    else:  # a second gap, of any type, after the live events that came meanwhile
        assert numbers(got[3:5]) == [100, 101]
        second = got[5]
        assert isinstance(second, Gap)
        assert second.types is None
        assert numbers(got[6:]) == [500]
