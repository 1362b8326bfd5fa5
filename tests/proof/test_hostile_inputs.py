"""Proof: odd and hostile values at any public entry's arguments give a library error
(:class:`XProtectError`, :class:`InvalidInputError` for bad input), never a raw Python one,
and a refused input sends nothing.

The values are :mod:`tests.hostile_values`' (wrong types, huge ints, NaN, lone surrogates,
deep nesting, bytes, hostile subclasses and tzinfos); the entries are the constructor's
options, ``EventTrigger``'s fields (and its ``data``, at the top and nested), the client's
calls and their options, ``RetryPolicy``, the filter helpers, session filters, rules and
positions. Pure entries run without a server; the client's calls against a loopback
simulator whose request counter shows that nothing went out before a refusal. The
examples are few (a few seconds in all); ``--soak`` runs many more.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import FAST_RETRY
from tests.hostile_values import NAMES, Boom, odd, odd_names
from xprotect_events import (
    EventTrigger,
    InvalidInputError,
    LivePosition,
    MemoryCheckpoint,
    RetryPolicy,
    Rule,
    SessionFilter,
    SessionPosition,
    TriggerInputError,
    XProtectClient,
    XProtectError,
)
from xprotect_events import filters as f
from xprotect_events.testing import SimClock, Simulator, seed
from xprotect_events.wire import dumps, trigger_to_wire

TYPE = seed.ANALYTICS_EVENT
CAMERA = f"cameras/{seed.CAMERA_IDS[0]}"
ID = uuid.UUID(int=9)
WHEN = datetime(2024, 5, 1, tzinfo=UTC)
URL = "http://127.0.0.1:1"


def _sent(trigger: EventTrigger) -> bytes:
    """A trigger as it would be sent (the encoding may refuse it, as a library error)."""
    return dumps(trigger_to_wire(trigger))


def _keyed(key: Any) -> bytes | None:
    """A trigger whose data has ``key`` as a key (if the value can be a key at all)."""
    try:
        data = {key: 1}
    except Exception:  # unhashable, or its own __hash__ raises: no such data can be made
        return None
    return _sent(EventTrigger(type=TYPE, data=data))


def _key_map(key: Any) -> dict[Any, str]:
    """``{key: "x"}``, or an empty mapping when ``key`` cannot be a key."""
    try:
        return {key: "x"}
    except Exception:
        return {}


def _client(**options: Any) -> XProtectClient:
    return XProtectClient(URL, username="u", password="p", **options)


#: name -> use of one value at one argument, with no server (nothing can be sent).
PURE: dict[str, Callable[[Any], Any]] = {
    "EventTrigger(type)": lambda v: EventTrigger(type=v),
    "EventTrigger(source)": lambda v: EventTrigger(type=TYPE, source=v),
    "EventTrigger(time)": lambda v: _sent(EventTrigger(type=TYPE, time=v)),
    "EventTrigger(datatype)": lambda v: _sent(EventTrigger(type=TYPE, datatype=v)),
    "EventTrigger(tag)": lambda v: _sent(EventTrigger(type=TYPE, tag=v)),
    "EventTrigger(data)": lambda v: _sent(EventTrigger(type=TYPE, data=v)),
    "EventTrigger(data value)": lambda v: _sent(EventTrigger(type=TYPE, data={"k": v})),
    "EventTrigger(data nested)": lambda v: _sent(
        EventTrigger(type=TYPE, data={"a": [1, {"b": (v,)}]})
    ),
    "EventTrigger(data key)": lambda v: _keyed(v),
    "XProtectClient(windows)": lambda v: XProtectClient(URL, username="d\\u", windows=v),
    "XProtectClient(profile)": lambda v: _client(profile=v),
    "XProtectClient(timeout)": lambda v: _client(timeout=v),
    "XProtectClient(limit)": lambda v: _client(limit=v),
    "XProtectClient(retry)": lambda v: _client(retry=v),
    "XProtectClient(clock)": lambda v: _client(clock=v),
    "XProtectClient(max_response_bytes)": lambda v: _client(max_response_bytes=v),
    "RetryPolicy(attempts)": lambda v: RetryPolicy(attempts=v),
    "RetryPolicy(backoff_initial)": lambda v: RetryPolicy(backoff_initial=v),
    "RetryPolicy(backoff_max)": lambda v: RetryPolicy(backoff_max=v),
    "RetryPolicy(jitter)": lambda v: RetryPolicy(jitter=v),
    "RetryPolicy(max_retry_after)": lambda v: RetryPolicy(max_retry_after=v),
    "contains": lambda v: f.encode_conditions([f.contains(v)]),
    "starts_with": lambda v: f.encode_conditions([f.starts_with(v)]),
    "equals": lambda v: f.encode_conditions([f.equals(v)]),
    "gt": lambda v: f.encode_conditions([f.gt(v)]),
    "one_of": lambda v: f.encode_conditions([f.one_of(v, "x")]),
    "contains_one_of": lambda v: f.encode_conditions([f.contains_one_of("x", v)]),
    "Condition(operator)": lambda v: f.Condition(v, "x").encode(),
    "Condition(value)": lambda v: f.Condition("oneOf", v).encode(),
    "SessionFilter(property)": lambda v: SessionFilter(v, "equals", "x").to_wire(),
    "SessionFilter(operator)": lambda v: SessionFilter("tag", v, "x").to_wire(),
    "SessionFilter(value)": lambda v: dumps(SessionFilter("tag", "equals", v).to_wire()),
    "SessionFilter(array)": lambda v: dumps(SessionFilter("tag", "oneOf", v).to_wire()),
    "Rule.include(types)": lambda v: Rule.include(types=v),
    "Rule.include(types item)": lambda v: Rule.include(types=[v]),
    "Rule.exclude(sources)": lambda v: Rule.exclude(sources=[v]),
    "Rule.include(resource_types)": lambda v: Rule.include(resource_types=v),
    "SessionPosition(time)": lambda v: SessionPosition(time=v).to_json(),
    "SessionPosition(recent)": lambda v: SessionPosition(time=WHEN, recent=v).to_json(),
    "SessionPosition(recent time)": lambda v: SessionPosition(time=WHEN, recent={ID: v}),
    "SessionPosition(window)": lambda v: SessionPosition(time=WHEN, window=v).to_json(),
    "SessionPosition.of": lambda v: SessionPosition.of({ID: WHEN, uuid.UUID(int=8): v}),
    "SessionPosition.from_json": lambda v: SessionPosition.from_json(v),
    "LivePosition(session_id)": lambda v: LivePosition(session_id=v, event_id=ID, time=WHEN),
    "LivePosition(event_id)": lambda v: LivePosition(session_id="s", event_id=v, time=WHEN),
    "LivePosition(time)": lambda v: LivePosition(session_id="s", event_id=ID, time=v).to_json(),
    "LivePosition.from_json": lambda v: LivePosition.from_json(v),
}

#: Entries checked outside the validation layer (the transport, the credentials, the
#: memory store): part of PURE, and also run with every odd value in the quick run.
ELSEWHERE: dict[str, Callable[[Any], Any]] = {
    "XProtectClient(url)": lambda v: XProtectClient(v, username="u", password="p"),
    "XProtectClient(username)": lambda v: XProtectClient(URL, username=v, password="p"),
    "XProtectClient(password)": lambda v: XProtectClient(URL, username="u", password=v),
    "XProtectClient(client_id)": lambda v: XProtectClient(URL, client_id=v, client_secret="s"),
    "XProtectClient(verify)": lambda v: _client(verify=v),
    "XProtectClient(token_path)": lambda v: _client(token_path=v),
    "XProtectClient(connect_timeout)": lambda v: _client(connect_timeout=v),
    "XProtectClient(proxy)": lambda v: _client(proxy=v),
    "XProtectClient(trust_env)": lambda v: _client(trust_env=v),
    "XProtectClient(trace_configs)": lambda v: _client(trace_configs=v),
    "MemoryCheckpoint.save": lambda v: MemoryCheckpoint().save(v),
}

#: name -> use of one value at one argument of an open client's calls (may be a coroutine,
#: an async iterator, of which one item is taken, or a stream object, which is not entered).
CALLS: dict[str, Callable[[XProtectClient, Any], Any]] = {
    "get_event(id)": lambda c, v: c.get_event(v),
    "get_event(include_data)": lambda c, v: c.get_event(ID, include_data=v),
    "list_events(since)": lambda c, v: c.list_events(since=v),
    "list_events(until)": lambda c, v: c.list_events(until=v),
    "list_events(source_name)": lambda c, v: c.list_events(source_name=v),
    "list_events(source_id)": lambda c, v: c.list_events(source_id=v),
    "list_events(source_id one_of)": lambda c, v: c.list_events(source_id=f.one_of(v)),
    "list_events(order)": lambda c, v: c.list_events(order=v),
    "list_events(include_data)": lambda c, v: c.list_events(include_data=v),
    "list_events(page_size)": lambda c, v: c.list_events(page_size=v),
    "list_events(limit)": lambda c, v: c.list_events(limit=v),
    "list_events(filters)": lambda c, v: c.list_events(filters=v),
    "list_events(filters key)": lambda c, v: c.list_events(filters=_key_map(v)),
    "list_events(filters value)": lambda c, v: c.list_events(filters={"tag": v}),
    "list_events(time filter)": lambda c, v: c.list_events(filters={"time": f.gt(v)}),
    "trigger_event": lambda c, v: c.trigger_event(v),
    "trigger_event(data)": lambda c, v: c.trigger_event(EventTrigger(type=TYPE, data={"k": v})),
    "trigger_event(time)": lambda c, v: c.trigger_event(EventTrigger(type=TYPE, time=v)),
    "trigger_events(triggers)": lambda c, v: c.trigger_events(v),
    "trigger_events(item)": lambda c, v: c.trigger_events([v]),
    "trigger_events(data)": lambda c, v: c.trigger_events([EventTrigger(type=TYPE, data={"k": v})]),
    "trigger_events(chunk_size)": lambda c, v: c.trigger_events([], chunk_size=v),
    "trigger_events(concurrency)": lambda c, v: c.trigger_events([], concurrency=v),
    "trigger_events(on_progress)": lambda c, v: c.trigger_events([], on_progress=v),
    "trigger_events(reject_invalid)": lambda c, v: c.trigger_events([], reject_invalid=v),
    "trigger_events(stored_types)": lambda c, v: c.trigger_events([], stored_types=v),
    "trigger_events(settle)": lambda c, v: c.trigger_events([], settle=v),
    "stream_trigger(item)": lambda c, v: c.stream_trigger([v]),
    "stream_trigger(reject_invalid)": lambda c, v: c.stream_trigger([], reject_invalid=v),
    "event_session(types)": lambda c, v: c.event_session(types=v),
    "event_session(types item)": lambda c, v: c.event_session(types=[v]),
    "event_session(sources)": lambda c, v: c.event_session(sources=[v]),
    "event_session(source_names)": lambda c, v: c.event_session(source_names=v),
    "event_session(filters)": lambda c, v: c.event_session(filters=v),
    "event_session(since)": lambda c, v: c.event_session(since=v),
    "event_session(order)": lambda c, v: c.event_session(order=v),
    "event_session(include_data)": lambda c, v: c.event_session(include_data=v),
    "event_session(max_size)": lambda c, v: c.event_session(max_size=v),
    "event_session(poll_interval)": lambda c, v: c.event_session(poll_interval=v),
    "event_session(close_timeout)": lambda c, v: c.event_session(close_timeout=v),
    "event_session(checkpoint_interval)": lambda c, v: c.event_session(checkpoint_interval=v),
    "subscribe(types)": lambda c, v: c.subscribe(types=v),
    "subscribe(sources item)": lambda c, v: c.subscribe(sources=[v]),
    "subscribe(resource_types)": lambda c, v: c.subscribe(resource_types=v),
    "subscribe(rules)": lambda c, v: c.subscribe(rules=v),
    "subscribe(rules item)": lambda c, v: c.subscribe(rules=[v]),
    "subscribe(buffer)": lambda c, v: c.subscribe(buffer=v),
    "subscribe(stored_types)": lambda c, v: c.subscribe(stored_types=v),
    "subscribe(on_gap)": lambda c, v: c.subscribe(on_gap=v),
    "subscribe(max_frame_size)": lambda c, v: c.subscribe(max_frame_size=v),
    "subscribe(checkpoint_interval)": lambda c, v: c.subscribe(checkpoint_interval=v),
    "reconcile(settle)": lambda c, v: c.reconcile([], settle=v),
    "reconcile(wait)": lambda c, v: c.reconcile([], wait=v),
    "get_event_type(id)": lambda c, v: c.get_event_type(v),
}


PURE.update(ELSEWHERE)  # (sampled with the others above too)


def run_pure(entry: str, name: str) -> None:
    """The entry with the value: a result or a library error, nothing else."""
    try:
        PURE[entry](odd(name))
    except XProtectError:
        pass
    except Exception as exc:  # the proof's point: nothing else may come out
        pytest.fail(f"{entry} with {name}: raw {type(exc).__name__}: {exc!s:.200}")


def sent(sim: Simulator) -> int:
    return sum(sim.stats.requests.values())


async def run_call(sim: Simulator, client: XProtectClient, entry: str, name: str) -> None:
    """The call with the value: answered, or a library error; a refusal sends nothing."""
    before = sent(sim)
    try:
        result = CALLS[entry](client, odd(name))
        if inspect.isawaitable(result):
            await result
        elif inspect.isasyncgen(result):  # (list_events; streams are not entered)
            with contextlib.suppress(StopAsyncIteration):
                await anext(result)
            await result.aclose()
    except TriggerInputError as exc:
        input_failed(entry, name, exc)
    except InvalidInputError:
        assert sent(sim) == before, f"{entry} with {name}: a request went out before refusal"
    except XProtectError:
        pass
    except Exception as exc:
        pytest.fail(f"{entry} with {name}: raw {type(exc).__name__}: {exc!s:.200}")


def input_failed(entry: str, name: str, error: TriggerInputError) -> None:
    """The caller's own input iterator failing mid-batch (triggers before it may have been
    sent): a library error whose cause is the iterator's own."""
    assert entry in STREAMED_INPUT, f"{entry} with {name}: input error {error}"
    assert isinstance(error.__cause__, Boom), f"{entry} with {name}: {error.__cause__!r}"


#: Entries whose input is an iterable read as the batch goes (not checked up front).
STREAMED_INPUT = frozenset(("trigger_events(triggers)",))


@pytest.fixture
async def env() -> AsyncIterator[tuple[Simulator, XProtectClient]]:
    async with (
        Simulator(clock=SimClock()) as sim,
        XProtectClient(
            sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY
        ) as client,
    ):
        await client.login()
        yield sim, client


@given(entry=st.sampled_from(sorted(PURE)), name=odd_names)
@settings(max_examples=400, deadline=None)
def test_pure_entries_give_only_library_errors(entry: str, name: str) -> None:
    run_pure(entry, name)


@given(entry=st.sampled_from(sorted(CALLS)), name=odd_names)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_client_calls_give_only_library_errors_and_send_nothing_refused(
    env: tuple[Simulator, XProtectClient], entry: str, name: str
) -> None:
    await run_call(*env, entry, name)


def test_every_pure_entry_with_every_odd_value(soak: bool) -> None:
    """The whole cross product, under ``--soak`` (the quick run samples it above)."""
    if not soak:
        pytest.skip("the whole cross product runs under --soak")
    for entry in sorted(PURE):
        for name in NAMES:
            run_pure(entry, name)


async def test_every_call_with_every_odd_value(
    soak: bool, env: tuple[Simulator, XProtectClient]
) -> None:
    if not soak:
        pytest.skip("the whole cross product runs under --soak")
    for entry in sorted(CALLS):
        for name in NAMES:
            await run_call(*env, entry, name)


def test_entries_outside_the_validation_layer() -> None:
    """The client's constructor and the memory store, with every value (quick enough)."""
    for entry in sorted(ELSEWHERE):
        for name in NAMES:
            run_pure(entry, name)
