"""Configuration routes (the subset event code needs): ``/eventTypes[/{id}]``,
``/userDefinedEvents[/{id}]``, ``/cameras[/{id}]``, and discovery, ``GET
/api/.well-known/uris`` [sample]."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from .directory import Identity
from .helpers import Routes, authenticate, guid_param, json_response
from .rejected import Rejected
from .seed import SimCamera, SimEventType
from .state import state_of

PRODUCT_VERSION = "24.1.0.0"  # [profile: any 2023 R2 or later]
WELL_KNOWN_PATHS = ("/api/.well-known/uris", "/API/.well-known/uris")


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


async def list_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return json_response({"array": [t.to_user_defined_wire() for t in types if t.is_user_defined]})


async def get_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    event_type = event_type_param(request)
    if not event_type.is_user_defined:
        raise Rejected(404, f"User-defined event not found. {event_type.id}")
    return json_response({"data": event_type.to_user_defined_wire()})


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


ROUTES: Routes = (
    ("GET", "/eventTypes", list_event_types),
    ("GET", "/eventTypes/{id}", get_event_type),
    ("GET", "/userDefinedEvents", list_user_defined),
    ("GET", "/userDefinedEvents/{id}", get_user_defined),
    ("GET", "/cameras", list_cameras),
    ("GET", "/cameras/{id}", get_camera),
)
