"""The simulated identity provider: ``POST /IDP/connect/token`` (also ``/API/IDP/…`` and
``/idp/…``) with the password, client_credentials and windows_credentials grants [seed,
sample]. Its errors are OAuth bodies ``{"error", "error_description", "error_code"}``."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from .directory import Identity
from .helpers import json_response
from .state import SimState, state_of

GRANT_VALIDATOR_CLIENT = "GrantValidatorClient"  # [seed]
TOKEN_PATHS = ("/IDP/connect/token", "/API/IDP/connect/token", "/idp/connect/token")


async def challenge_windows(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    """No NTLM yet: answer the challenge a server sends before the handshake [seed]."""
    response = web.Response(status=401, text="Unauthorized")
    response.headers.add("WWW-Authenticate", "NTLM")
    response.headers.add("WWW-Authenticate", "Negotiate")
    return response


def oauth_error(error: str, code: str | None = None, status: int = 400) -> web.Response:
    """An identity-provider error body [sample]."""
    body: dict[str, Any] = {"error": error}
    if code is not None:
        body.update(error_description="invalid_username_or_password", error_code=code)
    return json_response(body, status)


async def token(request: web.Request) -> web.StreamResponse:
    """``POST /IDP/connect/token``: password, client_credentials and windows_credentials."""
    state = state_of(request)
    state.stats.token_requests += 1
    if request.content_type != "application/x-www-form-urlencoded":
        return oauth_error("invalid_request")
    form = await request.post()
    grant = form.get("grant_type")
    if grant == "password":
        return _password_grant(state, form)
    if grant == "client_credentials":
        return _client_grant(state, form)
    if grant == "windows_credentials":
        return await _windows_grant(state, request, form)
    return oauth_error("unsupported_grant_type" if grant else "invalid_request")


def same_secret(given: object, expected: str) -> bool:
    """Whether a grant gave the expected secret (compared in constant time)."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _password_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A basic user's token [seed]. The password is checked first; a correct one then may
    still be refused as ``LockedOut`` or ``ChangePassword`` [sample codes]."""
    if form.get("client_id") != GRANT_VALIDATOR_CLIENT:
        return oauth_error("invalid_client")
    user = state.directory.users.get(str(form.get("username", "")))
    if user is None or user.windows or not same_secret(form.get("password"), user.password):
        return oauth_error("invalid_grant", "InvalidCredentials")
    if user.locked_out:
        return oauth_error("invalid_grant", "LockedOut")
    if user.change_password:
        return oauth_error("invalid_grant", "ChangePassword")
    return _token_response(state, Identity(user.username))


def _client_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A service token (client credentials) [sample]."""
    client_id = str(form.get("client_id", ""))
    secret = state.directory.service_clients.get(client_id)
    if secret is None or not same_secret(form.get("client_secret"), secret):
        return oauth_error("invalid_client")
    if form.get("scope", "managementserver") != "managementserver":
        return oauth_error("invalid_scope")
    return _token_response(state, Identity(client_id, service=True))


async def _windows_grant(
    state: SimState, request: web.Request, form: MultiDictProxy[Any]
) -> web.StreamResponse:
    outcome = await state.windows_auth(request, form)
    if not isinstance(outcome, str):
        return outcome
    user = state.directory.users.get(outcome)
    if user is None or not user.windows:
        return oauth_error("invalid_grant", "InvalidCredentials")
    return _token_response(state, Identity(user.username))


def _token_response(state: SimState, identity: Identity) -> web.Response:
    state.stats.tokens_issued += 1
    lifetime = state.tokens.lifetime
    response = json_response(
        {
            "access_token": state.tokens.issue(identity),
            "expires_in": int(lifetime) if lifetime == int(lifetime) else lifetime,
            "token_type": "Bearer",
            "scope": "managementserver",
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response
