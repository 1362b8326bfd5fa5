"""The API Gateway's CORS support, for web pages served from another origin (off by default).

What the sources say:

- CORS is off on a gateway until ``appsettings.Production.json`` switches it on; for
  development the samples ship ``{"CORS": {"Enabled": true, "Access-Control-Allow-Origin":
  "*", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Methods": "*"}}``, which
  "will allow calls from any origin, including a local file system" [sample:
  WebRTC_JavaScript/README.md and EventsAndStateWebSocketJavaScript/CORS_Setup in
  milestonesys/mipsdk-samples-protocol].
- With it, a browser page may call the gateway's paths: ``/API/IDP/connect/token`` and
  ``/API/rest/v1/…`` are the ones the README's CORS errors name; the gateway is the
  application under ``/API`` (``appsettings.json`` holds its routes and CORS) [doc: API
  Gateway configuration files]. The identity provider's own ``/IDP/…`` is not the gateway.

Milestone's "CORS settings in the API Gateway" page is not readable here, so the rest is
the plain reading of that config, marked [profile]:

- the keys are the headers' names, so their values are sent as configured (``*`` stays
  ``*``; nothing is matched against the request's ``Origin`` or echoed from it);
- every path under ``/api/`` (any case) is the gateway's; a request without ``Origin`` (not
  a browser's cross-origin request) gets no CORS headers;
- a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
  answered ``204`` with the three headers by the gateway itself, before any route, count or
  fault; an ``OPTIONS`` without ``Access-Control-Request-Method`` is an ordinary request;
- every other answer on those paths (errors, 401s, faults included) carries
  ``Access-Control-Allow-Origin``, so that a page can read it;
- the config has no credentials, expose-headers or max-age settings, so none of
  ``Access-Control-Allow-Credentials``, ``-Expose-Headers``, ``-Max-Age`` is sent: ``*`` is
  for requests without credentials, as the samples' ``fetch`` calls are;
- the WebSocket upgrade is not checked against the origin (browsers apply no CORS to
  WebSockets; nothing says the gateway checks ``Origin``).

Note: the Fetch standard does not let ``Access-Control-Allow-Headers: *`` cover
``Authorization``; Chromium (156) lets it. A gateway that sends ``*`` as configured would
then refuse a bearer-token REST call from a browser that applies that rule; the WebRTC
sample makes such calls and names Chrome, Edge, Firefox and Safari. Unverified either way.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import attrs
from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from ..errors import InvalidInputError, shown
from .routing import Handler

#: The path under which the API Gateway answers (any case); the IDP's ``/IDP`` is not it.
GATEWAY_PREFIX = "/api/"


@attrs.frozen(kw_only=True)
class CorsPolicy:
    """The gateway's ``CORS`` settings, sent as configured; the defaults are the samples'."""

    allow_origin: str = "*"
    allow_headers: str = "*"
    allow_methods: str = "*"


def policy_of(cors: object) -> CorsPolicy | None:
    """A ``Simulator(cors=…)`` value as a policy: None/False off, True the samples' (all
    ``*``), a string the ``Access-Control-Allow-Origin`` (headers and methods ``*``).
    :class:`InvalidInputError` for anything else, or a value no header can carry."""
    if cors is None or cors is False:
        return None
    if cors is True:
        return CorsPolicy()
    if isinstance(cors, str):
        cors = CorsPolicy(allow_origin=cors)
    if not isinstance(cors, CorsPolicy):
        raise InvalidInputError(
            f"cors must be None, a bool, an origin or a CorsPolicy, got {shown(cors)}"
        )
    for name, value in attrs.asdict(cors).items():
        if not isinstance(value, str) or not value or not value.isprintable():
            raise InvalidInputError(
                f"cors {name} must be printable header text, got {shown(value)}"
            )
    return cors


def is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


def cors_middlewares(policy: CorsPolicy | None) -> list[Middleware]:
    """The middleware that plays the gateway's CORS (none when it is off)."""
    if policy is None:
        return []

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if hdrs.ORIGIN not in request.headers or not _at_gateway(request):
            return await handler(request)
        if is_preflight(request):
            return _preflight(policy)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect or the like, raised past the errors
            _allow(exc.headers, policy)
            raise
        if not response.prepared:  # a WebSocket upgrade has sent its headers already
            _allow(response.headers, policy)
        return response

    return [middleware]


def _at_gateway(request: web.Request) -> bool:
    return request.path.lower().startswith(GATEWAY_PREFIX)


def _preflight(policy: CorsPolicy) -> web.Response:
    response = web.Response(status=204)
    _allow(response.headers, policy)
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = policy.allow_headers
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = policy.allow_methods
    return response


def _allow(headers: MutableMapping[str, str], policy: CorsPolicy) -> None:
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = policy.allow_origin
