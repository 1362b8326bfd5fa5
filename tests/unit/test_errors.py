"""The exception hierarchy: status mapping, messages, reprs and fields."""

from __future__ import annotations

import pytest

from xprotect_events.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchError,
    ConfigurationError,
    ConnectError,
    ErrorDetail,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RequestError,
    RequestTimeoutError,
    ServerError,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectError,
    api_error_class,
)

PATH = "/api/rest/v1/events/0b4c5a3e-1c1f-4f0a-9a57-3f0f5f0b2c11"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (402, APIError),
        (405, APIError),
        (409, APIError),
        (418, APIError),
        (422, APIError),
        (302, APIError),
    ],
)
def test_api_error_class(status: int, cls: type[APIError]) -> None:
    assert api_error_class(status) is cls


@pytest.mark.parametrize(
    "cls",
    [
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        RateLimitedError,
        ServerError,
    ],
)
def test_api_errors_are_request_errors(cls: type[APIError]) -> None:
    assert issubclass(cls, APIError)
    assert issubclass(cls, RequestError)
    assert issubclass(cls, XProtectError)


def test_api_error_str_shows_method_path_status_and_error_text() -> None:
    err = api_error_class(404)(
        method="GET",
        path=PATH,
        status=404,
        details=[ErrorDetail(error_text="Event not found.", error_text_id="VMO61008")],
    )
    assert isinstance(err, NotFoundError)
    assert str(err) == f"GET {PATH}: HTTP 404: Event not found."
    assert err.status == 404
    assert err.error_text == "Event not found."
    assert err.error_text_id == "VMO61008"


def test_api_error_joins_every_error_text() -> None:
    err = BadRequestError(
        method="POST",
        path="/api/rest/v1/events",
        status=400,
        details=[
            ErrorDetail(error_text="Invalid parent. /CameraFolder"),
            ErrorDetail(error_text_id="X1"),
            ErrorDetail(error_text="Device not found."),
        ],
    )
    assert err.error_text == "Invalid parent. /CameraFolder; Device not found."
    assert err.error_text_id == "X1"
    assert "Invalid parent. /CameraFolder" in str(err)
    assert "Device not found." in str(err)
    assert str(err).startswith("POST /api/rest/v1/events: HTTP 400")


def test_api_error_without_details_or_where() -> None:
    err = ServerError(status=503)
    assert str(err) == "HTTP 503"
    assert err.error_text is None
    assert err.error_text_id is None
    assert err.details == ()


def test_api_error_explicit_message_wins() -> None:
    err = ForbiddenError("nope", method="DELETE", path="/x", status=403)
    assert str(err) == "DELETE /x: nope"


def test_api_error_repr() -> None:
    err = UnauthorizedError(
        method="GET",
        path="/api/rest/v1/events",
        status=401,
        details=[ErrorDetail(error_text="Token validation failed: the token is expired.")],
    )
    text = repr(err)
    assert text.startswith("UnauthorizedError(")
    assert "method='GET'" in text
    assert "path='/api/rest/v1/events'" in text
    assert "status=401" in text
    assert "token is expired" in text


def test_request_error_str_and_repr() -> None:
    err = ProtocolError("response is not valid JSON", method="GET", path="/e", status=200)
    assert str(err) == "GET /e: response is not valid JSON"
    assert err.status == 200
    assert repr(err) == "ProtocolError(method='GET', path='/e', 'response is not valid JSON')"
    bare = ProtocolError("odd")
    assert str(bare) == "odd"
    assert (bare.method, bare.path, bare.status) == ("", "", None)


def test_rate_limited_retry_after() -> None:
    err = api_error_class(429)(method="GET", path="/api/rest/v1/events", status=429)
    assert isinstance(err, RateLimitedError)
    assert err.retry_after is None
    err = RateLimitedError(method="GET", path="/api/rest/v1/events", status=429, retry_after=2.5)
    assert err.retry_after == 2.5
    assert err.status == 429
    assert str(err) == "GET /api/rest/v1/events: HTTP 429"
    assert isinstance(err, APIError)


def test_authentication_error_fields() -> None:
    err = AuthenticationError(
        "the identity provider refused the credentials",
        status=400,
        error="invalid_grant",
        error_description="invalid_username_or_password",
        error_code="LockedOut",
    )
    assert str(err) == "the identity provider refused the credentials"
    assert err.status == 400
    assert err.error == "invalid_grant"
    assert err.error_description == "invalid_username_or_password"
    assert err.error_code == "LockedOut"
    assert repr(err) == (
        "AuthenticationError(status=400, error='invalid_grant', error_code='LockedOut')"
    )
    assert isinstance(err, XProtectError)
    assert not isinstance(err, RequestError)
    bare = AuthenticationError("no")
    assert (bare.status, bare.error, bare.error_description, bare.error_code) == (
        None,
        None,
        None,
        None,
    )


def test_invalid_input_error_is_a_value_error_and_an_xprotect_error() -> None:
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(InvalidInputError, XProtectError)
    with pytest.raises(ValueError, match="bad GUID"):
        raise InvalidInputError("bad GUID")
    assert not issubclass(InvalidInputError, RequestError)


def test_transport_errors() -> None:
    assert TransportError("cut", method="GET", path="/e").sent is True
    assert RequestTimeoutError("slow").sent is True
    connect = ConnectError("refused", method="POST", path="/events")
    assert connect.sent is False
    assert str(connect) == "POST /events: refused"
    tls = TLSError("untrusted certificate")
    assert isinstance(tls, ConnectError)
    assert tls.sent is False
    assert issubclass(TransportError, RequestError)
    assert not issubclass(TransportError, APIError)


def test_other_errors() -> None:
    assert issubclass(ConfigurationError, XProtectError)
    batch = BatchError("2 of 5 failed", failures=["a", "b"])
    assert batch.failures == ("a", "b")
    assert str(batch) == "2 of 5 failed"
    assert ErrorDetail() == ErrorDetail(error_text=None, error_text_id=None, property_name=None)
