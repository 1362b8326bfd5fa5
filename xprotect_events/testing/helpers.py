"""What every route shares: JSON and error answers, the counting and error middlewares, the
bearer-token check and the query-parameter readers."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..errors import ErrorDetail, ProtocolError
from ..wire import dumps, error_body_to_wire, loads
from .directory import Identity, canonical_guid
from .rejected import JSON_TYPE, Rejected
from .routing import Handler, route_key
from .state import state_of

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000  # [profile]
DEFAULT_PAGE_SIZE = 100  # [profile]

#: ``(method, path under the API, handler)``: how each route module lists its routes.
Routes = tuple[tuple[str, str, Handler], ...]


def json_response(body: Any, status: int = 200, *, media_type: str = JSON_TYPE) -> web.Response:
    return json_bytes(dumps(body), status, media_type=media_type)


def json_bytes(raw: bytes, status: int = 200, *, media_type: str = JSON_TYPE) -> web.Response:
    """An answer of JSON already encoded."""
    return web.Response(body=raw, status=status, headers={"Content-Type": media_type})


def error_body(status: int, text: str, text_id: str | None = None) -> dict[str, Any]:
    """The wrapped error body ``{"error": {"httpCode", "details"}}`` [sample]."""
    return error_body_to_wire(status, ErrorDetail(error_text=text, error_text_id=text_id))


def error_response(status: int, text: str, text_id: str | None = None) -> web.Response:
    """The wrapped error body [sample]; 401 also says ``WWW-Authenticate: Bearer``."""
    response = json_response(error_body(status, text, text_id), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@web.middleware
async def count_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by route key, faulted or not, and those being handled now."""
    stats = state_of(request).stats
    stats.requests[route_key(request)] += 1
    stats.in_flight += 1
    try:
        return await handler(request)
    finally:
        stats.in_flight -= 1


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals, unknown routes and crashes into wrapped error bodies."""
    try:
        return await handler(request)
    except Rejected as exc:
        return error_response(exc.status, exc.text, exc.text_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, _http_text(exc, request))
        if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110 15.5.6: MUST say Allow
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except ConnectionError:
        return error_response(400, "The connection was lost.")  # nobody is listening
    except Exception:
        log.exception("simulator handler failed: %s %s", request.method, request.path)
        return error_response(500, "Internal server error.")


def _http_text(exc: web.HTTPException, request: web.Request) -> str:
    if exc.status == 404:
        return f"Resource not found. {request.path}"
    if exc.status == 405:
        return f"Method {request.method} is not allowed on {request.path}."
    return exc.reason


def authenticate(request: web.Request) -> Identity:
    """The identity of the request's bearer token, or a 401 :class:`Rejected`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Rejected(401, "Token validation failed: no bearer token was sent.")
    return state_of(request).tokens.check(value.strip())


async def json_body(request: web.Request) -> Any:
    """The parsed JSON body; 400 if it is not JSON."""
    return parse_body(await request.read())


def parse_body(raw: bytes) -> Any:
    """A request body parsed as JSON; 400 if it is not JSON."""
    try:
        return loads(raw)
    except ProtocolError:
        raise Rejected(400, "The request body is not valid JSON.") from None


#: Every query parameter a route reads, by its lower-case form.
_PARAMS = ("page", "size", "orderBy", "include", "time", "source.name", "source.id")
_PARAM_NAMES = {name.lower(): name for name in (*_PARAMS, "maxSize", "triggerRules")}
_QUERY_KEY = web.RequestKey("query", dict[str, str])


def query_of(request: web.Request) -> dict[str, str]:
    """The query by each parameter's own spelling: ASP.NET Core reads query keys without
    regard to case (``Page=0&SIZE=10`` is ``page=0&size=10``). A repeated key: its first."""
    query = request.get(_QUERY_KEY)
    if query is None:
        query = {}
        for key, value in request.query.items():
            query.setdefault(_PARAM_NAMES.get(key.lower(), key), value)
        request[_QUERY_KEY] = query
    return query


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``, else 400."""
    text = query_of(request).get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Rejected(400, f"Invalid '{name}': {text!r} is not an integer.") from None
    if not low <= value <= high:
        raise Rejected(400, f"Invalid '{name}': {value} is not between {low} and {high}.")
    return value


def include_data(request: web.Request) -> bool:
    """``include=data`` [seed]."""
    return "data" in query_of(request).get("include", "").replace(" ", "").split(",")


def check_trigger_rules(request: web.Request) -> None:
    """``triggerRules`` is a legacy boolean [seed]; only its syntax is checked."""
    value = query_of(request).get("triggerRules")
    if value is not None and value.lower() not in ("true", "false"):
        raise Rejected(400, f"Invalid 'triggerRules': {value!r} is not a boolean.")


def guid_param(request: web.Request, what: str) -> str:
    """The ``{id}`` of the path as a canonical GUID, else 400."""
    raw = request.match_info["id"]
    guid = canonical_guid(raw)
    if guid is None:
        raise Rejected(400, f"Invalid {what} id. {raw!r} is not a GUID.")
    return guid
