"""Windows users: the ``windows_credentials`` grant over NTLM (needs the ``ntlm`` extra)."""

from __future__ import annotations

import attrs

from .errors import ConfigurationError
from .models import Token
from .profile import Profile
from .transport import Transport


@attrs.frozen(kw_only=True)
class WindowsCredentials:
    """A Windows (Active Directory) user, ``DOMAIN\\user``. The password never shows."""

    username: str
    password: str = attrs.field(repr=False)
    token_path: str | None = None

    async def fetch_token(self, transport: Transport, profile: Profile) -> Token:
        raise ConfigurationError("Windows (NTLM) login is not available yet")
