"""Event routes: ``GET /events`` (filtered, ordered, paged), ``GET /events/{id}``,
``POST /events`` and ``POST /events/batch`` [seed, profile]."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..filters import OPERATORS, FilterSyntaxError, parse_conditions
from .batch_accept import accept_batch, accept_plain, encode_answer, plain_bodies
from .directory import Identity
from .helpers import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Routes,
    authenticate,
    check_trigger_rules,
    guid_param,
    include_data,
    int_param,
    json_body,
    json_bytes,
    json_response,
    parse_body,
    query_of,
)
from .query import LIST_OPERATORS, Cond, Query, check_cond
from .records import Record
from .rejected import Rejected
from .state import SimState, state_of
from .triggers import validate_trigger

_LIST_PARAMS = frozenset(("page", "size", "orderBy", "include", *LIST_OPERATORS))
_ORDER_BY = re.compile(r"(asc|desc):'?time'?\Z")
_OPERATOR_HEAD = re.compile(r"(?:^|,)\s*([A-Za-z]+):")


def parse_filter(prop: str, text: str) -> list[Cond]:
    """``op:value,op:value`` of one property [seed], each checked against the operators the
    property takes; 400 naming the property, operator or syntax error."""
    try:
        pairs = parse_conditions(text)
    except FilterSyntaxError as exc:
        for head in _OPERATOR_HEAD.findall(text):
            if head not in OPERATORS:
                raise Rejected(400, f"Unknown operator '{head}' in filter '{prop}'.") from None
        raise Rejected(400, f"Invalid filter '{prop}': {exc}") from None
    return [check_cond(prop, op, value, LIST_OPERATORS) for op, value in pairs]


def parse_order(request: web.Request) -> bool:
    """``orderBy=asc:'time'`` (default) or ``desc:'time'`` [seed]; True when descending."""
    text = query_of(request).get("orderBy")
    if text is None:
        return False
    match = _ORDER_BY.match(text.strip())
    if match is None:
        raise Rejected(400, f"Invalid 'orderBy': {text!r}. Use asc:'time' or desc:'time'.")
    return match.group(1) == "desc"


def list_conditions(request: web.Request) -> list[Cond]:
    """Every filter of a ``GET /events``; an unknown parameter is a 400 naming it."""
    conds: list[Cond] = []
    for name, value in query_of(request).items():
        if name not in _LIST_PARAMS:
            raise Rejected(400, f"Unknown query parameter '{name}'.")
        if name in LIST_OPERATORS:
            conds.extend(parse_filter(name, value))
    return conds


def page_links(request: web.Request, page: int, more: bool) -> dict[str, str]:
    """``self``, ``next`` (absent on the last page), ``prev`` (absent on page 0) [profile]."""
    links = {"self": str(request.url)}
    query = query_of(request)  # ``Page=0`` is replaced, not followed by a second ``page``
    if more:
        links["next"] = str(request.url.with_query({**query, "page": str(page + 1)}))
    if page > 0:
        links["prev"] = str(request.url.with_query({**query, "page": str(page - 1)}))
    return links


async def list_events(request: web.Request) -> web.StreamResponse:
    """``GET /events``: stored events, filtered, ordered and paged [seed]; a user sees only
    events whose source it may see."""
    who = authenticate(request)
    state = state_of(request)
    conds = list_conditions(request)
    desc = parse_order(request)
    page = int_param(request, "page", 0, 0, 2**31 - 1)
    size = int_param(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    query = Query(conds, state.directory, state.directory.visible(who))
    state.sweep()
    records, more = state.store.page(query, desc, page, size)
    data = include_data(request)
    return json_response(
        {"_links": page_links(request, page, more), "array": [r.to_wire(data) for r in records]}
    )


def visible_record(state: SimState, who: Identity, event_id: str) -> Record:
    """A stored event ``who`` may see, else 404 [sample]."""
    state.sweep()
    record = state.store.get(event_id)
    visible = state.directory.visible(who)
    if record is None or (visible is not None and record.source_guid not in visible):
        raise Rejected(404, f"Event not found. {event_id}")
    return record


async def get_event(request: web.Request) -> web.StreamResponse:
    """``GET /events/{id}`` → ``{"data": event}`` [seed]."""
    who = authenticate(request)
    event_id = guid_param(request, "event")
    record = visible_record(state_of(request), who, event_id)
    return json_response({"data": record.to_wire(include_data(request))})


def accept(state: SimState, who: Identity, body: Any, now_us: int) -> dict[str, Any]:
    """Validate and store one trigger; the event as answered (with its data)."""
    record = validate_trigger(body, who, state.directory, now_us)
    state.stats.events_accepted += 1
    state.store.admit(record, now_us)
    return record.to_wire(True)


async def trigger_event(request: web.Request) -> web.StreamResponse:
    """``POST /events`` → 202 ``{"data": event}`` [seed, sample]."""
    who = authenticate(request)
    check_trigger_rules(request)
    body = await json_body(request)
    state = state_of(request)
    state.sweep()
    return json_response({"data": accept(state, who, body, state.now_us())}, 202)


async def trigger_batch(request: web.Request) -> web.StreamResponse:
    """``POST /events/batch`` → 200 ``{"array": [...]}``, one event or error per body, in
    order [profile]; more than ``max_batch`` bodies is a 400 for the whole request."""
    who = authenticate(request)
    check_trigger_rules(request)
    raw = await request.read()
    plain = plain_bodies(raw)
    body = parse_body(raw) if plain is None else plain
    state = state_of(request)
    if not isinstance(body, list):
        raise Rejected(400, "The request body must be a JSON array of events.")
    if len(body) > state.max_batch:
        raise Rejected(400, f"Too many events: {len(body)}; at most {state.max_batch} per call.")
    state.sweep()
    if plain is None:
        return json_response({"array": accept_batch(state, who, body, state.now_us())})
    answer = encode_answer(accept_plain(state, who, plain, state.now_us()))
    return json_bytes(answer)


ROUTES: Routes = (
    ("GET", "/events", list_events),
    ("POST", "/events", trigger_event),
    ("POST", "/events/batch", trigger_batch),
    ("GET", "/events/{id}", get_event),
)
