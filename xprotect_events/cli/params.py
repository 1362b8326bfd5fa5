"""What the commands take: times, source filters, JSON objects, and the options several
commands share (declared once here)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from .. import (
    Condition,
    InvalidInputError,
    ProtocolError,
    contains,
    equals,
    not_equals,
    one_of,
    starts_with,
)
from ..models import to_source
from ..wire import parse_time

F = TypeVar("F", bound=Callable[..., Any])

_RELATIVE = re.compile(r"-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ZONE = re.compile(r"(z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC time from ISO 8601 with ``Z`` or an offset, ``now``, or ``-1h``/``15m``
    (that long ago). A time without a zone is ambiguous: :class:`ValueError` with a hint."""
    text = text.strip()
    now = now or datetime.now(UTC)
    if text.lower() == "now":
        return now
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        try:
            return now - timedelta(seconds=amount * _UNITS[unit])
        except OverflowError:  # before the year 1: no event is that old
            raise ValueError(f"{text!r} is too long ago: give a time after the year 1") from None
    date, sep, clock = text.upper().partition("T")
    if "-" in date[1:]:
        if not sep or not _ZONE.search(clock):
            raise ValueError(
                f"{text!r} has no time zone; add Z for UTC or an offset like +02:00 "
                f"(e.g. 2024-05-01T12:00:00Z), or give a relative time like -1h or 15m"
            )
        try:
            return parse_time(text)
        except ProtocolError:
            pass
    raise ValueError(
        f"{text!r} is not a time: use ISO 8601 with Z or an offset "
        "(2024-05-01T12:00:00Z), 'now', or a relative time like -1h, 15m, 2d"
    )


if TYPE_CHECKING:
    _TimeParamBase = click.ParamType[datetime]
else:  # click < 8.2: ParamType is not generic
    _TimeParamBase = click.ParamType


class WhenType(_TimeParamBase):
    """A click parameter for :func:`parse_when`."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


WHEN = WhenType()


class Seconds(click.FloatRange):
    """A number of seconds (or any finite number) in a range: ``nan`` and ``inf``, which a
    plain float range lets through, are refused like any value out of range."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


_NAME_OPERATORS = {
    "equals": equals,
    "notEquals": not_equals,
    "contains": contains,
    "startsWith": starts_with,
}


def name_conditions(values: Iterable[str]) -> list[Condition]:
    """``--source-name`` values: plain (equals; several: oneOf) or ``contains:…``,
    ``startsWith:…``, ``notEquals:…``, ``equals:…`` as in the API's own syntax; a value
    no filter can carry (not text) is a usage error."""
    plain: list[str] = []
    conditions: list[Condition] = []
    try:
        for value in values:
            op, sep, rest = value.partition(":")
            if sep and op in _NAME_OPERATORS:
                conditions.append(_NAME_OPERATORS[op](rest))
            else:
                plain.append(value)
        return conditions + _any_of(plain)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--source-name") from None


def id_conditions(values: Iterable[str]) -> list[Condition]:
    """``--source-id`` values: a GUID or ``cameras/<guid>``; ``notEquals:…``; several: oneOf."""
    plain: list[str] = []
    conditions: list[Condition] = []
    for value in values:
        negate = value.startswith("notEquals:")
        source = _checked_source(value.removeprefix("notEquals:"))
        if negate:
            conditions.append(not_equals(source))
        else:
            plain.append(source)
    return conditions + _any_of(plain)


def _any_of(plain: Sequence[str]) -> list[Condition]:
    """Plain values: none, ``equals`` one, or ``oneOf`` several."""
    if not plain:
        return []
    return [equals(plain[0]) if len(plain) == 1 else one_of(*plain)]


def _checked_source(value: str) -> str:
    try:
        source = to_source(value)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--source-id") from None
    assert source is not None
    return source


def parse_json_object(text: str | None, what: str) -> dict[str, Any] | None:
    """``--data``-like values: a JSON object, or a usage error naming ``what``."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}", param_hint=what) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=what)
    return value


def with_options(options: Iterable[Callable[[F], F]]) -> Callable[[F], F]:
    """One decorator adding ``options`` in their order (as if stacked top to bottom)."""
    listed = list(options)

    def decorate(fn: F) -> F:
        for option in reversed(listed):
            fn = option(fn)
        return fn

    return decorate


def include_data_option(whose: str = "each event's") -> Callable[[F], F]:
    """``--include-data``: ask for the data of the events (``whose`` in the help)."""
    return click.option("--include-data", is_flag=True, help=f"Ask for {whose} data.")


#: ``--chunk-size`` and ``--concurrency`` of the commands that trigger in batches.
batch_options: Callable[[F], F] = with_options(
    [
        click.option(
            "--chunk-size",
            type=click.IntRange(1, 100),
            default=100,
            show_default=True,
            help="Triggers per POST (the API takes at most 100).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="POSTs in flight at once.",
        ),
    ]
)
