"""Filter expressions: query strings for ``GET /events`` and filters for event sessions.

Query syntax [seed]: ``property=operator:value``, several conditions comma separated;
strings and date-times in single quotes with a quote doubled; integers bare; arrays in
parentheses. ``parse_conditions`` is the inverse of ``encode_conditions``; the simulator
uses it, so what the client writes is exactly what the server reads.

    >>> encode_conditions([gt(datetime(2024, 1, 1, tzinfo=UTC)), lt(t1)])
    >>> encode_conditions([contains("O'Brien")])      # "contains:'O''Brien'"
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from .checks import aware, is_int, plain_int, plain_str, read_list, utf8
from .errors import InvalidInputError, shown
from .models import to_uuid
from .wire import format_time

Operator = Literal[
    "lt", "gt", "equals", "notEquals", "startsWith", "contains", "oneOf", "containsOneOf"
]
OPERATORS: frozenset[str] = frozenset(
    ("lt", "gt", "equals", "notEquals", "startsWith", "contains", "oneOf", "containsOneOf")
)
ARRAY_OPERATORS: frozenset[str] = frozenset(("oneOf", "containsOneOf"))

Scalar = str | int | datetime | uuid.UUID
Value = Scalar | tuple[Scalar, ...]

#: Operators each ``/events`` property accepts [seed].
EVENTS_PROPERTIES: Mapping[str, frozenset[str]] = {
    "time": frozenset(("gt", "lt")),
    "source.name": frozenset(
        ("equals", "notEquals", "contains", "startsWith", "oneOf", "containsOneOf")
    ),
    "source.id": frozenset(("equals", "notEquals", "oneOf")),
}

#: Properties an event session may filter on [profile].
SESSION_PROPERTIES: frozenset[str] = frozenset(
    ("type", "source.id", "source.name", "tag", "datatype", "time")
)


def _check_scalar(value: object) -> Scalar:
    """The value checked, as a plain str, int, UUID or datetime (a subclass's value, read
    without its own methods: they may be anything)."""
    if isinstance(value, str):
        return utf8("a filter value", value)  # URL encoding would drop a lone surrogate
    if isinstance(value, datetime):
        return aware(value, "a filter time")
    if isinstance(value, uuid.UUID):
        return to_uuid(value, "a filter value")
    if not is_int(value):
        raise InvalidInputError(
            f"a filter value must be a string, int, datetime or UUID, got {shown(value)}"
        )
    number = plain_int(value)
    if number.bit_length() > 10_000:
        try:
            str(number)
        except ValueError:  # more digits than Python writes (sys.set_int_max_str_digits)
            raise InvalidInputError("a filter integer has too many digits to write") from None
    return number


def _convert_value(value: object) -> Value:
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_check_scalar(v) for v in read_list("filter values", value))
    return _check_scalar(value)


def _operator(value: object) -> object:
    """An operator name as a plain str (anything else is refused by :func:`_check_operator`)."""
    return plain_str(value) if isinstance(value, str) else value


def _check_operator(value: object) -> None:
    if not isinstance(value, str) or value not in OPERATORS:
        raise InvalidInputError(
            f"unknown filter operator {shown(value)}; one of {sorted(OPERATORS)}"
        )


def _property(value: object) -> object:
    return plain_str(value) if isinstance(value, str) else value


@attrs.frozen
class Condition:
    """One ``operator:value`` condition. Build with :func:`gt`, :func:`equals`, …"""

    operator: str = attrs.field(converter=_operator)
    value: Value = attrs.field(converter=_convert_value)

    def __attrs_post_init__(self) -> None:
        _check_operator(self.operator)
        is_array = isinstance(self.value, tuple)
        if is_array != (self.operator in ARRAY_OPERATORS):
            need = "a sequence of values" if not is_array else "a single value"
            raise InvalidInputError(f"operator {self.operator!r} takes {need}")
        if self.value == ():
            raise InvalidInputError(f"operator {self.operator!r} with no values matches nothing")

    def encode(self) -> str:
        """``operator:value`` in the query syntax."""
        return f"{self.operator}:{encode_value(self.value)}"


#: The session filter property each list option of ``event_session`` makes.
_SESSION_PROPERTY = {"types": "type", "sources": "source.id", "source_names": "source.name"}


def condition_given(option: str, condition: Condition) -> InvalidInputError:
    """The error for a condition given to a session's list option, naming the filter that
    takes it (``event_session(filters=[SessionFilter(…)])``)."""
    prop = _SESSION_PROPERTY.get(option, "property")
    value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
    example = f"SessionFilter({prop!r}, {condition.operator!r}, {value!r})"
    return InvalidInputError(
        f"{option} takes one value or a list (any of them), not a condition: "
        f"pass filters=[{example}]"
    )


def lt(value: Scalar) -> Condition:
    """Less than ``value`` (a time: before it). For ``source_*`` and session filters."""
    return Condition("lt", value)


def gt(value: Scalar) -> Condition:
    """Greater than ``value`` (a time: after it)."""
    return Condition("gt", value)


def equals(value: Scalar) -> Condition:
    """Equal to ``value`` (what a plain value means)."""
    return Condition("equals", value)


def not_equals(value: Scalar) -> Condition:
    """Anything but ``value``."""
    return Condition("notEquals", value)


def starts_with(value: str) -> Condition:
    """A text that starts with ``value``."""
    return Condition("startsWith", value)


def contains(value: str) -> Condition:
    """A text that contains ``value`` (e.g. ``source_name=contains("Entrance")``)."""
    return Condition("contains", value)


def one_of(*values: Scalar) -> Condition:
    """Equal to any of ``values``; bad values raise InvalidInputError when used."""
    return Condition("oneOf", values)


def contains_one_of(*values: str) -> Condition:
    """A text that contains any of ``values``."""
    return Condition("containsOneOf", values)


def quote(text: str) -> str:
    """``'text'`` with every ``'`` doubled."""
    return "'" + text.replace("'", "''") + "'"


def encode_value(value: Value) -> str:
    """A value in the query syntax: quoted strings, GUIDs and times; bare ints; ``(a,b)``."""
    if isinstance(value, tuple):
        return "(" + ",".join(encode_value(v) for v in value) + ")"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return quote(format_time(value))
    return quote(str(value))


ConditionsLike = Condition | Scalar | Iterable[Condition]


def as_conditions(spec: ConditionsLike) -> tuple[Condition, ...]:
    """A plain value means ``equals``; a condition or an iterable of conditions stays."""
    if isinstance(spec, Condition):
        return (spec,)
    if isinstance(spec, str | int | datetime | uuid.UUID):
        return (equals(spec),)
    if not isinstance(spec, Iterable):  # 2.5, None, …
        raise InvalidInputError(f"expected a value, a Condition or Conditions, got {shown(spec)}")
    conditions = tuple(read_list("conditions", spec))
    if not conditions or not all(isinstance(c, Condition) for c in conditions):
        raise InvalidInputError(f"expected a value, a Condition or Conditions, got {shown(spec)}")
    return conditions


def encode_conditions(conditions: Iterable[Condition]) -> str:
    """``gt:'…',lt:'…'``: several conditions on one property."""
    return ",".join(c.encode() for c in conditions)


def check_operators(prop: str, conditions: Sequence[Condition], allowed: frozenset[str]) -> None:
    """Raise :class:`InvalidInputError` if ``prop`` does not take one of the operators."""
    for c in conditions:
        if c.operator not in allowed:
            raise InvalidInputError(
                f"{prop!r} does not take operator {c.operator!r}; it takes {sorted(allowed)}"
            )


# --------------------------------------------------------------------------- parsing


class FilterSyntaxError(ValueError):
    """The text is not in the filter syntax."""


ParsedValue = str | int | tuple[str | int, ...]


def parse_conditions(text: str) -> list[tuple[str, ParsedValue]]:
    """Parse ``op:value,op:value`` into ``(operator, value)`` pairs (the server's side).

    Quoted values come back as strings with doubled quotes undone; bare digits as ints;
    arrays as tuples. No operator means ``equals``.
    """
    parser = _Parser(text)
    out = [parser.condition()]
    while parser.skip_space() and parser.peek() == ",":
        parser.pos += 1
        out.append(parser.condition())
    if parser.skip_space():
        raise FilterSyntaxError(f"unexpected {parser.text[parser.pos :]!r} in filter {text!r}")
    return out


@attrs.define
class _Parser:
    text: str
    pos: int = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> bool:
        """Skip blanks; True if anything is left."""
        while self.peek() == " ":
            self.pos += 1
        return self.pos < len(self.text)

    def condition(self) -> tuple[str, ParsedValue]:
        self.skip_space()
        head, sep, _ = self.text[self.pos :].partition(":")
        operator = "equals"
        if sep and head in OPERATORS:
            operator = head
            self.pos += len(head) + 1
        self.skip_space()
        if self.peek() == "(":
            return operator, self.array()
        return operator, self.scalar()

    def array(self) -> tuple[str | int, ...]:
        self.pos += 1
        items: list[str | int] = []
        self.skip_space()
        if self.peek() == ")":
            self.pos += 1
            return ()
        while True:
            self.skip_space()
            items.append(self.scalar())
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == ")":
                return tuple(items)
            if char != ",":
                raise FilterSyntaxError(f"expected ',' or ')' in array in {self.text!r}")

    def scalar(self) -> str | int:
        if self.peek() == "'":
            return self.quoted()
        start = self.pos
        while self.peek() not in ("", ",", ")", "(", "'"):
            self.pos += 1
        raw = self.text[start : self.pos].strip()
        if not raw:
            raise FilterSyntaxError(f"empty value in filter {self.text!r}")
        if raw.removeprefix("-").isdigit() and raw.isascii():
            try:
                return int(raw)
            except ValueError:  # more digits than int() converts
                raise FilterSyntaxError(f"integer too long in filter {self.text!r}") from None
        return raw

    def quoted(self) -> str:
        parts: list[str] = []
        self.pos += 1
        while True:
            end = self.text.find("'", self.pos)
            if end < 0:
                raise FilterSyntaxError(f"unterminated quote in filter {self.text!r}")
            parts.append(self.text[self.pos : end])
            self.pos = end + 1
            if self.peek() != "'":
                return "".join(parts)
            parts.append("'")
            self.pos += 1


# --------------------------------------------------------------------------- sessions


def _session_value(value: object) -> str | list[str]:
    converted = _convert_value(value)
    if isinstance(converted, tuple):
        return [_session_scalar(v) for v in converted]
    return _session_scalar(converted)


def _session_scalar(value: Scalar) -> str:
    return format_time(value) if isinstance(value, datetime) else str(value)


@attrs.frozen
class SessionFilter:
    """One ``EventSessionFilter``: ``{"property", "operator", "value"}`` [seed shape]."""

    property: str = attrs.field(converter=_property)
    operator: str = attrs.field(converter=_operator)
    value: str | list[str] = attrs.field(converter=_session_value)

    def __attrs_post_init__(self) -> None:
        _check_operator(self.operator)
        if not isinstance(self.property, str) or not plain_str(self.property):
            raise InvalidInputError(f"a filter property must be a name, got {shown(self.property)}")
        utf8("a filter property", self.property)
        if isinstance(self.value, list) != (self.operator in ARRAY_OPERATORS):
            raise InvalidInputError(f"operator {self.operator!r} takes the wrong kind of value")
        if self.value == []:
            raise InvalidInputError(f"operator {self.operator!r} with no values matches nothing")

    def to_wire(self) -> dict[str, Any]:
        """The filter as the API's JSON (``property``, ``operator``, ``value``)."""
        return {"property": self.property, "operator": self.operator, "value": self.value}


@attrs.frozen
class SessionOrder:
    """One ``EventSessionOrderBy``: ``{"property": "time", "direction": "asc" | "desc"}``."""

    property: str = "time"
    direction: Literal["asc", "desc"] = "asc"

    def to_wire(self) -> dict[str, Any]:
        """The order as the API's JSON (``property``, ``direction``)."""
        return {"property": self.property, "direction": self.direction}


def session_filters(prop: str, spec: ConditionsLike) -> list[SessionFilter]:
    """Session filters for one property from a value or condition(s)."""
    return [SessionFilter(prop, c.operator, c.value) for c in as_conditions(spec)]
