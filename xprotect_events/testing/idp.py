"""The simulated identity provider: ``POST /IDP/connect/token`` with the password,
client_credentials, windows_credentials and refresh_token grants [seed, sample], also
reached through the API Gateway at ``/API/IDP/connect/token`` (any case, like every path,
but never with a trailing slash: IdentityServer matches its endpoint paths exactly), and
its discovery document ``GET /IDP/.well-known/openid-configuration`` [sample:
``token_endpoint``].

Refresh tokens [sample: Milestone's WebRTC JavaScript sample]: a user's grant with
``client_id=VmsClient`` also answers a ``refresh_token``; ``grant_type=refresh_token`` with
it and the same ``client_id`` answers a new access token and a new refresh token (the used
one is spent [profile: IdentityServer's default]). The seed's ``GrantValidatorClient``, the
``VmsAdminClient`` (the C# OauthLoginFlow sample does not refresh with it) and service
clients (RFC 6749 4.4.3) get none.

Its errors are OAuth bodies ``{"error", "error_description", "error_code"}``; a Windows
login that fails gets IIS's own ``401`` page (:mod:`.iis`). The gateway does not pass NTLM
through [sample], so a Windows grant sent to the gateway's path never completes (unless
``SimState.ntlm_at_gateway``).
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from .config_api import PRODUCT_VERSION
from .directory import Identity
from .helpers import Routes, json_response
from .iis import unauthorized
from .state import VIA_GATEWAY, SimState, state_of

GRANT_VALIDATOR_CLIENT = "GrantValidatorClient"  # [seed]
#: The clients a user's grant may name: the seed's, the one Milestone's WebRTC JavaScript
#: sample logs in with (``VmsClient``) and the one its C# SecurityPermission and
#: OauthLoginFlow samples do (``VmsAdminClient``) [sample].
USER_CLIENTS = frozenset((GRANT_VALIDATOR_CLIENT, "VmsClient", "VmsAdminClient"))
IDP_PATH = "/IDP"
TOKEN_PATH = IDP_PATH + "/connect/token"
GATEWAY_TOKEN_PATH = "/API" + TOKEN_PATH
#: The clients whose user grants also answer a refresh token [sample].
REFRESH_CLIENTS = frozenset(("VmsClient",))
#: What IdentityServer says its JSON answers are [profile: its own default].
IDP_JSON_TYPE = "application/json; charset=UTF-8"


async def challenge_windows(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    """No NTLM here: IIS's ``401`` before any handshake, whatever the client sends."""
    return unauthorized()


def oauth_error(error: str, code: str | None = None, status: int = 400) -> web.Response:
    """An identity-provider error body [sample]."""
    body: dict[str, Any] = {"error": error}
    if code is not None:
        body.update(error_description="invalid_username_or_password", error_code=code)
    return json_response(body, status, media_type=IDP_JSON_TYPE)


async def gateway_token(request: web.Request) -> web.StreamResponse:
    """``POST /API/IDP/connect/token``: the gateway passes the grants on, but not NTLM."""
    if not state_of(request).ntlm_at_gateway:
        request[VIA_GATEWAY] = True
    return await token(request)


async def token(request: web.Request) -> web.StreamResponse:
    """``POST /IDP/connect/token``: password, client_credentials, windows_credentials and
    refresh_token."""
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
    if grant == "refresh_token":
        return _refresh_grant(state, form)
    return oauth_error("unsupported_grant_type" if grant else "invalid_request")


def same_secret(given: object, expected: str) -> bool:
    """Whether a grant gave the expected secret (compared in constant time)."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _password_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A basic user's token [seed]. The password is checked first; a correct one then may
    still be refused as ``LockedOut`` or ``ChangePassword`` [sample codes]."""
    if form.get("client_id") not in USER_CLIENTS:
        return oauth_error("invalid_client")
    user = state.directory.users.get(str(form.get("username", "")))
    if user is None or user.windows or not same_secret(form.get("password"), user.password):
        return oauth_error("invalid_grant", "InvalidCredentials")
    if user.locked_out:
        return oauth_error("invalid_grant", "LockedOut")
    if user.change_password:
        return oauth_error("invalid_grant", "ChangePassword")
    return _token_response(state, Identity(user.username), str(form["client_id"]))


def _client_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A service token (client credentials) [sample]."""
    client_id = str(form.get("client_id", ""))
    secret = state.directory.service_clients.get(client_id)
    if secret is None or not same_secret(form.get("client_secret"), secret):
        return oauth_error("invalid_client")
    if form.get("scope", "managementserver") != "managementserver":
        return oauth_error("invalid_scope")
    return _token_response(state, Identity(client_id, service=True), None)


async def _windows_grant(
    state: SimState, request: web.Request, form: MultiDictProxy[Any]
) -> web.StreamResponse:
    outcome = await state.windows_auth(request, form)  # IIS's part: before the grant's
    if not isinstance(outcome, str):
        return outcome
    if form.get("client_id") not in USER_CLIENTS:
        return oauth_error("invalid_client")
    user = state.directory.users.get(outcome)
    if user is None or not user.windows:
        return oauth_error("invalid_grant", "InvalidCredentials")
    return _token_response(state, Identity(user.username), str(form["client_id"]))


def _refresh_grant(state: SimState, form: MultiDictProxy[Any]) -> web.Response:
    """A new access token (and refresh token) for a refresh token's user, if the token is
    good, the client the one it was issued to, and the user still may log in."""
    client_id = form.get("client_id")
    if client_id not in USER_CLIENTS:
        return oauth_error("invalid_client")
    given = form.get("refresh_token")
    if not isinstance(given, str) or not given:
        return oauth_error("invalid_request")
    identity = state.tokens.redeem(given, client_id)
    user = state.directory.users.get(identity.name) if identity is not None else None
    if identity is None or user is None or user.locked_out:
        return oauth_error("invalid_grant")
    return _token_response(state, identity, client_id)


def _token_response(state: SimState, identity: Identity, client_id: str | None) -> web.Response:
    """The token answer [sample]; with a ``refresh_token`` for :data:`REFRESH_CLIENTS`."""
    state.stats.tokens_issued += 1
    lifetime = state.tokens.lifetime
    body: dict[str, Any] = {
        "access_token": state.tokens.issue(identity),
        "expires_in": int(lifetime) if lifetime == int(lifetime) else lifetime,
        "token_type": "Bearer",
        "scope": "managementserver",
    }
    if client_id is not None and client_id in REFRESH_CLIENTS:
        body["refresh_token"] = state.tokens.issue_refresh(identity, client_id)
    response = json_response(body, media_type=IDP_JSON_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


async def openid_configuration(request: web.Request) -> web.StreamResponse:
    """``GET /IDP/.well-known/openid-configuration``: where the token endpoint is [sample:
    the C# samples read ``token_endpoint``] and ``server_version`` [sample: the Go sample
    reads it; the C# ServerCommandWrapper takes a major version of 21 or more to mean "an
    OAuth server", matching ``"server_version":"NN.N`` in the compact text]; the other
    members are [profile]. No token needed."""
    idp = state_of(request).base_url + IDP_PATH
    return json_response(
        {
            "issuer": idp,
            "server_version": PRODUCT_VERSION,
            "jwks_uri": idp + "/.well-known/openid-configuration/jwks",
            "authorization_endpoint": idp + "/connect/authorize",
            "token_endpoint": idp + "/connect/token",
            "userinfo_endpoint": idp + "/connect/userinfo",
            "end_session_endpoint": idp + "/connect/endsession",
            "revocation_endpoint": idp + "/connect/revocation",
            "introspection_endpoint": idp + "/connect/introspect",
            "scopes_supported": ["managementserver"],
            "grant_types_supported": [
                "password",
                "client_credentials",
                "windows_credentials",
                "refresh_token",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        },
        media_type=IDP_JSON_TYPE,
    )


#: The identity provider's routes (full paths; the gateway's token path shares the route
#: key of the IDP's own).
ROUTES: Routes = (
    ("POST", TOKEN_PATH, token),
    ("POST", GATEWAY_TOKEN_PATH, gateway_token),
    ("GET", IDP_PATH + "/.well-known/openid-configuration", openid_configuration),
)
