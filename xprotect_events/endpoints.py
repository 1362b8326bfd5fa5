"""Where the client connects, checked: the server URL, the proxy (and its credentials,
which nothing may show), TLS verification, loopback. Pure but for reading the environment's
proxy settings and loading a CA bundle."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import ssl
import urllib.request
import warnings
from collections.abc import Iterator
from os import PathLike

import aiohttp
from yarl import URL

from .checks import plain_str
from .errors import ConfigurationError, InvalidInputError, shown

Verify = bool | str | PathLike[str] | ssl.SSLContext


def _text(value: object) -> str:
    """A URL the caller gave as text (a str subclass read without its own methods)."""
    if isinstance(value, str):
        return plain_str(value)
    return str(value) if isinstance(value, URL) else ""


def server_url(value: str | URL) -> URL:
    """The checked server URL: ``http(s)://host[:port]``; :class:`InvalidInputError` if not.

    Credentials in it (``user:password@``) are refused, and never echoed: aiohttp would send
    them as Basic auth beside the token, and every repr and error would show them. So are
    a query and a fragment (``?password=…``, ``#access_token=…``), also never echoed.
    """
    text = _text(value)
    if "?" in text or "#" in text:  # never shown: a query or fragment may carry a secret
        raise InvalidInputError(
            "the server URL must not carry a query or a fragment (?… or #…): "
            "give http(s)://host[:port], and credentials as the client's arguments"
        )
    try:
        url = URL(text.rstrip("/"))
        ok = url.scheme in ("http", "https") and _host_ok(url.host) and url.port is not None
    except ValueError:  # yarl: bad port, bad IPv6, a host IDNA cannot encode …
        url, ok = URL(), False
    if url.user is not None or url.password is not None or (not ok and "@" in text):
        raise InvalidInputError("the server URL must not carry credentials (user:password@)")
    if not ok:
        raise InvalidInputError(f"the server URL must be http(s)://host[:port], got {shown(value)}")
    return url


def _host_ok(host: str | None) -> bool:
    """Whether ``host`` can be looked up at all: a name whose labels IDNA encodes (at most
    63 characters each, none empty); yarl lets a longer one through, and the lookup of
    each request would then fail with a ``UnicodeError`` instead of a connection error."""
    if not host:
        return False
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def proxy_param(value: str | URL | None) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """aiohttp's ``proxy=`` and ``proxy_auth=`` from the user's ``proxy=``: the URL without
    its credentials (``user:password@``, sent as ``Proxy-Authorization``), and those.

    :class:`InvalidInputError` unless it is ``http(s)://host[:port]`` with a user name
    without ``:``; the credentials are never echoed. They go as Latin-1 (the Basic
    scheme's old default), or as UTF-8 when Latin-1 cannot hold them (RFC 7617).
    """
    if value is None:
        return None, None
    text = _text(value)
    try:
        url = URL(text)
        ok = url.scheme in ("http", "https") and _host_ok(url.host) and url.port is not None
    except ValueError:
        url, ok = URL(), False
    if not ok:
        raise InvalidInputError("the proxy must be http(s)://host[:port]")
    auth = None
    if url.user is not None:
        auth = _basic(url.user, url.password or "")
    return url.with_user(None).with_password(None), auth


def _basic(user: str, password: str) -> aiohttp.BasicAuth:
    """The proxy's Basic credentials, in the first charset that holds them (never shown:
    an encoding error's repr would hold them, so none is raised or chained)."""
    if ":" in user:
        raise InvalidInputError("the proxy's user name must not contain ':' (%3A)")
    pair = f"{user}:{password}"
    encoding = next((e for e in ("latin-1", "utf-8") if _encodes(pair, e)), None)
    if encoding is None:
        raise InvalidInputError("the proxy's credentials are not valid Unicode text")
    with proxy_auth_allowed():
        return aiohttp.BasicAuth(user, password, encoding=encoding)


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def proxy_secrets(auth: aiohttp.BasicAuth | None) -> tuple[str, ...]:
    """What no message may show of the proxy's credentials: the password, and the
    ``user:password`` pair in base64, as ``Proxy-Authorization`` carries it."""
    if auth is None or not auth.password:
        return ()
    pair = f"{auth.login}:{auth.password}".encode(auth.encoding)
    return auth.password, base64.b64encode(pair).decode("ascii")


@contextlib.contextmanager
def proxy_auth_allowed() -> Iterator[None]:
    """aiohttp 3.14 deprecates ``BasicAuth`` and a session's ``proxy_auth`` (for per-request
    ``proxy_headers``, which its sessions do not take): silence just that, where we use it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiohttp")
        warnings.filterwarnings("ignore", message=".*(BasicAuth|proxy_auth).*deprecated")
        yield


def environment_proxy(url: URL) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY`` by its
    scheme, or ``ALL_PROXY``), or None: none set, or ``url``'s host is in ``NO_PROXY``.

    Only the variables count: not ``.netrc`` (aiohttp's ``trust_env`` would also send its
    passwords as Basic auth), not the system's settings.
    """
    proxies = urllib.request.getproxies_environment()
    chosen = proxies.get(url.scheme) or proxies.get("all")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not chosen or bypass(url.host or "", proxies):
        return None
    return chosen if "://" in chosen else f"http://{chosen}"


def ssl_param(verify: Verify) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl=`` from the user's ``verify=``: on by default, a CA bundle, or off."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        return False
    if isinstance(verify, str):
        verify = plain_str(verify)
    elif not isinstance(verify, PathLike):
        raise InvalidInputError(
            f"verify must be True, False, a CA-bundle path or an SSLContext, got {shown(verify)}"
        )
    try:
        return ssl.create_default_context(cafile=verify)
    except Exception as exc:  # (ssl.SSLError is an OSError; a caller's path object: anything)
        raise ConfigurationError(f"cannot load the CA bundle {shown(verify)}: {exc}") from None


def is_loopback(url: URL) -> bool:
    host = url.host or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
