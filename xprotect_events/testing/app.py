"""The simulated server: an ``aiohttp.web`` application over a :class:`~.state.SimState`.

Routes (paths match without regard to case, as IIS matches them: ``/API/rest/v1/…``,
``/api/IDP/connect/token`` …, and but for the identity provider's with a trailing slash
too, see :mod:`.routing`):

- identity provider (``idp``): ``POST /IDP/connect/token``, the gateway's
  ``POST /API/IDP/connect/token`` and ``GET /IDP/.well-known/openid-configuration``
- events (``events_api``): ``GET|POST /api/rest/v1/events``, ``GET /events/{id}``,
  ``POST /events/batch``
- event sessions (``sessions_api``): ``POST /eventSessions``, ``GET|DELETE /eventSessions/{id}``
- configuration subset and discovery (``config_api``): ``/eventTypes[/{id}]``,
  ``/stateGroups[/{id}]``, ``/userDefinedEvents[/{id}]``, ``/analyticsEvents[/{id}]``,
  ``/cameras[/{id}]``,
  ``GET /api/.well-known/uris`` and the simulator's ``GET /simulator/eventTypes``

Every error answer of the API is the wrapped body ``{"error": {"httpCode", "details"}}``
[sample]; the identity provider answers OAuth errors ``{"error", "error_description",
"error_code"}`` [sample]. A room that adds routes (e.g. a WebSocket endpoint) calls
:func:`~.routing.add_route`, or adds a lower-case path to ``app.router``: either way every
spelling of the path reaches it.
"""

from __future__ import annotations

from aiohttp import web

from . import config_api, events_api, idp, sessions_api
from .accesslog import access_middleware
from .cors import cors_middlewares
from .faults import API_PREFIX, IDP_ROUTE, fault_middleware
from .helpers import Routes, count_middleware, error_middleware
from .routing import add_route, fold_paths
from .state import STATE, SimState
from .websocket import WS_PATHS

#: Every route under the API base ``/api/rest/v1``.
API_ROUTES: Routes = events_api.ROUTES + sessions_api.ROUTES + config_api.ROUTES
#: Every route outside it (full paths).
OTHER_ROUTES: Routes = idp.ROUTES + config_api.OTHER_ROUTES

#: Every route key a fault or a counter may name.
ROUTE_KEYS: frozenset[str] = frozenset(
    (
        IDP_ROUTE,
        *(f"{method} {path}" for method, path, _ in OTHER_ROUTES if path != idp.GATEWAY_TOKEN_PATH),
        *(f"{method} {API_PREFIX}{path}" for method, path, _ in API_ROUTES),
        *(f"GET {path}" for path in WS_PATHS),  # the WebSocket upgrade
    )
)


def build_app(state: SimState) -> web.Application:
    """A fresh application over ``state`` (a restart builds a new one over the same state)."""
    app = web.Application(
        middlewares=[
            access_middleware,
            *cors_middlewares(state.cors),  # the gateway's CORS, before counts and faults
            count_middleware,
            fault_middleware(state.faults, state.tokens.revoke_all, state.sessions.drop_all),
            error_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE] = state
    fold_paths(app)
    exact = {path for _, path, _ in idp.ROUTES}  # IdentityServer's paths: no trailing slash
    for method, path, handler in OTHER_ROUTES:
        key = idp.TOKEN_PATH if path == idp.GATEWAY_TOKEN_PATH else None
        add_route(app, method, path, handler, key=key, exact=path in exact)
    for method, path, handler in API_ROUTES:
        add_route(app, method, API_PREFIX + path, handler)
    if state.live is not None:
        state.live.register(app)
    return app
