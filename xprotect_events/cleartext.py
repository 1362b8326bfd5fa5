"""The warning given once per host when credentials would travel in clear text."""

from __future__ import annotations

import warnings

from .endpoints import is_loopback
from .transport import Transport


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel in clear text (``http://`` to a non-loopback host)."""


_warned_hosts: set[str] = set()


def warn_if_cleartext(transport: Transport) -> None:
    """Warn (once per host) when ``transport`` speaks ``http://`` to a non-loopback host;
    the warning points at the caller's caller (the client's constructor call)."""
    base = transport.base_url
    if base.scheme != "http" or is_loopback(base) or base.host in _warned_hosts:
        return
    _warned_hosts.add(str(base.host))
    warnings.warn(
        f"credentials and tokens will travel in clear text to {base.host} over http://; "
        "use https:// in production",
        InsecureTransportWarning,
        stacklevel=3,
    )
