"""Configuration routes (the subset event code needs) [sample field names]:

- ``GET /eventTypes[/{id}]`` (stateful types carry ``state`` and ``stateGroupId``);
- ``GET /stateGroups[/{id}]``;
- ``GET|POST /userDefinedEvents``, ``GET|PUT|PATCH|DELETE /userDefinedEvents/{id}`` (an
  injector or a bot creates its own event type; Milestone's RestfulCommunicationPython sample
  renames with ``PUT``, its C# RestfulCommunication sample with ``PATCH``);
- ``GET /analyticsEvents[/{id}]``: the analytics event types (``MIPDevice`` but not
  ``Generic``), the list Milestone's Go web-server sample offers [sample: it reads ``id``,
  ``displayName``, ``description``, ``lastModified`` and ``sourceArray``];
- ``GET /cameras[/{id}]``;
- discovery, ``GET /api/.well-known/uris`` [sample], and the simulator's own
  ``GET /simulator/eventTypes`` (each type's retention: not part of any real server).

A list answers ``{"array": [...]}``: every item when the request names no ``page`` and no
``size`` [sample: Milestone's samples read whole lists from one unpaged GET], else the
``page``-th slice of ``size`` items (``page`` from 0, ``size`` 100 by default, 1 to 2000;
past the end an empty array) [3p: clients that ran against real systems page the
Configuration API with ``page``/``size`` and stop at a short page; one notes that
``_links`` may be missing, so no ``_links`` here]; other values are a 400 [profile].

Changes need a service token or a user who sees every source [profile]. A create answers
``201 {"result": …}`` (the item's fields but ``displayName`` and ``relations``, then
``"state": "Success"`` and ``"path"``), an update ``200 {"data": item}`` and a delete
``200 {"state": "Success"}`` [sample: the screenshot of RestfulCommunicationPython's run].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import attrs
from aiohttp import web

from .directory import Identity
from .helpers import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Routes,
    authenticate,
    guid_param,
    int_param,
    json_body,
    json_response,
    query_of,
)
from .rejected import Rejected, forbidden
from .seed import SimCamera, SimEventType, user_defined
from .state import state_of

PRODUCT_VERSION = "24.1.0.0"  # [profile: any 2023 R2 or later]
WELL_KNOWN_PATH = "/api/.well-known/uris"
RETENTION_PATH = "/simulator/eventTypes"
MAX_NAME = 256  # [profile]


def listed(request: web.Request, items: Iterable[dict[str, Any]]) -> web.Response:
    """``{"array": items}``, or one page of them when the request asks for one."""
    chosen = list(items)
    query = query_of(request)
    if "page" in query or "size" in query:
        page = int_param(request, "page", 0, 0, 2**31 - 1)
        size = int_param(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        chosen = chosen[page * size : (page + 1) * size]
    return json_response({"array": chosen})


def event_type_param(request: web.Request) -> SimEventType:
    event_type = state_of(request).directory.types.get(guid_param(request, "event type"))
    if event_type is None:
        raise Rejected(404, f"Event type not found. {request.match_info['id']}")
    return event_type


async def list_event_types(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return listed(request, (t.to_wire() for t in types))


async def get_event_type(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    return json_response({"data": event_type_param(request).to_wire()})


async def list_state_groups(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    groups = state_of(request).directory.state_groups.values()
    return listed(request, (g.to_wire() for g in groups))


async def get_state_group(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    group = state_of(request).directory.state_groups.get(guid_param(request, "state group"))
    if group is None:
        raise Rejected(404, f"State group not found. {request.match_info['id']}")
    return json_response({"data": group.to_wire()})


def user_defined_param(request: web.Request) -> SimEventType:
    event_type = event_type_param(request)
    if not event_type.is_user_defined:
        raise Rejected(404, f"User-defined event not found. {event_type.id}")
    return event_type


async def list_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return listed(request, (t.to_user_defined_wire() for t in types if t.is_user_defined))


async def get_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    return json_response({"data": user_defined_param(request).to_user_defined_wire()})


def may_configure(request: web.Request, who: Identity) -> None:
    """Configuration changes: service tokens, and users who see every source [profile]."""
    if not who.service and state_of(request).directory.visible(who) is not None:
        raise forbidden()


def new_name(request: web.Request, body: object, keep: SimEventType | None = None) -> str:
    """The ``name`` of a create or update body; one in use by another type (whatever its
    case) is a 400 [profile]."""
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise Rejected(400, f"The name field is required: a string of 1 to {MAX_NAME} characters.")
    for other in state_of(request).directory.types.values():
        if other is not keep and other.name.casefold() == name.casefold():
            raise Rejected(400, f"The name is already in use. {name}")
    return name


def created_result(item: dict[str, Any]) -> dict[str, Any]:
    """A create's ``result``, shaped like the real one [sample]."""
    kept = {k: v for k, v in item.items() if k not in ("displayName", "relations")}
    return {**kept, "state": "Success", "path": item["relations"]["self"]}


async def create_user_defined(request: web.Request) -> web.StreamResponse:
    """``POST /userDefinedEvents`` ``{"name": …}`` → 201 ``{"result": …}``."""
    may_configure(request, authenticate(request))
    name = new_name(request, await json_body(request))
    state = state_of(request)
    event_type = attrs.evolve(user_defined(uuid.uuid4(), name), last_modified=state.clock.now())
    state.directory.add_event_type(event_type)
    return json_response({"result": created_result(event_type.to_user_defined_wire())}, 201)


async def update_user_defined(request: web.Request) -> web.StreamResponse:
    """``PUT`` or ``PATCH /userDefinedEvents/{id}`` ``{"name": …}`` → 200 ``{"data": item}``
    renamed (``name`` is the only writable field); built-in ones stay (400) [profile]."""
    may_configure(request, authenticate(request))
    event_type = user_defined_param(request)
    if event_type.built_in:
        raise Rejected(400, f"A built-in user-defined event cannot be changed. {event_type.id}")
    name = new_name(request, await json_body(request), keep=event_type)
    state = state_of(request)
    renamed = attrs.evolve(
        event_type, name=name, display_name=None, last_modified=state.clock.now()
    )
    state.directory.add_event_type(renamed)
    return json_response({"data": renamed.to_user_defined_wire()})


async def delete_user_defined(request: web.Request) -> web.StreamResponse:
    """``DELETE /userDefinedEvents/{id}`` → 200 ``{"state": "Success"}``; built-in ones stay
    (400) [profile]. Events already stored keep their type id."""
    may_configure(request, authenticate(request))
    event_type = user_defined_param(request)
    if event_type.built_in:
        raise Rejected(400, f"A built-in user-defined event cannot be deleted. {event_type.id}")
    state_of(request).directory.remove_event_type(str(event_type.id))
    return json_response({"state": "Success"})


_ANALYTICS_FIELDS = ("displayName", "id", "name", "description", "lastModified", "sourceArray")


def analytics_wire(event_type: SimEventType) -> dict[str, Any]:
    """An ``/analyticsEvents`` item: the ``/eventTypes`` fields it shares [profile]."""
    item = event_type.to_wire()
    kept = {k: item[k] for k in _ANALYTICS_FIELDS}
    return {**kept, "relations": {"self": {"type": "analyticsEvents", "id": item["id"]}}}


def is_analytics(event_type: SimEventType) -> bool:
    return event_type.generator_type == "MIPDevice" and event_type.generator_subtype != "Generic"


async def list_analytics(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return listed(request, (analytics_wire(t) for t in types if is_analytics(t)))


async def get_analytics(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    event_type = event_type_param(request)
    if not is_analytics(event_type):
        raise Rejected(404, f"Analytics event not found. {event_type.id}")
    return json_response({"data": analytics_wire(event_type)})


def visible_cameras(request: web.Request, who: Identity) -> Iterable[SimCamera]:
    directory = state_of(request).directory
    visible = directory.visible(who)
    return (c for k, c in directory.cameras.items() if visible is None or k in visible)


async def list_cameras(request: web.Request) -> web.StreamResponse:
    """``GET /cameras``: the cameras the token's user may see [seed]."""
    who = authenticate(request)
    return listed(request, (c.to_wire() for c in visible_cameras(request, who)))


async def get_camera(request: web.Request) -> web.StreamResponse:
    who = authenticate(request)
    guid = guid_param(request, "camera")
    for camera in visible_cameras(request, who):
        if str(camera.id) == guid:
            return json_response({"data": camera.to_wire()})
    raise Rejected(404, f"Device not found. cameras/{guid}")


async def well_known_uris(request: web.Request) -> web.StreamResponse:
    """``GET /api/.well-known/uris`` [sample]; no token needed."""
    base = state_of(request).base_url
    secure = base.startswith("https:")
    return json_response(
        {
            "ProductVersion": PRODUCT_VERSION,
            "UnsecureManagementServer": "" if secure else base + "/",
            "SecureManagementServer": base + "/" if secure else "",
            "IdentityProvider": base + "/IDP",
            "ApiGateways": [base + "/API/"],
        }
    )


async def simulator_retention(request: web.Request) -> web.StreamResponse:
    """``GET /simulator/eventTypes``: each type's retention in seconds (null: kept forever;
    0: accepted, never stored). Only the simulator has it; no token needed."""
    types = state_of(request).directory.types.values()
    return json_response(
        {"array": [{"id": str(t.id), "name": t.name, "retention": t.retention} for t in types]}
    )


#: Routes under the API base.
ROUTES: Routes = (
    ("GET", "/eventTypes", list_event_types),
    ("GET", "/eventTypes/{id}", get_event_type),
    ("GET", "/stateGroups", list_state_groups),
    ("GET", "/stateGroups/{id}", get_state_group),
    ("GET", "/userDefinedEvents", list_user_defined),
    ("POST", "/userDefinedEvents", create_user_defined),
    ("GET", "/userDefinedEvents/{id}", get_user_defined),
    ("PUT", "/userDefinedEvents/{id}", update_user_defined),
    ("PATCH", "/userDefinedEvents/{id}", update_user_defined),
    ("DELETE", "/userDefinedEvents/{id}", delete_user_defined),
    ("GET", "/analyticsEvents", list_analytics),
    ("GET", "/analyticsEvents/{id}", get_analytics),
    ("GET", "/cameras", list_cameras),
    ("GET", "/cameras/{id}", get_camera),
)

#: Routes outside the API base (full paths).
OTHER_ROUTES: Routes = (
    ("GET", WELL_KNOWN_PATH, well_known_uris),
    ("GET", RETENTION_PATH, simulator_retention),
)
