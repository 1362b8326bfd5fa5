"""The HTTP core: one aiohttp session, TLS, timeouts, the retry policy and error mapping.

Retry rule: nothing is retried that could happen twice. Safe requests (GET, DELETE, the
token grant) retry connection errors, timeouts, 5xx and 429. Unsafe ones (trigger POSTs,
session creation) retry only when the request surely did not reach the server (the
connection could not be made) or the server said it did not act on it (429 or 503).
"""

from __future__ import annotations

import email.utils
import html
import ipaddress
import json
import logging
import random
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
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
    ConfigurationError,
    ConnectError,
    InvalidInputError,
    ProtocolError,
    RequestTimeoutError,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectError,
    api_error_class,
    shown,
)

log = logging.getLogger("xprotect_events")

Verify = bool | str | PathLike[str] | ssl.SSLContext
RetryMode = Literal["safe", "unsent"]
T = TypeVar("T")


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


def server_url(value: str | URL) -> URL:
    """The checked server URL: ``http(s)://host[:port]``; :class:`InvalidInputError` if not.

    Credentials in it (``user:password@``) are refused, and never echoed: aiohttp would send
    them as Basic auth beside the token, and every repr and error would show them.
    """
    text = str(value) if isinstance(value, str | URL) else ""
    try:
        url = URL(text.rstrip("/"))
        ok = url.scheme in ("http", "https") and bool(url.host) and url.port is not None
    except ValueError:  # yarl: bad port, bad IPv6, a host IDNA cannot encode …
        url, ok = URL(), False
    if url.user is not None or url.password is not None or (not ok and "@" in text):
        raise InvalidInputError("the server URL must not carry credentials (user:password@)")
    if not ok:
        raise InvalidInputError(f"the server URL must be http(s)://host[:port], got {shown(value)}")
    return url


def ssl_param(verify: Verify) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl=`` from the user's ``verify=``: on by default, a CA bundle, or off."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        return False
    if not isinstance(verify, str | PathLike):
        raise InvalidInputError(
            f"verify must be True, False, a CA-bundle path or an SSLContext, got {shown(verify)}"
        )
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ValueError, TypeError) as exc:  # ssl.SSLError is an OSError
        raise ConfigurationError(f"cannot load the CA bundle {shown(verify)}: {exc}") from None


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
        self.base_url = server_url(base_url)
        self.retry = retry or RetryPolicy()
        self.limit = limit
        self._ssl = ssl_param(verify)
        # sock_read bounds each wait for data; total bounds a whole exchange, so that a
        # server trickling bytes faster than sock_read (a slow loris) cannot hold it forever.
        self._timeout = aiohttp.ClientTimeout(
            total=connect_timeout + 4 * timeout, connect=connect_timeout, sock_read=timeout
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

    @property
    def tls(self) -> ssl.SSLContext | bool:
        """aiohttp's ``ssl=`` for this transport's ``verify`` (for a dedicated connector)."""
        return self._ssl

    def dedicated_session(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        """A new session over ``connector`` with this transport's timeouts and headers, for
        exchanges bound to one connection (the NTLM handshake). The caller closes it."""
        session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, headers=self._headers
        )
        session._retry_connection = False  # as in open(): no silent resend
        return session

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
        """Send a request with retries and the 401-renew-once rule; return the 2xx answer."""
        url = self.url(path, params)

        async def attempt() -> Response:
            return await self._authorized(method, url, path, json=json, form=form, auth=auth)

        return await self.retried(attempt, retry)

    async def retried(self, attempt: Callable[[], Awaitable[T]], mode: RetryMode = "safe") -> T:
        """Run ``attempt`` under this transport's retry policy; ``mode`` says what is retried.

        The first attempt runs bare (most requests succeed); only a retryable failure builds
        the tenacity schedule, which then counts that failure as its first attempt.
        """
        retryable = self._retryable(mode)
        try:
            return await attempt()
        except XProtectError as exc:
            if self.retry.attempts < 2 or not retryable(exc):
                raise
            failed = [exc]

        async def again() -> T:
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
        if resp.status >= 300 and (token is not None or form):
            body = _redacted(body, token, form)
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


def _without_secrets(exc: BaseException) -> BaseException:
    """aiohttp's exception (and those chained to it), with its copy of the request's
    headers (``request_info``: our ``Authorization``) redacted, for chaining to ours."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        info = getattr(e, "request_info", None)
        if isinstance(info, aiohttp.RequestInfo) and "Authorization" in info.headers:
            headers = CIMultiDict(info.headers)
            headers["Authorization"] = "[redacted]"
            redacted = CIMultiDictProxy(headers)
            e.request_info = aiohttp.RequestInfo(info.url, info.method, redacted, info.real_url)  # type: ignore[attr-defined]
        todo += [e.__cause__, e.__context__]
    return exc


#: Form fields whose values are secrets.
_SECRET_FIELDS = ("password", "client_secret")


def _redacted(body: bytes, token: str | None, form: Mapping[str, str] | None) -> bytes:
    """An error answer without the secrets its request carried: a proxy's or a debug
    page may echo the request (its ``Authorization`` header, its form) into its text."""
    secrets = [token] if token else []
    secrets += [form[name] for name in _SECRET_FIELDS if form and form.get(name)]
    for secret in secrets:
        forms = {
            secret,
            urllib.parse.quote_plus(secret),
            urllib.parse.quote(secret, safe=""),
            html.escape(secret),
            json.dumps(secret)[1:-1],  # \\u00e9 for é, as .NET writes JSON
        }
        for text in forms:
            if len(text) >= 4:  # a one-letter password is not hunted through every word
                body = body.replace(text.encode(), b"[redacted]")
    return body


def _transport_error(exc: BaseException, method: str, path: str) -> TransportError:
    _without_secrets(exc)  # it is chained to ours: our Authorization header must not ride along
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
    if value.isascii() and value.isdigit():  # not "²": str.isdigit() says yes, float() no
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
