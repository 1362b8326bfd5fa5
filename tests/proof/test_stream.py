"""Proof: an event stream delivers every matching event exactly once, in time order, while
its reads fail in every way the simulator can fail them.

A producer triggers events (batch POSTs over HTTP and ``sim.store_events``), four in five of
them of the type the stream asks for, while a consumer reads an event session. 5% of the
session reads fault (seeded), and each kind is also scripted once so that every kind shows up
in the reduced run; in the middle the simulator restarts and the token expires (the
client's own clock does not know: the server says 401). The consumer stops at a sentinel
event stored last; what it got must equal, id for id, the matching events stored, in time
order.

Sizes: 2,000 events in the normal run, 20,000 under ``pytest --soak``. Waits are on
conditions with deadlines; nothing sleeps to win a race.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import EVERY_FAULT as READ_FAULTS
from tests.helpers import FAST_RETRY, quiet, wait_until
from xprotect_events import EventTrigger, XProtectClient
from xprotect_events.errors import UnauthorizedError
from xprotect_events.models import Event
from xprotect_events.sessions import EventSession
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    LICENSE_PLATE_EVENT,
    Fault,
    SimClock,
    Simulator,
)

READ = "GET /api/rest/v1/eventSessions/{id}"
CREATE = "POST /api/rest/v1/eventSessions"
#: Fixed; PROOF_SEED=n in the environment explores another one.
SEED = int(os.environ.get("PROOF_SEED", "20240501"))
TOKEN_LIFETIME = 300.0
#: Client read timeout, and the delay that outlasts it (used sparingly: one kind of eleven).
CLIENT_TIMEOUT = 0.5
DEADLINE = 60.0
CAMERAS = [f"cameras/{c}" for c in CAMERA_IDS]
SENTINEL = "END"

KINDS = {f.kind for f in READ_FAULTS}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        clock=SimClock(), token_lifetime=TOKEN_LIFETIME, session_idle_timeout=60.0
    ) as simulator:
        yield simulator


def service_client(sim: Simulator, **options: Any) -> XProtectClient:
    """A service client on its own monotonic clock (expiry shows as a 401)."""
    return XProtectClient(
        sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY, **options
    )


class Producer:
    """Triggers events in bursts, by batch POST or straight into the store; every fifth is
    of a type the stream does not ask for."""

    def __init__(self, sim: Simulator, client: XProtectClient, seed: int) -> None:
        self.sim = sim
        self.client = client
        self.rng = random.Random(seed)
        self.made = 0
        #: Matching events surely stored (a batch chunk cut by the restart may add more).
        self.matching = 0

    def triggers(self, count: int) -> list[EventTrigger]:
        out = []
        for i in range(self.made, self.made + count):
            kind = LICENSE_PLATE_EVENT if i % 5 == 4 else ANALYTICS_EVENT
            out.append(EventTrigger(type=kind, source=CAMERAS[i % 4], tag=f"e{i}"))
        self.made += count
        return out

    async def burst(self) -> None:
        triggers = self.triggers(self.rng.randint(1, 120))
        matching = [t for t in triggers if t.type == ANALYTICS_EVENT]
        if self.rng.random() < 0.5:
            report = await self.client.trigger_events(triggers, chunk_size=50, concurrency=2)
            self.matching += sum(
                r.status == "accepted" and t.type == ANALYTICS_EVENT
                for r, t in zip(report.results, triggers, strict=True)
            )
        else:
            assert self.sim.store_events(triggers) == len(triggers)
            self.matching += len(matching)


async def consume(client: XProtectClient, got: list[Event], sessions: list[EventSession]) -> None:
    """Read the stream until the sentinel; every change lands in ``got`` (deleted: none)."""
    async with client.event_session(
        types=[ANALYTICS_EVENT], max_size=25, poll_interval=0.01
    ) as session:
        sessions.append(session)
        for _ in range(10):
            try:
                async for change in session:
                    assert change.kind == "new", change
                    got.append(change.event)
                    if change.event.tag == SENTINEL:
                        return
            except UnauthorizedError:
                # Two revocations within one round trip (the random faults can draw that):
                # the documented limit of renew-once; iterating again resumes.
                continue
        raise AssertionError("the stream kept refusing its renewed token")


async def stored_matching(client: XProtectClient) -> list[Event]:
    """The stored events of the stream's type, oldest first (the listing's time order)."""
    return [e async for e in client.list_events(page_size=2000) if e.type == ANALYTICS_EVENT]


def assert_delivered_exactly_once_in_order(got: list[Event], stored: list[Event]) -> None:
    delivered = [e.id for e in got]
    assert len(delivered) == len(set(delivered)), "an event was delivered twice"
    expected = [e.id for e in stored]
    missing = set(expected) - set(delivered)
    extra = set(delivered) - set(expected)
    assert not missing, f"{len(missing)} events were never delivered"
    assert not extra, f"{len(extra)} events were delivered that are not stored/matching"
    assert delivered == expected, "delivered out of time order"
    times = [e.time for e in got]
    assert times == sorted(times)


def _mixed_script(every: int) -> list[Fault | None]:
    """One fault of each kind, ``every`` reads apart."""
    steps: list[Fault | None] = []
    for fault in READ_FAULTS:
        steps += [None] * (every - 1) + [fault]
    return steps


async def test_stream_delivers_each_event_once_in_order_under_faults(
    sim: Simulator, soak: bool, caplog: pytest.LogCaptureFixture
) -> None:
    total = 20_000 if soak else 2_000
    started = time.perf_counter()
    sim.faults.script(READ, _mixed_script(every=7))
    sim.faults.random(READ, 0.05, READ_FAULTS, seed=SEED)

    got: list[Event] = []
    sessions: list[EventSession] = []
    async with (
        service_client(sim, timeout=CLIENT_TIMEOUT) as client,
        service_client(sim) as producer_client,
    ):
        consumer = asyncio.create_task(consume(client, got, sessions))
        # The creates that resume a lost session fail too (not the one on entry: that is
        # raised to the caller, by design). No long delay here: a create whose answer
        # never comes leaves a session the client cannot know, until it is idle.
        await wait_until(lambda: sim.stats.requests[CREATE] >= 1, "the stream is open")
        create_faults = [f for f in READ_FAULTS if f.kind != "delay"]
        sim.faults.random(CREATE, 0.1, create_faults, seed=SEED + 1)
        producer = Producer(sim, producer_client, SEED)
        disruptions: list[tuple[float, Callable[[], Any]]] = [
            (1 / 3, sim.restart),
            (2 / 3, lambda: sim.clock.advance(TOKEN_LIFETIME + 1)),  # token expired
        ]
        while producer.made < total:
            # Keep the stream live rather than one long backlog: at most 150 behind.
            await wait_until(
                lambda: producer.matching - len(got) < 150, "the consumer keeps up", watch=consumer
            )
            await producer.burst()
            if disruptions and producer.made >= disruptions[0][0] * total:
                await wait_until(lambda: len(got) > 0, "the stream runs", watch=consumer)
                outcome = disruptions.pop(0)[1]()
                if asyncio.iscoroutine(outcome):
                    await outcome
        await quiet(sim)
        sim.store_events([EventTrigger(type=ANALYTICS_EVENT, source=CAMERAS[0], tag=SENTINEL)])
        await asyncio.wait_for(consumer, DEADLINE)

        sim.faults.clear()
        stored = await stored_matching(client)
        await quiet(sim)
        # Only creates cut after the server acted (reset_after, truncate) leave a session.
        orphans = sim.sessions_alive
        assert orphans <= sim.faults.injected["reset_after"] + sim.faults.injected["truncate"]
        tokens = client.tokens.renewals

    assert_delivered_exactly_once_in_order(got, stored)
    assert len(stored) >= 0.8 * total * 0.9
    injected = dict(sim.faults.injected)
    assert set(injected) == KINDS, f"not every kind was injected: {injected}"
    recoveries = sessions[0].recoveries
    assert recoveries >= injected["drop_session"]
    assert "no answer in time" in caplog.text  # a delayed read outlasted the client
    print(
        f"\nstream proof: {producer.made} triggered, {len(stored)} matching delivered, "
        f"{sim.stats.requests[READ]} reads, faults {sorted(injected.items())}, "
        f"{sim.stats.requests[CREATE]} creates, {recoveries} recoveries, {orphans} orphaned, "
        f"{tokens} tokens, {time.perf_counter() - started:.1f} s"
    )


async def test_each_kind_on_its_own_loses_and_repeats_nothing(sim: Simulator) -> None:
    """Every kind, on every third read, across a backlog that ties on one timestamp and
    then live events: a denser, kind-by-kind version of the proof above."""
    async with service_client(sim, timeout=CLIENT_TIMEOUT) as client:
        for number, fault in enumerate(READ_FAULTS):
            if fault.kind == "delay":
                continue  # the main proof has it; here it would only add seconds
            sim.faults.clear()
            when = sim.clock.now()
            tag = f"k{number}"
            sim.store_events(
                {"type": ANALYTICS_EVENT, "source": CAMERAS[0], "time": when, "tag": tag}
                for _ in range(150)
            )
            sim.faults.script(READ, [None, None, fault] * 8)
            got: list[Event] = []
            async with client.event_session(
                types=[ANALYTICS_EVENT],
                max_size=40,
                poll_interval=0.01,
                since=when - timedelta(microseconds=1),
            ) as session:
                async for change in session:
                    got.append(change.event)
                    if len(got) == 150:
                        sim.store_events(
                            {"type": ANALYTICS_EVENT, "source": CAMERAS[1], "tag": tag}
                            for _ in range(90)
                        )
                    if len(got) >= 240:
                        break
            stored = [e for e in await stored_matching(client) if e.tag == tag]
            assert_delivered_exactly_once_in_order(got, stored)
            assert sim.faults.injected[fault.kind] >= 1, fault
            await quiet(sim)
            assert sim.sessions_alive == 0, fault


# ---------------------------------------------------------------------- found by the proof


@pytest.mark.parametrize(
    "second",
    [Fault.drop_session(), Fault.reset_before(), Fault.status(500)],
    ids=lambda f: f.kind,
)
async def test_a_session_lost_again_on_its_first_read_is_resumed_again(
    sim: Simulator, second: Fault
) -> None:
    """Found by the soak run: a new session whose very first read got 404 (dropped, or lost
    in a restart) was taken for "the server has no event sessions" and raised to the
    consumer. Here a failed read is followed by a 404 on the first read of the session
    created to resume it."""
    sim.store_events({"type": ANALYTICS_EVENT, "source": CAMERAS[0]} for _ in range(60))
    sim.faults.script(READ, [None, second, Fault.drop_session(), None, Fault.drop_session()])
    got: list[Event] = []
    async with service_client(sim) as client:
        async with client.event_session(max_size=25, poll_interval=0.01) as session:
            async for change in session:
                got.append(change.event)
                if len(got) == 60:
                    break
        assert_delivered_exactly_once_in_order(got, await stored_matching(client))
    assert session.recoveries == 3
    assert sim.sessions_alive == 0
