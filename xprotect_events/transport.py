"""The HTTP core: one aiohttp session, TLS, timeouts, the retry policy and error mapping.

Retry rule: nothing is retried that could happen twice. Safe requests (GET, DELETE, the
token grant) retry connection errors, timeouts, 5xx and 429. Unsafe ones (trigger POSTs,
session creation) retry only when the request surely did not reach the server (the
connection could not be made) or the server said it did not act on it (429 or 503).
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Literal, Protocol

import aiohttp
import attrs
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)
from yarl import URL

from . import wire
from .errors import (
    APIError,
    ConnectError,
    ProtocolError,
    RequestTimeoutError,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectError,
    api_error_class,
)

log = logging.getLogger("xprotect_events")

Verify = bool | str | PathLike[str] | ssl.SSLContext
RetryMode = Literal["safe", "unsent"]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry. ``attempts`` counts the first try."""

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    jitter: float = 0.5
    #: Longest server-given ``Retry-After`` the client waits; longer raises at once.
    max_retry_after: float = 120.0


class TokenSource(Protocol):
    """What the transport needs of the token manager."""

    async def token(self) -> str: ...

    async def renew(self, stale: str) -> str: ...


@attrs.frozen
class Response:
    """A successful answer: its status, parsed JSON body (or None when empty) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


def ssl_param(verify: Verify) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl=`` from the user's ``verify=``: on by default, a CA bundle, or off."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        return False
    return ssl.create_default_context(cafile=verify)


def is_loopback(url: URL) -> bool:
    host = url.host or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Transport:
    """One aiohttp session per client; every request of the library goes through here."""

    def __init__(
        self,
        base_url: str | URL,
        *,
        verify: Verify = True,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        limit: int = 100,
        retry: RetryPolicy | None = None,
        user_agent: str = "xprotect-events",
    ) -> None:
        self.base_url = URL(str(base_url).rstrip("/"))
        if self.base_url.scheme not in ("http", "https") or not self.base_url.host:
            raise ValueError(f"the server URL must be http(s)://host[:port], got {base_url!r}")
        self.retry = retry or RetryPolicy()
        self.limit = limit
        self._ssl = ssl_param(verify)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_read=timeout
        )
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], URL] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("the client is not open: use 'async with' or 'await open()'")
        return self._session

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def open(self) -> None:
        if self.is_open:
            return
        connector = aiohttp.TCPConnector(limit=self.limit, ssl=self._ssl)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, headers=self._headers
        )
        # aiohttp silently resends a GET/DELETE once when a kept-alive connection is cut,
        # even after the server acted on it (an event-session read whose answer was lost
        # would then skip a page). Retrying is this module's decision alone.
        self._session._retry_connection = False

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def url(self, path: str, params: Mapping[str, str] | None = None) -> URL:
        """An absolute URL for a path under the server URL, with its query (cached)."""
        key = (path, tuple(params.items()) if params else ())
        url = self._urls.get(key)
        if url is None:
            url = self.base_url.with_path(self.base_url.path.rstrip("/") + path)
            url = url.with_query(params) if params else url
            if len(self._urls) >= 256:
                self._urls.clear()
            self._urls[key] = url
        return url

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: bytes | None = None,
        form: Mapping[str, str] | None = None,
        auth: TokenSource | None = None,
        retry: RetryMode = "safe",
    ) -> Response:
        """Send a request with retries and the 401-renew-once rule; return the 2xx answer.

        The first attempt runs bare (most requests succeed); only a retryable failure builds
        the tenacity schedule, which then counts that failure as its first attempt.
        """
        url = self.url(path, params)

        async def attempt() -> Response:
            return await self._authorized(method, url, path, json=json, form=form, auth=auth)

        retryable = self._retryable(retry)
        try:
            return await attempt()
        except XProtectError as exc:
            if self.retry.attempts < 2 or not retryable(exc):
                raise
            failed = [exc]

        async def again() -> Response:
            if failed:
                raise failed.pop()
            return await attempt()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for step in retrying:
            with step:
                return await again()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _authorized(
        self, method: str, url: URL, path: str, *, auth: TokenSource | None, **kw: Any
    ) -> Response:
        if auth is None:
            return await self.send(method, url, path, **kw)
        token = await auth.token()
        try:
            return await self.send(method, url, path, token=token, **kw)
        except UnauthorizedError:
            token = await auth.renew(token)
        return await self.send(method, url, path, token=token, **kw)

    async def send(
        self,
        method: str,
        url: URL,
        path: str,
        *,
        json: bytes | None = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> Response:
        """One HTTP exchange, mapped to a :class:`Response` or one of the library's errors.

        ``path`` names the request in logs and errors (never the query or a secret).
        """
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            async with self.session.request(
                method,
                url,
                data=json if json is not None else form,
                headers=headers,
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _transport_error(exc, method, path) from exc
        elapsed_ms = 1e3 * (time.perf_counter() - started)
        log.debug("%s %s -> %d (%.1f ms)", method, path, resp.status, elapsed_ms)
        return _response(resp, body, method, path)

    def _retryable(self, mode: RetryMode) -> Callable[[BaseException], bool]:
        rule = _retryable_safe if mode == "safe" else _retryable_unsent
        longest = self.retry.max_retry_after

        def retryable(exc: BaseException) -> bool:
            wait = getattr(exc, "retry_after", None)
            return rule(exc) and (wait is None or wait <= longest)

        return retryable

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float):
            return float(retry_after)
        policy = self.retry
        exponential = policy.backoff_initial * 2 ** (state.attempt_number - 1)
        return float(min(policy.backoff_max, exponential) + random.uniform(0, policy.jitter))


def _transport_error(exc: BaseException, method: str, path: str) -> TransportError:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return TLSError(f"TLS verification failed: {text}", method=method, path=path)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return ConnectError(f"could not connect: {text}", method=method, path=path)
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError(f"no answer in time: {text}", method=method, path=path)
    return TransportError(f"connection failed: {text}", method=method, path=path)


def _response(resp: aiohttp.ClientResponse, body: bytes, method: str, path: str) -> Response:
    status = resp.status
    if 200 <= status < 300:
        try:
            parsed = wire.loads(body) if body.strip() else None
        except ProtocolError as exc:
            raise ProtocolError(str(exc), method=method, path=path, status=status) from None
        return Response(status, parsed, resp.headers)
    if 300 <= status < 400:
        where = resp.headers.get("Location", "?")
        raise ProtocolError(
            f"the server redirected to {where}; point the client at that URL "
            "(redirects are not followed, so credentials never leave for another host)",
            method=method,
            path=path,
            status=status,
        )
    raise _api_error(status, body, resp.headers, method, path)


def _api_error(
    status: int, body: bytes, headers: Mapping[str, str], method: str, path: str
) -> APIError:
    parsed = wire.parse_error_body(body)
    message = f"HTTP {status}"
    text = "; ".join(d.error_text for d in parsed.details if d.error_text) or parsed.snippet
    if text:
        message += f": {text}"
    return api_error_class(status)(
        message,
        method=method,
        path=path,
        status=status,
        details=parsed.details,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        oauth_error=parsed.error,
        oauth_error_code=parsed.error_code,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _retryable_safe(exc: BaseException) -> bool:
    """GET, DELETE, token grants: anything transient."""
    if isinstance(exc, TransportError):
        return not isinstance(exc, TLSError)
    return isinstance(exc, APIError) and (exc.status >= 500 or exc.status == 429)


def _retryable_unsent(exc: BaseException) -> bool:
    """Trigger POSTs: only what surely did not happen."""
    if isinstance(exc, TransportError):
        return not exc.sent and not isinstance(exc, TLSError)
    return isinstance(exc, APIError) and exc.status in (429, 503)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info(
        "retrying after %s (attempt %d, waiting %.2f s)", _short(exc), state.attempt_number, wait
    )


def _short(exc: BaseException | None) -> str:
    if isinstance(exc, XProtectError):
        return str(exc)
    return type(exc).__name__
