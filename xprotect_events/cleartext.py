"""The warning given once per host when credentials could be read on the way: in clear
text (``http://``, or through an ``http://`` proxy), or over TLS whose certificate is not
checked (``verify=False``)."""

from __future__ import annotations

import warnings

from .endpoints import is_loopback
from .transport import Transport


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel in clear text (``http://`` to a non-loopback host,
    or through an ``http://`` proxy on one), or over ``https://`` to a non-loopback host
    with certificate verification off (``verify=False``)."""


_warned: set[str] = set()
_CLEAR = "in clear text over http://; use https:// in production"


def warn_if_cleartext(transport: Transport) -> None:
    """Warn (once per host) when ``transport`` speaks ``http://`` to a non-loopback host,
    or to any host through an ``http://`` proxy on a non-loopback host (the requests cross
    the network to it in clear), or ``https://`` without verifying certificates to a
    non-loopback host; the warning points at the caller's caller (the client's constructor
    call)."""
    base, proxy = transport.base_url, transport.proxy
    if base.scheme == "https":
        if transport.verify is not False or is_loopback(base):
            return  # TLS to the server (through a proxy, a CONNECT tunnel)
        where = f"{base.host} over TLS"
        why = "whose certificate is not verified (verify=False): anyone on the way can pose "
        why += "as the server; for test servers only"
    elif not is_loopback(base):
        where, why = str(base.host), _CLEAR
    elif proxy is not None and proxy.scheme == "http" and not is_loopback(proxy):
        where, why = f"the proxy {proxy.host}", _CLEAR
    else:
        return
    if where in _warned:
        return
    _warned.add(where)
    warnings.warn(
        f"credentials and tokens will travel to {where} {why}",
        InsecureTransportWarning,
        stacklevel=3,
    )
