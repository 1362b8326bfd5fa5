"""Credentials and the token manager.

The token manager renews a token before it lapses (check, lock, check again), once for all
waiters, and after a 401 only if the token that was refused is still the current one. A
caller that waited for the lock while another fetched a token takes that one: it is as new
as any (also when the identity provider handed out the same token again, or one whose
lifetime was over on arrival: no fetch per waiting caller).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs

from . import wire
from .bodies import MAX_TOKEN_BYTES
from .checks import plain_str
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProtocolError,
)
from .models import Token
from .ntlm import WindowsCredentials
from .profile import Profile
from .responses import SECRET_FIELDS
from .transport import Transport


class Credentials(Protocol):
    """Something that can obtain a token from the identity provider."""

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token: ...


@attrs.frozen(kw_only=True)
class UserCredentials:
    """A basic user: the password grant [seed]. The password never shows in a repr."""

    username: str
    password: str = attrs.field(repr=False)
    token_path: str | None = None

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token:
        form = {
            "grant_type": "password",
            "username": self.username,
            "password": self.password,
            "client_id": profile.grant_client_id,
        }
        return await grant(transport, self.token_path or profile.token_path, form)


@attrs.frozen(kw_only=True)
class ServiceCredentials:
    """A service client: the client-credentials grant [sample]. Gives a service token."""

    client_id: str
    client_secret: str = attrs.field(repr=False)
    scope: str | None = "managementserver"
    token_path: str | None = None

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.scope:
            form["scope"] = self.scope
        return await grant(transport, self.token_path or profile.token_path, form)


async def grant(transport: Transport, path: str, form: Mapping[str, str]) -> Token:
    """POST a form-encoded grant; map the identity provider's refusal to AuthenticationError."""
    try:
        response = await transport.request(
            "POST", path, form=form, retry="safe", max_bytes=MAX_TOKEN_BYTES
        )
    except APIError as exc:
        if exc.status in (400, 401, 403):
            raise _refused(exc, path) from None
        raise
    try:
        return wire.token_from_wire(response.body)
    except ProtocolError as exc:
        raise ProtocolError(str(exc), method="POST", path=path, status=response.status) from None


def _refused(exc: APIError, path: str) -> AuthenticationError:
    detail = exc.details[0] if exc.details else None
    description = detail.error_text if detail else None
    code = f" {exc.oauth_error}" if exc.oauth_error else ""
    return AuthenticationError(
        f"the identity provider at {path} refused the credentials (HTTP {exc.status}{code}"
        + (f": {description})" if description else ")"),
        status=exc.status,
        error=exc.oauth_error,
        error_description=description,
        error_code=exc.oauth_error_code,
    )


def make_credentials(
    *,
    username: str | None,
    password: str | None,
    client_id: str | None,
    client_secret: str | None,
    windows: bool,
    token_path: str | None,
) -> Credentials:
    """The credentials that the client's keyword arguments describe (the values are never
    shown in an error)."""
    given = {"username": username, "password": password, "client_id": client_id}
    given["client_secret"], given["token_path"] = client_secret, token_path
    for name, value in given.items():
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
        if value is not None and not _encodable(plain := plain_str(value)):  # (never shown)
            raise InvalidInputError(
                f"{name} is not valid Unicode text (it holds a lone surrogate, as text "
                "decoded with errors='surrogateescape' does): it cannot be sent"
            )
        given[name] = None if value is None else plain
    username, password, client_id = given["username"], given["password"], given["client_id"]
    client_secret, token_path = given["client_secret"], given["token_path"]
    if client_id is not None or client_secret is not None:
        if not client_id or client_secret is None:
            raise ConfigurationError("a service client needs client_id and client_secret")
        user = (("username", username), ("password", password), ("windows", windows or None))
        extra = [name for name, value in user if value is not None]
        if extra:  # a user's settings: refused, never silently dropped
            raise InvalidInputError(
                f"{' and '.join(extra)} cannot be given with client_id and "
                "client_secret: a service client signs in with its client secret only"
            )
        return ServiceCredentials(
            client_id=client_id, client_secret=client_secret, token_path=token_path
        )
    if username is None or password is None:
        raise ConfigurationError(
            "give username and password (a basic or Windows user) "
            "or client_id and client_secret (a service client)"
        )
    if windows:
        return WindowsCredentials(username=username, password=password, token_path=token_path)
    return UserCredentials(username=username, password=password, token_path=token_path)


def _encodable(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (no lone surrogate). Checked outside an
    ``except`` block, so that no UnicodeEncodeError holding the secret is chained."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def renewal_skew(lifetime: float) -> float:
    """How long before expiry to renew: a fifth of the lifetime, at most five minutes.

    A 60-second token is renewed after 48 s (not on every call); a 3600-second one five
    minutes before it lapses.
    """
    return min(lifetime / 5, 300.0)


class TokenManager:
    """Holds the current token; renews it before expiry, exactly once for all waiters.

    ``client.tokens`` is the client's. ``credentials`` obtain a token over ``transport``
    with ``profile``'s paths; ``clock`` is the monotonic clock lifetimes run on. Fetch
    errors (:class:`AuthenticationError`, a transport error) reach the caller that asked
    for a token, and every caller that waited on the same attempt.
    """

    def __init__(
        self,
        credentials: Credentials,
        transport: Transport,
        profile: Profile,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._profile = profile
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._previous: str | None = None  # answers to requests made with it may still come
        #: The tokens renewed away, and when (on the real clock): an answer to a request
        #: made with one may come up to the transport's longest exchange later.
        self._retired: dict[str, float] = {}
        self._current: Token | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._expires_wall: datetime | None = None
        #: How many tokens this manager obtained (for tests and diagnostics).
        self.renewals = 0
        self._failures = 0  # fetches that failed, and the last one's error
        self._failure: Exception | None = None

    def __repr__(self) -> str:
        state = "valid" if self._token and self._clock() < self._expires_at else "none"
        return f"<TokenManager {type(self._credentials).__name__} token={state}>"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no message may show: the current and the previous token, any other that
        a request still in flight may carry, and the credentials' password or client
        secret (for redaction; never shown)."""
        found = [t for t in (self._token, self._previous) if t]
        found += [t for t in self._recently_retired() if t not in found]
        for name in SECRET_FIELDS:
            value = getattr(self._credentials, name, None)
            if isinstance(value, str) and value:
                found.append(value)
        return tuple(found)

    def _recently_retired(self) -> list[str]:
        """The tokens renewed away within the transport's longest exchange (an answer
        to a request made with one may still come); older ones are forgotten."""
        since = time.monotonic() - self._transport.longest_exchange
        self._retired = {t: at for t, at in self._retired.items() if at >= since}
        return list(self._retired)

    @property
    def expires_at(self) -> datetime | None:
        """When the current token lapses, as an aware UTC datetime (None without a token).

        Measured from when it was asked for, so a little before the server's own expiry.
        """
        return self._expires_wall if self._token else None

    @property
    def deadline(self) -> float:
        """When the current token lapses on this manager's (monotonic) clock; 0 without one."""
        return self._expires_at if self._token else 0.0

    async def token(self) -> str:
        """A token that is not about to expire."""
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token
        seen = self.renewals, self._failures
        async with self._lock:
            if self._token is None or (
                self.renewals == seen[0] and self._clock() >= self._renew_at
            ):
                await self._fetch(seen[1])
            assert self._token is not None
            return self._token

    async def current(self) -> Token:
        """The current :class:`Token` (obtained first, or renewed if it is about to lapse):
        its type, scope and lifetime. Its ``access_token`` is the secret itself."""
        await self.token()
        assert self._current is not None
        return self._current

    async def renew(self, stale: str) -> str:
        """After a 401 with ``stale``: renew unless somebody already did."""
        seen = self.renewals, self._failures
        async with self._lock:
            if self._token is None or (self.renewals == seen[0] and self._token == stale):
                await self._fetch(seen[1])
            assert self._token is not None
            return self._token

    async def _fetch(self, failures: int) -> None:
        """Obtain a token; if one failed while the caller waited for the lock, fail alike
        (the waiters share that attempt and its retries: an identity provider that is down
        gets one round of them, not one per waiting caller)."""
        if self._failures != failures and self._failure is not None:
            raise self._failure
        started = self._clock()
        asked = datetime.now(UTC)
        try:
            token = await self._credentials.fetch_token(self._transport, self._profile)
        except Exception as exc:
            self._failures += 1
            self._failure = exc
            raise
        if self._token is not None:
            self._retired[self._token] = time.monotonic()
            self._recently_retired()  # (drops the older ones)
        self._previous, self._token = self._token, token.access_token
        self._current = token
        self._expires_at = started + token.expires_in
        self._expires_wall = asked + timedelta(seconds=token.expires_in)
        self._renew_at = self._expires_at - renewal_skew(token.expires_in)
        self.renewals += 1
