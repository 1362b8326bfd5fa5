"""Bearer tokens the simulated identity provider issues: who each speaks for, and until when;
and its refresh tokens (each good for one ``refresh_token`` grant, by the client it was
issued to, for :data:`REFRESH_LIFETIME`)."""

from __future__ import annotations

import secrets

import attrs

from ..checks import seconds
from ..wire import MAX_TOKEN_LIFETIME
from .clock import SimClock
from .directory import Identity
from .rejected import Rejected

#: A refresh token's absolute lifetime: IdentityServer's default, 30 days [profile].
REFRESH_LIFETIME = 30 * 86400.0


@attrs.define
class RefreshInfo:
    identity: Identity
    client_id: str
    expires_at: float


@attrs.define
class TokenInfo:
    identity: Identity
    expires_at: float
    revoked: bool = False


class Tokens:
    """Opaque bearer tokens (``secrets.token_urlsafe``), their identity and expiry time."""

    def __init__(self, clock: SimClock, lifetime: float) -> None:
        self.clock = clock
        # At most what a client takes as expires_in: a longer one answered every login 500.
        self.lifetime = seconds("token_lifetime", lifetime, most=MAX_TOKEN_LIFETIME + 1)
        self._tokens: dict[str, TokenInfo] = {}
        self._refresh: dict[str, RefreshInfo] = {}

    def __len__(self) -> int:
        """How many tokens were issued (expired and revoked ones included)."""
        return len(self._tokens)

    def issue(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = TokenInfo(identity, self.clock.time() + self.lifetime)
        return token

    def issue_refresh(self, identity: Identity, client_id: str) -> str:
        """A refresh token for ``identity``, good for one grant by ``client_id``."""
        token = secrets.token_urlsafe(32)
        expires_at = self.clock.time() + REFRESH_LIFETIME
        self._refresh[token] = RefreshInfo(identity, client_id, expires_at)
        return token

    def redeem(self, token: str, client_id: str) -> Identity | None:
        """The identity of a refresh token that ``client_id`` may use now, spending it (it
        is good once, as IdentityServer's ``OneTimeOnly`` [profile]); None otherwise."""
        info = self._refresh.get(token)
        if info is None or info.client_id != client_id:
            return None
        del self._refresh[token]
        return info.identity if self.clock.time() < info.expires_at else None

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
