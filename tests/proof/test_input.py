"""Proof (issue 7, item 5): bad input on the client side never escapes as a raw Python error.

Whatever a caller passes (filter values, trigger fields, GUID-ish strings, datetimes naive
or aware, nested lists, None, floats, bools, numbers too long to print, constructor
arguments), the library either builds a request the server accepts the syntax of, or
raises a documented error (:class:`InvalidInputError`, a ``ValueError``; or
:class:`ConfigurationError` for credentials) *before anything is sent*: the simulator's
request counter does not move. Never ``TypeError``/``AttributeError``/``KeyError``/
``OverflowError``, nor a bare ``ValueError`` that is not ours.

Pure properties run many examples; the loopback ones (a real simulator over HTTP) run a
modest number, so the file stays fast.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import FAST_RETRY
from xprotect_events import (
    ConfigurationError,
    EventTrigger,
    InvalidInputError,
    NotFoundError,
    RetryPolicy,
    SessionFilter,
    XProtectClient,
    XProtectError,
)
from xprotect_events import filters as f
from xprotect_events.filters import parse_conditions
from xprotect_events.models import to_source, to_uuid
from xprotect_events.profile import Profile
from xprotect_events.testing import SimClock, Simulator, seed
from xprotect_events.wire import dumps, trigger_to_wire

#: How many examples the loopback proofs run (each is one or two HTTP exchanges).
LOOPBACK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PURE = settings(max_examples=300, deadline=None)

#: Errors a bad input may raise, before anything is sent.
DOCUMENTED = (InvalidInputError, ConfigurationError)

# ---------------------------------------------------------------------------- strategies

HUGE = 10**5000  # str() and repr() of it raise ValueError (Python's 4300-digit limit)
DAY = timedelta(hours=23, minutes=59)
OFFSETS = st.builds(timezone, st.timedeltas(min_value=-DAY, max_value=DAY))
DATETIMES = st.datetimes(timezones=st.none() | st.just(UTC) | OFFSETS)
AWARE = st.datetimes(timezones=st.just(UTC) | OFFSETS)
ANY_TEXT = st.text() | st.text(st.characters(codec=None, categories=None), max_size=8)
# (HUGE itself cannot be drawn: Hypothesis shows what it draws; it has a test of its own.)
INTS = st.integers() | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**200, 10**4000])
FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def guidish() -> st.SearchStrategy[str]:
    """GUID-like strings: valid in odd spellings, and near misses."""
    spellings = st.uuids().flatmap(
        lambda u: st.sampled_from(
            [
                str(u),
                str(u).upper(),
                "{" + str(u) + "}",
                "urn:uuid:" + str(u),
                u.hex,
                str(u)[:-1],
                str(u) + "0",
                " " + str(u),
                str(u).replace("-", "_"),
                "cameras/" + str(u),
                "Cameras/" + str(u),
                "cameras/" + str(u).upper(),
                "a/b/" + str(u),
                "/" + str(u),
                "cameras/",
                "cameras//" + str(u),
                "1cameras/" + str(u),
            ]
        )
    )
    return spellings | ANY_TEXT


SCALARS = (
    ANY_TEXT
    | INTS
    | FLOATS
    | st.booleans()
    | st.none()
    | st.uuids()
    | DATETIMES
    | st.binary(max_size=4)
    | guidish()
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.frozensets(st.text(max_size=3) | st.integers(), max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=6,
)
OPERATOR_NAMES = st.sampled_from(sorted(f.OPERATORS)) | st.text(max_size=6) | VALUES
BUILDERS: dict[str, Callable[..., f.Condition]] = {
    "lt": f.lt,
    "gt": f.gt,
    "equals": f.equals,
    "not_equals": f.not_equals,
    "starts_with": f.starts_with,
    "contains": f.contains,
    "one_of": f.one_of,
    "contains_one_of": f.contains_one_of,
}


@st.composite
def condition_specs(draw: st.DrawFn) -> Callable[[], Any]:
    """A recipe for a filter argument: a plain value, a Condition, or several; it is built
    inside the test, so that building it may raise (which must be a documented error)."""
    kind = draw(st.sampled_from(["value", "builder", "raw", "many"]))
    if kind == "value":
        value = draw(VALUES)
        return lambda: value
    if kind == "builder":
        name = draw(st.sampled_from(sorted(BUILDERS)))
        args = draw(st.lists(VALUES, min_size=1, max_size=3))
        if name not in ("one_of", "contains_one_of"):
            args = args[:1]
        return lambda: BUILDERS[name](*args)
    if kind == "raw":
        op, value = draw(OPERATOR_NAMES), draw(VALUES)
        return lambda: f.Condition(op, value)
    parts = draw(st.lists(condition_specs(), min_size=0, max_size=3))
    return lambda: [part() for part in parts]


@st.composite
def plausible_specs(draw: st.DrawFn) -> Callable[[], Any]:
    """Filter arguments of the documented kinds (text, ints, aware times, GUIDs, sources),
    so that a good share reaches the server; the odd ones are in condition_specs()."""
    scalars = ANY_TEXT | st.integers(-(2**63), 2**63 - 1) | AWARE | st.uuids() | KNOWN_SOURCES
    name = draw(st.sampled_from(sorted(BUILDERS)))
    args = draw(st.lists(scalars, min_size=1, max_size=3))
    if name not in ("one_of", "contains_one_of"):
        args = args[:1]
    if draw(st.booleans()):
        value = args[0]
        return lambda: value
    return lambda: BUILDERS[name](*args)


#: The seeded cameras as sources, in the spellings the client accepts.
KNOWN_SOURCES = st.sampled_from(seed.CAMERA_IDS).flatmap(
    lambda c: st.sampled_from([c, str(c), str(c).upper(), f"cameras/{c}", f"cameras/{c.hex}"])
)


@st.composite
def name_values(draw: st.DrawFn) -> Callable[[], Any]:
    """source_name arguments a caller would write: any text, as a value or a condition."""
    text = draw(st.lists(ANY_TEXT, min_size=1, max_size=3))
    kind = draw(
        st.sampled_from(
            [
                "plain",
                "equals",
                "not_equals",
                "contains",
                "starts_with",
                "one_of",
                "contains_one_of",
            ]
        )
    )
    if kind == "plain":
        return lambda: text[0]
    builder = BUILDERS[kind]
    return lambda: builder(*text) if kind.endswith("one_of") else builder(text[0])


def not_a_source(value: object) -> bool:
    """Whether the client refuses this as a source (so no unknown camera reaches the server:
    that is a 400 about meaning, not syntax)."""
    try:
        to_source(value)
    except InvalidInputError:
        return True
    return value is None


# ---------------------------------------------------------------------------- helpers


def sent(sim: Simulator) -> int:
    """Every request the simulator has seen (any route, the token endpoint included)."""
    return sum(sim.stats.requests.values())


@contextlib.contextmanager
def nothing_sent_if_refused(sim: Simulator) -> Iterator[None]:
    """The body may raise only a documented error, and then nothing went to the server."""
    before = sent(sim)
    try:
        yield
    except DOCUMENTED:
        assert sent(sim) == before, "a request went out before the input was refused"
        event("refused before sending")
    else:
        event("sent and answered")


@pytest.fixture
async def env() -> AsyncIterator[tuple[Simulator, XProtectClient]]:
    """A simulator and a logged-in client (the login happens here, not in the examples)."""
    async with Simulator(clock=SimClock()) as sim:
        sim.store_events(
            {"type": str(seed.ANALYTICS_EVENT), "source": f"cameras/{c}", "tag": "seeded"}
            for c in seed.CAMERA_IDS
        )
        async with XProtectClient(
            sim.url, client_id="service", client_secret="service-secret", retry=FAST_RETRY
        ) as client:
            await client.login()
            yield sim, client


# ============================================================================ pure properties


@PURE
@given(spec=condition_specs())
def test_any_filter_argument_encodes_to_what_the_server_parses_or_is_refused(
    spec: Callable[[], Any],
) -> None:
    """as_conditions + encode_conditions: InvalidInputError, or text the server's own parser
    reads back to the same operators (no syntax the server could reject)."""
    try:
        conditions = f.as_conditions(spec())
        text = f.encode_conditions(conditions)
    except InvalidInputError:
        return
    parsed = parse_conditions(text)
    assert [op for op, _ in parsed] == [c.operator for c in conditions]


@PURE
@given(
    prop=st.text(max_size=8) | st.sampled_from(sorted(f.SESSION_PROPERTIES)),
    op=OPERATOR_NAMES,
    value=VALUES,
)
def test_any_session_filter_is_json_or_refused(prop: str, op: str, value: Any) -> None:
    try:
        item = SessionFilter(prop, op, value)
    except InvalidInputError:
        return
    body = orjson.loads(dumps(item.to_wire()))
    assert body["operator"] == op


TRIGGER_FIELDS = {
    "type": st.uuids() | guidish() | VALUES,
    "source": st.none() | guidish() | VALUES,
    "time": DATETIMES | VALUES,
    "tag": st.none() | ANY_TEXT | st.text(min_size=1020, max_size=1030) | VALUES,
    "datatype": st.none() | ANY_TEXT | VALUES,
    "data": st.none() | st.dictionaries(ANY_TEXT, VALUES, max_size=3) | VALUES,
}


@PURE
@given(
    fields=st.fixed_dictionaries(
        {"type": TRIGGER_FIELDS["type"]},
        optional={k: v for k, v in TRIGGER_FIELDS.items() if k != "type"},
    )
)
def test_any_trigger_fields_make_a_json_body_or_are_refused(fields: dict[str, Any]) -> None:
    """EventTrigger(**anything) and its wire body: InvalidInputError or JSON bytes."""
    try:
        trigger = EventTrigger(**fields)
        body = dumps(trigger_to_wire(trigger))
    except InvalidInputError:
        return
    decoded = orjson.loads(body)
    assert uuid.UUID(decoded["type"]) == trigger.type
    assert "datatype" in decoded  # required, may be null [seed]


@PURE
@given(value=guidish() | VALUES)
def test_guidish_values_are_guids_sources_or_refused(value: Any) -> None:
    for check in (to_uuid, to_source):
        with contextlib.suppress(InvalidInputError):
            check(value)


# ============================================================================ over loopback


@LOOPBACK
@given(spec=name_values())
async def test_list_events_by_any_source_name_is_answered_200(
    env: tuple[Simulator, XProtectClient], spec: Callable[[], Any]
) -> None:
    """Any text as a source name, any string operator: a request the server parses."""
    sim, client = env
    with nothing_sent_if_refused(sim):
        [e async for e in client.list_events(source_name=spec(), limit=1)]


@LOOPBACK
@given(spec=plausible_specs() | condition_specs())
async def test_list_events_by_any_filter_argument_is_answered_or_refused_first(
    env: tuple[Simulator, XProtectClient], spec: Callable[[], Any]
) -> None:
    """source_name/source_id of any kind: answered 200, or refused before sending."""
    sim, client = env
    with nothing_sent_if_refused(sim):
        [e async for e in client.list_events(source_name=spec(), limit=1)]
    with nothing_sent_if_refused(sim):
        [e async for e in client.list_events(source_id=spec(), limit=1)]


LIST_OPTIONS = {
    "since": st.none() | AWARE | DATETIMES | VALUES,
    "until": st.none() | AWARE | DATETIMES | VALUES,
    "order": st.sampled_from(["asc", "desc"]) | VALUES,
    "include_data": st.booleans() | VALUES,
    "page_size": st.integers(min_value=-3, max_value=2003) | VALUES,
    "limit": st.none() | st.integers(min_value=-2, max_value=3) | VALUES,
    "filters": st.none()
    | st.dictionaries(
        st.sampled_from([*sorted(f.EVENTS_PROPERTIES), "page", "size", "orderBy", "include"]),
        st.builds(lambda spec: spec(), plausible_specs()) | VALUES,
        max_size=2,
    )
    | VALUES,
}


@LOOPBACK
@given(options=st.fixed_dictionaries({}, optional=LIST_OPTIONS))
async def test_list_events_with_any_options_is_answered_or_refused_first(
    env: tuple[Simulator, XProtectClient], options: dict[str, Any]
) -> None:
    sim, client = env
    with nothing_sent_if_refused(sim):
        [e async for e in client.list_events(**options)]


@pytest.mark.parametrize(
    "options",
    [
        {"since": "2024-05-01T12:00:00Z"},  # was sent: a 400 from the server
        {"since": 5},  # was sent: a 400
        {"until": uuid.UUID(int=1)},  # was sent: a 400
        {"page_size": 5.0},  # was sent: a 400
        {"page_size": "5"},  # was TypeError
        {"limit": "3"},  # was TypeError
        {"limit": 2.5},  # was TypeError, after sending
        {"include_data": "no"},  # was taken as True
        {"filters": [("time", 1)]},  # was AttributeError
        {"filters": {5: 5}},  # was TypeError
        {"filters": {"size": 5}},  # was sent: a 400
        {"filters": {"include": "data"}},  # was sent
        {"filters": {"time": "x"}},  # was sent: a 400
        {"filters": {"time": f.gt("x")}},  # was sent: a 400
        {"filters": {"source.id": 5}},  # was sent: a 400
        {"since": 0.5},  # (already refused before)
    ],
    ids=repr,
)
async def test_list_events_refuses_these_before_sending(
    env: tuple[Simulator, XProtectClient], options: dict[str, Any]
) -> None:
    sim, client = env
    before = sent(sim)
    with pytest.raises(InvalidInputError):
        [e async for e in client.list_events(**options)]
    assert sent(sim) == before


@LOOPBACK
@given(event_id=guidish() | VALUES | st.uuids())
async def test_get_event_by_any_id_is_not_found_or_refused_first(
    env: tuple[Simulator, XProtectClient], event_id: Any
) -> None:
    """A GUID in any spelling is a 404 (unknown), never a 400 (syntax)."""
    sim, client = env
    with nothing_sent_if_refused(sim), pytest.raises(NotFoundError):
        await client.get_event(event_id)


@LOOPBACK
@given(
    fields=st.fixed_dictionaries(
        {"type": st.just(seed.ANALYTICS_EVENT)},
        optional={
            "source": st.none() | KNOWN_SOURCES | VALUES.filter(not_a_source),
            "time": AWARE | DATETIMES | VALUES,
            "tag": st.none() | ANY_TEXT | st.text(min_size=1020, max_size=1030) | VALUES,
            "datatype": st.none() | ANY_TEXT | VALUES,
            "data": st.none() | st.dictionaries(ANY_TEXT, VALUES, max_size=3) | VALUES,
        },
    )
)
async def test_trigger_with_any_fields_is_accepted_or_refused_first(
    env: tuple[Simulator, XProtectClient], fields: dict[str, Any]
) -> None:
    """An analytics event on a real camera with any tag/datatype/data/time: 202, or refused
    before sending. The server never has to answer a 400 for the body's syntax."""
    sim, client = env
    with nothing_sent_if_refused(sim):
        event = await client.trigger_event(EventTrigger(**fields))
        assert event.type == seed.ANALYTICS_EVENT


@LOOPBACK
@given(items=st.lists(st.builds(lambda: None) | VALUES, max_size=4))
async def test_trigger_events_with_anything_reports_each_item(
    env: tuple[Simulator, XProtectClient], items: list[Any]
) -> None:
    """A batch of anything: each item is reported; the invalid ones unsent, never raised."""
    client = env[1]
    good = EventTrigger(type=seed.ANALYTICS_EVENT, source=f"cameras/{seed.CAMERA_IDS[0]}")
    report = await client.trigger_events([good, *items])
    assert len(report.results) == len(items) + 1
    assert report.results[0].status == "accepted"
    for result in report.results[1:]:
        assert result.status == "rejected"
        assert not result.sent
        assert isinstance(result.error, InvalidInputError)


SESSION_OPTIONS = {
    "types": st.none()
    | st.lists(st.just(str(seed.ANALYTICS_EVENT)) | guidish(), max_size=2)
    | VALUES,
    "sources": st.none() | st.lists(guidish(), max_size=2) | VALUES,
    "source_names": st.none() | st.lists(ANY_TEXT, max_size=2) | VALUES,
    "since": st.none() | AWARE | DATETIMES | VALUES,
    "order": st.sampled_from(["asc", "desc"]) | VALUES,
    "include_data": st.booleans() | VALUES,
    "max_size": st.integers(min_value=0, max_value=2001) | VALUES,
    "poll_interval": st.floats(min_value=0.01, max_value=5) | VALUES,
}


@LOOPBACK
@given(options=st.fixed_dictionaries({}, optional=SESSION_OPTIONS))
async def test_event_session_with_any_options_is_created_or_refused_first(
    env: tuple[Simulator, XProtectClient], options: dict[str, Any]
) -> None:
    """Creating an event session: 201, or refused before sending. A type or source that
    the server does not know is fine; a value it cannot parse must not be sent."""
    sim, client = env
    with nothing_sent_if_refused(sim):
        async with client.event_session(**options) as session:
            assert session.id is not None


# ============================================================================ the constructor

CONSTRUCTOR = {
    "username": st.none() | ANY_TEXT | VALUES,
    "password": st.none() | ANY_TEXT | VALUES,
    "client_id": st.none() | ANY_TEXT | VALUES,
    "client_secret": st.none() | ANY_TEXT | VALUES,
    "windows": st.booleans() | VALUES,
    "verify": st.booleans() | st.just("/nonexistent/ca.pem") | VALUES,
    "token_path": st.none() | st.just("/API/IDP/connect/token") | VALUES,
    "timeout": st.floats(min_value=0.5, max_value=30) | VALUES,
    "connect_timeout": st.floats(min_value=0.5, max_value=30) | VALUES,
    "limit": st.integers(min_value=0, max_value=200) | VALUES,
    "retry": st.none() | st.just(RetryPolicy(attempts=1)) | VALUES,
    "profile": st.none() | st.just(Profile()) | VALUES,
    "credentials": st.none() | VALUES,
}
URLS = (
    st.sampled_from(
        [
            "SIM",
            "SIM/",
            "http://",
            "https://",
            "ftp://127.0.0.1",
            "127.0.0.1",
            "http://[::1",
            "http://admin:admin@127.0.0.1:1",
            "https://user:p%40ss@127.0.0.1:1",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:-1",
            "",
        ]
    )
    | ANY_TEXT
    | VALUES
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(url=URLS, options=st.fixed_dictionaries({}, optional=CONSTRUCTOR))
async def test_constructor_with_any_arguments_works_or_is_refused(
    env: tuple[Simulator, XProtectClient], url: Any, options: dict[str, Any]
) -> None:
    """XProtectClient(anything): a documented error at once, or a client whose login
    succeeds or fails with one of the library's errors; never a raw Python error."""
    sim = env[0]
    if url in ("SIM", "SIM/"):
        url = sim.url + url[3:]
    options.setdefault("retry", RetryPolicy(attempts=1))
    try:
        client = XProtectClient(url, **options)
    except DOCUMENTED:
        return
    try:
        async with client:
            await client.login()
    except XProtectError:
        pass


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"username": "admin"},
        {"password": "admin"},
        {"client_id": "service"},
        {"client_secret": "service-secret"},
        {"username": "admin", "client_secret": "s"},
        {"client_id": "", "client_secret": "s"},
    ],
)
def test_no_or_both_credential_kinds_are_configuration_errors(options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        XProtectClient("http://127.0.0.1:1", **options)


@pytest.mark.parametrize(
    "options",
    [
        {"verify": "/nonexistent/ca.pem"},  # was FileNotFoundError
        {"verify": 123},  # was TypeError
        {"verify": __file__},  # not a PEM file: was ssl.SSLError
        {"timeout": "30"},  # was TypeError on the first request
        {"timeout": 0},
        {"connect_timeout": -1},
        {"limit": "x"},  # was TypeError on the first request
        {"limit": -1},
        {"retry": "x"},  # was AttributeError on the first request
        {"profile": "x"},  # was AttributeError on the first request
        {"credentials": "x"},  # was AttributeError on the first request
        {"token_path": 5},  # was TypeError on the first request
        {"token_path": "no-slash"},
        {"windows": "yes"},
        {"username": 5, "password": "p"},
        {"username": "u", "password": b"p"},
        {"client_id": "c", "client_secret": 5},
    ],
    ids=repr,
)
def test_bad_constructor_options_are_refused_at_once(options: dict[str, Any]) -> None:
    options = {"username": "u", "password": "p", **options}
    if "client_id" in options:
        del options["username"], options["password"]
    with pytest.raises(DOCUMENTED) as info:
        XProtectClient("http://127.0.0.1:1", **options)
    secret = options.get("password") or options.get("client_secret")
    assert repr(secret) not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://", "https://", "ftp://127.0.0.1", "127.0.0.1", "http://[::1", "http://h:99999", ""],
)
def test_bad_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInputError, match="server URL"):
        XProtectClient(url, username="u", password="p")


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(InvalidInputError) as info:
        XProtectClient("https://user:S3cretInUrl@vms.example.com", username="u", password="p")
    assert "S3cretInUrl" not in str(info.value)
    assert "S3cretInUrl" not in repr(info.value)


@pytest.mark.parametrize(
    "value", [HUGE, -HUGE, [HUGE], {"x": HUGE}], ids=["huge", "-huge", "[huge]", "{huge}"]
)
def test_numbers_too_long_to_print_are_refused_like_any_bad_value(value: Any) -> None:
    """Python cannot str() or repr() an int of 5000 digits (ValueError): error messages
    that show the bad value must not turn that into a raw ValueError."""
    checks: list[Callable[[], object]] = [
        lambda: EventTrigger(type=value),
        lambda: EventTrigger(type=seed.ANALYTICS_EVENT, source=value),
        lambda: EventTrigger(type=seed.ANALYTICS_EVENT, time=value),
        lambda: EventTrigger(type=seed.ANALYTICS_EVENT, datatype=value),
        lambda: EventTrigger(type=seed.ANALYTICS_EVENT, data=value),
        lambda: f.encode_conditions(f.as_conditions(value)),
        lambda: SessionFilter("tag", "equals", value),
        lambda: to_uuid(value),
    ]
    for check in checks:
        with contextlib.suppress(InvalidInputError):
            check()


@pytest.mark.parametrize(
    "value", [HUGE, -HUGE, math.inf, math.nan, 1e308], ids=["huge", "-huge", "inf", "nan", "1e308"]
)
async def test_numbers_too_long_or_too_large_in_options_are_refused(value: object) -> None:
    """The same for numeric options: refused before anything is sent (nothing listens on
    port 1), never an OverflowError from turning them into floats."""
    options: list[Callable[[XProtectClient], object]] = [
        lambda c: c.list_events(page_size=value),  # type: ignore[arg-type]
        lambda c: c.list_events(limit=-value),  # type: ignore[operator]
        lambda c: c.event_session(max_size=value),  # type: ignore[arg-type]
        lambda c: c.event_session(poll_interval=value),  # type: ignore[arg-type]
        lambda c: c.stream_trigger([], chunk_size=value),  # type: ignore[arg-type]
        lambda c: c.stream_trigger([], concurrency=value),  # type: ignore[arg-type]
    ]
    async with XProtectClient("http://127.0.0.1:1", username="u", password="p") as client:
        for option in options:
            with contextlib.suppress(InvalidInputError):
                option(client)
    for name in ("timeout", "connect_timeout", "limit"):
        bad = -HUGE if name == "limit" and value is HUGE else value  # a huge limit is a limit
        with pytest.raises(InvalidInputError):
            XProtectClient("http://127.0.0.1:1", username="u", password="p", **{name: bad})


def test_non_finite_and_odd_numbers_in_trigger_data_do_not_escape() -> None:
    for data in ({"x": math.nan}, {"x": math.inf}, {"x": 2**64}, {1: "x"}, {"x": {1, 2}}):
        with contextlib.suppress(InvalidInputError):
            dumps(trigger_to_wire(EventTrigger(type=seed.ANALYTICS_EVENT, data=data)))
