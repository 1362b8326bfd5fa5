"""Connection settings: the flags (or ``XPROTECT_*`` variables) every client command takes.

The flags are declared once in :data:`CONNECTION_FLAGS`; :data:`ENVIRONMENT` (the help's
list) and the keys :func:`connection_options` collects are derived from it.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import click

from .. import ConfigurationError, InsecureTransportWarning, InvalidInputError, XProtectClient
from ..endpoints import Verify, server_url, ssl_param
from .params import Seconds, with_options


@attrs.frozen(kw_only=True)
class Connection:
    """The connection settings of one command. Secrets never show in a repr."""

    url: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    windows: bool = False
    verify: Verify = True
    timeout: float = 30.0
    proxy: str | None = attrs.field(default=None, repr=False)
    #: Where each setting came from: ``--url``, or ``XPROTECT_URL`` (for errors).
    origins: Mapping[str, str] = attrs.Factory(dict)

    @property
    def ca_bundle(self) -> str | None:
        """The file ``--ca-bundle`` names, an input no output may be."""
        return self.verify if isinstance(self.verify, str) else None

    def origin(self, name: str) -> str:
        """``--url``, or ``XPROTECT_URL (--url)`` when the variable gave it."""
        flag = "--" + name.replace("_", "-")
        given = self.origins.get(name, flag)
        return given if given == flag else f"{given} ({flag})"

    def client(self) -> XProtectClient:
        """A new (not yet open) client; bad settings are usage errors."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InsecureTransportWarning)
            try:
                client = XProtectClient(
                    self.url,
                    username=self.username,
                    password=self.password,
                    client_id=self.client_id,
                    client_secret=self.client_secret,
                    windows=self.windows,
                    verify=self.verify,
                    timeout=self.timeout,
                    proxy=self.proxy,
                )
            except (ValueError, ConfigurationError) as exc:
                raise click.UsageError(f"{self._about(str(exc))}{exc}") from None
        for warning in caught:
            click.echo(f"warning: {warning.message}", err=True)
        return client

    def _about(self, message: str) -> str:
        for word, name in (("server URL", "url"), ("proxy", "proxy"), ("timeout", "timeout")):
            if word in message:
                return f"{self.origin(name)}: "
        return ""

    @property
    def who(self) -> str:
        return self.username or self.client_id or "?"


def connection_from_options(
    *,
    url: str | None,
    username: str | None,
    password: str | None,
    client_id: str | None,
    client_secret: str | None,
    windows: bool,
    ca_bundle: str | None,
    insecure: bool,
    timeout: float,
    proxy: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> Connection:
    """Check the settings; prompt for a missing password or secret on a terminal."""
    origins = origins or {}
    if not url:
        raise click.UsageError("no server URL: pass --url or set XPROTECT_URL")
    _check_api_path(url, origins)
    if username and (client_id or client_secret):
        given = {"username": username, "password": password, "client_id": client_id}
        given["client_secret"] = client_secret
        raise click.UsageError(_conflict([k for k, v in given.items() if v], origins))
    if insecure and ca_bundle:
        raise click.UsageError("--insecure and --ca-bundle contradict each other; give one")
    if ca_bundle:  # one that does not load is a usage error before anything is read or sent
        try:
            ssl_param(ca_bundle)
        except (ConfigurationError, InvalidInputError) as exc:
            raise click.BadParameter(str(exc), param_hint="--ca-bundle") from None
    service = client_id is not None or client_secret is not None
    if not service and not username:
        raise click.UsageError(
            "no credentials: pass --username (XPROTECT_USERNAME) for a basic or Windows "
            "user, or --client-id and --client-secret for a service client"
        )
    if service and client_secret is None and client_id:
        client_secret = prompt_secret(f"Client secret for {client_id}", "XPROTECT_CLIENT_SECRET")
    if not service and password is None:
        password = prompt_secret(f"Password for {username}", "XPROTECT_PASSWORD")
    verify: Verify = False if insecure else (ca_bundle or True)
    return Connection(
        url=url,
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        windows=windows,
        verify=verify,
        timeout=timeout,
        proxy=proxy,
        origins=origins,
    )


def _check_api_path(url: str, origins: Mapping[str, str]) -> None:
    """A URL that already has the API path would get it twice: say so before sending."""
    path = url.split("://", 1)[-1].partition("/")[2]
    if "api/rest/v1" in path.lower() or "api/idp" in path.lower():
        server = url[: len(url) - len(path) - 1]
        where = origins.get("url", "--url")
        try:
            server_url(server)  # a server that is wrong anyway (user:password@) is not shown
        except InvalidInputError as exc:
            raise click.UsageError(f"{where}: {exc}") from None
        raise click.UsageError(
            f"{where} is the server only, without the API path: try {server} "
            "(the client adds /api/rest/v1 and the token path itself)"
        )


def _conflict(given: list[str], origins: Mapping[str, str]) -> str:
    """Both a user and a service client: each setting as it was given (a flag or a
    variable), and what to unset (a variable) or leave out (a flag)."""
    user = [_given(k, origins) for k in given if k in ("username", "password")]
    service = [_given(k, origins) for k in given if k.startswith("client_")]
    return (
        f"both a user ({', '.join(user)}) and a service client ({', '.join(service)}) are "
        f"given: use one; {_drop(user)}, or {_drop(service)}"
    )


def _given(name: str, origins: Mapping[str, str]) -> str:
    return origins.get(name, "--" + name.replace("_", "-"))


def _drop(settings: list[str]) -> str:
    """``unset XPROTECT_A`` for variables, ``leave out --b`` for flags."""
    variables = [s for s in settings if s.startswith("XPROTECT_")]
    flags = [s for s in settings if not s.startswith("XPROTECT_")]
    parts = [f"unset {' '.join(variables)}"] if variables else []
    parts += [f"leave out {' '.join(flags)}"] if flags else []
    return " and ".join(parts)


def prompt_secret(prompt: str, envvar: str) -> str:
    """Ask on the terminal (hidden); without one, a usage error that names ``envvar``."""
    if not sys.stdin.isatty():
        raise click.UsageError(f"{prompt.split(' for ')[0].lower()} missing: set {envvar}")
    value: str = click.prompt(prompt, hide_input=True, err=True)
    return value


#: Each connection flag (its variable is XPROTECT_ and its name) and its click settings.
CONNECTION_FLAGS: Mapping[str, Mapping[str, Any]] = {
    "--url": {"metavar": "URL", "help": "Server, e.g. https://vms"},
    "--username": {"short": "-u", "help": "Basic or Windows user."},
    "--password": {"help": "Prefer XPROTECT_PASSWORD or the prompt (flags show in ps)."},
    "--client-id": {"help": "Service client id."},
    "--client-secret": {"help": "Service secret."},
    "--windows": {"is_flag": True, "help": "A Windows user (NTLM)."},
    "--ca-bundle": {
        "type": click.Path(exists=True, dir_okay=False),
        "help": "Trust this CA (PEM) for https.",
    },
    "--insecure": {"is_flag": True, "help": "Do not verify TLS certificates (test servers only)."},
    "--proxy": {
        "metavar": "URL",
        "help": "HTTP(S) proxy, http://[user:pass@]host:port (default: HTTPS_PROXY/HTTP_PROXY).",
    },
    "--timeout": {
        "type": Seconds(min=0, min_open=True),
        "default": 30.0,
        "show_default": True,
        "help": "Seconds to wait for an answer.",
    },
}


def envvar(flag: str) -> str:
    """``--client-id`` → ``XPROTECT_CLIENT_ID``."""
    return "XPROTECT_" + flag.removeprefix("--").replace("-", "_").upper()


def key(flag: str) -> str:
    """``--client-id`` → ``client_id`` (the parameter's name)."""
    return flag.removeprefix("--").replace("-", "_")


#: Each environment variable and the flag it stands for (the help lists them).
ENVIRONMENT: Mapping[str, str] = {envvar(flag): flag for flag in CONNECTION_FLAGS}


Command = Callable[..., Any]


def _option(flag: str, settings: Mapping[str, Any]) -> Callable[[Command], Command]:
    settings = dict(settings)
    short = settings.pop("short", None)
    decls = (flag, short) if short else (flag,)
    return click.option(*decls, envvar=envvar(flag), **settings)


def connection_options(fn: Command) -> Command:
    """Add the connection flags; the command receives them as one ``conn`` argument."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        settings = {key(flag): kwargs.pop(key(flag)) for flag in CONNECTION_FLAGS}
        ctx = click.get_current_context()
        from_env = click.core.ParameterSource.ENVIRONMENT
        origins = {
            key(flag): envvar(flag)
            for flag in CONNECTION_FLAGS
            if ctx.get_parameter_source(key(flag)) is from_env
        }
        return fn(conn=connection_from_options(**settings, origins=origins), **kwargs)

    return with_options(_option(flag, settings) for flag, settings in CONNECTION_FLAGS.items())(
        wrapper
    )
