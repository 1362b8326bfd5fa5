"""The warning given once per host when credentials could be read on the way: in clear
text (``http://``), or over TLS whose certificate is not checked (``verify=False``)."""

from __future__ import annotations

import warnings

from .endpoints import is_loopback
from .transport import Transport


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel to a non-loopback host in clear text (``http://``),
    or over ``https://`` with certificate verification off (``verify=False``)."""


_warned: set[tuple[str, str]] = set()  # (scheme, host)


def warn_if_cleartext(transport: Transport) -> None:
    """Warn (once per host and scheme) when ``transport`` speaks ``http://``, or
    ``https://`` without verifying certificates, to a non-loopback host; the warning
    points at the caller's caller (the client's constructor call)."""
    base = transport.base_url
    key = (base.scheme, str(base.host))
    if is_loopback(base) or key in _warned:
        return
    if base.scheme == "http":
        why = "in clear text over http://; use https:// in production"
    elif transport.verify is False:
        why = (
            "over TLS whose certificate is not verified (verify=False): anyone on the way "
            "can pose as the server; for test servers only"
        )
    else:
        return
    _warned.add(key)
    warnings.warn(
        f"credentials and tokens will travel to {base.host} {why}",
        InsecureTransportWarning,
        stacklevel=3,
    )
