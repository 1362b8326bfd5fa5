"""Event queries: the operators each property takes, checked conditions (:class:`Cond`) and
:class:`Query`, the compiled filters of a listing or an event session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from ..errors import ProtocolError
from ..wire import parse_time
from .clock import to_us
from .directory import Directory, Visible, canonical_guid
from .records import KEY_MAX, KEY_MIN, SEQ_BITS, SEQ_MASK, Record
from .rejected import Rejected

#: Operators each ``/events`` query property takes [seed].
LIST_OPERATORS: Mapping[str, frozenset[str]] = {
    "time": frozenset(("gt", "lt")),
    "source.name": frozenset(
        ("equals", "notEquals", "contains", "startsWith", "oneOf", "containsOneOf")
    ),
    "source.id": frozenset(("equals", "notEquals", "oneOf")),
}
_STRING_OPERATORS = LIST_OPERATORS["source.name"]
_ID_OPERATORS = LIST_OPERATORS["source.id"]
#: Operators each event-session filter property takes [profile].
SESSION_OPERATORS: Mapping[str, frozenset[str]] = {
    "type": _ID_OPERATORS,
    "source.id": _ID_OPERATORS,
    "source.name": _STRING_OPERATORS,
    "tag": _STRING_OPERATORS,
    "datatype": _STRING_OPERATORS,
    "time": LIST_OPERATORS["time"],
}
ARRAY_OPERATORS = frozenset(("oneOf", "containsOneOf"))

CondValue = str | tuple[str, ...]
StrTest = Callable[[str | None], bool]


@attrs.frozen
class Cond:
    """One checked condition: ``property``, ``operator`` and a string or tuple of strings."""

    prop: str
    op: str
    value: CondValue


def _string_test(op: str, value: CondValue, fold: bool) -> StrTest:
    """The test of one string operator; None (no value) passes only ``notEquals`` [profile]."""
    norm: Callable[[str], str] = str.casefold if fold else str
    if isinstance(value, tuple):
        values = tuple(norm(v) for v in value)
        if op == "oneOf":
            members = frozenset(values)
            return lambda x: x is not None and norm(x) in members
        return lambda x: x is not None and any(v in norm(x) for v in values)
    v = norm(value)
    tests: dict[str, StrTest] = {
        "equals": lambda x: x is not None and norm(x) == v,
        "notEquals": lambda x: x is None or norm(x) != v,
        "startsWith": lambda x: x is not None and norm(x).startswith(v),
        "contains": lambda x: x is not None and v in norm(x),
    }
    return tests[op]


def _all(tests: Sequence[StrTest]) -> StrTest | None:
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda x: all(t(x) for t in tests)


def _guids(prop: str, value: CondValue) -> CondValue:
    """GUID values in canonical form; ``source.id`` also takes ``cameras/<guid>`` [seed]."""

    def one(text: str) -> str:
        raw = text.rpartition("/")[2] if prop == "source.id" else text
        guid = canonical_guid(raw)
        if guid is None:
            raise Rejected(400, f"Invalid filter value for '{prop}': {text!r} is not a GUID.")
        return guid

    return tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)


def _time_us(prop: str, value: CondValue) -> int:
    if not isinstance(value, str):
        raise Rejected(400, f"Invalid filter value for '{prop}': expected a date-time.")
    try:
        return to_us(parse_time(value))
    except ProtocolError:
        msg = f"Invalid filter value for '{prop}': {value!r} is not a date-time."
        raise Rejected(400, msg) from None


class Query:
    """Compiled filters: a time window on keys, plus tests on source, type, tag, datatype
    and the identity's visibility. ``source_ok`` answers per source GUID and is memoised."""

    def __init__(self, conds: Iterable[Cond], directory: Directory, visible: Visible) -> None:
        self.lo = KEY_MIN  # (not -1: an event before 1970 has a negative key)
        self.hi = KEY_MAX
        self.visible = visible
        self._names = directory
        source_tests: list[StrTest] = []
        type_tests: list[StrTest] = []
        tag_tests: list[StrTest] = []
        datatype_tests: list[StrTest] = []
        self.type_keys: frozenset[str] | None = None
        for c in conds:
            self._add(c, source_tests, type_tests, tag_tests, datatype_tests)
        self._source_test = _all(source_tests)
        self._type_test = _all(type_tests)
        self._tag_test = _all(tag_tests)
        self._datatype_test = _all(datatype_tests)
        self._source_memo: dict[str | None, bool] = {}
        self.source_unfiltered = self._source_test is None and visible is None

    def _add(
        self,
        c: Cond,
        source_tests: list[StrTest],
        type_tests: list[StrTest],
        tag_tests: list[StrTest],
        datatype_tests: list[StrTest],
    ) -> None:
        if c.prop == "time":
            us = _time_us(c.prop, c.value)
            if c.op == "gt":
                self.lo = max(self.lo, us << SEQ_BITS | SEQ_MASK)
            else:
                self.hi = min(self.hi, us << SEQ_BITS)
        elif c.prop == "source.id":
            source_tests.append(_string_test(c.op, _guids(c.prop, c.value), False))
        elif c.prop == "source.name":
            test = _string_test(c.op, c.value, True)
            source_tests.append(lambda g: test(self._names.source_name(g)))
        elif c.prop == "type":
            value = _guids(c.prop, c.value)
            type_tests.append(_string_test(c.op, value, False))
            if c.op != "notEquals":
                keys = frozenset(value if isinstance(value, tuple) else (value,))
                self.type_keys = keys if self.type_keys is None else self.type_keys & keys
        elif c.prop == "tag":
            tag_tests.append(_string_test(c.op, c.value, False))
        else:
            datatype_tests.append(_string_test(c.op, c.value, False))

    def source_ok(self, guid: str | None) -> bool:
        """Whether events of this source pass the source filters and the visibility."""
        memo = self._source_memo.get(guid)
        if memo is None:
            memo = (self.visible is None or guid in self.visible) and (
                self._source_test is None or self._source_test(guid)
            )
            self._source_memo[guid] = memo
        return memo

    def match(self, rec: Record) -> bool:
        """Whether one record passes every filter."""
        return (
            self.lo < rec.key < self.hi
            and (self.source_unfiltered or self.source_ok(rec.source_guid))
            and (self._type_test is None or self._type_test(rec.type))
            and (self._tag_test is None or self._tag_test(rec.tag))
            and (self._datatype_test is None or self._datatype_test(rec.datatype))
        )


def check_cond(prop: str, op: str, value: object, operators: Mapping[str, frozenset[str]]) -> Cond:
    """A :class:`Cond` if ``prop`` takes ``op`` and ``value`` has the right kind, else 400."""
    allowed = operators.get(prop)
    if allowed is None:
        raise Rejected(400, f"Unknown filter property '{prop}'. Allowed: {', '.join(operators)}.")
    if op not in allowed:
        names = ", ".join(sorted(allowed))
        raise Rejected(400, f"Operator '{op}' is not allowed on '{prop}'. Allowed: {names}.")
    if isinstance(value, list | tuple):
        value = tuple(str(v) if isinstance(v, int) else v for v in value)
        if op in ARRAY_OPERATORS and all(isinstance(v, str) for v in value):
            return Cond(prop, op, value)
    elif isinstance(value, int) and not isinstance(value, bool) and prop != "time":
        value = str(value)
    if isinstance(value, str) and op not in ARRAY_OPERATORS:
        return Cond(prop, op, value)
    need = "an array of strings" if op in ARRAY_OPERATORS else "a string"
    raise Rejected(400, f"Operator '{op}' on '{prop}' takes {need}.")
