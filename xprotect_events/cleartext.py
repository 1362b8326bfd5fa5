"""The warning given once per host when credentials would travel in clear text."""

from __future__ import annotations

import warnings

from .endpoints import is_loopback
from .transport import Transport


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel in clear text (``http://`` to a non-loopback host,
    or through an ``http://`` proxy on one)."""


_warned_hosts: set[str] = set()


def warn_if_cleartext(transport: Transport) -> None:
    """Warn (once per host) when ``transport`` speaks ``http://`` to a non-loopback host,
    or to any host through an ``http://`` proxy on a non-loopback host (the requests cross
    the network to it in clear); the warning points at the caller's caller (the client's
    constructor call)."""
    base, proxy = transport.base_url, transport.proxy
    if base.scheme != "http":
        return  # https: TLS to the server (through a proxy, a CONNECT tunnel)
    if not is_loopback(base):
        where = str(base.host)
    elif proxy is not None and proxy.scheme == "http" and not is_loopback(proxy):
        where = f"the proxy {proxy.host}"
    else:
        return
    if where in _warned_hosts:
        return
    _warned_hosts.add(where)
    warnings.warn(
        f"credentials and tokens will travel in clear text to {where} over http://; "
        "use https:// in production",
        InsecureTransportWarning,
        stacklevel=3,
    )
