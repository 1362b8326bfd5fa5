"""Event-session routes: ``POST /eventSessions``, ``GET|DELETE /eventSessions/{id}`` [seed
meaning, profile names]."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .directory import Identity, canonical_guid
from .helpers import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Routes,
    authenticate,
    include_data,
    int_param,
    json_body,
    json_response,
)
from .query import SESSION_OPERATORS, Cond, Query, check_cond
from .rejected import Rejected
from .sessions import ServerSession
from .spelling import spelled
from .state import state_of


def session_conditions(filter_by: Any) -> list[Cond]:
    """The ``EventSessionFilter`` items [seed shape, profile names]; 400 if malformed."""
    if not isinstance(filter_by, list):
        raise Rejected(400, "The filterBy field is required and must be an array.")
    conds = []
    for item in filter_by:
        if not isinstance(item, dict) or not {"property", "operator", "value"} <= item.keys():
            raise Rejected(400, "Each filterBy item needs property, operator and value.")
        prop, op = item["property"], item["operator"]
        if not isinstance(prop, str) or not isinstance(op, str):
            raise Rejected(400, "filterBy property and operator must be strings.")
        conds.append(check_cond(prop, op, item["value"], SESSION_OPERATORS))
    return conds


def session_order(order_by: Any) -> bool:
    """The ``EventSessionOrderBy`` items: only ``time``, ``asc`` or ``desc``; True if desc."""
    if not isinstance(order_by, list):
        raise Rejected(400, "The orderBy field is required and must be an array.")
    desc = False
    for item in order_by:
        if not isinstance(item, dict) or item.get("property") != "time":
            raise Rejected(400, "orderBy items must be {'property': 'time', 'direction': …}.")
        direction = item.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise Rejected(400, f"Invalid orderBy direction {direction!r}: use asc or desc.")
        desc = direction == "desc"
    return desc


def session_body(body: dict[str, Any]) -> dict[str, Any]:
    """A create body and its items in the spelling the server answers with."""
    body = spelled(body, ("filterBy", "orderBy"))
    fields = {"filterBy": ("property", "operator", "value"), "orderBy": ("property", "direction")}
    for key, names in fields.items():
        if isinstance(body.get(key), list):
            body[key] = [spelled(item, names) for item in body[key]]
    return body


async def create_session(request: web.Request) -> web.StreamResponse:
    """``POST /eventSessions`` → 201 with the filters echoed and an ``id`` [seed]."""
    who = authenticate(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Rejected(400, "The request body must be a JSON object.")
    body = session_body(body)
    state = state_of(request)
    conds = session_conditions(body.get("filterBy"))
    desc = session_order(body.get("orderBy"))
    query = Query(conds, state.directory, state.directory.visible(who))
    echo = {"filterBy": body["filterBy"], "orderBy": body["orderBy"]}
    state.sweep()
    session = state.sessions.create(who.key, query, desc, echo, state.now_us())
    return json_response({**echo, "id": session.id}, 201)


def owned_session(request: web.Request, who: Identity) -> ServerSession:
    """The ``{id}`` session of ``who`` if alive, else 404 (also for another identity's).
    The id is a ``<guid>`` [seed]: any spelling of it names the session."""
    state = state_of(request)
    session_id = request.match_info["id"]
    key = canonical_guid(session_id) or session_id
    session = state.sessions.find(key, who.key, state.now_us())
    if session is None:
        raise Rejected(404, f"Event session not found. {session_id}")
    return session


async def read_session(request: web.Request) -> web.StreamResponse:
    """``GET /eventSessions/{id}`` → new events since the last read (at most ``maxSize``)
    and the returned events deleted since [seed meaning, profile names]."""
    who = authenticate(request)
    state = state_of(request)
    max_size = int_param(request, "maxSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    state.sweep()
    session = owned_session(request, who)
    new, deleted = state.sessions.read(session, max_size, state.now_us())
    data = include_data(request)
    return json_response(
        {
            "data": {
                "newEvents": [r.to_wire(data) for r in new],
                "deletedEvents": [r.to_wire(data) for r in deleted],
            }
        }
    )


async def delete_session(request: web.Request) -> web.StreamResponse:
    """``DELETE /eventSessions/{id}`` → 200 ``{}`` [seed]."""
    who = authenticate(request)
    state_of(request).sessions.delete(owned_session(request, who).id)
    return json_response({})


ROUTES: Routes = (
    ("POST", "/eventSessions", create_session),
    ("GET", "/eventSessions/{id}", read_session),
    ("DELETE", "/eventSessions/{id}", delete_session),
)
