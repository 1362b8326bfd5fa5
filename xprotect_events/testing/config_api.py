"""Configuration routes (the subset event code needs) [sample field names]:

- ``GET /eventTypes[/{id}]`` (stateful types carry ``state`` and ``stateGroupId``);
- ``GET /stateGroups[/{id}]``;
- ``GET|POST /userDefinedEvents``, ``GET|DELETE /userDefinedEvents/{id}`` (an injector or a
  bot creates its own event type);
- ``GET /cameras[/{id}]``;
- discovery, ``GET /api/.well-known/uris`` [sample], and the simulator's own
  ``GET /simulator/eventTypes`` (each type's retention: not part of any real server).

Creating and deleting need a service token or a user who sees every source [profile]. A
create answers ``201 {"result": item}`` and a delete ``200 {}`` [profile].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from aiohttp import web

from .directory import Identity
from .helpers import Routes, authenticate, guid_param, json_body, json_response
from .rejected import Rejected, forbidden
from .seed import SimCamera, SimEventType, user_defined
from .state import state_of

PRODUCT_VERSION = "24.1.0.0"  # [profile: any 2023 R2 or later]
WELL_KNOWN_PATH = "/api/.well-known/uris"
RETENTION_PATH = "/simulator/eventTypes"
MAX_NAME = 256  # [profile]


def event_type_param(request: web.Request) -> SimEventType:
    event_type = state_of(request).directory.types.get(guid_param(request, "event type"))
    if event_type is None:
        raise Rejected(404, f"Event type not found. {request.match_info['id']}")
    return event_type


async def list_event_types(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return json_response({"array": [t.to_wire() for t in types]})


async def get_event_type(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    return json_response({"data": event_type_param(request).to_wire()})


async def list_state_groups(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    groups = state_of(request).directory.state_groups.values()
    return json_response({"array": [g.to_wire() for g in groups]})


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
    return json_response({"array": [t.to_user_defined_wire() for t in types if t.is_user_defined]})


async def get_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    return json_response({"data": user_defined_param(request).to_user_defined_wire()})


def may_configure(request: web.Request, who: Identity) -> None:
    """Configuration changes: service tokens, and users who see every source [profile]."""
    if not who.service and state_of(request).directory.visible(who) is not None:
        raise forbidden()


async def create_user_defined(request: web.Request) -> web.StreamResponse:
    """``POST /userDefinedEvents`` ``{"name": …}`` → 201 ``{"result": item}``; a name in use
    (whatever its case) is a 400 [profile]."""
    who = authenticate(request)
    may_configure(request, who)
    body = await json_body(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise Rejected(400, f"The name field is required: a string of 1 to {MAX_NAME} characters.")
    directory = state_of(request).directory
    if any(t.name.casefold() == name.casefold() for t in directory.types.values()):
        raise Rejected(400, f"The name is already in use. {name}")
    event_type = user_defined(uuid.uuid4(), name)
    directory.add_event_type(event_type)
    return json_response({"result": event_type.to_user_defined_wire()}, 201)


async def delete_user_defined(request: web.Request) -> web.StreamResponse:
    """``DELETE /userDefinedEvents/{id}`` → 200 ``{}``; built-in ones stay (400) [profile].
    Events already stored keep their type id."""
    who = authenticate(request)
    may_configure(request, who)
    event_type = user_defined_param(request)
    if event_type.built_in:
        raise Rejected(400, f"A built-in user-defined event cannot be deleted. {event_type.id}")
    state_of(request).directory.remove_event_type(str(event_type.id))
    return json_response({})


def visible_cameras(request: web.Request, who: Identity) -> Iterable[SimCamera]:
    directory = state_of(request).directory
    visible = directory.visible(who)
    return (c for k, c in directory.cameras.items() if visible is None or k in visible)


async def list_cameras(request: web.Request) -> web.StreamResponse:
    """``GET /cameras``: the cameras the token's user may see [seed]."""
    who = authenticate(request)
    return json_response({"array": [c.to_wire() for c in visible_cameras(request, who)]})


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
    ("DELETE", "/userDefinedEvents/{id}", delete_user_defined),
    ("GET", "/cameras", list_cameras),
    ("GET", "/cameras/{id}", get_camera),
)

#: Routes outside the API base (full paths).
OTHER_ROUTES: Routes = (
    ("GET", WELL_KNOWN_PATH, well_known_uris),
    ("GET", RETENTION_PATH, simulator_retention),
)
