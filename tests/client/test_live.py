"""``client.subscribe``: the Events and State WebSocket API against the simulator."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.helpers import FAST_RETRY, next_event, wait_until
from xprotect_events import (
    EventTrigger,
    Gap,
    InvalidInputError,
    Profile,
    ProtocolError,
    Rule,
    XProtectClient,
)
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    LICENSE_PLATE_EVENT,
    MOTION_STARTED,
    MOTION_STOPPED,
    UNSTORED_EVENT,
    USER_DEFINED_EVENT,
    SimClock,
    Simulator,
)
from xprotect_events.testing.seed import MOTION_STATE_GROUP

DOOR = USER_DEFINED_EVENT


def on_camera(type_id: uuid.UUID, camera: int = 0, **kw: object) -> EventTrigger:
    return EventTrigger(type=type_id, source=f"cameras/{CAMERA_IDS[camera]}", **kw)  # type: ignore[arg-type]


async def test_push_within_one_round_trip(sim: Simulator, service_client: XProtectClient) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        requests = sum(sim.stats.requests.values())
        stored = await service_client.trigger_event(on_camera(ANALYTICS_EVENT, data={"a": 1}))
        pushed = await next_event(live)
        assert pushed == stored  # the same Event model as REST, data included
        assert sum(sim.stats.requests.values()) == requests + 1  # the trigger: no polling
        assert sim.live.pushed == 1


async def test_rules_include_exclude(sim: Simulator, service_client: XProtectClient) -> None:
    rules = [Rule.exclude(sources=[CAMERA_IDS[1]])]
    async with service_client.subscribe(
        types=[ANALYTICS_EVENT, LICENSE_PLATE_EVENT], resource_types=["cameras"], rules=rules
    ) as live:
        await service_client.trigger_event(on_camera(ANALYTICS_EVENT, 1))  # excluded source
        await service_client.trigger_event(on_camera(USER_DEFINED_EVENT, 0))  # other type
        wanted = await service_client.trigger_event(on_camera(LICENSE_PLATE_EVENT, 2))
        assert (await next_event(live)).id == wanted.id  # the others were never pushed
        assert sim.live.pushed == 1


async def test_sources_as_the_rest_side_writes_them(
    sim: Simulator, service_client: XProtectClient
) -> None:
    """``cameras/<guid>`` (an event's, a trigger's, a camera's ``source``) was refused."""
    camera = next(c for c in await service_client.list_cameras() if c.id == CAMERA_IDS[2])
    async with service_client.subscribe(
        types=[ANALYTICS_EVENT], sources=[camera.source, f"cameras/{CAMERA_IDS[3]}"]
    ) as live:
        await service_client.trigger_event(on_camera(ANALYTICS_EVENT, 1))  # not subscribed
        wanted = [await service_client.trigger_event(on_camera(ANALYTICS_EVENT, c)) for c in (2, 3)]
        assert [(await next_event(live)).id for _ in wanted] == [w.id for w in wanted]
        assert sim.live.pushed == 2
    assert Rule.include(sources=[f"cameras/{CAMERA_IDS[0]}"]).sources == (CAMERA_IDS[0],)
    with pytest.raises(InvalidInputError, match="source"):
        Rule.include(sources=["cameras/not-a-guid"])


async def test_state_matches_the_triggered_states(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[MOTION_STARTED, MOTION_STOPPED]) as live:
        before = await live.state()
        assert {e.type for e in before} == {MOTION_STOPPED}
        assert len(before) == len(CAMERA_IDS)
        started = await service_client.trigger_event(on_camera(MOTION_STARTED, 2))
        pushed = await next_event(live)
        assert pushed.id == started.id
        assert pushed.state_group_id == MOTION_STATE_GROUP
        states = {e.source_id: e for e in await live.state()}
        assert states[CAMERA_IDS[2]].id == started.id
        assert states[CAMERA_IDS[2]].type == MOTION_STARTED
        assert {states[c].type for c in CAMERA_IDS if c != CAMERA_IDS[2]} == {MOTION_STOPPED}
        assert all(e.state_group_id == MOTION_STATE_GROUP for e in states.values())


async def test_state_of_a_user_covers_what_it_may_see(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with (
        XProtectClient(sim.url, username="operator", password="operator", retry=FAST_RETRY) as op,
        op.subscribe(types=[MOTION_STOPPED]) as live,
    ):
        assert {e.source_id for e in await live.state()} == set(CAMERA_IDS[:2])


async def test_commands_correlate_while_events_flow(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT, MOTION_STOPPED]) as live:
        sim.live.hold_state()
        state = asyncio.create_task(live.state())
        event = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == event.id
        assert not state.done()  # the answer is held: the event came first
        handle = await live.add_subscription([Rule.include(types=[LICENSE_PLATE_EVENT])])
        sim.live.release_state()
        assert len(await state) == len(CAMERA_IDS)
        plate = await service_client.trigger_event(on_camera(LICENSE_PLATE_EVENT))
        assert (await next_event(live)).id == plate.id
        await live.remove_subscription(handle)


async def test_removing_a_subscription_the_server_does_not_have_forgets_it(
    sim: Simulator, service_client: XProtectClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        handle = await live.add_subscription([Rule.include(types=[LICENSE_PLATE_EVENT])])
        for session in sim.live.sessions.values():
            session.subscriptions.clear()  # the server forgot it
        with caplog.at_level(logging.WARNING, "xprotect_events.live"):
            await live.remove_subscription(handle)  # 404: it is gone, as asked
        assert "did not have subscription" in caplog.text
        assert "status 404: Subscription not found" in caplog.text  # the server's words
        with pytest.raises(InvalidInputError, match="no subscription"):
            await live.remove_subscription(handle)


async def test_resume_after_a_drop_loses_and_repeats_nothing(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        first = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == first.id
        sim.live.pause_upgrades()
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        report = await service_client.trigger_events([on_camera(ANALYTICS_EVENT)] * 5)
        sim.live.resume_upgrades()
        got = [(await next_event(live)).id for _ in range(5)]
        assert got == [r.event.id for r in report.results if r.event]
        after = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == after.id
        assert (live.reconnects, live.resumes, live.gaps) == (1, 1, [])


async def test_refused_resume_fills_stored_types_and_reports_a_gap(
    sim: Simulator, service_client: XProtectClient, caplog: pytest.LogCaptureFixture
) -> None:
    gaps: list[Gap] = []
    async with service_client.subscribe(
        types=[USER_DEFINED_EVENT, UNSTORED_EVENT],
        stored_types=[USER_DEFINED_EVENT],
        on_gap=gaps.append,
    ) as live:
        door = EventTrigger(
            type=USER_DEFINED_EVENT, source=f"userDefinedEvents/{USER_DEFINED_EVENT}"
        )
        bell = EventTrigger(type=UNSTORED_EVENT)
        first = await service_client.trigger_event(door)
        assert (await next_event(live)).id == first.id
        sim.live.refuse_resumes = True
        sim.live.pause_upgrades()
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        missed = [await service_client.trigger_event(t) for t in (door, bell, door)]
        sim.live.resume_upgrades()
        with caplog.at_level(logging.WARNING, "xprotect_events.live"):
            filled = [await next_event(live), await next_event(live)]
            gap = await anext(live)
        assert [e.id for e in filled] == [missed[0].id, missed[2].id]  # the bell is lost
        assert isinstance(gap, Gap)
        assert gaps == [gap] == live.gaps
        assert gap.types == (UNSTORED_EVENT,)
        assert gap.filled == 2
        assert gap.start == first.time
        assert "could not be resumed" in caplog.text
        later = await service_client.trigger_event(bell)  # the new session is subscribed
        assert (await next_event(live)).id == later.id
        assert live.resumes == 0


async def test_refused_resume_with_every_type_stored_reports_no_gap(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT], stored_types="all") as live:
        sim.live.refuse_resumes = True
        sim.live.pause_upgrades()
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        missed = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        sim.live.resume_upgrades()
        assert (await next_event(live)).id == missed.id
        live_one = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == live_one.id
        assert live.gaps == []


async def test_refused_resume_reads_the_state_again(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[MOTION_STARTED, MOTION_STOPPED]) as live:
        await live.state()
        sim.live.refuse_resumes = True
        sim.live.pause_upgrades()
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        started = await service_client.trigger_event(on_camera(MOTION_STARTED, 1))
        sim.live.resume_upgrades()
        assert (await next_event(live)).id == started.id  # from the store, not twice
        gap = await anext(live)
        assert isinstance(gap, Gap)
        assert gap.types == (MOTION_STARTED, MOTION_STOPPED)  # not known to be stored
        stopped = await service_client.trigger_event(on_camera(MOTION_STOPPED, 1))
        assert (await next_event(live)).id == stopped.id


@pytest.fixture
async def short_tokens() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock(), token_lifetime=60, resume_window=600) as sim:
        yield sim


async def test_token_renewed_across_a_reconnect_after_expiry(short_tokens: Simulator) -> None:
    sim = short_tokens
    async with (
        XProtectClient(
            sim.url,
            client_id="service",
            client_secret="service-secret",
            retry=FAST_RETRY,
            clock=sim.clock.time,
        ) as client,
        client.subscribe(types=[ANALYTICS_EVENT]) as live,
    ):
        sim.clock.advance(120)  # the token expires; the open socket is not cut [forum]
        event = await client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == event.id
        assert sim.stats.tokens_issued == 2
        sim.live.drop_connections()
        sim.clock.advance(120)
        event = await client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == event.id
        assert sim.live.upgrades_refused == 0  # renewed before the reconnect
        assert live.resumes == 1
        assert sim.stats.tokens_issued == 3


async def test_refused_upgrade_renews_once_and_retries(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        issued = sim.stats.tokens_issued
        sim.revoke_tokens()
        sim.live.drop_connections()
        await wait_until(lambda: live.reconnects == 1 and sim.live.connections == 1, "reconnected")
        assert sim.live.upgrades_refused == 1
        assert sim.stats.tokens_issued == issued + 1
        event = await service_client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == event.id


async def test_token_in_the_authenticate_command(sim: Simulator) -> None:
    async with (
        XProtectClient(
            sim.url,
            client_id="service",
            client_secret="service-secret",
            retry=FAST_RETRY,
            profile=Profile(ws_auth="command"),
        ) as client,
        client.subscribe(types=[ANALYTICS_EVENT]) as live,
    ):
        event = await client.trigger_event(on_camera(ANALYTICS_EVENT))
        assert (await next_event(live)).id == event.id


async def test_state_over_the_default_frame_limit(
    sim: Simulator, service_client: XProtectClient
) -> None:
    for i in range(20_000):  # about 5 MB of states: over aiohttp's 4 MiB default
        sim.add_camera(f"Camera {i}")
    async with service_client.subscribe(types=[MOTION_STOPPED]) as live:
        assert len(await live.state()) == 20_000 + len(CAMERA_IDS)
    async with service_client.subscribe(types=[MOTION_STOPPED], max_frame_size=1 << 20) as live:
        with pytest.raises(ProtocolError, match="max_frame_size"):
            await live.state()
        event = await service_client.trigger_event(on_camera(MOTION_STOPPED))
        assert (await next_event(live)).id == event.id  # the stream reconnected


async def test_a_slow_consumer_holds_the_server_back(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT], buffer=5) as live:
        report = await service_client.trigger_events([on_camera(ANALYTICS_EVENT)] * 200)
        await wait_until(lambda: sim.live.pushed == 200, "every event was pushed")
        await wait_until(lambda: live.buffered == 5, "the buffer is full")
        got = [(await next_event(live)).id for _ in range(200)]
        assert got == [r.event.id for r in report.results if r.event]
        assert live.buffered == 0


async def test_concurrent_subscription_adds_get_distinct_handles(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        adds = [
            live.add_subscription([Rule.include(types=[t])])
            for t in (LICENSE_PLATE_EVENT, MOTION_STOPPED)
        ]
        first, second = await asyncio.gather(*adds)
        assert first != second
        await live.remove_subscription(first)  # the other one is still the stream's
        plate = await service_client.trigger_event(on_camera(LICENSE_PLATE_EVENT))
        stopped = await service_client.trigger_event(on_camera(MOTION_STOPPED))
        assert (await next_event(live)).id == stopped.id != plate.id
        await live.remove_subscription(second)


async def test_a_stream_used_without_async_with_says_so_instead_of_waiting_for_ever(
    sim: Simulator, service_client: XProtectClient
) -> None:
    """``async for item in client.subscribe(...)`` (no ``async with``) is the natural slip
    of one who knows ``stream_events``: it must fail at once, as an event session does
    ("enter the session first"), not wait for a connection nobody opens."""
    calls = {
        "async for": lambda live: anext(aiter(live)),
        "state": lambda live: live.state(),
        "add_subscription": lambda live: live.add_subscription([Rule.include()]),
    }
    for name, call in calls.items():
        live = service_client.subscribe(types=[ANALYTICS_EVENT])
        with pytest.raises(RuntimeError, match=r"async with client\.subscribe"):
            await asyncio.wait_for(call(live), 10)  # a deadline: it waited for ever
        assert sum(sim.stats.requests.values()) == 0, name  # nothing was sent either
