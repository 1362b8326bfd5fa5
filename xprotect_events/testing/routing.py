"""Paths matched without regard to case, as IIS matches them, and with or without one
trailing slash, as ASP.NET Core's routes match them, for every route but those registered
``exact`` (the identity provider's: IdentityServer compares a request's path with each
endpoint's path exactly, but for case, so ``/connect/token/`` is no endpoint).

Routes are registered in lower case (:func:`add_route` folds the literal parts of a
template; a route added straight to ``app.router`` in lower case works too). One fallback
resource, indexed at ``/`` so that aiohttp asks it last, resolves any other spelling of a
path by resolving its lower-case form without a trailing slash: ``/API/rest/v1/Events``,
``/api/rest/v1/events/``, ``/api/IDP/connect/token`` and ``/API/WS/events/v1`` reach the
same handlers as their lower-case forms.

Route keys (for faults and counters) keep each route's registered spelling:
``"POST /IDP/connect/token"``, ``"GET /api/rest/v1/eventSessions/{id}"``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from aiohttp.abc import AbstractMatchInfo
from aiohttp.web_urldispatcher import _InfoDict
from yarl import URL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Folded route template → the spelling its route key uses.
SPELLINGS = web.AppKey("spellings", dict[str, str])
#: Folded paths that a trailing slash does not reach.
EXACT = web.AppKey("exact", set[str])

_PART = re.compile(r"\{[^}]*\}|[^{]+")


def fold(template: str) -> str:
    """A route template in lower case, its ``{name}`` parts untouched."""
    return _PART.sub(lambda m: m[0] if m[0].startswith("{") else m[0].lower(), template)


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    key: str | None = None,
    exact: bool = False,
) -> None:
    """Register ``handler`` at the folded ``path``; its route key spells ``key or path``.
    ``exact``: a trailing slash does not reach it."""
    folded = fold(path)
    app.router.add_route(method, folded, handler)
    app[SPELLINGS][folded] = key or path
    if exact:
        app[EXACT].add(folded)


class FoldedPaths(web.AbstractResource):
    """The fallback resource: another spelling of a path resolves as its lower-case form."""

    def __init__(self, router: web.UrlDispatcher, exact: set[str]) -> None:
        super().__init__()
        self._router = router
        self._exact = exact

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> URL:
        return URL("/")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("the case-folding resource takes no prefix")

    def get_info(self) -> _InfoDict:
        return {"path": "/"}

    def raw_match(self, path: str) -> bool:
        return False

    def freeze(self) -> None:
        pass

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(())

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        path = request.rel_url.path
        folded = path.lower()
        if len(folded) > 1 and folded.endswith("/"):
            folded = folded[:-1]  # ASP.NET Core's routes match with or without it
            if folded in self._exact:
                return None, set()
        if folded == path:
            return None, set()
        match = await self._router.resolve(request.clone(rel_url=request.rel_url.with_path(folded)))
        exc = match.http_exception
        if exc is None:
            return match, set()
        allowed = exc.allowed_methods if isinstance(exc, web.HTTPMethodNotAllowed) else set()
        return None, set(allowed)


def fold_paths(app: web.Application) -> None:
    """Make every route of ``app`` match without regard to case (call it once, first)."""
    app[SPELLINGS] = {}
    app[EXACT] = set()
    app.router.register_resource(FoldedPaths(app.router, app[EXACT]))


def route_key(request: web.Request) -> str:
    """``"METHOD /path/template"`` of a request in its registered spelling (unmatched: the
    raw path)."""
    info: AbstractMatchInfo = request.match_info
    resource = info.route.resource if isinstance(info, web.UrlMappingMatchInfo) else None
    if resource is None:
        return f"{request.method} {request.path}"
    canonical = resource.canonical
    spelling = request.app.get(SPELLINGS, {}).get(canonical, canonical)
    return f"{request.method} {spelling}"
