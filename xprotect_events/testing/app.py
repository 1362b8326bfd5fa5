"""The simulated server: an ``aiohttp.web`` application over a :class:`~.state.SimState`.

Routes (``/API/rest/v1/…`` works too, like IIS's case-insensitive paths):

- identity provider (``idp``): ``POST /IDP/connect/token`` (also ``/API/IDP/…``, ``/idp/…``)
- events (``events_api``): ``GET|POST /api/rest/v1/events``, ``GET /events/{id}``,
  ``POST /events/batch``
- event sessions (``sessions_api``): ``POST /eventSessions``, ``GET|DELETE /eventSessions/{id}``
- configuration subset and discovery (``config_api``): ``/eventTypes[/{id}]``,
  ``/userDefinedEvents[/{id}]``, ``/cameras[/{id}]``, ``GET /api/.well-known/uris``

Every error answer of the API is the wrapped body ``{"error": {"httpCode", "details"}}``
[sample]; the identity provider answers OAuth errors ``{"error", "error_description",
"error_code"}`` [sample].
"""

from __future__ import annotations

from aiohttp import web

from . import config_api, events_api, sessions_api
from .faults import API_PREFIX, IDP_ROUTE, fault_middleware
from .helpers import Routes, count_middleware, error_middleware
from .idp import TOKEN_PATHS, token
from .state import STATE, SimState

#: Every route under the API; served under ``/api/rest/v1`` and ``/API/rest/v1``.
API_ROUTES: Routes = events_api.ROUTES + sessions_api.ROUTES + config_api.ROUTES
API_PREFIXES = (API_PREFIX, "/API/rest/v1")

#: Every route key a fault or a counter may name.
ROUTE_KEYS: frozenset[str] = frozenset(
    (
        IDP_ROUTE,
        f"GET {config_api.WELL_KNOWN_PATHS[0]}",
        *(f"{method} {API_PREFIX}{path}" for method, path, _ in API_ROUTES),
    )
)


def build_app(state: SimState) -> web.Application:
    """A fresh application over ``state`` (a restart builds a new one over the same state)."""
    app = web.Application(
        middlewares=[
            count_middleware,
            fault_middleware(state.faults, state.tokens.revoke_all, state.sessions.drop_all),
            error_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE] = state
    for path in TOKEN_PATHS:
        app.router.add_post(path, token)
    for path in config_api.WELL_KNOWN_PATHS:
        app.router.add_get(path, config_api.well_known_uris, allow_head=False)
    for prefix in API_PREFIXES:
        for method, path, handler in API_ROUTES:
            app.router.add_route(method, prefix + path, handler)
    if state.live is not None:
        state.live.register(app)
    return app
