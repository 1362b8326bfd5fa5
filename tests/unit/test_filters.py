"""Filter expressions: encoding (client side), parsing (server side) and session filters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xprotect_events.errors import InvalidInputError, XProtectError
from xprotect_events.filters import (
    ARRAY_OPERATORS,
    EVENTS_PROPERTIES,
    OPERATORS,
    Condition,
    FilterSyntaxError,
    SessionFilter,
    SessionOrder,
    as_conditions,
    check_operators,
    contains,
    contains_one_of,
    encode_conditions,
    encode_value,
    equals,
    gt,
    lt,
    not_equals,
    one_of,
    parse_conditions,
    quote,
    session_filters,
    starts_with,
)

CAMERA_ID = "d0ba5376-35b6-4cb6-9d38-a976287f3569"  # the seed's source.id example
SCALAR_OPERATORS = sorted(OPERATORS - ARRAY_OPERATORS)
T1 = datetime(2023, 4, 14, 7, 42, 49, 223000, tzinfo=UTC)
T2 = datetime(2023, 4, 12, 7, 42, 49, 223000, tzinfo=UTC)


# ============================================================================ encoding


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        # the seed's Filtering examples (times with the 7 digits the client always writes)
        (lt(T1), "lt:'2023-04-14T07:42:49.2230000Z'"),
        (contains("John"), "contains:'John'"),
        (gt(123), "gt:123"),
        (one_of(1, 4, 8), "oneOf:(1,4,8)"),
        (
            one_of("string value 1", "string value 2"),
            "oneOf:('string value 1','string value 2')",
        ),
        (
            contains("string with 'single' quotes"),
            "contains:'string with ''single'' quotes'",
        ),
        (one_of("with 'quote'", "more 'quotes'"), "oneOf:('with ''quote''','more ''quotes''')"),
        (not_equals(123), "notEquals:123"),
        (starts_with("Event"), "startsWith:'Event'"),
        (contains("a substring"), "contains:'a substring'"),
        (one_of(1, 2, 3), "oneOf:(1,2,3)"),
        (one_of("a", "b"), "oneOf:('a','b')"),
        (not_equals("Camera main entry"), "notEquals:'Camera main entry'"),
        (equals(f"cameras/{CAMERA_ID}"), f"equals:'cameras/{CAMERA_ID}'"),
        # the rest of the helpers
        (equals("O'Brien"), "equals:'O''Brien'"),
        (equals(uuid.UUID(CAMERA_ID)), f"equals:'{CAMERA_ID}'"),
        (equals(-5), "equals:-5"),
        (equals("123"), "equals:'123'"),  # a string that looks like an int stays a string
        (equals(""), "equals:''"),
        (contains_one_of("front", "back"), "containsOneOf:('front','back')"),
        (one_of(uuid.UUID(CAMERA_ID), 7), f"oneOf:('{CAMERA_ID}',7)"),
        (
            gt(datetime(2023, 3, 1, 14, 2, 55, tzinfo=timezone(timedelta(hours=2)))),
            "gt:'2023-03-01T12:02:55.0000000Z'",
        ),
    ],
)
def test_condition_encoding(condition: Condition, text: str) -> None:
    assert condition.encode() == text


@pytest.mark.parametrize(
    "make",
    [
        one_of,
        contains_one_of,
        lambda: Condition("oneOf", []),
        lambda: SessionFilter("tag", "oneOf", []),
    ],
)
def test_a_condition_on_no_values_is_refused(make: Callable[[], object]) -> None:
    """``oneOf:()`` matches nothing: a list built empty by mistake would list nothing (or be
    a 400 from the server); it is refused before anything is sent."""
    with pytest.raises(InvalidInputError, match="with no values matches nothing"):
        make()


def test_helpers_build_the_right_operator() -> None:
    assert lt(1) == Condition("lt", 1)
    assert gt(1) == Condition("gt", 1)
    assert equals(1) == Condition("equals", 1)
    assert not_equals(1) == Condition("notEquals", 1)
    assert starts_with("a") == Condition("startsWith", "a")
    assert contains("a") == Condition("contains", "a")
    assert one_of(1, 2) == Condition("oneOf", (1, 2))
    assert contains_one_of("a") == Condition("containsOneOf", ("a",))


def test_several_conditions_are_comma_joined() -> None:
    assert encode_conditions([lt(T1), gt(T2)]) == (
        "lt:'2023-04-14T07:42:49.2230000Z',gt:'2023-04-12T07:42:49.2230000Z'"
    )
    assert encode_conditions([gt(1)]) == "gt:1"
    assert encode_conditions(c for c in [equals("a"), contains("b''")]) == (
        "equals:'a',contains:'b'''''"
    )


def test_quote_and_encode_value() -> None:
    assert quote("") == "''"
    assert quote("'") == "''''"
    assert quote("it's") == "'it''s'"
    assert encode_value(("a", 1, uuid.UUID(int=0))) == (
        "('a',1,'00000000-0000-0000-0000-000000000000')"
    )
    assert encode_value(T1) == "'2023-04-14T07:42:49.2230000Z'"


def test_condition_accepts_any_sequence_for_array_operators() -> None:
    assert Condition("oneOf", ["a", "b"]).value == ("a", "b")
    assert Condition("containsOneOf", ("a",)).value == ("a",)
    assert Condition("oneOf", frozenset([3])).value == (3,)


# ============================================================================ validation


@pytest.mark.parametrize("operator", ["like", "GT", "eq", "", "oneof", "equals "])
def test_condition_rejects_unknown_operator(operator: str) -> None:
    with pytest.raises(InvalidInputError, match="unknown filter operator"):
        Condition(operator, "x")


@pytest.mark.parametrize("operator", SCALAR_OPERATORS)
@pytest.mark.parametrize("value", [["a"], ("a", "b"), [1, 2], (), {"x"}])
def test_condition_rejects_arrays_for_scalar_operators(operator: str, value: Any) -> None:
    with pytest.raises(InvalidInputError):
        Condition(operator, value)


@pytest.mark.parametrize("operator", sorted(ARRAY_OPERATORS))
@pytest.mark.parametrize("value", ["a", 1, uuid.UUID(int=1), T1])
def test_condition_rejects_scalars_for_array_operators(operator: str, value: Any) -> None:
    with pytest.raises(InvalidInputError):
        Condition(operator, value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: equals(True),
        lambda: gt(False),
        lambda: one_of(1, True),
        lambda: Condition("oneOf", [False]),
    ],
)
def test_condition_rejects_bool(make: Any) -> None:
    with pytest.raises(InvalidInputError):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: lt(datetime(2023, 4, 14, 7, 42)),
        lambda: gt(datetime(2023, 4, 14)),
        lambda: one_of(T1, datetime(2023, 4, 14)),
        lambda: Condition("equals", datetime(2023, 4, 14)),
    ],
)
def test_condition_rejects_naive_datetimes(make: Any) -> None:
    with pytest.raises(InvalidInputError, match="naive"):
        make()


@pytest.mark.parametrize("value", [1.5, None, b"bytes", object(), {"a": 1}, [1.5], [None]])
def test_condition_rejects_other_value_types(value: Any) -> None:
    operator = "oneOf" if isinstance(value, list) else "equals"
    with pytest.raises(InvalidInputError):
        Condition(operator, value)


def test_invalid_filter_input_is_a_value_error_and_xprotect_error() -> None:
    with pytest.raises(ValueError, match="operator") as info:
        Condition("nope", 1)
    assert isinstance(info.value, XProtectError)


# ============================================================================ as_conditions


def test_as_conditions() -> None:
    c = gt(T1)
    assert as_conditions(c) == (c,)
    assert as_conditions("Camera 1") == (equals("Camera 1"),)
    assert as_conditions(5) == (equals(5),)
    assert as_conditions(uuid.UUID(CAMERA_ID)) == (equals(uuid.UUID(CAMERA_ID)),)
    assert as_conditions(T1) == (equals(T1),)
    assert as_conditions([gt(T2), lt(T1)]) == (gt(T2), lt(T1))
    assert as_conditions(x for x in [gt(T2), lt(T1)]) == (gt(T2), lt(T1))


@pytest.mark.parametrize(
    "spec",
    [[], (), ["a"], [gt(1), "x"], {"a": 1}, 2.5, None, True, datetime(2024, 1, 1)],
    ids=repr,
)
def test_as_conditions_rejects(spec: Any) -> None:
    with pytest.raises(InvalidInputError):
        as_conditions(spec)


# ============================================================================ check_operators


def test_check_operators_accepts_allowed() -> None:
    assert check_operators("time", [gt(T2), lt(T1)], EVENTS_PROPERTIES["time"]) is None
    names = [equals("a"), not_equals("b"), contains("c"), starts_with("d"), one_of("e")]
    names.append(contains_one_of("f"))
    check_operators("source.name", names, EVENTS_PROPERTIES["source.name"])
    check_operators("source.id", [one_of(CAMERA_ID)], EVENTS_PROPERTIES["source.id"])


@pytest.mark.parametrize(
    ("prop", "condition"),
    [
        ("time", equals(T1)),
        ("time", one_of(T1)),
        ("source.id", contains("x")),
        ("source.id", contains_one_of("x")),
        ("source.name", gt(1)),
    ],
)
def test_check_operators_rejects(prop: str, condition: Condition) -> None:
    with pytest.raises(InvalidInputError, match=prop.replace(".", r"\.")):
        check_operators(prop, [condition], EVENTS_PROPERTIES[prop])


def test_events_properties_match_the_seed() -> None:
    expected = {
        "time": {"gt", "lt"},
        "source.name": {
            "equals",
            "notEquals",
            "contains",
            "startsWith",
            "oneOf",
            "containsOneOf",
        },
        "source.id": {"equals", "notEquals", "oneOf"},
    }
    assert dict(EVENTS_PROPERTIES) == expected


# ============================================================================ sessions


def test_session_filter_to_wire() -> None:
    assert SessionFilter("source.name", "contains", "Cam").to_wire() == {
        "property": "source.name",
        "operator": "contains",
        "value": "Cam",
    }
    assert SessionFilter("type", "oneOf", [uuid.UUID(int=1), "x", 5]).to_wire() == {
        "property": "type",
        "operator": "oneOf",
        "value": ["00000000-0000-0000-0000-000000000001", "x", "5"],
    }
    assert SessionFilter("time", "gt", T1).to_wire() == {
        "property": "time",
        "operator": "gt",
        "value": "2023-04-14T07:42:49.2230000Z",
    }
    assert SessionFilter("tag", "equals", 7).to_wire()["value"] == "7"


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("like", "x"),
        ("oneOf", "x"),
        ("containsOneOf", 1),
        ("equals", ["x"]),
        ("gt", datetime(2024, 1, 1)),
        ("equals", True),
        ("equals", None),
    ],
)
def test_session_filter_rejects(operator: str, value: Any) -> None:
    with pytest.raises(InvalidInputError):
        SessionFilter("tag", operator, value)


def test_session_filters_from_spec() -> None:
    assert [f.to_wire() for f in session_filters("time", [gt(T2), lt(T1)])] == [
        {"property": "time", "operator": "gt", "value": "2023-04-12T07:42:49.2230000Z"},
        {"property": "time", "operator": "lt", "value": "2023-04-14T07:42:49.2230000Z"},
    ]
    assert [f.to_wire() for f in session_filters("source.id", CAMERA_ID)] == [
        {"property": "source.id", "operator": "equals", "value": CAMERA_ID}
    ]
    with pytest.raises(InvalidInputError):
        session_filters("time", [])


def test_session_order_to_wire() -> None:
    assert SessionOrder().to_wire() == {"property": "time", "direction": "asc"}
    assert SessionOrder(direction="desc").to_wire() == {"property": "time", "direction": "desc"}


# ============================================================================ parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every example of the seed's Filtering section and query parameter docs
        ("lt:'2023-04-14T07:42:49.223Z'", [("lt", "2023-04-14T07:42:49.223Z")]),
        ("contains:'John'", [("contains", "John")]),
        ("gt:123", [("gt", 123)]),
        ("oneOf:(1,4,8)", [("oneOf", (1, 4, 8))]),
        (
            "oneOf:('string value 1','string value 2')",
            [("oneOf", ("string value 1", "string value 2"))],
        ),
        (
            "contains:'string with ''single'' quotes'",
            [("contains", "string with 'single' quotes")],
        ),
        (
            "oneOf:('with ''quote''', 'more ''quotes''')",
            [("oneOf", ("with 'quote'", "more 'quotes'"))],
        ),
        ("value", [("equals", "value")]),
        ("equals:value", [("equals", "value")]),
        ("notEquals:123", [("notEquals", 123)]),
        ("startsWith:'Event'", [("startsWith", "Event")]),
        ("contains:'a substring'", [("contains", "a substring")]),
        ("oneOf:(1,2,3)", [("oneOf", (1, 2, 3))]),
        (
            "lt:'2023-04-14T07:42:49.223Z',gt:'2023-04-12T07:42:49.223Z'",
            [("lt", "2023-04-14T07:42:49.223Z"), ("gt", "2023-04-12T07:42:49.223Z")],
        ),
        (
            "gt:'2023-03-01T12:02:55Z',lt:'2023-03-01T14:02:55.18Z'",
            [("gt", "2023-03-01T12:02:55Z"), ("lt", "2023-03-01T14:02:55.18Z")],
        ),
        ("notEquals:'Camera main entry'", [("notEquals", "Camera main entry")]),
        (
            f"equals:'cameras/{CAMERA_ID}'",
            [("equals", f"cameras/{CAMERA_ID}")],
        ),
        # more
        ("123", [("equals", 123)]),
        ("-5", [("equals", -5)]),
        ("equals:'123'", [("equals", "123")]),
        ("''", [("equals", "")]),
        (f"cameras/{CAMERA_ID}", [("equals", f"cameras/{CAMERA_ID}")]),
        ("oneOf:()", [("oneOf", ())]),
        ("oneOf:( 1 , 'a' )", [("oneOf", (1, "a"))]),
        ("gt:1, lt:5", [("gt", 1), ("lt", 5)]),
        ("containsOneOf:('a')", [("containsOneOf", ("a",))]),
        ("equals:'a:b'", [("equals", "a:b")]),
        ("foo:bar", [("equals", "foo:bar")]),  # not an operator: a bare value
        ("equals:a b", [("equals", "a b")]),
        ("equals:--5", [("equals", "--5")]),
    ],
)
def test_parse_conditions(text: str, expected: list[tuple[str, Any]]) -> None:
    assert parse_conditions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "equals:",
        "gt:1,",
        ",gt:1",
        "contains:'unterminated",
        "contains:'a''",
        "oneOf:(1,2",
        "oneOf:(1,,2)",
        "oneOf:(1,)",
        "oneOf:((1))",
        "oneOf:(1))",
        "oneOf:('a' 'b')",
        "equals:'x' 'y'",
        "'a'b",
        "(",
        "gt:1 2'",
        "equals:" + "9" * 5000,  # more digits than int() converts
    ],
    ids=lambda t: t[:30],
)
def test_parse_conditions_syntax_errors(text: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_conditions(text)


def test_filter_syntax_error_is_a_value_error() -> None:
    assert issubclass(FilterSyntaxError, ValueError)


@given(st.text())
def test_parse_conditions_only_raises_filter_syntax_error(text: str) -> None:
    try:
        result = parse_conditions(text)
    except FilterSyntaxError:
        return
    assert result
    assert all(op in OPERATORS for op, _ in result)


# ============================================================================ round trip

STRINGS = st.text()  # no restriction: quotes, commas, parentheses, colons, spaces, "", …
INTS = st.integers()
SCALARS = STRINGS | INTS


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    operator = draw(st.sampled_from(sorted(OPERATORS)))
    if operator in ARRAY_OPERATORS:
        values = draw(
            st.lists(STRINGS, min_size=1, max_size=4) | st.lists(INTS, min_size=1, max_size=4)
        )
        return Condition(operator, tuple(values))
    return Condition(operator, draw(SCALARS))


@pytest.mark.parametrize("operator", SCALAR_OPERATORS)
@given(value=SCALARS)
def test_round_trip_scalar(operator: str, value: str | int) -> None:
    parsed = parse_conditions(encode_conditions([Condition(operator, value)]))
    assert parsed == [(operator, value)]
    assert type(parsed[0][1]) is type(value)


@pytest.mark.parametrize("operator", sorted(ARRAY_OPERATORS))
@given(values=st.lists(STRINGS, min_size=1, max_size=5) | st.lists(INTS, min_size=1, max_size=5))
def test_round_trip_array(operator: str, values: list[str] | list[int]) -> None:
    parsed = parse_conditions(encode_conditions([Condition(operator, tuple(values))]))
    assert parsed == [(operator, tuple(values))]
    assert [type(v) for v in parsed[0][1]] == [type(v) for v in values]


@given(st.lists(conditions(), min_size=1, max_size=5))
def test_round_trip_several_conditions(conds: list[Condition]) -> None:
    assert parse_conditions(encode_conditions(conds)) == [(c.operator, c.value) for c in conds]


@given(st.uuids(), st.datetimes(timezones=st.just(UTC)))
def test_round_trip_guids_and_times_come_back_as_their_text(
    guid: uuid.UUID, moment: datetime
) -> None:
    parsed = parse_conditions(encode_conditions([equals(guid), gt(moment)]))
    assert parsed == [("equals", str(guid)), ("gt", gt(moment).encode()[4:-1])]
