"""The simulator's TLS (a throw-away CA and certificate) and its Windows (NTLM) acceptor,
each from an optional extra."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

from ..errors import ConfigurationError
from .idp import challenge_windows
from .state import WindowsAuth

#: Why ``https=True`` cannot start, and what to install.
MISSING_EXTRA = "simulator https needs the 'https' extra: pip install 'xprotect-events[https]'"


def windows_acceptor() -> WindowsAuth:
    """A real NTLM acceptor when pyspnego (the ``ntlm`` extra) is installed, else the bare
    challenge of a server whose Windows logins cannot succeed."""
    try:
        from .ntlm_acceptor import NtlmAcceptor
    except ImportError:
        return challenge_windows
    return NtlmAcceptor()


class Tls:
    """A throw-away CA (trustme) and a server certificate for 127.0.0.1 and localhost."""

    def __init__(self) -> None:
        try:
            import trustme  # the ``https`` extra
        except ImportError:
            raise ConfigurationError(MISSING_EXTRA) from None

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost", "::1")
        self.dir = Path(tempfile.mkdtemp(prefix="xprotect-sim-"))
        self.ca_path = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
