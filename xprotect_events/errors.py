"""The exception hierarchy. Every error names what was asked and what came back, never a secret."""

from __future__ import annotations

from collections.abc import Sequence

import attrs


def shown(value: object, limit: int = 200) -> str:
    """``repr(value)`` for an error message: cut to ``limit`` characters, and never failing
    (``repr`` of an int of more than 4300 digits raises ``ValueError``)."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """One entry of the server's ``details`` list."""

    error_text: str | None = None
    error_text_id: str | None = None
    property_name: str | None = None


class XProtectError(Exception):
    """Root of every error this library raises."""


class InvalidInputError(XProtectError, ValueError):
    """Bad input caught before anything was sent (invalid GUID, naive datetime, …)."""


class ConfigurationError(XProtectError):
    """The client was set up wrongly (missing credentials, missing optional extra, …)."""


class ClientClosedError(XProtectError, RuntimeError):
    """The client is not open (never opened, or closed meanwhile, also while a call or a
    stream was waiting for an answer): use ``async with`` or ``await client.open()``."""


class RequestError(XProtectError):
    """An error about one HTTP request: it knows the method and the path it was about."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        text = super().__str__()
        return f"{where}: {text}" if where else text

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(method={self.method!r}, path={self.path!r}, {super().__str__()!r})"


class TransportError(RequestError):
    """The request did not get an HTTP answer (connection refused or cut, timeout, TLS)."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", sent: bool = True
    ) -> None:
        super().__init__(message, method=method, path=path)
        #: False only when the request surely never reached the server (connect failure).
        self.sent = sent


class ConnectError(TransportError):
    """The connection could not be made: the request surely never reached the server."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message, method=method, path=path, sent=False)


class RequestTimeoutError(TransportError):
    """No answer came in time. The server may or may not have acted on the request."""


class TLSError(ConnectError):
    """The TLS handshake failed (certificate not trusted, wrong host name, …)."""


class ProtocolError(RequestError):
    """The server answered something this library cannot make sense of."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", status: int | None = None
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status = status


class APIError(RequestError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str = "",
        *,
        method: str = "",
        path: str = "",
        status: int = 0,
        details: Sequence[ErrorDetail] = (),
        retry_after: float | None = None,
        oauth_error: str | None = None,
        oauth_error_code: str | None = None,
    ) -> None:
        self.status = status
        self.details = tuple(details)
        #: The server's ``Retry-After`` in seconds (sent with 429 and 503), if any.
        self.retry_after = retry_after
        #: The identity provider's ``error`` and ``error_code`` (token endpoint only).
        self.oauth_error = oauth_error
        self.oauth_error_code = oauth_error_code
        if not message:
            message = f"HTTP {status}"
            if self.error_text:
                message += f": {self.error_text}"
        super().__init__(message, method=method, path=path)

    @property
    def error_text(self) -> str | None:
        """The first ``errorText`` the server gave, if any."""
        texts = [d.error_text for d in self.details if d.error_text]
        return "; ".join(texts) if texts else None

    @property
    def error_text_id(self) -> str | None:
        """The first ``errorTextId`` the server gave (a code such as
        ``VMO61008``), if any."""
        return next((d.error_text_id for d in self.details if d.error_text_id), None)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, path={self.path!r}, "
            f"status={self.status}, error_text={self.error_text!r})"
        )


class BadRequestError(APIError):
    """400: the server rejected the request as malformed."""


class UnauthorizedError(APIError):
    """401: the token was missing, expired, unknown or revoked."""


class ForbiddenError(APIError):
    """403: these credentials may not do that."""


class NotFoundError(APIError):
    """404: no such event, session or item (or it is no longer stored)."""


class RateLimitedError(APIError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if it gave one."""


class ServerError(APIError):
    """5xx: the server failed."""


class AuthenticationError(XProtectError):
    """The identity provider refused the credentials (never retried).

    ``error_code`` is the server's code: ``InvalidCredentials``, ``LockedOut``,
    ``ChangePassword`` … ; ``error`` the OAuth error (``invalid_grant``, ``invalid_client``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        error_description: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.error_description = error_description
        self.error_code = error_code

    def __repr__(self) -> str:
        return (
            f"AuthenticationError(status={self.status!r}, error={self.error!r}, "
            f"error_code={self.error_code!r})"
        )


class SessionLostError(XProtectError):
    """An ``order="desc"`` event session was lost or a read failed; it cannot resume by time.

    The cause (:class:`NotFoundError`, :class:`TransportError`, …) is ``__cause__``.
    """


class BatchError(XProtectError):
    """Raised by ``BatchReport.raise_for_failures()``: lists every trigger that did not land."""

    def __init__(self, message: str, *, failures: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


class CheckpointError(XProtectError):
    """A checkpoint or journal cannot be used: malformed, from a newer version, in use by
    another stream, or not writable. ``path`` is the file, when there is one."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class ReconcileError(XProtectError):
    """Why ``client.reconcile`` settled a trigger as it did: for a ``rejected`` one, that it
    was not found after the settle time (it did not land; safe to send again); for one
    still ``unknown``, why the store cannot tell. ``cause`` is the error it had before."""

    def __init__(self, message: str, *, cause: XProtectError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}


def api_error_class(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
