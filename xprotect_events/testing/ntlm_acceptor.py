"""The simulator's NTLM acceptor: Windows logins verified for real by pyspnego's server side.

A :class:`NtlmAcceptor` is the simulator's ``sim.windows_auth`` hook (installed by default
when pyspnego, the ``ntlm`` extra, is importable). It speaks HTTP NTLM authentication as
IIS does in front of the identity provider:

- no (or a foreign) ``Authorization`` header: IIS's ``401`` (its HTML page) with
  ``WWW-Authenticate: Negotiate`` and ``WWW-Authenticate: NTLM``;
- ``Authorization: NTLM <NEGOTIATE>``: ``401`` with ``WWW-Authenticate: NTLM <CHALLENGE>``,
  and the handshake is remembered for *this connection* (the transport object);
- ``Authorization: NTLM <AUTHENTICATE>`` on the same connection: pyspnego checks the
  response against the user's password; success gives the identity provider a username
  (and the client a token), anything else (wrong password, unknown user, another
  connection, tampered message) a fresh ``401`` challenge.
- through the API Gateway's path (the request marked :data:`~.state.VIA_GATEWAY`), the
  handshake is answered but never remembered, as a gateway that opens a new connection to
  the identity provider per request would: the AUTHENTICATE leg gets the ``401``.

``Negotiate`` carrying raw NTLM messages works the same way (SPNEGO-wrapped or Kerberos
tokens are refused). A Windows user is a :class:`~xprotect_events.testing.SimUser` with
``windows=True`` named ``DOMAIN\\user``; a client may also log in as ``user@domain`` or
``user@domain.dns.suffix``.

pyspnego's acceptor reads passwords from the file that the ``NTLM_USER_FILE`` environment
variable names (lines ``DOMAIN:USER:PASSWORD``), and reads it twice: when the context is
created and when it checks the AUTHENTICATE message. So for exactly those two synchronous
calls, under a process-wide lock, the acceptor writes a private temporary file with the
one line it needs, points ``NTLM_USER_FILE`` at it, and then restores the variable and
deletes the file: nothing outlives a call, and a caller's own ``NTLM_USER_FILE`` is kept.
That format cannot hold a ``:`` or a line break, so simulated Windows users' names and
passwords may not contain them.

With ``channel_binding_certificate`` (the server certificate, DER), the acceptor requires
RFC 5929 channel bindings of that certificate (IIS "Extended Protection: Required").
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import struct
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import spnego
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from multidict import MultiDictProxy
from spnego.channel_bindings import GssChannelBindings

from .iis import IIS_SCHEMES, unauthorized
from .seed import SimUser
from .state import VIA_GATEWAY, state_of

__all__ = ["NtlmAcceptor"]

log = logging.getLogger(__name__)

USER_FILE_VARIABLE = "NTLM_USER_FILE"
SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_MESSAGE = 1
AUTHENTICATE_MESSAGE = 3
NEGOTIATE_UNICODE = 0x00000001

#: ``os.environ`` is one per process: one acceptor call at a time may point it at a file.
_ENVIRON_LOCK = threading.Lock()


class NtlmAcceptor:
    """The ``sim.windows_auth`` hook: NTLM verified cryptographically, per connection.

    ``schemes`` are the ``WWW-Authenticate`` schemes offered (and accepted), in order.
    Counters for tests: ``handshakes`` (NEGOTIATE messages received), ``logins`` and
    ``failures`` (AUTHENTICATE messages accepted and refused, plus malformed messages).
    """

    def __init__(
        self,
        *,
        schemes: Iterable[str] = IIS_SCHEMES,
        channel_binding_certificate: bytes | None = None,
    ) -> None:
        self.schemes = tuple(schemes)
        self._bindings = (
            _bindings_of(channel_binding_certificate) if channel_binding_certificate else None
        )
        self._pending: dict[asyncio.BaseTransport, spnego.ContextProxy] = {}
        self.handshakes = 0
        self.logins = 0
        self.failures = 0

    def __repr__(self) -> str:
        return (
            f"<NtlmAcceptor handshakes={self.handshakes} logins={self.logins} "
            f"failures={self.failures}>"
        )

    async def __call__(
        self, request: web.Request, form: MultiDictProxy[Any]
    ) -> str | web.StreamResponse:
        """A Windows username once the handshake succeeded; else the 401 to send."""
        scheme, token = self._authorization(request)
        if scheme is None or token is None:
            return self.challenge()
        kind = _message_type(token)
        if kind == NEGOTIATE_MESSAGE:
            return self._negotiate(request, scheme, token)
        if kind == AUTHENTICATE_MESSAGE:
            return self._authenticate(request, token)
        return self._refuse("neither a NEGOTIATE nor an AUTHENTICATE message")

    def challenge(self, scheme: str | None = None, token: bytes | None = None) -> web.Response:
        """IIS's ``401`` offering every scheme, or carrying ``token`` under ``scheme``."""
        return unauthorized(self.schemes, scheme=scheme, token=token)

    def _authorization(self, request: web.Request) -> tuple[str | None, bytes | None]:
        """The offered scheme (as this acceptor spells it) and the decoded token, if any."""
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        offered = {s.lower(): s for s in self.schemes}.get(scheme.lower())
        try:
            token = base64.b64decode(value.strip(), validate=True) if value.strip() else None
        except binascii.Error:
            token = None
        return offered, token

    def _negotiate(self, request: web.Request, scheme: str, token: bytes) -> web.Response:
        """NEGOTIATE: a fresh context for this connection, and its CHALLENGE."""
        self.handshakes += 1
        connection = request.transport
        if connection is None:
            return self.challenge()
        try:
            with _user_file(()):
                context = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            challenge = context.step(token)
        except Exception as exc:  # a malformed message fails like any bad login
            return self._refuse(f"bad NEGOTIATE message: {exc}")
        self._forget_closed()
        if not request.get(VIA_GATEWAY):
            self._pending[connection] = context
        return self.challenge(scheme, challenge)

    def _authenticate(self, request: web.Request, token: bytes) -> str | web.Response:
        """AUTHENTICATE: checked against the password of the user it names."""
        connection = request.transport
        context = self._pending.pop(connection, None) if connection is not None else None
        if context is None:
            return self._refuse("AUTHENTICATE without a NEGOTIATE on this connection")
        try:
            domain, name = claimed_names(token)
        except ValueError as exc:
            return self._refuse(str(exc))
        user = find_windows_user(state_of(request).directory.users, domain, name)
        if user is None:
            return self._refuse(f"no Windows user {_principal_text(domain, name)}")
        try:
            with _user_file([user_file_line(domain, name, user.password)]):
                context.step(token, channel_bindings=self._bindings)
        except Exception as exc:  # wrong password, bad MIC, missing bindings …
            return self._refuse(f"{_principal_text(domain, name)}: {exc}")
        if not context.complete:
            return self._refuse("the NTLM context did not complete")
        self.logins += 1
        log.info("NTLM login of %s", user.username)
        return user.username

    def _refuse(self, why: str) -> web.Response:
        self.failures += 1
        log.info("NTLM login refused: %s", why)
        return self.challenge()

    def _forget_closed(self) -> None:
        """Drop the handshakes of connections that closed before their AUTHENTICATE."""
        for connection in [c for c in self._pending if c.is_closing()]:
            del self._pending[connection]


# --------------------------------------------------------------------------- NTLM messages


def _message_type(token: bytes) -> int | None:
    """The NTLM message type (1, 2, 3) of a token, or None if it is not an NTLM message."""
    if len(token) < 12 or not token.startswith(SIGNATURE):
        return None
    value: int = struct.unpack_from("<I", token, 8)[0]
    return value


def claimed_names(token: bytes) -> tuple[str, str]:
    """The domain and user names an AUTHENTICATE message claims ([MS-NLMP] 2.2.1.3)."""
    if len(token) < 64 or _message_type(token) != AUTHENTICATE_MESSAGE:
        raise ValueError("not an NTLM AUTHENTICATE message")
    (flags,) = struct.unpack_from("<I", token, 60)
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "cp437"

    def field(offset: int) -> str:
        length, _, start = struct.unpack_from("<HHI", token, offset)
        if start + length > len(token):
            raise ValueError("a field of the AUTHENTICATE message lies outside it")
        return token[start : start + length].decode(encoding, errors="replace")

    return field(28), field(36)


# --------------------------------------------------------------------------- users


def principal(name: str) -> tuple[str, str]:
    """``(DOMAIN, USER)`` in upper case of ``DOMAIN\\user``, ``user@domain[.suffix]``, ``user``."""
    domain, sep, user = name.partition("\\")
    if not sep:
        user, _, dns = name.partition("@")
        domain = dns.split(".", 1)[0]
    return domain.upper(), user.upper()


def _principal_text(domain: str, name: str) -> str:
    return f"{domain}\\{name}" if domain else name


def find_windows_user(users: Mapping[str, SimUser], domain: str, name: str) -> SimUser | None:
    """The ``windows=True`` user that a NTLM domain and user name stand for, if any."""
    wanted = principal(_principal_text(domain, name))
    return next((u for u in users.values() if u.windows and principal(u.username) == wanted), None)


def user_file_line(domain: str, name: str, password: str) -> str:
    """A ``DOMAIN:USER:PASSWORD`` line of ``NTLM_USER_FILE`` (names exactly as claimed)."""
    for part in (domain, name, password):
        if ":" in part or "\n" in part or "\r" in part:
            raise ValueError(
                "a simulated Windows user's name and password may not contain ':' or a "
                "line break (the NTLM_USER_FILE format)"
            )
    return f"{domain}:{name}:{password}"


@contextlib.contextmanager
def _user_file(lines: Iterable[str]) -> Iterator[None]:
    """``NTLM_USER_FILE`` names a private file of ``lines`` for the block, and no longer."""
    with _ENVIRON_LOCK, tempfile.TemporaryDirectory(prefix="xprotect-ntlm-") as folder:
        path = Path(folder) / "ntlm_users"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        before = os.environ.get(USER_FILE_VARIABLE)
        os.environ[USER_FILE_VARIABLE] = str(path)
        try:
            yield
        finally:
            if before is None:
                del os.environ[USER_FILE_VARIABLE]
            else:
                os.environ[USER_FILE_VARIABLE] = before


def _bindings_of(certificate: bytes) -> GssChannelBindings:
    """RFC 5929 ``tls-server-end-point`` bindings of a server certificate (DER)."""
    cert = x509.load_der_x509_certificate(certificate)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate)
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())
