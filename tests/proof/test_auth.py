"""Proof: tokens revoked or expired in the middle of a batch, a stream, or a hundred
concurrent calls are renewed once each, and the work completes.

Revocation comes two ways (``sim.revoke_tokens()`` from the test, ``Fault.revoke_token`` on a
request); expiry comes from moving the simulator's clock past the token lifetime, with the
client on the simulator's clock (it renews ahead of time) and on its own monotonic clock
(it learns from the 401). Every test bounds the token requests the simulator saw:
at most one per revocation and expiry, plus the first login, plus one.

Sizes: batches of 3,000 and streams of 1,500 events in the normal run; 20,000 and 10,000
under ``pytest --soak``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import FAST_RETRY, wait_until
from xprotect_events import EventTrigger, XProtectClient
from xprotect_events.errors import ServerError, UnauthorizedError
from xprotect_events.models import Event
from xprotect_events.sessions import EventSession
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    USER_DEFINED_EVENT,
    Fault,
    SimClock,
    Simulator,
)

BATCH = "POST /api/rest/v1/events/batch"
READ = "GET /api/rest/v1/eventSessions/{id}"
IDP = "POST /IDP/connect/token"
TOKEN_LIFETIME = 300.0
DEADLINE = 60.0
CAMERAS = [f"cameras/{c}" for c in CAMERA_IDS]
CLOCKS = ["sim-clock", "own-clock"]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock(), token_lifetime=TOKEN_LIFETIME) as simulator:
        yield simulator


def make_client(sim: Simulator, clock: str, *, service: bool = False) -> XProtectClient:
    """A client whose token clock is the simulator's (``sim-clock``) or its own."""
    options: dict[str, Any] = {"retry": FAST_RETRY}
    if clock == "sim-clock":
        options["clock"] = sim.clock.time
    if service:
        options.update(client_id="service", client_secret="service-secret")
    else:
        options.update(username="admin", password="admin")
    return XProtectClient(sim.url, **options)


class Disruptions:
    """Revokes every token or expires it (clock past the lifetime), alternately."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.revoked = 0
        self.expired = 0

    def __call__(self) -> None:
        if (self.revoked + self.expired) % 2 == 0:
            self.sim.revoke_tokens()
            self.revoked += 1
        else:
            self.sim.clock.advance(TOKEN_LIFETIME + 1)
            self.expired += 1

    @property
    def total(self) -> int:
        return self.revoked + self.expired


def doors(count: int, prefix: str) -> list[EventTrigger]:
    return [
        EventTrigger(type=USER_DEFINED_EVENT, source=CAMERAS[i % 2], tag=f"{prefix}{i}")
        for i in range(count)
    ]


async def stored_tags(sim: Simulator) -> list[str]:
    async with make_client(sim, "own-clock", service=True) as client:
        return [e.tag or "" async for e in client.list_events(page_size=2000)]


async def drain(session: EventSession, into: list[Event]) -> None:
    async for change in session:
        into.append(change.event)


# --------------------------------------------------------------------------- batches

#: Disruptions are spaced so that no one request meets two of them (chunks): a request
#: whose token was refused is renewed once and sent again; a second refusal of the same
#: request is an error by design (see test_two_refusals_of_one_request_are_not_retried).
SPACING = 3 * 8


@pytest.mark.parametrize("clock", CLOCKS)
async def test_a_batch_completes_across_revocations_and_expiries(
    sim: Simulator, soak: bool, clock: str
) -> None:
    total = 20_000 if soak else 3_000
    chunk = 20
    every = max(total // 6, SPACING * chunk)  # up to five disruptions, chunks in flight
    disrupt = Disruptions(sim)

    async def triggers() -> AsyncIterator[EventTrigger]:
        for i, trigger in enumerate(doors(total, "a")):
            if i and i % every == 0 and disrupt.total < 5:
                disrupt()  # the chunks sent before this one are in flight or done
            yield trigger

    async with make_client(sim, clock) as client:
        await client.login()
        before = sim.stats.token_requests
        report = await client.trigger_events(triggers(), chunk_size=chunk, concurrency=8)
        renewals = client.tokens.renewals
    requests = sim.stats.token_requests - before

    assert disrupt.total == 5
    assert report.accepted == total, report.failures[:3]
    tags = await stored_tags(sim)
    assert sorted(tags) == sorted(f"a{i}" for i in range(total))
    assert 1 <= requests <= disrupt.total + 1, requests
    assert renewals == requests + 1
    assert sim.stats.requests[BATCH] <= total // chunk + 8 * disrupt.total


@pytest.mark.parametrize("clock", CLOCKS)
async def test_revocations_by_fault_mid_batch_are_renewed_once_each(
    sim: Simulator, clock: str
) -> None:
    sim.faults.script(BATCH, ([None] * SPACING + [Fault.revoke_token()]) * 3)
    async with make_client(sim, clock) as client:
        report = await client.trigger_events(doors(3_000, "f"), chunk_size=25, concurrency=8)
    assert sim.faults.injected["revoke_token"] == 3
    assert report.accepted == 3_000, report.failures[:3]
    assert sim.stats.events_stored_total == 3_000
    assert sim.stats.token_requests <= 3 + 2


async def test_two_refusals_of_one_request_are_not_retried(sim: Simulator) -> None:
    """The limit of the renew-once rule: a chunk whose renewed token is refused too (two
    revocations within one request) is rejected, did not land, and sending the rejected
    triggers again completes the work; a stream raises and resumes when iterated again."""
    sim.faults.script(BATCH, [Fault.revoke_token(), Fault.revoke_token()])
    sent = doors(300, "r")
    async with make_client(sim, "own-clock") as client:
        report = await client.trigger_events(sent, chunk_size=100, concurrency=1)
        rejected = [r for r in report.results if r.status == "rejected"]
        assert [r.index for r in rejected] == list(range(100))
        assert all(isinstance(r.error, UnauthorizedError) for r in rejected)
        again = await client.trigger_events([sent[r.index] for r in rejected])
        assert again.accepted == 100
    assert sorted(await stored_tags(sim)) == sorted(t.tag or "" for t in sent)

    sim.faults.script(READ, [None, Fault.revoke_token(), Fault.revoke_token()])
    got: list[Event] = []
    async with make_client(sim, "own-clock", service=True) as client:
        async with client.event_session(max_size=100, poll_interval=0.01) as session:
            with pytest.raises(UnauthorizedError):
                await drain(session, got)
            async for change in session:  # iterating again resumes where it stopped
                got.append(change.event)
                if len(got) == 300:
                    break
        listed = [e async for e in client.list_events(page_size=2000)]
    assert [e.id for e in got] == [e.id for e in listed]
    assert sim.sessions_alive == 0


# --------------------------------------------------------------------------- streams


@pytest.mark.parametrize("clock", CLOCKS)
async def test_a_stream_delivers_everything_across_revocations_and_expiries(
    sim: Simulator, soak: bool, clock: str
) -> None:
    """Bursts of events; between bursts the token is revoked (by the test, or by a fault on
    the next read) or expires. The next disruption comes only after the stream delivered
    the next burst, so each one is met by a fresh request."""
    bursts = 12
    total = (10_000 if soak else 1_500) // bursts * bursts
    disrupt = Disruptions(sim)
    got: list[Event] = []

    async def consume(client: XProtectClient) -> None:
        async with client.event_session(
            types=[ANALYTICS_EVENT], max_size=50, poll_interval=0.01
        ) as session:
            async for change in session:
                got.append(change.event)
                if len(got) == total:
                    return

    async with make_client(sim, clock, service=True) as client:
        await client.login()
        before = sim.stats.token_requests
        consumer = asyncio.create_task(consume(client))
        stored = 0
        for burst in range(bursts):
            stored += sim.store_events(
                {"type": ANALYTICS_EVENT, "source": CAMERAS[i % 4], "tag": f"s{burst}-{i}"}
                for i in range(total // bursts)
            )
            await wait_until(
                lambda stored=stored: len(got) >= stored, "the burst arrived", watch=consumer
            )
            if burst % 3 == 2:
                sim.faults.add(READ, Fault.revoke_token())
            else:
                disrupt()
        await asyncio.wait_for(consumer, DEADLINE)
        listed = [e async for e in client.list_events(page_size=2000)]

    assert [e.id for e in got] == [e.id for e in listed]
    revocations = disrupt.revoked + sim.faults.injected["revoke_token"]
    assert sim.faults.injected["revoke_token"] == bursts // 3 - 1  # the last one is unread
    requests = sim.stats.token_requests - before
    assert 1 <= requests <= revocations + disrupt.expired + 1, requests
    assert sim.sessions_alive == 0


# --------------------------------------------------------------------------- no storms


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("how", ["revoked", "expired"])
async def test_a_hundred_concurrent_callers_renew_once(
    sim: Simulator, clock: str, how: str
) -> None:
    async with make_client(sim, clock) as client:
        await client.login()
        for round_ in range(3):
            before = sim.stats.token_requests
            if how == "revoked":
                sim.revoke_tokens()
            else:
                sim.clock.advance(TOKEN_LIFETIME + 1)
            cameras = await asyncio.gather(*(client.list_cameras() for _ in range(100)))
            assert all(len(c) == 4 for c in cameras)
            assert sim.stats.token_requests - before == 1, round_


@pytest.mark.parametrize("clock", CLOCKS)
async def test_everything_at_once_stays_within_the_bound(
    sim: Simulator, soak: bool, clock: str
) -> None:
    """A batch (concurrency 8), a stream of that batch's events and rounds of 100
    concurrent callers share one client while tokens are revoked and expire; each piece
    of work completes. A disruption waits until every request in flight at the previous
    one has finished (a round of callers, ``SPACING`` batch POSTs, streamed events)."""
    total = 20_000 if soak else 3_000
    started = time.perf_counter()
    disrupt = Disruptions(sim)
    got: list[Event] = []
    rounds = [0]

    async def consume(client: XProtectClient) -> None:
        async with client.event_session(
            types=[USER_DEFINED_EVENT], max_size=100, poll_interval=0.01
        ) as session:
            async for change in session:
                got.append(change.event)
                if len(got) == total:
                    return

    async def callers(client: XProtectClient, batch: asyncio.Task[Any]) -> int:
        calls = 0
        while not batch.done() or rounds[0] < 3:
            pages = await asyncio.gather(*(client.list_cameras() for _ in range(100)))
            calls += len(pages)
            rounds[0] += 1
        return calls

    async with make_client(sim, clock, service=True) as client:
        await client.login()
        before = sim.stats.token_requests
        stream = asyncio.create_task(consume(client))
        await wait_until(lambda: sim.stats.requests[READ] > 0, "the stream runs")
        batch = asyncio.create_task(
            client.trigger_events(doors(total, "b"), chunk_size=20, concurrency=8)
        )
        calls = asyncio.create_task(callers(client, batch))
        for _ in range(4):
            posts, round_, streamed = sim.stats.requests[BATCH], rounds[0], len(got)

            def moved_on(
                posts: int = posts, round_: int = round_, streamed: int = streamed
            ) -> bool:
                return batch.done() or (
                    sim.stats.requests[BATCH] >= posts + SPACING
                    and rounds[0] >= round_ + 2
                    and len(got) > streamed
                )

            await wait_until(
                moved_on,
                "everything moved on",
                watch=calls,
            )
            if batch.done():
                break
            disrupt()
        report, _, done = await asyncio.wait_for(asyncio.gather(batch, stream, calls), DEADLINE)

    assert report.accepted == total, report.failures[:3]
    assert sorted(e.tag or "" for e in got) == sorted(f"b{i}" for i in range(total))
    assert done >= 300
    requests = sim.stats.token_requests - before
    assert disrupt.total >= 2
    assert requests <= disrupt.total + 1, (requests, disrupt.total)
    print(
        f"\nauth, everything at once ({clock}): {total} triggers streamed, {done} calls, "
        f"{disrupt.revoked} revoked, {disrupt.expired} expired, {requests} token requests, "
        f"{time.perf_counter() - started:.1f} s"
    )


@pytest.mark.parametrize("callers", [10, 100])
async def test_an_identity_provider_down_during_renewal_is_not_stormed(
    sim: Simulator, callers: int
) -> None:
    """Callers find their token revoked while the identity provider fails. Before the fix
    each caller waiting behind the renewal lock tried the grant again in turn: 100 callers
    made 1,600 token requests (36 s). Now the waiters share the failed attempt: the count
    is the transport's attempts (each call's, times the grant's), whatever the callers."""
    async with make_client(sim, "own-clock") as client:
        await client.login()
        sim.revoke_tokens()
        sim.faults.add(IDP, Fault.status(500), times=None)
        before = sim.stats.requests[IDP]
        results = await asyncio.gather(
            *(client.list_cameras() for _ in range(callers)), return_exceptions=True
        )
        assert all(isinstance(r, ServerError) for r in results), results[:3]
        attempts = sim.stats.requests[IDP] - before
        assert attempts <= FAST_RETRY.attempts**2, attempts
        # Once it is back, the next calls renew (one request) and work.
        sim.faults.clear()
        before = sim.stats.token_requests
        await asyncio.gather(*(client.list_cameras() for _ in range(callers)))
        assert sim.stats.token_requests - before == 1
