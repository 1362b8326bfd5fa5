"""The options of every request, validated in one pure place, before anything is sent.

``list_query`` (``GET /events``), ``session_spec`` (event sessions), ``batch_spec``
(batch triggering) and ``check_settings`` (the client's constructor) each return what they
checked or raise :class:`InvalidInputError`; the primitive checks are :mod:`.checks`'.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict

import attrs

from . import filters as f
from .checkpoints import CheckpointStore, store_of
from .checks import (
    Order,
    aware,
    boolean,
    int_in,
    order,
    plain_str,
    read_list,
    read_pairs,
    seconds,
    utf8,
)
from .errors import InvalidInputError, shown
from .models import EventTrigger, to_source, to_uuid
from .origins import Mismatch, mismatch
from .policy import RetryPolicy
from .profile import Profile

TriggersLike = Iterable[EventTrigger] | AsyncIterable[EventTrigger]
#: ``on_progress(done, total)``: triggers accounted for so far, and the total when known
#: (a plain function; one that raises is logged and the batch goes on).
Progress = Callable[[int, int | None], None]

#: Query parameters of ``GET /events`` that only the client's own options set.
OWN_PARAMS = frozenset(("page", "size", "orderBy", "include"))


# --------------------------------------------------------------------------- GET /events


class ListOptions(TypedDict, total=False):
    """The options of ``XProtectClient.list_events``; the defaults are :func:`list_query`'s."""

    since: datetime | None
    until: datetime | None
    source_name: f.ConditionsLike | None
    source_id: f.ConditionsLike | None
    order: Order
    include_data: bool
    page_size: int
    limit: int | None
    filters: Mapping[str, f.ConditionsLike] | None


@attrs.frozen(kw_only=True)
class ListQuery:
    """``list_events``' options, checked: the query (without ``page``), the limits, the
    order, and the tightest of the caller's own time bounds (exclusive; None: unbounded),
    from ``since``/``until`` or a ``time`` filter."""

    params: dict[str, str]
    page_size: int
    limit: int | None
    desc: bool = False
    since: datetime | None = None
    until: datetime | None = None


def list_query(options: ListOptions, max_page_size: int) -> ListQuery:
    """Check ``list_events``' options (``max_page_size``: the most ``page_size`` may be)."""
    _only_known(options, ListOptions.__optional_keys__)
    page_size = int_in("page_size", options.get("page_size", 100), 1, max_page_size)
    direction = order(options.get("order", "asc"))
    params = {"size": str(page_size), "orderBy": f"{direction}:'time'"}
    if boolean("include_data", options.get("include_data", False)):
        params["include"] = "data"
    since, until = options.get("since"), options.get("until")
    time_conditions = [f.gt(aware(since, "since"))] if since is not None else []
    time_conditions += [f.lt(aware(until, "until"))] if until is not None else []
    checked = {"time": time_conditions} if time_conditions else {}
    for prop, key in (("source.name", "source_name"), ("source.id", "source_id")):
        spec = options.get(key)
        if spec is not None:
            checked[prop] = list(f.as_conditions(spec))  # type: ignore[arg-type]
    for prop, conditions in checked.items():
        params[prop] = _encoded(prop, conditions)
    filters = options.get("filters")
    if filters is not None and not isinstance(filters, Mapping):
        raise InvalidInputError(f"filters must be a mapping, got {shown(filters)}")
    for key, spec in read_pairs("filters", {} if filters is None else filters):
        prop = utf8("a filter property", key) if isinstance(key, str) else ""
        if not prop or prop in params or prop in OWN_PARAMS:
            raise InvalidInputError(f"filters cannot set {shown(key)}")
        given = f.as_conditions(spec)
        params[prop] = _encoded(prop, given)
        if prop == "time":
            time_conditions = list(given)
    limit = options.get("limit")
    if limit is not None:
        limit = int_in("limit", limit, 0, note=" (or None)")
    since, until = _time_bounds(time_conditions)
    return ListQuery(
        params=params,
        page_size=page_size,
        limit=limit,
        desc=direction == "desc",
        since=since,
        until=until,
    )


def _time_bounds(conditions: list[f.Condition]) -> tuple[datetime | None, datetime | None]:
    """The tightest ``gt`` and ``lt`` of checked time conditions (aware datetimes)."""
    times = [(c.operator, c.value) for c in conditions if isinstance(c.value, datetime)]
    after = [value for op, value in times if op == "gt"]
    before = [value for op, value in times if op == "lt"]
    return (max(after) if after else None, min(before) if before else None)


def _encoded(prop: str, conditions: tuple[f.Condition, ...] | list[f.Condition]) -> str:
    """Conditions on one property, checked against what the property takes, encoded."""
    if prop in f.EVENTS_PROPERTIES:
        f.check_operators(prop, conditions, f.EVENTS_PROPERTIES[prop])
        for c in conditions:
            if prop == "time":
                aware(c.value, "a time filter")
            elif prop == "source.id":
                _check_source_ids(c)
    return f.encode_conditions(conditions)


def _check_source_ids(condition: f.Condition) -> None:
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    for value in values:
        if not isinstance(value, uuid.UUID):
            to_source(value)


# --------------------------------------------------------------------------- event sessions


class SessionOptions(TypedDict, total=False):
    """The options of ``XProtectClient.event_session`` (and ``stream_events``); the
    defaults are :func:`session_spec`'s."""

    types: Iterable[uuid.UUID | str] | None
    sources: Iterable[uuid.UUID | str] | None
    source_names: Iterable[str] | None
    filters: Iterable[f.SessionFilter] | None
    since: datetime | None
    order: Order
    include_data: bool
    max_size: int
    poll_interval: float
    close_timeout: float
    checkpoint: str | os.PathLike[str] | CheckpointStore | None
    checkpoint_interval: float
    checkpoint_mismatch: Mismatch


@attrs.frozen(kw_only=True)
class SessionSpec:
    """An event session's options, checked: the filters, the order and the read query."""

    filters: list[f.SessionFilter]
    order: Order
    max_size: int
    read_params: dict[str, str]
    poll_interval: float
    close_timeout: float
    since: datetime | None
    checkpoint: CheckpointStore | None = None
    #: Whether the session made the store from a path (and so closes it on exit).
    owns_checkpoint: bool = False
    checkpoint_interval: float = 1.0
    #: What a stored position made for another server or other filters gets.
    checkpoint_mismatch: Mismatch = "refuse"


def session_spec(options: SessionOptions, max_read: int) -> SessionSpec:
    """Check an event session's options (``max_read``: the most ``max_size`` may be)."""
    _only_known(options, SessionOptions.__optional_keys__)
    base = _base_filters(
        options.get("types"),
        options.get("sources"),
        options.get("source_names"),
        options.get("filters"),
    )
    direction = order(options.get("order", "asc"))
    max_size = int_in("max_size", options.get("max_size", 100), 1, max_read)
    params = {"maxSize": str(max_size)}
    if boolean("include_data", options.get("include_data", False)):
        params["include"] = "data"
    since = options.get("since")
    store, owned = _checkpoint(options.get("checkpoint"), direction)
    return SessionSpec(
        checkpoint=store,
        owns_checkpoint=owned,
        checkpoint_interval=_interval(options.get("checkpoint_interval", 1.0)),
        checkpoint_mismatch=mismatch(options.get("checkpoint_mismatch", "refuse")),
        filters=base,
        order=direction,
        max_size=max_size,
        read_params=params,
        poll_interval=seconds("poll_interval", options.get("poll_interval", 1.0)),
        close_timeout=seconds("close_timeout", options.get("close_timeout", 5.0)),
        since=None if since is None else aware(since, "since"),
    )


def _checkpoint(value: object, direction: Order) -> tuple[CheckpointStore | None, bool]:
    """The store a ``checkpoint`` option names, and whether the session owns it (a path)."""
    if value is None:
        return None, False
    if direction == "desc":
        raise InvalidInputError(
            "a checkpoint needs order='asc': a 'desc' stream has no resume point"
        )
    store, owned = store_of(value)
    return store, owned is not None


def _interval(value: object) -> float:
    """``checkpoint_interval``: seconds, or 0 (save after every event)."""
    return seconds("checkpoint_interval", value, most=1e9, zero=True)


def _only_known(options: Mapping[str, object], known: frozenset[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidInputError(f"unknown option(s) {', '.join(unknown)}; known: {sorted(known)}")


def _base_filters(
    types: Iterable[uuid.UUID | str] | None,
    sources: Iterable[uuid.UUID | str] | None,
    source_names: Iterable[str] | None,
    filters: Iterable[f.SessionFilter] | None,
) -> list[f.SessionFilter]:
    out: list[f.SessionFilter] = []
    if types is not None:
        out.append(_any_of("type", [str(to_uuid(t, "type")) for t in _items(types, "types")]))
    if sources is not None:
        out.append(_any_of("source.id", [_source(s) for s in _items(sources, "sources")]))
    if source_names is not None:
        names = [_name(n) for n in _items(source_names, "source_names")]
        out.append(_any_of("source.name", names))
    for item in _items(() if filters is None else filters, "filters"):
        if not isinstance(item, f.SessionFilter):
            raise InvalidInputError(f"filters must be SessionFilter objects, got {shown(item)}")
        out.append(item)
    return out


def _items(values: Iterable[Any], what: str) -> list[Any]:
    """A list from an iterable; a single string or UUID counts as a list of one."""
    if isinstance(values, str | uuid.UUID):
        return [values]
    if isinstance(values, f.Condition):
        raise f.condition_given(what, values)
    return read_list(what, values)


def _any_of(prop: str, values: list[str]) -> f.SessionFilter:
    if not values:
        raise InvalidInputError(f"an empty list of {prop!r} values matches nothing")
    if len(values) == 1:
        return f.SessionFilter(prop, "equals", values[0])
    return f.SessionFilter(prop, "oneOf", values)


def _source(value: object) -> str:
    source = to_source(value)
    if source is None:
        raise InvalidInputError("a source must be a GUID or 'cameras/<guid>', got None")
    return source


def _name(value: object) -> str:
    if not isinstance(value, str) or not plain_str(value):
        raise InvalidInputError(f"a source name must be a non-empty string, got {shown(value)}")
    return utf8("a source name", value)


# --------------------------------------------------------------------------- batches


class BatchOptions(TypedDict, total=False):
    """The options of ``XProtectClient.trigger_events`` (and ``stream_trigger``); the
    defaults are :func:`batch_spec`'s."""

    chunk_size: int
    concurrency: int
    on_progress: Progress | None
    reject_invalid: bool
    reconcile: bool
    stored_types: Iterable[uuid.UUID | str] | None
    settle: float


@attrs.frozen(kw_only=True)
class BatchSpec:
    """A batch's options, checked."""

    chunk_size: int
    concurrency: int
    on_progress: Progress | None
    reject_invalid: bool
    #: ``trigger_events(reconcile=True)``: look the unknown ones up (``client.reconcile``).
    reconcile: bool = False
    stored_types: frozenset[uuid.UUID] | None = None
    settle: float = 10.0


def batch_spec(triggers: object, options: BatchOptions, *, max_batch: int, limit: int) -> BatchSpec:
    """Check a batch's options; ``limit`` is the connection limit (0: none)."""
    _only_known(options, BatchOptions.__optional_keys__)
    chunk_size = int_in("chunk_size", options.get("chunk_size", 100), 1, max_batch)
    concurrency = options.get("concurrency", 8)
    if limit:  # aiohttp: 0 means no limit
        concurrency = int_in("concurrency", concurrency, 1, limit, note=" (the connection limit)")
    else:
        concurrency = int_in("concurrency", concurrency, 1)
    if not isinstance(triggers, Iterable | AsyncIterable) or isinstance(triggers, _TEXTS):
        raise InvalidInputError(
            "triggers must be an iterable or async iterable of EventTrigger, "
            f"got {type(triggers).__name__}"
        )
    on_progress = options.get("on_progress")
    if on_progress is not None and (
        not callable(on_progress) or inspect.iscoroutinefunction(on_progress)
    ):
        raise InvalidInputError(
            "on_progress must be a plain function or None (it is called, never awaited), "
            f"got {shown(on_progress)}"
        )
    stored = options.get("stored_types")
    return BatchSpec(
        chunk_size=chunk_size,
        concurrency=concurrency,
        on_progress=on_progress,
        reject_invalid=boolean("reject_invalid", options.get("reject_invalid", False)),
        reconcile=boolean("reconcile", options.get("reconcile", False)),
        stored_types=None if stored is None else stored_type_ids(stored),
        settle=settle_seconds(options.get("settle", 10.0)),
    )


#: Iterables whose items are never triggers (characters, bytes): a mistake, refused.
_TEXTS = (str, bytes, bytearray, memoryview)


def stored_type_ids(types: Iterable[uuid.UUID | str]) -> frozenset[uuid.UUID]:
    """``stored_types``, checked: event type GUIDs."""
    return frozenset(to_uuid(t, "stored type") for t in _items(types, "stored_types"))


def settle_seconds(value: object) -> float:
    """``settle``: seconds >= 0 to wait before "not found" counts as "did not land"."""
    return seconds("settle", value, most=1e6, zero=True)


# --------------------------------------------------------------------------- the client


def check_settings(
    *,
    limit: object,
    retry: object,
    profile: object,
    credentials: object,
    clock: object,
    token_path: object,
    windows: object,
    max_response_bytes: object = 64 * 1024 * 1024,
) -> None:
    """The constructor's options other than the URL, the secrets and what the transport
    checks itself (timeouts, proxy, TLS)."""
    int_in("max_response_bytes", max_response_bytes, 1024, note=" (bytes)")
    int_in("limit", limit, 0, note=" (0: no limit)")
    checks = (
        ("retry", retry, retry is None or isinstance(retry, RetryPolicy)),
        ("profile", profile, profile is None or isinstance(profile, Profile)),
        ("credentials", credentials, credentials is None or hasattr(credentials, "fetch_token")),
        ("clock", clock, callable(clock)),
        ("token_path", token_path, token_path is None or _is_path(token_path)),
        ("windows", windows, isinstance(windows, bool)),
    )
    for name, value, ok in checks:
        if not ok:
            raise InvalidInputError(f"{name} is not valid here: {shown(value)}")


def _is_path(value: object) -> bool:
    text = plain_str(value) if isinstance(value, str) else ""
    return text.startswith("/") and text.isprintable()
