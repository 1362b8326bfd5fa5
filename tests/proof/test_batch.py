"""Proof: batch triggering accounts for every trigger, and nothing lands twice, while 5% of
the batch POSTs fail in every way the simulator can fail them.

Every trigger carries a unique tag; afterwards the simulator's store is listed (a service
token's ``GET /events``) and compared, tag by tag, with the report:

- accepted + rejected + unknown == input, one result per trigger, in input order;
- every accepted trigger is stored exactly once (and its answer is the stored event);
- every rejected trigger is not stored;
- every unknown trigger is stored once or not at all;
- nothing else is stored, and no tag is stored twice.

Sizes: 4,000 triggers in the normal run, 20,000 under ``pytest --soak``. The simulator's
own counters are checked against what its store holds, and ``xprotect-events serve
--fault`` is driven through the real console script.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
import pytest

from tests.helpers import EVERY_FAULT as BATCH_FAULTS
from tests.helpers import FAST_RETRY, LONG_DELAY, quiet, wait_until
from xprotect_events import EventTrigger, XProtectClient
from xprotect_events.accounting import BatchReport, TriggerResult
from xprotect_events.cli import LISTENING, parse_fault
from xprotect_events.errors import RequestTimeoutError, ServerError, TransportError
from xprotect_events.models import Event
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    MOTION_STARTED,
    USER_DEFINED_EVENT,
    Fault,
    SimClock,
    Simulator,
)

BATCH = "POST /api/rest/v1/events/batch"
SEED = int(os.environ.get("PROOF_SEED", "7"))
CLIENT_TIMEOUT = 0.5
DEADLINE = 60.0
CAMERAS = [f"cameras/{c}" for c in CAMERA_IDS]

KINDS = {f.kind for f in BATCH_FAULTS}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock()) as simulator:
        yield simulator


def user_client(sim: Simulator, **options: Any) -> XProtectClient:
    """A basic user: motion events are refused per item (service tokens only)."""
    return XProtectClient(sim.url, username="admin", password="admin", retry=FAST_RETRY, **options)


def service_client(sim: Simulator) -> XProtectClient:
    return XProtectClient(
        sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY
    )


def triggers(count: int, seed: int) -> list[EventTrigger]:
    """Unique tags; about one in twenty is a type the user may not trigger (rejected)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        refused = rng.random() < 0.05
        kind = MOTION_STARTED if refused else (ANALYTICS_EVENT, USER_DEFINED_EVENT)[i % 2]
        out.append(EventTrigger(type=kind, source=CAMERAS[i % 4], tag=f"b{seed}-{i}"))
    return out


def valid_triggers(count: int, seed: int) -> list[EventTrigger]:
    """Triggers the user may send (none refused per item)."""
    return [t for t in triggers(count * 2, seed) if t.type != MOTION_STARTED][:count]


async def stored_events(sim: Simulator) -> list[Event]:
    """Everything the simulator stores, through a service token's listing."""
    async with service_client(sim) as client:
        return [e async for e in client.list_events(page_size=2000)]


def check_accounting(
    report: BatchReport | list[TriggerResult], sent: list[EventTrigger], stored: list[Event]
) -> Counter[str]:
    """The proof's assertions; the results counted by status."""
    results = report.results if isinstance(report, BatchReport) else report
    assert [r.index for r in results] == list(range(len(sent)))
    assert all(r.trigger is t for r, t in zip(results, sent, strict=True))
    statuses = Counter(r.status for r in results)
    assert sum(statuses.values()) == len(sent)
    assert set(statuses) <= {"accepted", "rejected", "unknown"}

    landed = Counter(e.tag for e in stored)
    twice = [tag for tag, n in landed.items() if n > 1]
    assert not twice, f"{len(twice)} triggers landed twice, e.g. {twice[:3]}"
    by_tag = {e.tag: e for e in stored}
    tags = {t.tag for t in sent}
    assert set(landed) <= tags, "something landed that was never sent"
    unknown_landed = 0
    for result, trigger in zip(results, sent, strict=True):
        tag = trigger.tag
        if result.status == "accepted":
            assert tag in by_tag, f"accepted #{result.index} is not stored"
            assert result.event is not None
            assert result.event.id == by_tag[tag].id
        elif result.status == "rejected":
            assert tag not in by_tag, f"rejected #{result.index} landed: {result.error!r}"
        else:
            unknown_landed += tag in by_tag
            assert result.sent
    assert len(stored) == statuses["accepted"] + unknown_landed
    statuses["unknown_landed"] = unknown_landed
    return statuses


def mixed_script(every: int) -> list[Fault | None]:
    steps: list[Fault | None] = []
    for fault in BATCH_FAULTS:
        steps += [None] * (every - 1) + [fault]
    return steps


# --------------------------------------------------------------------------- the proof


@pytest.mark.parametrize("mode", ["trigger_events", "stream_trigger_async"])
async def test_every_trigger_is_accounted_and_nothing_lands_twice(
    sim: Simulator, soak: bool, mode: str
) -> None:
    total = 20_000 if soak else 4_000
    started = time.perf_counter()
    sim.faults.script(BATCH, mixed_script(every=5))
    sim.faults.random(BATCH, 0.05, BATCH_FAULTS, seed=SEED)
    sent = triggers(total, SEED)

    halves = [sent[: total // 2], sent[total // 2 :]]
    done = [0]

    def progress(count: int, _: int | None) -> None:
        done[0] = count

    async def restart_halfway(part: list[EventTrigger]) -> None:
        await wait_until(lambda: done[0] >= len(part) // 2, "half of it is done")
        await sim.restart()  # connections cut, requests in flight lost or refused

    async def run(client: XProtectClient, part: list[EventTrigger]) -> list[TriggerResult]:
        done[0] = 0
        if mode == "trigger_events":
            report = await client.trigger_events(
                part, chunk_size=20, concurrency=8, on_progress=progress
            )
            return report.results

        async def source() -> AsyncIterator[EventTrigger]:
            for trigger in part:
                yield trigger

        stream = client.stream_trigger(source(), chunk_size=20, concurrency=8, on_progress=progress)
        return sorted([r async for r in stream], key=lambda r: r.index)

    async with user_client(sim, timeout=CLIENT_TIMEOUT) as client:
        # The first half meets the scripted faults (the long delay among them) and the
        # random ones; once its late handlers are done, the second half meets the random
        # ones and a restart of the simulator halfway through.
        first = await run(client, halves[0])
        await quiet(sim)
        restarting = asyncio.create_task(restart_halfway(halves[1]))
        second = await run(client, halves[1])
        await restarting
        tokens = client.tokens.renewals

    await quiet(sim)
    sim.faults.clear()
    stored = await stored_events(sim)
    landed = Counter(e.tag for e in stored)
    assert not [tag for tag, n in landed.items() if n > 1], "a trigger landed twice"
    assert set(landed) <= {t.tag for t in sent}, "something landed that was never sent"
    statuses: Counter[str] = Counter()
    for results, part in zip((first, second), halves, strict=True):
        tags = {t.tag for t in part}
        statuses += check_accounting(results, part, [e for e in stored if e.tag in tags])

    assert sim.events_stored == len(stored) == sim.stats.events_stored_total
    injected = dict(sim.faults.injected)
    assert set(injected) == KINDS, injected
    assert statuses["unknown"] > 0
    assert statuses["unknown_landed"] > 0  # reset_after, truncate, delay did land
    assert statuses["unknown"] > statuses["unknown_landed"]  # 500, 502, reset_before did not
    assert any(isinstance(r.error, RequestTimeoutError) for r in first)  # a delay outlasted
    revocations = injected["revoke_token"]
    assert tokens <= revocations + 2
    print(
        f"\nbatch proof ({mode}): {total} triggers, {sim.stats.requests[BATCH]} POSTs, "
        f"{dict(statuses)}, faults {sorted(injected.items())}, {tokens} tokens, "
        f"{time.perf_counter() - started:.1f} s"
    )


@pytest.mark.parametrize(
    ("fault", "status", "landed"),
    [
        (Fault.reset_before(), "unknown", False),
        (Fault.reset_after(), "unknown", True),
        (Fault.status(500), "unknown", False),
        (Fault.status(502), "unknown", False),
        (Fault.html(502), "unknown", False),
        (Fault.truncate(), "unknown", True),
        (Fault.delay(LONG_DELAY), "unknown", True),
        (Fault.status(503, retry_after=0), "rejected", False),
        (Fault.rate_limit(retry_after=0), "rejected", False),
    ],
    ids=lambda v: getattr(v, "kind", None) or str(v),
)
async def test_each_kind_that_outlasts_the_chunk_is_accounted_by_the_rule(
    sim: Simulator, fault: Fault, status: str, landed: bool
) -> None:
    """One chunk, failed on every attempt: what the report says and what the store holds
    agree for each kind."""
    sim.faults.add(BATCH, fault, times=FAST_RETRY.attempts)
    sent = valid_triggers(30, seed=1)
    async with user_client(sim, timeout=CLIENT_TIMEOUT) as client:
        report = await client.trigger_events(sent, chunk_size=100)
    await quiet(sim)
    sim.faults.clear()
    stored = await stored_events(sim)
    check_accounting(report, sent, stored)
    assert {r.status for r in report.results} == {status}
    assert len(stored) == (len(sent) if landed else 0)
    if fault.kind == "delay":
        assert all(isinstance(r.error, RequestTimeoutError) for r in report.results)
    elif fault.kind in ("reset_before", "reset_after", "truncate"):
        assert all(isinstance(r.error, TransportError) for r in report.results)
    elif status == "unknown":
        assert all(isinstance(r.error, ServerError) for r in report.results)


# --------------------------------------------------------------------------- the simulator counts


async def test_the_simulator_counts_what_it_really_did(sim: Simulator) -> None:
    """Events stored by a handler whose answer was cut (reset_after, truncate) or that ran
    after the client gave up (delay) are counted; refused ones are not; tokens issued and
    sessions alive match the server's own tables."""
    script = [
        Fault.reset_after(),
        Fault.truncate(),
        Fault.delay(LONG_DELAY),
        Fault.reset_before(),
        Fault.status(500),
        None,
    ]
    sim.faults.script(BATCH, script)
    sim.faults.script("POST /IDP/connect/token", [Fault.reset_after(), Fault.truncate()])
    sim.faults.script("POST /api/rest/v1/eventSessions", [Fault.reset_after()])
    async with user_client(sim, timeout=CLIENT_TIMEOUT) as client:
        # The first two grants were issued but their answers were cut: the client retries.
        await client.login()
        assert sim.stats.token_requests == sim.stats.tokens_issued == 3
        for _ in script:
            await client.trigger_events(valid_triggers(5, seed=2), chunk_size=5)
        with pytest.raises(TransportError):
            await client.core.request(
                "POST", "/eventSessions", json={"filterBy": [], "orderBy": []}
            )
    await quiet(sim)
    # reset_after, truncate, delay (ran after the client timed out) and the clean one.
    assert sim.stats.events_accepted == sim.stats.events_stored_total == 4 * 5
    assert sim.events_stored == len(await stored_events(sim)) == 20
    assert sim.sessions_alive == 1  # created, its answer cut: the server still has it
    assert len(sim.tokens) == sim.stats.tokens_issued == 4  # + the listing's
    assert sim.stats.requests[BATCH] == len(script)


# --------------------------------------------------------------------------- serve --fault


def test_parse_fault() -> None:
    route, faults, probability = parse_fault(
        "POST /api/rest/v1/events/batch=reset_after,status:503:2,delay:0.5@0.05"
    )
    assert route == BATCH
    assert faults == [Fault.reset_after(), Fault.status(503, retry_after=2), Fault.delay(0.5)]
    assert probability == 0.05
    assert parse_fault("*=html") == ("*", [Fault.html(502)], 1.0)
    assert parse_fault("GET /api/rest/v1/eventSessions/{id}=rate_limit:3@1") == (
        "GET /api/rest/v1/eventSessions/{id}",
        [Fault.rate_limit(retry_after=3)],
        1.0,
    )
    assert parse_fault("POST /IDP/connect/token=html:503")[1] == [Fault.html(503)]


@pytest.mark.parametrize(
    "text",
    [
        "reset_after",  # no route
        "POST /api/rest/v1/nowhere=reset_after",  # unknown route
        "*=explode",  # unknown kind
        "*=status:abc",
        "*=status:200",
        "*=delay",  # needs seconds
        "*=delay:-1",
        "*=reset_after:3",  # takes no argument
        "*=reset_after@1.5",
        "*=reset_after@x",
        "*=",
    ],
)
def test_parse_fault_refuses_nonsense(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_fault(text)


def cli_path() -> str:
    beside = Path(sys.executable).parent / "xprotect-events"
    found = str(beside) if beside.exists() else shutil.which("xprotect-events")
    assert found is not None, "the xprotect-events console script is not installed"
    return found


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}


async def read_line(proc: asyncio.subprocess.Process, marker: str) -> str:
    assert proc.stdout is not None

    async def read() -> str:
        while True:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            if not raw:
                raise AssertionError(f"serve ended before printing {marker!r}")
            if marker in raw.decode():
                return raw.decode()

    return await asyncio.wait_for(read(), 15)


async def run_serve(*flags: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        "serve",
        "--port",
        "0",
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    try:
        line = await read_line(proc, LISTENING)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc, line.removeprefix(LISTENING).strip()


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_fault_flags_reach_a_client() -> None:
    """The real entry point: every batch POST is cut after it was stored, every event
    session read answers 503 half of the time (seeded), and tokens live 5 s."""
    proc, url = await run_serve(
        "--fault",
        f"{BATCH}=reset_after",
        "--fault",
        "GET /api/rest/v1/eventSessions/{id}=status:500@0.5",
        "--fault-seed",
        "3",
        "--token-lifetime",
        "5",
        "--session-idle-timeout",
        "30",
    )
    try:
        assert proc.stderr is not None
        told = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
        assert told.startswith(f"fault: {BATCH}: reset_after on 100% of requests"), told
        async with XProtectClient(url, username="admin", password="admin") as client:
            report = await client.trigger_events(valid_triggers(10, seed=3), chunk_size=5)
            assert [r.status for r in report.results] == ["unknown"] * 10
            assert all(isinstance(r.error, TransportError) for r in report.results)
            events = [e async for e in client.list_events()]
            assert len(events) == 10  # they did land, once each
            assert len({e.tag for e in events}) == 10
            assert client.tokens.deadline - time.monotonic() <= 5
            status = None
            for _ in range(20):
                try:
                    await client.core.request(
                        "GET", "/eventSessions/" + str(events[0].id), retry="unsent"
                    )
                except ServerError as exc:
                    status = exc.status
                    break
                except Exception:  # noqa: S112 - a 404 (no such session) when not faulted
                    continue
            assert status == 500
    finally:
        assert await stop(proc) == 0


async def test_serve_help_documents_the_fault_flags() -> None:
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        "serve",
        "--help",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**clean_env(), "COLUMNS": "200"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 15)
    text = out.decode()
    for flag in ("--fault ", "--fault-seed", "--token-lifetime", "--session-idle-timeout"):
        assert flag in text, flag
    for kind in KINDS:
        assert kind in text, kind


async def test_serve_refuses_a_bad_fault_as_a_usage_error() -> None:
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        "serve",
        "--port",
        "0",
        "--fault",
        "*=explode",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2
    assert "explode" in err.decode()
