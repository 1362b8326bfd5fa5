"""The core the features stand on: authenticated requests and decoding, below the facade.

``XProtectClient`` builds one :class:`Core` and hands it to the feature modules (batch,
sessions); they never import the facade. Every request of theirs goes
core → transport (with the token manager's token) → responses/wire, and comes back up as
a value or one of the library's errors, with the method and path it was about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import wire
from .auth import TokenManager
from .errors import ProtocolError
from .policy import RetryMode, RetryPolicy
from .profile import Profile
from .redaction import scrubbed
from .responses import Response
from .transport import Transport

T = TypeVar("T")


class Core:
    """Authenticated request, decode with the method and path attached, login, the
    trigger query, the retry policy, the profile, the connection limit."""

    def __init__(self, transport: Transport, tokens: TokenManager, profile: Profile) -> None:
        self.transport = transport
        self.tokens = tokens
        self.profile = profile

    @property
    def policy(self) -> RetryPolicy:
        return self.transport.retry

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no message may show (the tokens, the credentials' and the proxy's secrets)."""
        return (*self.tokens.secrets, *self.transport.secrets)

    @property
    def limit(self) -> int:
        """The most connections at once (0: no limit)."""
        return self.transport.limit

    def api_path(self, path: str) -> str:
        """The full path of an Events API path (``/events`` → ``/api/rest/v1/events``)."""
        return self.profile.api_path + path

    def trigger_params(self) -> dict[str, str]:
        """The query of every trigger POST (single and batch)."""
        return {"triggerRules": "true" if self.profile.trigger_rules else "false"}

    async def login(self) -> None:
        """Obtain a token now, if there is none that is still good."""
        await self.tokens.token()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
        retry: RetryMode | None = None,
    ) -> Response:
        """Call the Events API at ``path`` (under ``profile.api_path``) with the current token.

        ``json`` is encoded here; ``body`` is sent as already-encoded JSON. ``retry`` is
        ``"safe"`` (default for GET and DELETE) or ``"unsent"`` (default otherwise: only
        what surely did not reach the server is resent).
        """
        if json is not None:
            body = wire.dumps(json)
        mode: RetryMode = retry or ("safe" if method in ("GET", "DELETE") else "unsent")
        return await self.transport.request(
            method, self.api_path(path), params=params, json=body, auth=self.tokens, retry=mode
        )

    def decode(
        self,
        response: Response,
        fn: Callable[[Any], T],
        method: str,
        path: str,
        *,
        raw: bool = False,
    ) -> T:
        """Apply a wire decoder to the parsed body (to the bytes with ``raw``); its
        ProtocolError gains the method, path and status (and loses any secret the answer
        echoed where the message quotes it)."""
        try:
            return fn(response.raw if raw else response.body)
        except ProtocolError as exc:
            text = scrubbed(str(exc), self.secrets)
        # raised out here: chained to ``exc``, even suppressed, it would show the secret
        raise ProtocolError(text, method=method, path=self.api_path(path), status=response.status)

    async def call(
        self,
        method: str,
        path: str,
        fn: Callable[[Any], T],
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
        retry: RetryMode | None = None,
        raw: bool = False,
    ) -> T:
        """:meth:`request`, then :meth:`decode` the answer with ``fn`` (``raw``: ``fn``
        reads the answer's bytes)."""
        response = await self.request(
            method, path, params=params, json=json, body=body, retry=retry
        )
        return self.decode(response, fn, method, path, raw=raw)
