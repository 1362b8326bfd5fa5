"""The HTTP I/O: one aiohttp session, TLS, timeouts, bounded exchanges, redaction.

What is retried, and how long to wait, is :mod:`.policy`'s; what an answer means (a
:class:`Response` or an error) is :mod:`.responses`'; this module only sends and receives,
and maps aiohttp's exceptions to the library's (:func:`.transport_errors.transport_error`).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from .aiohttp_internals import refusing_redirects, without_silent_resend
from .bodies import (
    ACCEPT_ENCODING,
    MAX_ERROR_BYTES,
    MAX_RESPONSE_BYTES,
    TooLarge,
    read_body,
    spelled,
)
from .checks import boolean, read_list, seconds
from .endpoints import (
    Verify,
    environment_proxy,
    proxy_auth_allowed,
    proxy_param,
    proxy_secrets,
    server_url,
    ssl_param,
)
from .errors import (
    ClientClosedError,
    InvalidInputError,
    ProtocolError,
    UnauthorizedError,
)
from .policy import RetryMode, RetryPolicy, retried
from .responses import SECRET_FIELDS, Response, response_from
from .transport_errors import transport_error

log = logging.getLogger("xprotect_events")

T = TypeVar("T")


class TokenSource(Protocol):
    """What the transport needs of the token manager."""

    async def token(self) -> str: ...

    async def renew(self, stale: str) -> str: ...


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
        proxy: str | URL | None = None,
        trust_env: bool = True,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = server_url(base_url)
        self._proxy, self._proxy_auth = proxy_param(proxy)
        if proxy is None and boolean("trust_env", trust_env):
            self._proxy, self._proxy_auth = proxy_param(environment_proxy(self.base_url))
        #: The proxy's secrets (:func:`proxy_secrets`): no answer, error or log may show them.
        self.secrets = proxy_secrets(self._proxy_auth)
        self._trace_configs = read_list(
            "trace_configs", () if trace_configs is None else trace_configs
        )
        if not all(isinstance(t, aiohttp.TraceConfig) for t in self._trace_configs):
            raise InvalidInputError("trace_configs must be aiohttp.TraceConfig objects")
        #: The largest answer read (decompressed); larger ones are a ProtocolError.
        self.max_response_bytes = max_response_bytes
        self.retry = retry or RetryPolicy()
        self.limit = limit
        # Building the default context costs 40-70 ms: plain http:// never needs one, so
        # it is made on first use there (``verify`` is still checked now).
        self._verify = verify
        cleartext = verify is True and self.base_url.scheme == "http"
        self._ssl: ssl.SSLContext | bool | None = None if cleartext else ssl_param(verify)
        # sock_read bounds each wait for data; total bounds a whole exchange, so that a
        # server trickling bytes faster than sock_read (a slow loris) cannot hold it forever.
        timeout = seconds("timeout", timeout, most=1e9)
        connect_timeout = seconds("connect_timeout", connect_timeout, most=1e9)
        #: Seconds to connect (a WebSocket's upgrade too: :mod:`.live_link`).
        self.connect_timeout = connect_timeout
        #: Seconds one exchange may take at most, from connecting to the answer's end.
        self.longest_exchange = connect_timeout + 4 * timeout
        self._timeout = aiohttp.ClientTimeout(
            total=self.longest_exchange, connect=connect_timeout, sock_read=timeout
        )
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,  # inflated by .bodies, within the limit
        }
        self._session: aiohttp.ClientSession | None = None
        self._ws_session: aiohttp.ClientSession | None = None
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], URL] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise ClientClosedError("the client is not open: use 'async with' or 'await open()'")
        return self._session

    @property
    def ws_session(self) -> aiohttp.ClientSession:
        """The session of WebSocket upgrades: the same connections, and no redirect
        followed (``ws_connect`` takes no ``allow_redirects``: :func:`refusing_redirects`)."""
        session = self.session
        if self._ws_session is None or self._ws_session.closed:
            self._ws_session = self.dedicated_session(session.connector, refuse_redirects=True)
        return self._ws_session

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def open(self) -> None:
        if self.is_open:
            return
        # http:// never uses the context: aiohttp's own default (made at import) stands in.
        tls = True if self._ssl is None else self._ssl
        connector = aiohttp.TCPConnector(limit=self.limit, ssl=tls)
        self._session = self.dedicated_session(connector)

    @property
    def proxy(self) -> URL | None:
        """The proxy every request goes through (without its credentials), or None."""
        return self._proxy

    @property
    def verify(self) -> Verify:
        """The ``verify`` setting this transport was made with."""
        return self._verify

    @property
    def tls(self) -> ssl.SSLContext | bool:
        """aiohttp's ``ssl=`` for this transport's ``verify`` (for a dedicated connector)."""
        if self._ssl is None:
            self._ssl = ssl_param(self._verify)
        return self._ssl

    def dedicated_session(
        self, connector: aiohttp.BaseConnector | None, *, refuse_redirects: bool = False
    ) -> aiohttp.ClientSession:
        """A new session over ``connector`` with this transport's timeouts and headers, for
        exchanges bound to one connection (the NTLM handshake). The caller closes it.

        Every session goes through the given proxy, or (``trust_env``) the environment's
        (:func:`environment_proxy`, read when the transport is made) and reports to the
        given ``trace_configs``. Its requests say ``allow_redirects=False``; with
        ``refuse_redirects`` (for ``ws_connect``) a redirect raises all the same
        (:func:`refusing_redirects`; a trace config costs every request some microseconds).
        """
        traces = [refusing_redirects()] if refuse_redirects else []
        with proxy_auth_allowed():
            session = aiohttp.ClientSession(
                connector=connector,
                connector_owner=not refuse_redirects,
                timeout=self._timeout,
                headers=self._headers,
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
                trace_configs=[*traces, *self._trace_configs] or None,
                auto_decompress=False,  # .bodies inflates, counting what comes out
            )
        return without_silent_resend(session)

    async def close(self) -> None:
        sessions = self._ws_session, self._session
        self._ws_session = self._session = None
        for session in sessions:  # (the WebSocket one first: it does not own the connector)
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
        max_bytes: int | None = None,
    ) -> Response:
        """Send a request with retries and the 401-renew-once rule; return the 2xx answer
        (at most ``max_bytes``, default ``max_response_bytes``)."""
        url = self.url(path, params)

        async def attempt() -> Response:
            return await self._authorized(
                method, url, path, json=json, form=form, auth=auth, max_bytes=max_bytes
            )

        return await self.retried(attempt, retry)

    async def retried(self, attempt: Callable[[], Awaitable[T]], mode: RetryMode = "safe") -> T:
        """Run ``attempt`` under this transport's retry policy; ``mode`` says what is retried."""
        return await retried(attempt, self.retry, mode)

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
        max_bytes: int | None = None,
    ) -> Response:
        """One HTTP exchange, mapped to a :class:`Response` or one of the library's errors.

        ``path`` names the request in logs and errors (never the query or a secret). The
        body is read within ``max_bytes`` (default: ``max_response_bytes``; an error
        answer's first :data:`.bodies.MAX_ERROR_BYTES` only).
        """
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        hidden = (*secrets(token, form), *self.secrets)
        try:
            async with self.session.request(
                method,
                url,
                data=json if json is not None else form,
                headers=headers,
                allow_redirects=False,
            ) as resp:
                body = await self.read_answer(resp, max_bytes, method, path)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if not self.is_open:  # closed meanwhile, by another task
                raise ClientClosedError("the client was closed during the request") from None
            raise transport_error(exc, method, path, hidden) from exc
        elapsed_ms = 1e3 * (time.perf_counter() - started)
        log.debug("%s %s -> %d (%.1f ms)", method, path, resp.status, elapsed_ms)
        return response_from(resp.status, resp.headers, body, method, path, hidden)

    async def read_answer(
        self, resp: aiohttp.ClientResponse, max_bytes: int | None, method: str, path: str
    ) -> bytes:
        """The body of ``resp`` within its limit (see :meth:`send`); a ProtocolError past it."""
        limit = self.max_response_bytes if max_bytes is None else max_bytes
        try:
            if resp.status >= 300:
                return await read_body(resp, MAX_ERROR_BYTES, cut=True)
            return await read_body(resp, limit)
        except TooLarge as exc:
            message = too_large(exc, limit, "max_response_bytes" if max_bytes is None else "")
            raise ProtocolError(message, method=method, path=path, status=resp.status) from None
        except ProtocolError as exc:
            raise ProtocolError(str(exc), method=method, path=path, status=resp.status) from None


def secrets(token: str | None, form: Mapping[str, str] | None) -> tuple[str, ...]:
    """What a request carried that no answer may show: its token, its form's secrets."""
    found = [token] if token else []
    return (*found, *(form[name] for name in SECRET_FIELDS if form and form.get(name)))


def too_large(exc: TooLarge, limit: int, setting: str) -> str:
    """The message for an answer past its limit: which limit, and how to raise it."""
    how = "its Content-Length says" if exc.declared else "the client stopped reading at"
    if not setting:
        return f"the answer is larger than the {spelled(limit)} it may be ({how} {exc.size:,})"
    return (
        f"the answer is larger than {setting} = {spelled(limit)} ({how} {exc.size:,} "
        f"bytes, decompressed); if the server's answers are really this large, raise it: "
        f"XProtectClient(..., {setting}=N)"
    )
