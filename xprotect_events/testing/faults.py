"""Fault injection: an aiohttp middleware that a test drives from Python.

Schedule faults on a route (``"METHOD /path/template"`` in its registered spelling, whatever
the case of the request's path; ``"*"`` is any route under ``/api/rest/v1``; the identity
provider is ``"POST /IDP/connect/token"``, at the gateway's path too; the WebSocket
upgrade is ``"GET /api/ws/events/v1"``, which ``"*"`` does not cover)::

    sim.faults.add("POST /api/rest/v1/events/batch", Fault.status(503, retry_after=2))
    sim.faults.add("*", Fault.delay(0.5), times=3)          # times=None: every time
    sim.faults.add("GET /api/ws/events/v1", Fault.status(401))  # the upgrade refused
    sim.faults.script("GET /api/rest/v1/eventSessions/{id}", [None, Fault.drop_session()])
    sim.faults.random("*", 0.1, [Fault.reset_before(), Fault.status(502)], seed=7)
    sim.faults.injected["status"]                           # what was injected, by kind

Rules are asked in the order they were added; each matching rule uses up one step of its
plan; the first one that yields a fault wins (the later ones are not asked).

From the shell, ``xprotect-events serve --fault 'ROUTE=KIND[:ARG][,KIND…][@P]'
--fault-seed N`` adds one seeded :meth:`Faults.random` rule per ``--fault``.

Beware: aiohttp's client silently retries an idempotent request (GET, DELETE …) once when a
kept-alive connection is cut, so a single ``reset_before`` on a GET may go unnoticed.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence

import attrs
from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from ..errors import ErrorDetail
from ..wire import dumps, error_body_to_wire
from .rejected import JSON_TYPE
from .routing import Handler, route_key

API_PREFIX = "/api/rest/v1"
IDP_ROUTE = "POST /IDP/connect/token"

KINDS = frozenset(
    (
        "reset_before",
        "reset_after",
        "status",
        "rate_limit",
        "delay",
        "truncate",
        "html",
        "revoke_token",
        "drop_session",
    )
)


@attrs.frozen
class Fault:
    """One fault. Build it with a constructor: ``Fault.status(503)``, ``Fault.delay(2.0)`` …

    The init takes ``Fault(kind, status=None, retry_after=None, delay=None)``; the values are
    kept as ``http_status`` and ``delay_seconds`` (``status``/``delay`` are constructors).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    http_status: int | None = attrs.field(default=None, alias="status")
    retry_after: float | None = None
    delay_seconds: float | None = attrs.field(default=None, alias="delay")

    @classmethod
    def reset_before(cls) -> Fault:
        """Close the connection before the handler runs: nothing happened."""
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        """Run the handler (its effect happens), then close the connection, no response."""
        return cls("reset_after")

    @classmethod
    def status(cls, status: int = 503, *, retry_after: float | None = None) -> Fault:
        """Answer ``status`` with a wrapped error body; the handler does not run."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def rate_limit(cls, retry_after: float = 1) -> Fault:
        """Answer 429 with ``Retry-After``; the handler does not run."""
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Really sleep ``seconds`` before the handler (which then runs, client or not)."""
        return cls("delay", delay=seconds)

    @classmethod
    def truncate(cls) -> Fault:
        """Run the handler, send the headers with the full Content-Length and half the body,
        then close the connection."""
        return cls("truncate")

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """Answer a proxy's HTML error page; the handler does not run."""
        return cls("html", status=status)

    @classmethod
    def revoke_token(cls) -> Fault:
        """Revoke every token, then handle the request (so it gets 401)."""
        return cls("revoke_token")

    @classmethod
    def drop_session(cls) -> Fault:
        """Drop every event session, then handle the request (a session read gets 404)."""
        return cls("drop_session")


class _Rule:
    """A plan of faults for one route."""

    def __init__(self, route: str) -> None:
        self.route = route

    def matches(self, key: str) -> bool:
        if self.route == "*":
            return key.partition(" ")[2].startswith(API_PREFIX)
        return self.route == key

    @property
    def done(self) -> bool:
        return False

    def draw(self) -> Fault | None:
        raise NotImplementedError


class _Times(_Rule):
    def __init__(self, route: str, fault: Fault, times: int | None) -> None:
        super().__init__(route)
        self.fault = fault
        self.left = times

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0

    def draw(self) -> Fault | None:
        if self.left is not None:
            self.left -= 1
        return self.fault


class _Script(_Rule):
    def __init__(self, route: str, steps: Iterable[Fault | None]) -> None:
        super().__init__(route)
        self.steps = deque(steps)

    @property
    def done(self) -> bool:
        return not self.steps

    def draw(self) -> Fault | None:
        return self.steps.popleft()


class _Random(_Rule):
    def __init__(self, route: str, probability: float, faults: Sequence[Fault], seed: int) -> None:
        super().__init__(route)
        self.probability = probability
        self.faults = tuple(faults)
        self.rng = _random.Random(seed)

    def draw(self) -> Fault | None:
        if self.rng.random() < self.probability:
            return self.rng.choice(self.faults)
        return None


class Faults:
    """The fault plan of one simulator (``sim.faults``)."""

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self._routes = frozenset(routes)
        self._rules: list[_Rule] = []
        #: How many faults were injected, by kind.
        self.injected: Counter[str] = Counter()

    def _check(self, route: str) -> str:
        if route != "*" and self._routes and route not in self._routes:
            known = ", ".join(sorted(self._routes))
            raise ValueError(f"unknown route {route!r}; use '*' or one of: {known}")
        return route

    def add(self, route: str, fault: Fault, *, times: int | None = 1) -> None:
        """Inject ``fault`` on the next ``times`` requests of ``route`` (None: all of them)."""
        self._rules.append(_Times(self._check(route), fault, times))

    def script(self, route: str, faults: Sequence[Fault | None]) -> None:
        """Inject ``faults[i]`` on the i-th next request of ``route`` (None: no fault)."""
        self._rules.append(_Script(self._check(route), faults))

    def random(self, route: str, probability: float, faults: Sequence[Fault], seed: int) -> None:
        """Inject one of ``faults`` with ``probability`` on each request (seeded: repeatable)."""
        if not faults or not 0 <= probability <= 1:
            raise ValueError("random faults need some faults and a probability in [0, 1]")
        self._rules.append(_Random(self._check(route), probability, faults, seed))

    def clear(self) -> None:
        """Remove every scheduled fault (the ``injected`` counts stay)."""
        self._rules.clear()

    @property
    def pending(self) -> bool:
        """Whether any rule may still inject a fault."""
        return any(not r.done for r in self._rules)

    def pick(self, key: str) -> Fault | None:
        """The fault for one request of route ``key``, using up the matching rules' steps."""
        if not self._rules:
            return None
        chosen = None
        for rule in self._rules:
            if not rule.done and rule.matches(key):
                chosen = rule.draw()
                if chosen is not None:
                    break
        self._rules = [r for r in self._rules if not r.done]
        if chosen is not None:
            self.injected[chosen.kind] += 1
        return chosen


_HTML = (
    "<html>\r\n<head><title>{code} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{code} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def fault_middleware(
    faults: Faults, revoke: Callable[[], None], drop: Callable[[], None]
) -> Middleware:
    """The middleware: applies the fault ``faults`` picks for each request, if any."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = faults.pick(route_key(request))
        if fault is None:
            return await handler(request)
        return await _apply(fault, request, handler, revoke, drop)

    return middleware


async def _apply(
    fault: Fault,
    request: web.Request,
    handler: Handler,
    revoke: Callable[[], None],
    drop: Callable[[], None],
) -> web.StreamResponse:
    kind = fault.kind
    if kind == "reset_before":
        _cut(request)
        return web.Response(status=500)
    if kind in ("status", "rate_limit"):
        return _status_response(fault)
    if kind == "html":
        code = fault.http_status or 502
        return web.Response(status=code, text=_HTML.format(code=code), content_type="text/html")
    if kind == "delay":
        await request.read()  # the request arrived whole; only the answer is late
        await asyncio.sleep(fault.delay_seconds or 0)
    elif kind == "revoke_token":
        revoke()
    elif kind == "drop_session":
        drop()
    response = await handler(request)
    if kind == "reset_after":
        _cut(request)
    elif kind == "truncate":
        return await _truncated(request, response)
    return response


def _cut(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _status_response(fault: Fault) -> web.Response:
    code = fault.http_status or 503
    texts = {429: "Too many requests.", 500: "Internal server error.", 502: "Bad gateway."}
    text = texts.get(code, "The service is unavailable.")
    response = web.Response(
        status=code,
        body=dumps(error_body_to_wire(code, ErrorDetail(error_text=text))),
        headers={"Content-Type": JSON_TYPE},
    )
    if fault.retry_after is not None:
        seconds = fault.retry_after
        response.headers["Retry-After"] = str(int(seconds) if seconds == int(seconds) else seconds)
    return response


async def _truncated(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    body = response.body if isinstance(response, web.Response) else b""
    payload = body if isinstance(body, bytes) else b""
    headers = CIMultiDict(response.headers)
    headers.pop("Content-Length", None)
    cut = web.StreamResponse(status=response.status, headers=headers)
    cut.content_length = len(payload)
    await cut.prepare(request)
    await cut.write(payload[: len(payload) // 2])
    _cut(request)
    return cut
