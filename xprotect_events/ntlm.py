"""Windows users: the ``windows_credentials`` grant over NTLM (needs the ``ntlm`` extra).

The grant goes to the identity provider directly (``profile.windows_token_path``; the API
Gateway does not pass NTLM through) [sample]. The handshake is the one of HTTP NTLM
authentication ([MS-NTHT]), with the form body on every leg, as ``requests-ntlm`` sends it:

1. ``POST`` the grant with ``Authorization: NTLM <NEGOTIATE>`` (type 1);
2. the server answers ``401`` with ``WWW-Authenticate: NTLM <CHALLENGE>`` (type 2);
3. ``POST`` it again with ``Authorization: NTLM <AUTHENTICATE>`` (type 3): the token, or
   ``401`` when the password is wrong (:class:`AuthenticationError`, never retried).

NTLM authenticates the TCP connection, not a request: both POSTs must travel on one
kept-alive connection. They go through a short-lived session whose connector holds at most
one connection and records the connection each request used; a refusal after the server
changed the connection under us is reported as such, not as a wrong password. Over HTTPS
the AUTHENTICATE message carries channel bindings (RFC 5929 ``tls-server-end-point``), so
servers with Extended Protection accept it. A server that offers only ``Negotiate`` gets
the same NTLM messages under that scheme.

Connection failures and 5xx restart the whole handshake under the transport's retry policy,
like the other grants.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
from multidict import CIMultiDictProxy

from . import wire
from .aiohttp_internals import OneConnection
from .bodies import MAX_TOKEN_BYTES
from .errors import APIError, AuthenticationError, ConfigurationError, ProtocolError
from .models import Token
from .profile import Profile
from .responses import response_from
from .transport import Transport
from .transport_errors import transport_error

if TYPE_CHECKING:
    from spnego import ContextProxy
    from spnego.channel_bindings import GssChannelBindings

log = logging.getLogger("xprotect_events")

MISSING_EXTRA = "Windows login needs the 'ntlm' extra: pip install 'xprotect-events[ntlm]'"

_NO_CHALLENGE = (
    "the server sent no {scheme} challenge: is Windows authentication enabled on the identity "
    "provider, and is the token path the IDP's own (the API Gateway does not pass NTLM)?"
)
_CHALLENGE = re.compile(r"^\s*(NTLM|Negotiate)\s+([A-Za-z0-9+/=]+)\s*$", re.IGNORECASE)


#: pyspnego's loggers that write, at DEBUG, each message a context makes or reads.
_SPNEGO_LOGGERS = ("spnego._ntlm", "spnego._negotiate", "spnego._gss", "spnego._sspi")


class _WithoutMessages(logging.Filter):
    """Drops pyspnego's "step input/output: <base64>" records: the AUTHENTICATE message's
    NTLMv2 response gives the password away to an offline guess (and ``--debug`` logs
    every logger at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return "step input" not in text and "step output" not in text


_WITHOUT_MESSAGES = _WithoutMessages()


def _require_spnego() -> None:
    """Import pyspnego (the ``ntlm`` extra) or say how to install it; keep the messages
    it makes out of its logs."""
    try:
        import spnego  # noqa: F401
    except ImportError:
        raise ConfigurationError(MISSING_EXTRA) from None
    for name in _SPNEGO_LOGGERS:
        logging.getLogger(name).addFilter(_WITHOUT_MESSAGES)  # (once: it checks)


def _windows_name(name: str) -> str:
    """``DOMAIN\\user`` or ``user@domain``, trimmed; a doubled backslash (``'DOMAIN\\\\user'``
    typed in a shell) is one, since no Windows name may contain one."""
    name = re.sub(r"\\+", lambda _: "\\", name.strip())
    domain, sep, user = name.rpartition("\\")
    if not (user if sep else name).partition("@")[0] or (sep and not domain):
        raise ConfigurationError(
            f"a Windows user name is DOMAIN\\user or user@domain, got {name!r}"
        )
    return name


@attrs.frozen(kw_only=True)
class WindowsCredentials:
    """A Windows (Active Directory) user, ``DOMAIN\\user`` or ``user@domain``: NTLM.

    The password never shows in a repr, a log line or an error.
    """

    username: str = attrs.field(converter=_windows_name)
    password: str = attrs.field(repr=False)
    token_path: str | None = None

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token:
        """Run the NTLM handshake against the identity provider; retried like any grant."""
        _require_spnego()
        path = self.token_path or profile.windows_token_path
        form = {"grant_type": "windows_credentials", "client_id": profile.grant_client_id}

        async def attempt() -> Token:
            return await _Handshake(self, transport, path, form).run()

        return await transport.retried(attempt, "safe")


# ---------------------------------------------------------------------------- the handshake


@attrs.frozen
class _Leg:
    """One answer of the handshake: the response (body already read) and its body."""

    response: aiohttp.ClientResponse
    body: bytes

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.response.headers


class _Handshake:
    """One NTLM login: NEGOTIATE, CHALLENGE, AUTHENTICATE on one connection."""

    def __init__(
        self,
        credentials: WindowsCredentials,
        transport: Transport,
        path: str,
        form: dict[str, str],
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._path = path
        self._form = form
        self._url = transport.url(path)
        self._connector = OneConnection(transport.tls)
        self._session: aiohttp.ClientSession | None = None
        self._sent: list[str] = []  # the messages sent, base64: no answer may show them

    @property
    def _hidden(self) -> tuple[str, ...]:
        """What no message may show: the password, the NTLM messages sent (AUTHENTICATE's
        NTLMv2 response gives the password away to an offline guess), the proxy's secrets."""
        return (self._credentials.password, *self._sent, *self._transport.secrets)

    async def run(self) -> Token:
        """The token, or the error that the server's answer means."""
        async with self._transport.dedicated_session(self._connector) as session:
            self._session = session
            context, scheme, leg = await self._negotiate()
            if leg.status != 401:
                return self._token(leg)  # answered without NTLM: a token or an error
            challenge = _challenge(leg.headers, scheme)
            if challenge is None:
                raise self._refused(leg, _NO_CHALLENGE.format(scheme=scheme))
            bindings = channel_bindings(self._connector.used[-1])
            answer = _step(context, challenge, bindings, self._path)
            final = await self._post(scheme, answer)
            return self._token(final)

    async def _negotiate(self) -> tuple[ContextProxy, str, _Leg]:
        """Send NEGOTIATE as ``NTLM``; again as ``Negotiate`` if the server offers only that."""
        context = self._context()
        leg = await self._post("NTLM", context.step())
        offers = _offers(leg.headers) if leg.status == 401 else set()
        if "ntlm" not in offers and "negotiate" in offers:
            context = self._context()
            return context, "Negotiate", await self._post("Negotiate", context.step())
        return context, "NTLM", leg

    def _context(self) -> ContextProxy:
        import spnego

        return spnego.client(
            self._credentials.username,
            self._credentials.password,
            hostname=self._url.host or "unspecified",
            service="http",
            protocol="ntlm",
            options=spnego.NegotiateOptions.use_ntlm,
        )

    async def _post(self, scheme: str, token: bytes | None) -> _Leg:
        assert self._session is not None
        encoded = base64.b64encode(token or b"").decode("ascii")
        self._sent.append(encoded)
        headers = {"Authorization": f"{scheme} {encoded}"}
        try:
            async with self._session.post(
                self._url, data=self._form, headers=headers, allow_redirects=False
            ) as response:
                body = await self._transport.read_answer(
                    response, MAX_TOKEN_BYTES, "POST", self._path
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(exc, "POST", self._path, self._hidden) from exc
        log.debug("NTLM %s leg %d -> %d", self._path, len(self._connector.used), response.status)
        return _Leg(response, body)

    def _token(self, leg: _Leg) -> Token:
        try:
            response = response_from(
                leg.status, leg.headers, leg.body, "POST", self._path, self._hidden
            )
        except APIError as exc:
            if exc.status in (400, 401, 403):
                raise self._refused(leg, exc.error_text, exc) from None
            raise
        try:
            return wire.token_from_wire(response.body)
        except ProtocolError as exc:
            raise ProtocolError(
                str(exc), method="POST", path=self._path, status=response.status
            ) from None

    def _refused(
        self, leg: _Leg, why: str | None, exc: APIError | None = None
    ) -> AuthenticationError | ProtocolError:
        if leg.status == 401 and not self._connector.one_connection:
            return ProtocolError(
                "the NTLM handshake did not stay on one connection (the server or a proxy "
                "closed it after the challenge); NTLM needs one kept-alive connection",
                method="POST",
                path=self._path,
                status=leg.status,
            )
        user = self._credentials.username
        reason = why or (
            "NTLM authentication failed: wrong user name or password, or the account may not log on"
        )
        return AuthenticationError(
            f"POST {self._path}: the identity provider refused the Windows login of "
            f"{user} (HTTP {leg.status}: {reason})",
            status=leg.status,
            error=exc.oauth_error if exc else None,
            error_description=exc.error_text if exc else None,
            error_code=exc.oauth_error_code if exc else None,
        )


def _offers(headers: CIMultiDictProxy[str]) -> set[str]:
    """The authentication schemes a 401 offers, lower case."""
    schemes = set()
    for value in headers.getall("WWW-Authenticate", ()):
        for item in value.split(","):
            if item.strip():
                schemes.add(item.split()[0].lower())
    return schemes


def _challenge(headers: CIMultiDictProxy[str], scheme: str) -> bytes | None:
    """The CHALLENGE message of ``WWW-Authenticate: <scheme> <base64>``, if any."""
    for value in headers.getall("WWW-Authenticate", ()):
        for item in value.split(","):
            match = _CHALLENGE.match(item)
            if match and match.group(1).lower() == scheme.lower():
                try:
                    return base64.b64decode(match.group(2), validate=True)
                except binascii.Error:
                    return None
    return None


def _step(
    context: ContextProxy, challenge: bytes, bindings: GssChannelBindings | None, path: str
) -> bytes:
    """The AUTHENTICATE message answering ``challenge``."""
    try:
        answer = context.step(challenge, channel_bindings=bindings)
    except Exception as exc:  # SpnegoError, or struct.error & co. from a garbled message
        raise ProtocolError(
            f"the server's NTLM challenge is not valid: {exc}", method="POST", path=path
        ) from None
    if not answer:
        raise ProtocolError("NTLM produced no answer to the challenge", method="POST", path=path)
    return answer


def channel_bindings(connection: asyncio.BaseTransport | None) -> GssChannelBindings | None:
    """RFC 5929 ``tls-server-end-point`` bindings of a TLS connection (None over plain HTTP)."""
    ssl_object: Any = connection.get_extra_info("ssl_object") if connection else None
    certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not certificate:
        return None
    from spnego.channel_bindings import GssChannelBindings

    return GssChannelBindings(application_data=b"tls-server-end-point:" + _cert_hash(certificate))


def _cert_hash(certificate: bytes) -> bytes:
    """The certificate's hash with its signature's algorithm (SHA-256 for MD5, SHA-1 or
    none), as RFC 5929 says."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_der_x509_certificate(certificate)
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate)
    return digest.finalize()
