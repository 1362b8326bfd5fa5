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

from .. import ConfigurationError, InsecureTransportWarning, XProtectClient
from ..transport import Verify
from .params import with_options


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
                )
            except (ValueError, ConfigurationError) as exc:
                raise click.UsageError(str(exc)) from None
        for warning in caught:
            click.echo(f"warning: {warning.message}", err=True)
        return client

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
) -> Connection:
    """Check the settings; prompt for a missing password or secret on a terminal."""
    if not url:
        raise click.UsageError("no server URL: pass --url or set XPROTECT_URL")
    if insecure and ca_bundle:
        raise click.UsageError("--insecure and --ca-bundle contradict each other; give one")
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
    )


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
    "--timeout": {
        "type": float,
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
        return fn(conn=connection_from_options(**settings), **kwargs)

    return with_options(_option(flag, settings) for flag, settings in CONNECTION_FLAGS.items())(
        wrapper
    )
