"""Promises of the README and of the public docstrings that no other test held the library
to: the README's own examples as written, every default it states, "nothing is sent until
the first call", and ``LiveStream.aclose`` from another task.

Everything runs against the simulator over loopback; the README's examples are read out
of README.md itself, so an example that drifts from the library fails here.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from tests.helpers import wait_until
from xprotect_events import (
    Event,
    EventTrigger,
    InvalidInputError,
    LiveStream,
    NotFoundError,
    Profile,
    RetryPolicy,
    Rule,
    SlowConsumerError,
    XProtectClient,
)
from xprotect_events.options import batch_spec, session_spec
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    LICENSE_PLATE_EVENT,
    MOTION_STARTED,
    MOTION_STOPPED,
    USER_DEFINED_EVENT,
    Fault,
    Simulator,
    seed,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MIB = 1024 * 1024


def python_block(containing: str) -> str:
    """The README's one ```python block that contains ``containing``."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if containing in b]
    assert len(blocks) == 1, f"{len(blocks)} python blocks of README.md contain {containing!r}"
    return blocks[0]


# ----------------------------------------------------------------------------- examples


async def test_the_quickstart_runs_as_written_and_prints_1000_0_0() -> None:
    """The Quickstart against a simulator (its URL for the README's 127.0.0.1:8080): one
    change through the session, ``1000 0 0`` for the batch, three events listed."""
    code = python_block("async def main()")
    assert 'XProtectClient("http://127.0.0.1:8080"' in code
    async with Simulator() as sim:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code.replace("http://127.0.0.1:8080", sim.url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert sim.sessions_alive == 0  # "leaving the block deletes the server-side session"
        assert sim.events_stored == 1001
    first, counts, *listed = out.decode().splitlines()
    assert first.startswith("new "), first
    assert first.endswith(" hello"), first
    assert counts == "1000 0 0"
    assert len(listed) == 3
    for line in listed:
        event_id, tag = line.split()
        uuid.UUID(event_id)
        assert re.fullmatch(r"n\d{1,3}", tag), line


def test_the_quickstart_ids_are_the_simulators() -> None:
    code = python_block("async def main()")
    assert f'PERSON = "{ANALYTICS_EVENT}"' in code
    assert f'CAMERA = "cameras/{CAMERA_IDS[0]}"' in code


def test_the_readme_plugin_example_passes_as_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's "Testing your code against the simulator": its settings and its
    test, verbatim."""
    settings = re.search(r"\n    (\[tool\.pytest\.ini_options\]\n(?:    \S.*\n)+)", README)
    assert settings is not None
    pytester.makefile(".toml", pyproject=textwrap.dedent(settings.group(1)))
    pytester.makepyfile(test_readme=python_block("test_door_alarm_is_raised"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


# ----------------------------------------------------------------------------- defaults


def test_the_retry_policy_defaults_are_the_documented_ones() -> None:
    """README: ``attempts=4``, ``backoff_initial=0.2``, ``backoff_max=10.0``,
    ``jitter=0.5``, ``max_retry_after=120.0``."""
    policy = RetryPolicy()
    assert (policy.attempts, policy.backoff_initial, policy.backoff_max) == (4, 0.2, 10.0)
    assert (policy.jitter, policy.max_retry_after) == (0.5, 120.0)


def test_the_profile_defaults_are_the_readme_table() -> None:
    profile = Profile()
    assert profile.api_path == "/api/rest/v1"
    assert profile.token_path == "/API/IDP/connect/token"
    assert profile.windows_token_path == "/IDP/connect/token"
    assert profile.grant_client_id == "GrantValidatorClient"
    assert profile.batch_path == "/events/batch"
    assert (profile.max_batch, profile.max_batch_bytes) == (100, 4 * MIB)
    assert (profile.max_page_size, profile.max_session_read) == (2000, 2000)
    assert profile.trigger_rules is True
    assert (profile.ws_path, profile.ws_auth) == ("/api/ws/events/v1", "header")
    assert (profile.ws_heartbeat, profile.ws_command_timeout) == (60.0, 600.0)
    assert profile.ws_max_frame == 256 * MIB


def test_the_readme_profile_table_has_every_profile_field() -> None:
    """README: "``Profile`` holds every one a server might differ on"; its table names each."""
    rows = set(re.findall(r"^\| `(\w+)` \|", README, re.M))
    assert {f.name for f in attrs.fields(Profile)} <= rows


def test_the_client_defaults_are_the_documented_ones() -> None:
    """``timeout`` 30, ``connect_timeout`` 10, ``limit`` 100, ``max_response_bytes``
    64 MiB, ``verify`` True, ``trust_env`` True (the class docstring and the README)."""
    defaults = {name: p.default for name, p in inspect.signature(XProtectClient).parameters.items()}
    assert defaults["timeout"] == 30.0
    assert defaults["connect_timeout"] == 10.0
    assert defaults["limit"] == 100
    assert defaults["max_response_bytes"] == 64 * MIB
    assert defaults["verify"] is True
    assert defaults["trust_env"] is True


def test_the_stream_and_batch_defaults_are_the_documented_ones() -> None:
    """``trigger_events``: ``chunk_size`` 100, ``concurrency`` 8, ``settle`` 10 s;
    ``event_session``: ``checkpoint_interval`` 1.0 s; ``subscribe``: ``buffer`` 10,000,
    ``checkpoint_interval`` 1.0 s; ``reconcile``: ``settle`` 10 s."""
    spec = batch_spec([], {}, max_batch=100, limit=100)
    assert (spec.chunk_size, spec.concurrency, spec.settle) == (100, 8, 10.0)
    assert session_spec({}, max_read=2000).checkpoint_interval == 1.0
    live = inspect.signature(LiveStream).parameters
    assert (live["buffer"].default, live["checkpoint_interval"].default) == (10_000, 1.0)
    assert inspect.signature(XProtectClient.reconcile).parameters["settle"].default == 10.0


async def test_a_batch_with_no_options_posts_chunks_of_100(xprotect_simulator: Simulator) -> None:
    async with XProtectClient(
        xprotect_simulator.url, client_id=seed.SERVICE_CLIENT_ID,
        client_secret=seed.SERVICE_CLIENT_SECRET,
    ) as client:  # fmt: skip
        report = await client.trigger_events([EventTrigger(type=USER_DEFINED_EVENT)] * 250)
    assert (report.accepted, report.rejected, report.unknown) == (250, 0, 0)
    assert xprotect_simulator.stats.requests["POST /api/rest/v1/events/batch"] == 3


def test_the_simulator_defaults_are_the_documented_ones() -> None:
    """``serve --help``: tokens live 3600 s, an unread session 60 s, a dropped WebSocket
    session can be resumed for 30 s; the README: 100 bodies per batch."""
    defaults = {name: p.default for name, p in inspect.signature(Simulator).parameters.items()}
    assert defaults["token_lifetime"] == 3600.0
    assert defaults["session_idle_timeout"] == 60.0
    assert defaults["resume_window"] == 30.0
    assert defaults["max_batch"] == 100
    assert defaults["max_events"] is None
    assert defaults["access_log"] is False


# ----------------------------------------------------------------------------- the client


async def test_nothing_is_sent_until_the_first_call_or_login(
    xprotect_simulator: Simulator,
) -> None:
    """The class docstring: nothing is sent until the first call (or :meth:`login`)."""
    stats = xprotect_simulator.stats
    async with XProtectClient(xprotect_simulator.url, username="admin", password="admin") as c:
        assert sum(stats.requests.values()) == stats.token_requests == 0
        await c.login()
        assert stats.token_requests == 1
        assert sum(stats.requests.values()) == 1
    assert sum(stats.requests.values()) == 1  # closing sends nothing either


async def test_another_task_may_close_a_live_stream_twice_to_stop_its_consumer(
    xprotect_simulator: Simulator, xprotect_service_client: XProtectClient
) -> None:
    """``LiveStream.aclose``: "Close the socket and stop; iterating then ends. Safe to call
    twice." The consumer's ``async for`` ends without an error; the socket closes with 1000."""
    live = xprotect_service_client.subscribe(types=[ANALYTICS_EVENT])
    got: list[object] = []

    async def consume() -> None:
        async for item in live:
            got.append(item)

    async with live:
        consumer = asyncio.create_task(consume())
        trigger = EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}")
        await xprotect_service_client.trigger_event(trigger)
        await wait_until(lambda: len(got) == 1, "the consumer took the event", watch=consumer)
        await live.aclose()
        await live.aclose()
        await asyncio.wait_for(consumer, 30)
    sim_live = xprotect_simulator.live
    await wait_until(lambda: sim_live.connections == 0, "the socket is closed")
    assert sim_live.close_codes == [1000]
    assert [item async for item in live] == []  # and it stays ended


# ----------------------------------------------------------------------------- live streams

TRIGGER = EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}")


async def test_a_consumer_may_fall_twice_buffer_behind_and_no_more_while_a_command_waits(
    xprotect_simulator: Simulator, xprotect_service_client: XProtectClient
) -> None:
    """``SlowConsumerError``: "more than twice ``buffer`` items behind" while the stream
    could not hold the server back (a command waiting): twice is still taken."""
    sim_live = xprotect_simulator.live
    async with xprotect_service_client.subscribe(types=[ANALYTICS_EVENT], buffer=3) as live:
        sim_live.hold_state()
        state = asyncio.create_task(live.state())
        await xprotect_service_client.trigger_events([TRIGGER] * 6)
        await wait_until(lambda: live.buffered == 6, "twice the buffer waits", watch=state)
        assert not state.done()
        await xprotect_service_client.trigger_event(TRIGGER)
        with pytest.raises(SlowConsumerError, match="more than 6 items behind"):
            await asyncio.wait_for(state, 30)


async def test_remove_subscription_0_removes_the_first_subscription(
    xprotect_service_client: XProtectClient,
) -> None:
    """``LiveStream.remove_subscription``: "(or 0, the first)": the one ``subscribe`` made."""
    client = xprotect_service_client
    async with client.subscribe(types=[ANALYTICS_EVENT]) as live:
        await live.add_subscription([Rule.include(types=[LICENSE_PLATE_EVENT])])
        await live.remove_subscription(0)
        await client.trigger_event(TRIGGER)  # no longer subscribed
        plate = await client.trigger_event(
            EventTrigger(type=LICENSE_PLATE_EVENT, source=f"cameras/{CAMERA_IDS[0]}")
        )
        item = await asyncio.wait_for(anext(aiter(live)), 30)
        assert isinstance(item, Event)
        assert item.id == plate.id  # the analytics event before it was not delivered
        assert live.buffered == 0


# ----------------------------------------------------------------------------- retries


async def test_the_delete_of_a_session_on_exit_is_retried_like_a_get(
    sim: Simulator, client: XProtectClient
) -> None:
    """README, Retries: "GETs, DELETEs and token grants retry connection errors, timeouts,
    5xx and 429" — the delete on exit too, so the server-side session is gone."""
    route = "DELETE /api/rest/v1/eventSessions/{id}"
    sim.faults.script(route, [Fault.status(503), Fault.reset_before(), Fault.rate_limit(0)])
    async with client.event_session(poll_interval=0.01) as session:
        assert session.id is not None
    assert sim.stats.requests[route] == 4
    assert sim.sessions_alive == 0


# ----------------------------------------------------------------------------- calls


async def test_get_event_type_refuses_a_non_guid_unsent_and_an_unknown_one_is_not_found(
    xprotect_simulator: Simulator, xprotect_client: XProtectClient
) -> None:
    before = sum(xprotect_simulator.stats.requests.values())
    with pytest.raises(InvalidInputError):
        await xprotect_client.get_event_type("Person Detected")
    assert sum(xprotect_simulator.stats.requests.values()) == before  # nothing was sent
    with pytest.raises(NotFoundError):
        await xprotect_client.get_event_type(uuid.uuid4())


async def test_list_events_since_and_until_are_exclusive(
    xprotect_simulator: Simulator, xprotect_client: XProtectClient
) -> None:
    """``list_events``: "``since``/``until`` are exclusive bounds on the event time"."""
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    times = [t0 + timedelta(seconds=s) for s in range(4)]
    xprotect_simulator.store_events(
        [EventTrigger(type=USER_DEFINED_EVENT, time=t, tag=f"s{i}") for i, t in enumerate(times)]
    )
    listed = [e.tag async for e in xprotect_client.list_events(since=times[0], until=times[3])]
    assert listed == ["s1", "s2"]


async def test_a_client_with_limit_0_has_no_connection_limit(xprotect_simulator: Simulator) -> None:
    """The class docstring: ``limit`` 100; 0: no limit (a concurrency above 100 is taken)."""
    async with XProtectClient(
        xprotect_simulator.url, client_id=seed.SERVICE_CLIENT_ID,
        client_secret=seed.SERVICE_CLIENT_SECRET, limit=0,
    ) as client:  # fmt: skip
        report = await client.trigger_events(
            [EventTrigger(type=USER_DEFINED_EVENT)] * 202, chunk_size=1, concurrency=101
        )
    assert report.accepted == 202
    async with XProtectClient(
        xprotect_simulator.url, client_id=seed.SERVICE_CLIENT_ID,
        client_secret=seed.SERVICE_CLIENT_SECRET,
    ) as client:  # fmt: skip
        with pytest.raises(InvalidInputError, match="concurrency must be 1 to 100"):
            await client.trigger_events([EventTrigger(type=USER_DEFINED_EVENT)], concurrency=101)


async def test_state_is_asked_again_on_a_new_connection_when_the_socket_drops_while_it_waits(
    xprotect_simulator: Simulator, xprotect_service_client: XProtectClient
) -> None:
    """``LiveStream.state``: "Asked again on a new connection if the socket drops while it
    waits." The answer is held by the server, the socket dropped under the waiting call,
    and the call still returns the current states (from the new connection)."""
    client, sim_live = xprotect_service_client, xprotect_simulator.live
    async with client.subscribe(types=[MOTION_STARTED, MOTION_STOPPED]) as live:
        sim_live.hold_state()
        state = asyncio.create_task(live.state())
        started = await client.trigger_event(
            EventTrigger(type=MOTION_STARTED, source=f"cameras/{CAMERA_IDS[1]}")
        )
        pushed = await asyncio.wait_for(anext(aiter(live)), 30)  # the socket is live
        assert isinstance(pushed, Event)
        assert pushed.id == started.id
        assert not state.done()
        before = sim_live.connections_total
        sim_live.drop_connections()
        await wait_until(lambda: sim_live.connections_total > before, "a new connection")
        sim_live.release_state()
        states = {e.source_id: e for e in await asyncio.wait_for(state, 30)}
    assert len(states) == len(CAMERA_IDS)
    assert states[CAMERA_IDS[1]].id == started.id
    assert {states[c].type for c in CAMERA_IDS if c != CAMERA_IDS[1]} == {MOTION_STOPPED}
