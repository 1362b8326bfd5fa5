"""The simulated server: an ``aiohttp.web`` application over the state of ``store.py``.

Routes (``/API/rest/v1/…`` works too, like IIS's case-insensitive paths):

- identity provider: ``POST /IDP/connect/token`` (also ``/API/IDP/…``, ``/idp/…``) [seed, sample]
- events: ``GET|POST /api/rest/v1/events``, ``GET /events/{id}``, ``POST /events/batch``
- event sessions: ``POST /eventSessions``, ``GET|DELETE /eventSessions/{id}``
- configuration subset: ``/eventTypes[/{id}]``, ``/userDefinedEvents[/{id}]``, ``/cameras[/{id}]``
- discovery: ``GET /api/.well-known/uris`` [sample]

Every error answer of the API is the wrapped body ``{"error": {"httpCode", "details"}}``
[sample]; the identity provider answers OAuth errors ``{"error", "error_description",
"error_code"}`` [sample].
"""

from __future__ import annotations

import collections
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs
from aiohttp import web
from multidict import MultiDictProxy

from ..errors import ErrorDetail, ProtocolError
from ..filters import OPERATORS, FilterSyntaxError, parse_conditions
from ..wire import dumps, error_body_to_wire, loads
from .faults import IDP_ROUTE, Faults, fault_middleware, route_key
from .seed import SimEventType
from .store import (
    LIST_OPERATORS,
    SESSION_OPERATORS,
    Cond,
    Directory,
    EventStore,
    Identity,
    Query,
    Record,
    Rejected,
    SimClock,
    canonical_guid,
    check_cond,
    validate_trigger,
)
from .websocket import LiveRoom

log = logging.getLogger(__name__)

API = "/api/rest/v1"
GRANT_VALIDATOR_CLIENT = "GrantValidatorClient"  # [seed]
MAX_PAGE_SIZE = 2000  # [profile]
DEFAULT_PAGE_SIZE = 100  # [profile]
PRODUCT_VERSION = "24.1.0.0"  # [profile: any 2023 R2 or later]

# --------------------------------------------------------------------------- state


@attrs.define
class Stats:
    """Counters a test or a benchmark reads (``sim.stats``); mutable, :meth:`reset` zeroes them.

    ``token_requests``: every POST to the token endpoint; ``tokens_issued``: tokens it gave
    (``sim.issue_token`` is not counted); ``events_accepted``: triggers the server accepted
    (stored or not, by retention); ``events_stored_total``: events ever stored (HTTP and
    ``store_events``); ``requests``: by route key ``"METHOD /route/template"`` (aliases
    folded, faulted requests included). ``in_flight`` is a gauge, not a counter: requests
    being handled right now, including a delayed or cut one whose client already gave up
    (wait for 0 before comparing what was stored; :meth:`reset` leaves it alone).
    """

    token_requests: int = 0
    tokens_issued: int = 0
    events_accepted: int = 0
    events_stored_total: int = 0
    requests: collections.Counter[str] = attrs.field(factory=collections.Counter)
    in_flight: int = 0

    def reset(self) -> None:
        """Zero every counter (not the ``in_flight`` gauge)."""
        self.token_requests = self.tokens_issued = 0
        self.events_accepted = self.events_stored_total = 0
        self.requests.clear()


@attrs.define
class TokenInfo:
    identity: Identity
    expires_at: float
    revoked: bool = False


class Tokens:
    """Opaque bearer tokens (``secrets.token_urlsafe``), their identity and expiry time."""

    def __init__(self, clock: SimClock, lifetime: float) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._tokens: dict[str, TokenInfo] = {}

    def issue(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = TokenInfo(identity, self.clock.time() + self.lifetime)
        return token

    def check(self, token: str) -> Identity:
        """The identity of a valid token; a 401 :class:`Rejected` otherwise [sample text]."""
        info = self._tokens.get(token)
        if info is None:
            raise Rejected(401, "Token validation failed: the token is invalid.")
        if info.revoked:
            raise Rejected(401, "Token validation failed: the token has been revoked.")
        if self.clock.time() >= info.expires_at:
            raise Rejected(401, "Token validation failed: the token is expired.")
        return info.identity

    def revoke_all(self) -> None:
        """Every token issued so far gets 401 from now on."""
        for info in self._tokens.values():
            info.revoked = True


#: Authenticates a ``windows_credentials`` grant: a username when done, or the response to
#: send (a 401 NTLM challenge). The NTLM module replaces :func:`challenge_windows`.
WindowsAuth = Callable[[web.Request, MultiDictProxy[Any]], Awaitable["str | web.StreamResponse"]]


async def challenge_windows(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    """No NTLM yet: answer the challenge a server sends before the handshake [seed]."""
    response = web.Response(status=401, text="Unauthorized")
    response.headers.add("WWW-Authenticate", "NTLM")
    response.headers.add("WWW-Authenticate", "Negotiate")
    return response


@attrs.define
class SimState:
    """Everything the handlers share; it outlives a restart of the web server."""

    clock: SimClock
    directory: Directory
    store: EventStore
    tokens: Tokens
    stats: Stats
    faults: Faults
    max_batch: int = 100
    base_url: str = ""
    windows_auth: WindowsAuth = challenge_windows
    live: LiveRoom | None = None

    def now_us(self) -> int:
        return self.clock.now_us()

    def sweep(self) -> int:
        """Apply retention now (lazy: cheap when nothing is due)."""
        return self.store.sweep(self.clock.now_us())


STATE = web.AppKey("state", SimState)


def state_of(request: web.Request) -> SimState:
    return request.app[STATE]


# --------------------------------------------------------------------------- responses


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json")


def error_response(status: int, text: str, text_id: str | None = None) -> web.Response:
    """The wrapped error body [sample]; 401 also says ``WWW-Authenticate: Bearer``."""
    detail = ErrorDetail(error_text=text, error_text_id=text_id)
    response = json_response(error_body_to_wire(status, detail), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        return error_response(exc.status, _http_text(exc, request))
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


# --------------------------------------------------------------------------- identity provider


def oauth_error(error: str, code: str | None = None, status: int = 400) -> web.Response:
    """An identity-provider error body [sample]."""
    body: dict[str, Any] = {"error": error}
    if code is not None:
        body.update(error_description="invalid_username_or_password", error_code=code)
    return json_response(body, status)


async def token(request: web.Request) -> web.StreamResponse:
    """``POST /IDP/connect/token``: password, client_credentials and windows_credentials."""
    state = state_of(request)
    state.stats.token_requests += 1
    if request.content_type != "application/x-www-form-urlencoded":
        return oauth_error("invalid_request")
    form = await request.post()
    grant = form.get("grant_type")
    if grant == "password":
        return _password_grant(state, form)
    if grant == "client_credentials":
        return _client_grant(state, form)
    if grant == "windows_credentials":
        return await _windows_grant(state, request, form)
    return oauth_error("unsupported_grant_type" if grant else "invalid_request")


def _same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _password_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A basic user's token [seed]. The password is checked first; a correct one then may
    still be refused as ``LockedOut`` or ``ChangePassword`` [sample codes]."""
    if form.get("client_id") != GRANT_VALIDATOR_CLIENT:
        return oauth_error("invalid_client")
    user = state.directory.users.get(str(form.get("username", "")))
    if user is None or user.windows or not _same(form.get("password"), user.password):
        return oauth_error("invalid_grant", "InvalidCredentials")
    if user.locked_out:
        return oauth_error("invalid_grant", "LockedOut")
    if user.change_password:
        return oauth_error("invalid_grant", "ChangePassword")
    return _token_response(state, Identity(user.username))


def _client_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A service token (client credentials) [sample]."""
    client_id = str(form.get("client_id", ""))
    secret = state.directory.service_clients.get(client_id)
    if secret is None or not _same(form.get("client_secret"), secret):
        return oauth_error("invalid_client")
    if form.get("scope", "managementserver") != "managementserver":
        return oauth_error("invalid_scope")
    return _token_response(state, Identity(client_id, service=True))


async def _windows_grant(
    state: SimState, request: web.Request, form: MultiDictProxy[Any]
) -> web.StreamResponse:
    outcome = await state.windows_auth(request, form)
    if not isinstance(outcome, str):
        return outcome
    user = state.directory.users.get(outcome)
    if user is None or not user.windows:
        return oauth_error("invalid_grant", "InvalidCredentials")
    return _token_response(state, Identity(user.username))


def _token_response(state: SimState, identity: Identity) -> web.Response:
    state.stats.tokens_issued += 1
    lifetime = state.tokens.lifetime
    response = json_response(
        {
            "access_token": state.tokens.issue(identity),
            "expires_in": int(lifetime) if lifetime == int(lifetime) else lifetime,
            "token_type": "Bearer",
            "scope": "managementserver",
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- API helpers


def authenticate(request: web.Request) -> Identity:
    """The identity of the request's bearer token, or a 401 :class:`Rejected`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Rejected(401, "Token validation failed: no bearer token was sent.")
    return state_of(request).tokens.check(value.strip())


async def json_body(request: web.Request) -> Any:
    """The parsed JSON body; 400 if it is not JSON."""
    raw = await request.read()
    try:
        return loads(raw)
    except ProtocolError:
        raise Rejected(400, "The request body is not valid JSON.") from None


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``, else 400."""
    text = request.query.get(name)
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
    return "data" in request.query.get("include", "").replace(" ", "").split(",")


def check_trigger_rules(request: web.Request) -> None:
    """``triggerRules`` is a legacy boolean [seed]; only its syntax is checked."""
    value = request.query.get("triggerRules")
    if value is not None and value.lower() not in ("true", "false"):
        raise Rejected(400, f"Invalid 'triggerRules': {value!r} is not a boolean.")


def guid_param(request: web.Request, what: str) -> str:
    """The ``{id}`` of the path as a canonical GUID, else 400."""
    raw = request.match_info["id"]
    guid = canonical_guid(raw)
    if guid is None:
        raise Rejected(400, f"Invalid {what} id. {raw!r} is not a GUID.")
    return guid


# --------------------------------------------------------------------------- events

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
    text = request.query.get("orderBy")
    if text is None:
        return False
    match = _ORDER_BY.match(text.strip())
    if match is None:
        raise Rejected(400, f"Invalid 'orderBy': {text!r}. Use asc:'time' or desc:'time'.")
    return match.group(1) == "desc"


def list_conditions(request: web.Request) -> list[Cond]:
    """Every filter of a ``GET /events``; an unknown parameter is a 400 naming it."""
    conds: list[Cond] = []
    for name, value in request.query.items():
        if name not in _LIST_PARAMS:
            raise Rejected(400, f"Unknown query parameter '{name}'.")
        if name in LIST_OPERATORS:
            conds.extend(parse_filter(name, value))
    return conds


def page_links(request: web.Request, page: int, more: bool) -> dict[str, str]:
    """``self``, ``next`` (absent on the last page), ``prev`` (absent on page 0) [profile]."""
    links = {"self": str(request.url)}
    if more:
        links["next"] = str(request.url.update_query(page=str(page + 1)))
    if page > 0:
        links["prev"] = str(request.url.update_query(page=str(page - 1)))
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
    if state.store.admit(record, now_us):
        state.stats.events_stored_total += 1
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
    body = await json_body(request)
    state = state_of(request)
    if not isinstance(body, list):
        raise Rejected(400, "The request body must be a JSON array of events.")
    if len(body) > state.max_batch:
        raise Rejected(400, f"Too many events: {len(body)}; at most {state.max_batch} per call.")
    state.sweep()
    now_us = state.now_us()
    return json_response({"array": [_batch_item(state, who, item, now_us) for item in body]})


def _batch_item(state: SimState, who: Identity, body: Any, now_us: int) -> dict[str, Any]:
    try:
        return accept(state, who, body, now_us)
    except Rejected as exc:
        detail = ErrorDetail(error_text=exc.text, error_text_id=exc.text_id)
        return error_body_to_wire(exc.status, detail)


# --------------------------------------------------------------------------- sessions


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


async def create_session(request: web.Request) -> web.StreamResponse:
    """``POST /eventSessions`` → 201 with the filters echoed and an ``id`` [seed]."""
    who = authenticate(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Rejected(400, "The request body must be a JSON object.")
    state = state_of(request)
    conds = session_conditions(body.get("filterBy"))
    desc = session_order(body.get("orderBy"))
    query = Query(conds, state.directory, state.directory.visible(who))
    echo = {"filterBy": body["filterBy"], "orderBy": body["orderBy"]}
    state.sweep()
    session = state.store.create_session(who.key, query, desc, echo, state.now_us())
    return json_response({**echo, "id": session.id}, 201)


def owned_session_id(request: web.Request, who: Identity) -> str:
    """The ``{id}`` of a live session of ``who``, else 404 (also for another identity's)."""
    state = state_of(request)
    session_id = request.match_info["id"]
    if state.store.find_session(session_id, who.key, state.now_us()) is None:
        raise Rejected(404, f"Event session not found. {session_id}")
    return session_id


async def read_session(request: web.Request) -> web.StreamResponse:
    """``GET /eventSessions/{id}`` → new events since the last read (at most ``maxSize``)
    and the returned events deleted since [seed meaning, profile names]."""
    who = authenticate(request)
    state = state_of(request)
    max_size = int_param(request, "maxSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    state.sweep()
    session = state.store.sessions[owned_session_id(request, who)]
    new, deleted = state.store.read_session(session, max_size, state.now_us())
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
    state_of(request).store.delete_session(owned_session_id(request, who))
    return json_response({})


# --------------------------------------------------------------------------- configuration


def _event_type(request: web.Request) -> SimEventType:
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
    return json_response({"data": _event_type(request).to_wire()})


async def list_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    types = state_of(request).directory.types.values()
    return json_response({"array": [t.to_user_defined_wire() for t in types if t.is_user_defined]})


async def get_user_defined(request: web.Request) -> web.StreamResponse:
    authenticate(request)
    event_type = _event_type(request)
    if not event_type.is_user_defined:
        raise Rejected(404, f"User-defined event not found. {event_type.id}")
    return json_response({"data": event_type.to_user_defined_wire()})


def _cameras(request: web.Request, who: Identity) -> Iterable[Any]:
    directory = state_of(request).directory
    visible = directory.visible(who)
    return (c for k, c in directory.cameras.items() if visible is None or k in visible)


async def list_cameras(request: web.Request) -> web.StreamResponse:
    """``GET /cameras``: the cameras the token's user may see [seed]."""
    who = authenticate(request)
    return json_response({"array": [c.to_wire() for c in _cameras(request, who)]})


async def get_camera(request: web.Request) -> web.StreamResponse:
    who = authenticate(request)
    guid = guid_param(request, "camera")
    for camera in _cameras(request, who):
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


# --------------------------------------------------------------------------- the app

#: ``(method, path under the API, handler)``; served under ``/api/rest/v1`` and ``/API/rest/v1``.
API_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/events", list_events),
    ("POST", "/events", trigger_event),
    ("POST", "/events/batch", trigger_batch),
    ("GET", "/events/{id}", get_event),
    ("POST", "/eventSessions", create_session),
    ("GET", "/eventSessions/{id}", read_session),
    ("DELETE", "/eventSessions/{id}", delete_session),
    ("GET", "/eventTypes", list_event_types),
    ("GET", "/eventTypes/{id}", get_event_type),
    ("GET", "/userDefinedEvents", list_user_defined),
    ("GET", "/userDefinedEvents/{id}", get_user_defined),
    ("GET", "/cameras", list_cameras),
    ("GET", "/cameras/{id}", get_camera),
)
TOKEN_PATHS = ("/IDP/connect/token", "/API/IDP/connect/token", "/idp/connect/token")
WELL_KNOWN_PATHS = ("/api/.well-known/uris", "/API/.well-known/uris")

#: Every route key a fault or a counter may name.
ROUTE_KEYS: frozenset[str] = frozenset(
    (
        IDP_ROUTE,
        "GET /api/.well-known/uris",
        *(f"{method} {API}{path}" for method, path, _ in API_ROUTES),
    )
)


def build_app(state: SimState) -> web.Application:
    """A fresh application over ``state`` (a restart builds a new one over the same state)."""
    app = web.Application(
        middlewares=[
            count_middleware,
            fault_middleware(state.faults, state.tokens.revoke_all, state.store.drop_sessions),
            error_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE] = state
    for path in TOKEN_PATHS:
        app.router.add_post(path, token)
    for path in WELL_KNOWN_PATHS:
        app.router.add_get(path, well_known_uris, allow_head=False)
    for prefix in (API, "/API/rest/v1"):
        for method, path, handler in API_ROUTES:
            app.router.add_route(method, prefix + path, handler)
    if state.live is not None:
        state.live.register(app)
    return app
