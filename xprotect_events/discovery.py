"""Discovery: where a server's API Gateway and token endpoint are, as Milestone's C# samples
find them [sample]:

1. ``GET {server}/api/.well-known/uris`` (no token) → ``{"ProductVersion",
   "IdentityProvider", "ApiGateways": [...], …}``;
2. ``GET {IdentityProvider}/.well-known/openid-configuration`` → ``{"token_endpoint", …}``.

:func:`discover` asks both and :meth:`Discovered.profile` turns the answers into the
:class:`~xprotect_events.profile.Profile` paths a client uses (``XProtectClient.discover``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs
from yarl import URL

from . import wire
from .endpoints import Verify
from .errors import ConfigurationError, InvalidInputError, ProtocolError, shown
from .profile import Profile
from .transport import Transport

WELL_KNOWN_PATH = "/api/.well-known/uris"
OPENID_PATH = "/.well-known/openid-configuration"
GATEWAY_REST = "rest/v1"  # under each gateway URI [sample]
GATEWAY_TOKEN = "IDP/connect/token"  # the gateway's path to the identity provider [sample]


@attrs.frozen(kw_only=True)
class Discovered:
    """What discovery found: the gateway (first of ``ApiGateways``), the identity provider
    and its token endpoint, and the product version."""

    gateway: URL
    identity_provider: URL
    token_endpoint: URL
    product_version: str | None = None

    @property
    def server(self) -> str:
        """The origin (scheme, host, port) a client talks to: the gateway's."""
        return str(self.gateway.origin())

    def profile(self, base: Profile | None = None, *, windows: bool = False) -> Profile:
        """``base`` (default: the defaults) with the discovered paths: the API under the
        gateway, and every grant at the token endpoint (the Windows grant must go there,
        the gateway does not pass NTLM through).

        A token endpoint on another origin than the gateway's: basic and service grants go
        through the gateway's ``IDP/connect/token``; for a Windows user (``windows``) that
        is a :class:`ConfigurationError`, since one client talks to one origin."""
        gateway_path = self.gateway.path.rstrip("/")
        token_path = self.token_endpoint.path
        if self.token_endpoint.origin() != self.gateway.origin():
            if windows:
                raise ConfigurationError(
                    f"the identity provider is at {self.token_endpoint.origin()}, not at the "
                    f"gateway's {self.gateway.origin()}: point a Windows user's client at it"
                )
            token_path = f"{gateway_path}/{GATEWAY_TOKEN}"
        return attrs.evolve(
            base or Profile(),
            api_path=f"{gateway_path}/{GATEWAY_REST}",
            token_path=token_path,
            windows_token_path=token_path,
        )


#: The client's options that shape its HTTP: discovery goes the same way (proxy, TLS …).
TRANSPORT_OPTIONS = (
    "timeout",
    "connect_timeout",
    "retry",
    "proxy",
    "trust_env",
    "trace_configs",
    "max_response_bytes",
)


async def discover(url: str, *, verify: Verify = True, **options: Any) -> Discovered:
    """Ask the server at ``url`` where its gateway and token endpoint are; ``options`` are
    the :class:`Transport`'s (:data:`TRANSPORT_OPTIONS`). Raises the library's errors
    (:class:`ProtocolError` for answers without the sample's fields; a
    :class:`ConfigurationError` for a server asked over https that names an http URL:
    the credentials would then travel in clear)."""
    options = {**options, "verify": verify}
    async with _Open(Transport(url, **options)) as server:
        uris = (await server.request("GET", WELL_KNOWN_PATH)).body
    secure = server.base_url.scheme == "https"
    identity = _url_member(uris, "IdentityProvider", WELL_KNOWN_PATH, secure)
    gateways = uris.get("ApiGateways") if isinstance(uris, dict) else None
    if not isinstance(gateways, list) or not gateways or not isinstance(gateways[0], str):
        raise ProtocolError(f"{WELL_KNOWN_PATH} names no ApiGateways")
    gateway = _absolute(gateways[0], "ApiGateways", secure)
    openid_path = identity.path.rstrip("/") + OPENID_PATH
    async with _Open(Transport(identity.origin(), **options)) as idp:
        config = (await idp.request("GET", openid_path)).body
    version = uris.get("ProductVersion")
    return Discovered(
        gateway=gateway,
        identity_provider=identity,
        token_endpoint=_url_member(config, "token_endpoint", openid_path, secure),
        product_version=version if isinstance(version, str) else None,
    )


def _url_member(body: Any, key: str, where: str, secure: bool) -> URL:
    try:
        text = wire.member(body, key, str)
    except ProtocolError as exc:
        raise ProtocolError(f"{where}: {exc}") from None
    return _absolute(text, key, secure)


def _absolute(text: str, what: str, secure: bool) -> URL:
    """The URL discovery gave as ``what``: absolute http(s), and https if ``secure`` (the
    server was asked over https)."""
    url = URL(text)
    if not url.is_absolute() or url.scheme not in ("http", "https"):
        raise ConfigurationError(f"discovery gave {what} {shown(text)}, not an http(s) URL")
    if secure and url.scheme != "https":
        raise ConfigurationError(
            f"the server, asked over https, gave {what} {shown(text)}: not followed (the "
            "credentials would travel in clear); give the client an https URL of it"
        )
    return url


class _Open:
    """``async with _Open(transport)``: opened, then closed."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def __aenter__(self) -> Transport:
        await self.transport.open()
        return self.transport

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.close()


async def client_arguments(
    url: str, options: dict[str, Any], make: Callable[..., object]
) -> tuple[str, dict[str, Any]]:
    """The server and the ``XProtectClient`` options (the profile filled in) that discovery
    finds for ``url`` (``XProtectClient.discover``; ``make``: that class), the options
    checked first: a client is made with them (which sends nothing), so bad ones raise
    what the constructor raises before discovery sends anything."""
    if unknown := sorted(set(options) - set(inspect.signature(make).parameters)):
        raise InvalidInputError(f"discover() got unknown options: {', '.join(unknown)}")
    make(url, **options)
    given = {k: options[k] for k in TRANSPORT_OPTIONS if k in options}
    found = await discover(url, verify=options.get("verify", True), **given)
    windows = bool(options.get("windows", False))
    profile = found.profile(options.get("profile"), windows=windows)
    return found.server, {**options, "profile": profile}
