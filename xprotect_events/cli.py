"""The ``xprotect-events`` command: a demo, the simulator as a server, and a client.

Every command that talks to a server takes its connection settings from flags or from
``XPROTECT_*`` environment variables. Output is a table on a terminal and JSON Lines with
``--json``. Errors are one line on stderr and a documented exit code (see ``EXIT_CODES``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import signal
import stat
import sys
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import attrs
import click
import orjson
from rich import box
from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import __version__, wire
from .client import InsecureTransportWarning, XProtectClient
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectError,
)
from .filters import Condition, contains, equals, not_equals, one_of, starts_with
from .models import Camera, Event, EventTrigger, EventType, SessionChange, source_guid, to_source
from .transport import Verify

if TYPE_CHECKING:
    from .accounting import TriggerResult
    from .sessions import EventSession
    from .testing.faults import Fault
    from .testing.seed import SimEventType
    from .testing.simulator import Simulator

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("xprotect_events.cli")

PROG = "xprotect-events"

# ---------------------------------------------------------------------------- exit codes

EXIT_OK = 0
EXIT_NOT_ACCEPTED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CONNECTION = 4
EXIT_API = 5
EXIT_INTERRUPTED = 130

EXIT_CODES: Mapping[int, str] = {
    EXIT_OK: "success (also: watch and serve stopped with Ctrl-C or SIGTERM)",
    EXIT_NOT_ACCEPTED: "some triggers were not accepted (rejected or unknown; see --rejects)",
    EXIT_USAGE: "usage error: bad option, bad input, missing URL or credentials",
    EXIT_AUTH: "authentication failed: the identity provider refused the credentials",
    EXIT_CONNECTION: "no connection: server unreachable, timeout or TLS verification failed",
    EXIT_API: "the API answered with an error (not found, forbidden, server error, …)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (143: by SIGTERM)",
}

ENVIRONMENT: Mapping[str, str] = {
    "XPROTECT_URL": "--url",
    "XPROTECT_USERNAME": "--username",
    "XPROTECT_PASSWORD": "--password",
    "XPROTECT_CLIENT_ID": "--client-id",
    "XPROTECT_CLIENT_SECRET": "--client-secret",
    "XPROTECT_WINDOWS": "--windows",
    "XPROTECT_CA_BUNDLE": "--ca-bundle",
    "XPROTECT_INSECURE": "--insecure",
    "XPROTECT_TIMEOUT": "--timeout",
}


def _epilog() -> str:
    codes = "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    env = "\n".join(f"  {name:<23} {flag}" for name, flag in ENVIRONMENT.items())
    return f"\b\nExit codes:\n{codes}\n\n\b\nEnvironment (instead of the flags):\n{env}"


# ---------------------------------------------------------------------------- state & output


@attrs.define
class State:
    """Options of the command group, shared by every command."""

    debug: bool = False


def _state() -> State:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(State) if ctx is not None else None
    return obj or State()


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # plain output (a pipe, a file): do not cut GUIDs
    return console


class Output:
    """Where results go: rich on a terminal, JSON Lines with ``--json``; notes on stderr."""

    def __init__(self, json_lines: bool = False) -> None:
        self.json = json_lines
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)

    def emit(self, obj: Mapping[str, Any], *, flush: bool = False) -> None:
        """One JSON Lines record on stdout."""
        sys.stdout.write(orjson.dumps(obj).decode() + "\n")
        if flush:
            sys.stdout.flush()

    def note(self, text: str) -> None:
        """A plain line on stderr (status, summaries): never mixed into stdout's data."""
        click.echo(text, err=True)


def json_option(fn: F) -> F:
    return click.option(
        "--json",
        "json_lines",
        is_flag=True,
        help="JSON Lines on stdout (one object per line, wire field names) for jq.",
    )(fn)


# ---------------------------------------------------------------------------- running


def run(main: Coroutine[Any, Any, int], *, stop_ok: bool = False) -> int:
    """Run a command's coroutine: signals, errors and exit codes handled in one place.

    SIGINT and SIGTERM cancel the coroutine (so every ``async with`` cleans up: event
    sessions are deleted, connections closed). ``stop_ok`` commands (watch, serve) then
    exit 0; the others exit 128 + the signal number.
    """
    try:
        return asyncio.run(_supervise(main, stop_ok))
    except XProtectError as exc:
        return _fail(exc)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK


async def _supervise(main: Coroutine[Any, Any, int], stop_ok: bool) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(main)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = _install_signal_handlers(loop, on_signal)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        if stop_ok:
            return EXIT_OK
        click.echo("interrupted", err=True)
        return 128 + received[0]
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]
) -> list[int]:
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handler, int(signum))
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            continue
        installed.append(int(signum))
    return installed


def _silence_stdout() -> None:
    """After the reader of a pipe went away (``| head``): no more writes, no error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


_HINTS: list[tuple[type[XProtectError], int, str]] = [
    (
        AuthenticationError,
        EXIT_AUTH,
        "check --username/--password (XPROTECT_USERNAME/XPROTECT_PASSWORD), "
        "or --client-id/--client-secret for a service client; a Windows user needs --windows",
    ),
    (UnauthorizedError, EXIT_AUTH, "the server refused the token; check the credentials"),
    (
        TLSError,
        EXIT_CONNECTION,
        "pass the server's CA with --ca-bundle PATH, or --insecure for a test server only",
    ),
    (TransportError, EXIT_CONNECTION, "check --url and that the server is up and reachable"),
    (
        ForbiddenError,
        EXIT_API,
        "these credentials may not do that ('xprotect-events types' shows what they may "
        "trigger; a service client may do everything)",
    ),
    (NotFoundError, EXIT_API, "it does not exist, or it is no longer stored (retention)"),
    (APIError, EXIT_API, ""),
    (ProtocolError, EXIT_API, "the server's answer was not what the Events API sends"),
    (ConfigurationError, EXIT_USAGE, "see --help"),
    (InvalidInputError, EXIT_USAGE, "see --help"),
]


def classify(exc: XProtectError) -> tuple[int, str]:
    """The exit code and a hint for an error."""
    for cls, code, hint in _HINTS:
        if isinstance(exc, cls):
            return code, hint
    return EXIT_API, ""


def _fail(exc: XProtectError) -> int:
    code, hint = classify(exc)
    if _state().debug:
        log.exception("command failed")
    message = " ".join(str(exc).split()) or type(exc).__name__
    click.echo(f"error: {message}" + (f" -- {hint}" if hint else ""), err=True)
    return code


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# ---------------------------------------------------------------------------- connection


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
        client_secret = _prompt_secret(f"Client secret for {client_id}", "XPROTECT_CLIENT_SECRET")
    if not service and password is None:
        password = _prompt_secret(f"Password for {username}", "XPROTECT_PASSWORD")
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


def _prompt_secret(prompt: str, envvar: str) -> str:
    if not sys.stdin.isatty():
        raise click.UsageError(f"{prompt.split(' for ')[0].lower()} missing: set {envvar}")
    value: str = click.prompt(prompt, hide_input=True, err=True)
    return value


_CONNECTION_OPTIONS = [
    click.option("--url", envvar="XPROTECT_URL", metavar="URL", help="Server, e.g. https://vms"),
    click.option("--username", "-u", envvar="XPROTECT_USERNAME", help="Basic or Windows user."),
    click.option(
        "--password",
        envvar="XPROTECT_PASSWORD",
        help="Prefer XPROTECT_PASSWORD or the prompt (flags show in ps).",
    ),
    click.option("--client-id", envvar="XPROTECT_CLIENT_ID", help="Service client id."),
    click.option("--client-secret", envvar="XPROTECT_CLIENT_SECRET", help="Service secret."),
    click.option(
        "--windows", is_flag=True, envvar="XPROTECT_WINDOWS", help="A Windows user (NTLM)."
    ),
    click.option(
        "--ca-bundle",
        envvar="XPROTECT_CA_BUNDLE",
        type=click.Path(exists=True, dir_okay=False),
        help="Trust this CA (PEM) for https.",
    ),
    click.option(
        "--insecure",
        is_flag=True,
        envvar="XPROTECT_INSECURE",
        help="Do not verify TLS certificates (test servers only).",
    ),
    click.option(
        "--timeout",
        type=float,
        default=30.0,
        show_default=True,
        envvar="XPROTECT_TIMEOUT",
        help="Seconds to wait for an answer.",
    ),
]
_CONNECTION_KEYS = (
    "url",
    "username",
    "password",
    "client_id",
    "client_secret",
    "windows",
    "ca_bundle",
    "insecure",
    "timeout",
)


def connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the connection flags; the command receives them as one ``conn`` argument."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        settings = {key: kwargs.pop(key) for key in _CONNECTION_KEYS}
        return fn(conn=connection_from_options(**settings), **kwargs)

    for option in reversed(_CONNECTION_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


# ---------------------------------------------------------------------------- input types

_RELATIVE = re.compile(r"-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ZONE = re.compile(r"(z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC time from ISO 8601 with ``Z`` or an offset, ``now``, or ``-1h``/``15m``
    (that long ago). A time without a zone is ambiguous: :class:`ValueError` with a hint."""
    text = text.strip()
    now = now or datetime.now(UTC)
    if text.lower() == "now":
        return now
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return now - timedelta(seconds=amount * _UNITS[unit])
    date, sep, clock = text.upper().partition("T")
    if "-" in date[1:]:
        if not sep or not _ZONE.search(clock):
            raise ValueError(
                f"{text!r} has no time zone; add Z for UTC or an offset like +02:00 "
                f"(e.g. 2024-05-01T12:00:00Z), or give a relative time like -1h or 15m"
            )
        try:
            return wire.parse_time(text)
        except ProtocolError:
            pass
    raise ValueError(
        f"{text!r} is not a time: use ISO 8601 with Z or an offset "
        "(2024-05-01T12:00:00Z), 'now', or a relative time like -1h, 15m, 2d"
    )


if TYPE_CHECKING:
    _TimeParamBase = click.ParamType[datetime]
else:  # click < 8.2: ParamType is not generic
    _TimeParamBase = click.ParamType


class WhenType(_TimeParamBase):
    """A click parameter for :func:`parse_when`."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


WHEN = WhenType()

_NAME_OPERATORS = {
    "equals": equals,
    "notEquals": not_equals,
    "contains": contains,
    "startsWith": starts_with,
}


def name_conditions(values: Iterable[str]) -> list[Condition]:
    """``--source-name`` values: plain (equals; several: oneOf) or ``contains:…``,
    ``startsWith:…``, ``notEquals:…``, ``equals:…`` as in the API's own syntax."""
    plain: list[str] = []
    conditions: list[Condition] = []
    for value in values:
        op, sep, rest = value.partition(":")
        if sep and op in _NAME_OPERATORS:
            conditions.append(_NAME_OPERATORS[op](rest))
        else:
            plain.append(value)
    if len(plain) == 1:
        conditions.append(equals(plain[0]))
    elif plain:
        conditions.append(one_of(*plain))
    return conditions


def id_conditions(values: Iterable[str]) -> list[Condition]:
    """``--source-id`` values: a GUID or ``cameras/<guid>``; ``notEquals:…``; several: oneOf."""
    plain: list[str] = []
    conditions: list[Condition] = []
    for value in values:
        negate = value.startswith("notEquals:")
        source = _checked_source(value.removeprefix("notEquals:"))
        if negate:
            conditions.append(not_equals(source))
        else:
            plain.append(source)
    if len(plain) == 1:
        conditions.append(equals(plain[0]))
    elif plain:
        conditions.append(one_of(*plain))
    return conditions


def _checked_source(value: str) -> str:
    try:
        source = to_source(value)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--source-id") from None
    assert source is not None
    return source


def parse_json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}", param_hint=what) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=what)
    return value


# ---------------------------------------------------------------------------- names


@attrs.define
class Names:
    """Event type and camera names, to show names instead of GUIDs and to accept names."""

    types: dict[uuid.UUID, EventType] = attrs.Factory(dict)
    cameras: dict[uuid.UUID, Camera] = attrs.Factory(dict)

    @classmethod
    async def load(cls, client: XProtectClient) -> Names:
        """Both lists; one that cannot be read (permissions) is left empty."""
        types, cameras = await asyncio.gather(
            client.list_event_types(), client.list_cameras(), return_exceptions=True
        )
        for result in (types, cameras):
            if isinstance(result, BaseException) and not isinstance(result, XProtectError):
                raise result
        return cls(
            types={t.id: t for t in types} if isinstance(types, list) else {},
            cameras={c.id: c for c in cameras} if isinstance(cameras, list) else {},
        )

    def type_name(self, type_id: uuid.UUID) -> str:
        known = self.types.get(type_id)
        return (known.display_name or known.name) if known else str(type_id)

    def source_name(self, source: str | None) -> str:
        if source is None:
            return "-"
        guid = source_guid(source)
        camera = self.cameras.get(guid) if guid else None
        if camera is None and guid in self.types:
            return self.type_name(guid)  # a user-defined event is its own source [seed]
        return (camera.display_name or camera.name) if camera else source

    def resolve_type(self, text: str) -> uuid.UUID:
        """A GUID, or the name of a known event type (case does not matter)."""
        try:
            return uuid.UUID(text)
        except ValueError:
            pass
        wanted = text.casefold()
        for t in self.types.values():
            if wanted in (t.name.casefold(), (t.display_name or "").casefold()):
                return t.id
        known = ", ".join(sorted(t.name for t in self.types.values())) or "none readable"
        raise click.BadParameter(f"no event type {text!r}; known: {known}", param_hint="--type")

    def resolve_source(self, text: str) -> str:
        """A GUID, ``cameras/<guid>``, or the name of a known camera."""
        try:
            source = to_source(text)
        except InvalidInputError:
            source = None
        if source is not None:
            return source
        wanted = text.casefold()
        for camera in self.cameras.values():
            if wanted in (camera.name.casefold(), (camera.display_name or "").casefold()):
                return camera.source
        known = ", ".join(sorted(c.name for c in self.cameras.values())) or "none readable"
        raise click.BadParameter(f"no camera {text!r}; known: {known}", param_hint="--source")


def needs_lookup(values: Iterable[str], parse: Callable[[str], object]) -> bool:
    """Whether any value is a name (not parseable by ``parse``)."""
    for value in values:
        try:
            parse(value)
        except (ValueError, InvalidInputError):
            return True
    return False


async def names_for(
    client: XProtectClient, out: Output, types: Iterable[str], sources: Iterable[str]
) -> Names:
    """The names, when a table shows them or an option gives a name instead of a GUID."""
    if not out.json or needs_lookup(types, uuid.UUID) or needs_lookup(sources, to_source):
        return await Names.load(client)
    return Names()


# ---------------------------------------------------------------------------- rendering


def fmt_time(value: datetime) -> str:
    """``2024-05-01 12:00:00.123Z``: UTC, milliseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def event_json(event: Event) -> dict[str, Any]:
    return wire.event_to_wire(event)


class EventTable:
    """Events as a table printed in slices: the header once, memory flat however many."""

    SLICE = 50

    def __init__(self, console: Console, names: Names, *, data: bool = False) -> None:
        self.console = console
        self.names = names
        self.data = data
        self.rows: list[tuple[str, ...]] = []
        self.count = 0

    def add(self, event: Event) -> None:
        row: tuple[str, ...] = (
            fmt_time(event.time),
            self.names.type_name(event.type),
            self.names.source_name(event.source),
            event.tag or "",
            str(event.id),
        )
        if self.data:
            row += (orjson.dumps(event.data).decode() if event.data is not None else "",)
        self.rows.append(tuple(escape(cell) for cell in row))
        if len(self.rows) >= self.SLICE:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = Table(
            box=box.SIMPLE_HEAD if self.count == 0 else None,
            show_header=self.count == 0,
            pad_edge=False,
        )
        for name, width in (("Time", 24), ("Type", 26), ("Source", 28), ("Tag", 16), ("Id", 36)):
            table.add_column(name, width=width, no_wrap=True, overflow="ellipsis")
        if self.data:
            table.add_column("Data", overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        self.console.print(table)
        self.count += len(self.rows)
        self.rows.clear()


def event_details(event: Event, names: Names) -> RenderableType:
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("id", str(event.id))
    table.add_row("time", fmt_time(event.time))
    table.add_row("type", escape(f"{names.type_name(event.type)} ({event.type})"))
    table.add_row("source", escape(f"{names.source_name(event.source)} ({event.source})"))
    table.add_row("tag", escape(event.tag or "-"))
    table.add_row("datatype", escape(event.datatype or "-"))
    for key, value in event.extra.items():
        table.add_row(escape(key), escape(orjson.dumps(value).decode()))
    if event.data is None:
        return table
    return Group(table, JSON(orjson.dumps(event.data).decode()))


# ---------------------------------------------------------------------------- the group


@click.group(
    epilog=_epilog(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name=PROG)
@click.option("--debug", is_flag=True, help="Tracebacks and DEBUG logging (never secrets).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Milestone XProtect RESTful Events API: a client, and a local simulator of the API.

    Try it with no server: `xprotect-events demo`, or `xprotect-events serve` in one
    terminal and the other commands against http://127.0.0.1:8080 (user admin/admin).
    """
    ctx.obj = State(debug=debug)
    _configure_logging(debug)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: exit codes as documented in ``EXIT_CODES``."""
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)


# ---------------------------------------------------------------------------- token


@cli.command(short_help="Log in; show the token's type, scope and expiry.")
@click.option("--show-token", is_flag=True, help="Print the access token itself (a secret).")
@json_option
@connection_options
def token(conn: Connection, show_token: bool, json_lines: bool) -> int:
    """Log in and show the token's type, scope and expiry (never the token unless asked)."""
    return run(_token(conn, show_token, Output(json_lines)))


async def _token(conn: Connection, show_token: bool, out: Output) -> int:
    async with conn.client() as client:
        got = await client.credentials.fetch_token(client.transport, client.profile)
        kind = "service" if client.is_service else "user"
    record: dict[str, Any] = {
        "kind": kind,
        "login": conn.who,
        "token_type": got.token_type,
        "scope": got.scope,
        "expires_in": int(got.expires_in) if got.expires_in.is_integer() else got.expires_in,
        "expires_at": wire.format_time(datetime.now(UTC) + timedelta(seconds=got.expires_in)),
    }
    if show_token:
        record["access_token"] = got.access_token
    if out.json:
        out.emit(record)
        return EXIT_OK
    table = Table(box=box.SIMPLE, show_header=False)
    for key, value in record.items():
        table.add_row(key, escape(str(value)))
    out.out.print(table)
    return EXIT_OK


# ---------------------------------------------------------------------------- types


@cli.command(short_help="List event types and whether you may trigger each.")
@json_option
@connection_options
def types(conn: Connection, json_lines: bool) -> int:
    """List the event types, with whether these credentials may trigger each."""
    return run(_types(conn, Output(json_lines)))


def type_json(t: EventType, may_trigger: bool) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "name": t.name,
        "displayName": t.display_name,
        "generatorType": t.generator_type,
        "generatorSubtype": t.generator_subtype,
        "mayTrigger": may_trigger,
    }


async def _types(conn: Connection, out: Output) -> int:
    async with conn.client() as client:
        found = sorted(await client.list_event_types(), key=lambda t: t.name.casefold())
        allowed = {t.id: await client.can_trigger(t) for t in found}
    if out.json:
        for t in found:
            out.emit(type_json(t, allowed[t.id]))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Name", "Id", "Generator", "May trigger"):
        table.add_column(column, no_wrap=column != "Name")
    for t in found:
        generator = "/".join(g for g in (t.generator_type, t.generator_subtype) if g)
        may = "[green]yes[/]" if allowed[t.id] else "[red]no[/]"
        table.add_row(escape(t.display_name or t.name), str(t.id), escape(generator), may)
    out.out.print(table)
    return EXIT_OK


# ---------------------------------------------------------------------------- list


@attrs.frozen(kw_only=True)
class ListQuery:
    since: datetime | None
    until: datetime | None
    source_name: list[Condition]
    source_id: list[Condition]
    order: str
    include_data: bool
    limit: int | None
    page_size: int


@cli.command(name="list")
@click.option("--since", type=WHEN, help="After this time: 2024-05-01T12:00:00Z, -1h, 15m.")
@click.option("--until", type=WHEN, help="Before this time (same forms as --since).")
@click.option(
    "--source-name",
    multiple=True,
    help="Source name: exact, or contains:TEXT, startsWith:TEXT, notEquals:TEXT. Repeatable.",
)
@click.option(
    "--source-id", multiple=True, help="Source GUID or cameras/GUID (notEquals:…). Repeatable."
)
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
@click.option("--include-data", is_flag=True, help="Ask for each event's data.")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0: all.")
@click.option(
    "--page-size", type=click.IntRange(1, 2000), default=100, show_default=True, help="Per GET."
)
@json_option
@connection_options
def list_command(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    source_name: tuple[str, ...],
    source_id: tuple[str, ...],
    order: str,
    include_data: bool,
    limit: int,
    page_size: int,
    json_lines: bool,
) -> int:
    """List stored events, oldest first unless --order desc."""
    query = ListQuery(
        since=since,
        until=until,
        source_name=name_conditions(source_name),
        source_id=id_conditions(source_id),
        order=order,
        include_data=include_data,
        limit=limit or None,
        page_size=page_size,
    )
    return run(_list(conn, query, Output(json_lines)))


def _query_events(client: XProtectClient, q: ListQuery) -> AsyncIterator[Event]:
    return client.list_events(
        since=q.since,
        until=q.until,
        source_name=q.source_name or None,
        source_id=q.source_id or None,
        order="desc" if q.order == "desc" else "asc",
        include_data=q.include_data,
        page_size=q.page_size,
        limit=q.limit,
    )


async def _list(conn: Connection, query: ListQuery, out: Output) -> int:
    async with conn.client() as client:
        await client.login()
        if out.json:
            async for event in _query_events(client, query):
                out.emit(event_json(event))
            return EXIT_OK
        table = EventTable(out.out, await Names.load(client), data=query.include_data)
        async for event in _query_events(client, query):
            table.add(event)
        table.flush()
    out.note(f"{table.count} event(s)")
    return EXIT_OK


# ---------------------------------------------------------------------------- get


@cli.command()
@click.argument("event_id")
@click.option("--include-data", is_flag=True, help="Ask for the event's data.")
@json_option
@connection_options
def get(conn: Connection, event_id: str, include_data: bool, json_lines: bool) -> int:
    """Show one stored event by its id."""
    try:
        guid = uuid.UUID(event_id)
    except ValueError:
        raise click.BadParameter(f"{event_id!r} is not a GUID", param_hint="EVENT_ID") from None
    return run(_get(conn, guid, include_data, Output(json_lines)))


async def _get(conn: Connection, event_id: uuid.UUID, include_data: bool, out: Output) -> int:
    async with conn.client() as client:
        event = await client.get_event(event_id, include_data=include_data)
        if out.json:
            out.emit(event_json(event))
            return EXIT_OK
        names = await Names.load(client)
    out.out.print(event_details(event, names))
    return EXIT_OK


# ---------------------------------------------------------------------------- trigger


@attrs.frozen(kw_only=True)
class TriggerArgs:
    type: str
    source: str | None
    tag: str | None
    datatype: str | None
    data: dict[str, Any] | None
    time: datetime | None


@cli.command()
@click.option("--type", "type_", required=True, help="Event type: GUID or name.")
@click.option("--source", help="GUID, cameras/GUID or a camera name (none: no source).")
@click.option("--tag", help="A tag for filtering and sorting.")
@click.option("--datatype", help="Kind of --data, e.g. analytics (none for user-defined).")
@click.option("--data", help="Event data as a JSON object.")
@click.option("--time", "when", type=WHEN, help="When it happened (default: the server's now).")
@json_option
@connection_options
def trigger(
    conn: Connection,
    type_: str,
    source: str | None,
    tag: str | None,
    datatype: str | None,
    data: str | None,
    when: datetime | None,
    json_lines: bool,
) -> int:
    """Trigger one event; shows the event as the server stored it."""
    args = TriggerArgs(
        type=type_,
        source=source,
        tag=tag,
        datatype=datatype,
        data=parse_json_object(data, "--data"),
        time=when,
    )
    return run(_trigger(conn, args, Output(json_lines)))


async def _trigger(conn: Connection, args: TriggerArgs, out: Output) -> int:
    async with conn.client() as client:
        await client.login()
        names = await names_for(client, out, [args.type], [args.source] if args.source else [])
        made = EventTrigger(
            type=names.resolve_type(args.type),
            source=names.resolve_source(args.source) if args.source else None,
            time=args.time,
            tag=args.tag,
            datatype=args.datatype,
            data=args.data,
        )
        event = await client.trigger_event(made)
    if out.json:
        out.emit(event_json(event))
    else:
        out.out.print(event_details(event, names))
    return EXIT_OK


# ---------------------------------------------------------------------------- trigger-batch

TRIGGER_KEYS = frozenset(("type", "source", "time", "tag", "datatype", "data"))
#: The key a rejects file adds to each line; ignored when the line is sent again.
REJECT_KEY = "_reject"


def parse_trigger_line(text: str) -> EventTrigger:
    """One JSON Lines trigger in wire form; :class:`InvalidInputError` says what is wrong."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise InvalidInputError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - TRIGGER_KEYS - {REJECT_KEY})
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; known: {_known()}")
    if obj.get("type") is None:
        raise InvalidInputError("no 'type' (the event type's GUID)")
    when = obj.get("time")
    try:
        parsed_time = wire.parse_time(when) if when is not None else None
    except ProtocolError as exc:
        raise InvalidInputError(f"time: {exc}") from None
    return EventTrigger(
        type=obj["type"],
        source=obj.get("source"),
        time=parsed_time,
        tag=obj.get("tag"),
        datatype=obj.get("datatype"),
        data=obj.get("data"),
    )


def _known() -> str:
    return ", ".join(sorted(TRIGGER_KEYS))


def reject_record(line: int, text: str, status: str, reason: str) -> dict[str, Any]:
    """The trigger as it was read, with ``_reject`` saying why: fix it and send it again."""
    note = {"line": line, "status": status, "reason": reason}
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return {REJECT_KEY: {**note, "raw": text}}
    obj.pop(REJECT_KEY, None)
    obj[REJECT_KEY] = note
    return obj


class RejectsFile:
    """The rejects file, created at the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: IO[bytes] | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("wb")
        self._file.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def read_lines(stream: IO[bytes]) -> AsyncIterator[tuple[int, str]]:
    """``(line number, text)`` of each non-blank line; a pipe is read off the event loop."""
    regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    number = 0
    while True:
        raw = stream.readline() if regular else await asyncio.to_thread(stream.readline)
        if not raw:
            return
        number += 1
        text = raw.decode("utf-8", "replace").strip()
        if text:
            yield number, text


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


@attrs.define
class BatchRun:
    """One ``trigger-batch`` run: where each line stands, and where results go."""

    out: Output
    rejects: RejectsFile
    progress: Progress
    total: int | None
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    lines_read: int = 0
    #: Lines handed to the library and not yet answered: stream index → (line, text).
    pending: dict[int, tuple[int, str]] = attrs.Factory(dict)

    @property
    def done(self) -> int:
        return self.accepted + self.rejected + self.unknown

    def accept(self, number: int, result: TriggerResult) -> None:
        self.accepted += 1
        self.progress.advance(self.progress.task_ids[0])
        if self.out.json:
            event = event_json(result.event) if result.event is not None else None
            self.out.emit({"line": number, "status": "accepted", "event": event})

    def reject(self, number: int, text: str, status: str, reason: str) -> None:
        """A line that did not land: counted, written to the rejects file, reported."""
        if status == "rejected":
            self.rejected += 1
        else:
            self.unknown += 1
        self.progress.advance(self.progress.task_ids[0])
        self.rejects.write(reject_record(number, text, status, reason))
        if self.out.json:
            self.out.emit({"line": number, "status": status, "reason": reason})

    def result(self, result: TriggerResult) -> None:
        number, text = self.pending.pop(result.index)
        if result.status == "accepted":
            self.accept(number, result)
            return
        reason = result.reason or result.status
        if result.status == "unknown":
            reason = f"sent, no answer: it may have happened; check before resending ({reason})"
        self.reject(number, text, result.status, reason)

    def interrupted(self) -> None:
        reason = "interrupted before its answer came: it may or may not have happened"
        for number, text in sorted(self.pending.values()):
            self.reject(number, text, "unknown", reason)
        self.pending.clear()
        self.out.note(f"stopped after line {self.lines_read}: later lines were not read")

    async def triggers(self, lines: AsyncIterator[tuple[int, str]]) -> AsyncIterator[EventTrigger]:
        """The valid triggers of ``lines``; invalid lines are rejected here, never sent."""
        index = 0
        async for number, text in lines:
            self.lines_read = number
            try:
                parsed = parse_trigger_line(text)
            except XProtectError as exc:
                self.reject(number, text, "rejected", str(exc))
                continue
            self.pending[index] = (number, text)
            index += 1
            yield parsed

    def summary(self, elapsed: float) -> None:
        rate = self.accepted / elapsed if elapsed > 0 else 0.0
        self.out.note(
            f"{self.done} line(s): {self.accepted} accepted, {self.rejected} rejected, "
            f"{self.unknown} unknown in {elapsed:.2f} s ({rate:.0f}/s)"
        )
        if self.rejects.count:
            self.out.note(
                f"{self.rejects.count} not accepted: written with reasons to {self.rejects.path}"
            )


@attrs.frozen(kw_only=True)
class BatchArgs:
    rejects: Path
    chunk_size: int
    concurrency: int


@cli.command(name="trigger-batch", short_help="Trigger the events of a JSON Lines file.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--rejects", type=click.Path(dir_okay=False), help="Default: FILE.rejects.jsonl.")
@click.option("--chunk-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
@json_option
@connection_options
def trigger_batch(
    conn: Connection,
    file: str,
    rejects: str | None,
    chunk_size: int,
    concurrency: int,
    json_lines: bool,
) -> int:
    """Trigger the events of a JSON Lines FILE (or - for stdin), in concurrent batches.

    Each line is a trigger in wire form: {"type", "source", "time", "tag", "datatype",
    "data"}. Lines not accepted go to the rejects file with the reason under "_reject"
    (fix them and send that file again). Exit code 1 when any line was not accepted.
    """
    if file != "-" and not Path(file).is_file():
        raise click.BadParameter(f"no such file: {file}", param_hint="FILE")
    default = "rejects.jsonl" if file == "-" else f"{file}.rejects.jsonl"
    args = BatchArgs(
        rejects=Path(rejects or default), chunk_size=chunk_size, concurrency=concurrency
    )
    total = None if file == "-" else count_lines(Path(file))
    with click.open_file(file, "rb") as stream:
        return run(_trigger_batch(conn, args, stream, total, Output(json_lines)))


async def _trigger_batch(
    conn: Connection, args: BatchArgs, stream: IO[bytes], total: int | None, out: Output
) -> int:
    progress = _progress(out.err)
    progress.add_task("triggering", total=total)
    batch = BatchRun(out=out, rejects=RejectsFile(args.rejects), progress=progress, total=total)
    started = time.perf_counter()
    try:
        with progress:
            await _send_batch(conn, args, batch, read_lines(stream))
    except asyncio.CancelledError:
        batch.interrupted()
        raise
    finally:
        batch.rejects.close()
        batch.summary(time.perf_counter() - started)
    return EXIT_OK if batch.done == batch.accepted else EXIT_NOT_ACCEPTED


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


async def _send_batch(
    conn: Connection, args: BatchArgs, batch: BatchRun, lines: AsyncIterator[tuple[int, str]]
) -> None:
    async with conn.client() as client:
        await client.login()
        results = client.stream_trigger(
            batch.triggers(lines), chunk_size=args.chunk_size, concurrency=args.concurrency
        )
        async for result in results:
            batch.result(result)


# ---------------------------------------------------------------------------- watch


@attrs.frozen(kw_only=True)
class WatchArgs:
    types: tuple[str, ...]
    sources: tuple[str, ...]
    source_names: tuple[str, ...]
    since: datetime
    include_data: bool
    poll_interval: float
    max_size: int


@cli.command(short_help="Stream new and deleted events until Ctrl-C.")
@click.option("--type", "types_", multiple=True, help="Event type GUID or name. Repeatable.")
@click.option("--source", multiple=True, help="GUID, cameras/GUID or camera name. Repeatable.")
@click.option("--source-name", multiple=True, help="Exact source name. Repeatable.")
@click.option("--since", type=WHEN, help="Also events after this time (default: from now).")
@click.option("--include-data", is_flag=True, help="Ask for each event's data.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option("--max-size", type=click.IntRange(1, 2000), default=100, show_default=True)
@json_option
@connection_options
def watch(
    conn: Connection,
    types_: tuple[str, ...],
    source: tuple[str, ...],
    source_name: tuple[str, ...],
    since: datetime | None,
    include_data: bool,
    poll_interval: float,
    max_size: int,
    json_lines: bool,
) -> int:
    """Stream new and deleted events through an event session until Ctrl-C or SIGTERM.

    The session is deleted on the server when the command ends. With --json each line is
    {"kind": "new"|"deleted", "event": {…}}.
    """
    args = WatchArgs(
        types=types_,
        sources=source,
        source_names=source_name,
        since=since or datetime.now(UTC),
        include_data=include_data,
        poll_interval=poll_interval,
        max_size=max_size,
    )
    return run(_watch(conn, args, Output(json_lines)), stop_ok=True)


async def _watch(conn: Connection, args: WatchArgs, out: Output) -> int:
    seen: Counter[str] = Counter()
    async with conn.client() as client:
        await client.login()
        names = await names_for(client, out, args.types, args.sources)
        session = client.event_session(
            types=[names.resolve_type(t) for t in args.types] or None,
            sources=[names.resolve_source(s) for s in args.sources] or None,
            source_names=list(args.source_names) or None,
            since=args.since,
            include_data=args.include_data,
            max_size=args.max_size,
            poll_interval=args.poll_interval,
        )
        try:
            async with session:
                out.note("watching events (Ctrl-C to stop)")
                async for change in session:
                    seen[change.kind] += 1
                    _show_change(out, names, change)
        finally:
            out.note(f"stopped: {seen['new']} new, {seen['deleted']} deleted")
    return EXIT_OK


def _show_change(out: Output, names: Names, change: SessionChange) -> None:
    event = change.event
    if out.json:
        out.emit({"kind": change.kind, "event": event_json(event)}, flush=True)
        return
    mark = "[green]+ new    [/]" if change.kind == "new" else "[red]- deleted[/]"
    text = " ".join(
        (
            fmt_time(event.time),
            f"{names.type_name(event.type):<26}",
            f"{names.source_name(event.source):<28}",
            f"{event.tag or '':<16}",
            str(event.id),
        )
    )
    out.out.print(f"{mark} {escape(text)}")
    if event.data is not None:
        out.out.print(f"          {escape(orjson.dumps(event.data).decode())}")


# ---------------------------------------------------------------------------- serve

#: The machine-readable first line of ``serve``: scripts and tests read the URL from it.
LISTENING = "xprotect-events simulator listening on "

#: What ``--fault`` takes: each kind, its optional argument, and what it does.
FAULT_KINDS_HELP = {
    "reset_before": "cut the connection before the handler runs (nothing happened)",
    "reset_after": "run the handler, then cut the connection (it happened, no answer)",
    "status[:CODE[:RETRY_AFTER]]": "answer CODE (default 503) with an error body",
    "rate_limit[:RETRY_AFTER]": "answer 429 with Retry-After (default 1 s)",
    "delay:SECONDS": "answer SECONDS late (the handler runs, client or not)",
    "truncate": "run the handler, send half the body, cut the connection",
    "html[:CODE]": "answer a proxy's HTML error page (default 502)",
    "revoke_token": "revoke every token, then handle the request (401)",
    "drop_session": "drop every event session, then handle the request",
}


def parse_fault(text: str) -> tuple[str, list[Fault], float]:
    """``ROUTE=KIND[:ARG][,KIND[:ARG]…][@PROBABILITY]`` as ``(route, faults, probability)``.

    ROUTE is a route key (``"POST /api/rest/v1/events/batch"``, ``"GET
    /api/rest/v1/eventSessions/{id}"``, ``"POST /IDP/connect/token"``) or ``*`` (every API
    route); several kinds are drawn from at random; the probability defaults to 1 (every
    request). :class:`click.BadParameter` for anything else.
    """
    from .testing.app import ROUTE_KEYS

    route, sep, spec = text.rpartition("=")
    route = route.strip()
    if not sep or not route:
        raise click.BadParameter(f"{text!r} is not ROUTE=KIND[@PROBABILITY]")
    if route != "*" and route not in ROUTE_KEYS:
        known = ", ".join(sorted(ROUTE_KEYS))
        raise click.BadParameter(f"unknown route {route!r}; use '*' or one of: {known}")
    kinds, at, chance = spec.partition("@")
    probability = 1.0
    if at:
        try:
            probability = float(chance)
        except ValueError:
            raise click.BadParameter(f"probability {chance!r} is not a number") from None
        if not 0 < probability <= 1:
            raise click.BadParameter(f"probability {chance!r} is not in (0, 1]")
    return route, [_fault(item.strip()) for item in kinds.split(",")], probability


def _fault(item: str) -> Fault:
    from .testing.faults import Fault

    kind, *args = item.split(":")
    try:
        numbers = [float(a) for a in args]
    except ValueError:
        raise click.BadParameter(f"{item!r}: the arguments must be numbers") from None
    if any(not 0 <= n < float("inf") for n in numbers):
        raise click.BadParameter(f"{item!r}: the arguments must be finite and >= 0")
    most = {"status": 2, "rate_limit": 1, "delay": 1, "html": 1}.get(kind, 0)
    if len(numbers) > most:
        raise click.BadParameter(f"{item!r}: {kind or 'a fault'} takes at most {most} argument(s)")
    code = int(numbers[0]) if numbers and kind in ("status", "html") else None
    if code is not None and not 400 <= code <= 599:
        raise click.BadParameter(f"{item!r}: the status must be 400 to 599")
    retry_after = numbers[1] if len(numbers) > 1 else None
    if kind == "status":
        return Fault.status(code or 503, retry_after=retry_after)
    if kind == "rate_limit":
        return Fault.rate_limit(numbers[0] if numbers else 1)
    if kind == "delay":
        if not numbers:
            raise click.BadParameter(f"{item!r}: delay needs its seconds (delay:1.5)")
        return Fault.delay(numbers[0])
    if kind == "html":
        return Fault.html(code or 502)
    try:
        return Fault(kind)
    except ValueError:
        kinds = ", ".join(k.split("[")[0].split(":")[0] for k in FAULT_KINDS_HELP)
        raise click.BadParameter(f"unknown fault kind {kind!r}; use one of: {kinds}") from None


def _parse_faults(
    ctx: click.Context, param: click.Parameter, values: Iterable[str]
) -> list[tuple[str, list[Fault], float]]:
    return [parse_fault(value) for value in values]


_FAULT_HELP = (
    "Inject faults: ROUTE=KIND[:ARG][,KIND[:ARG]...][@PROBABILITY] (repeatable; several kinds "
    "are drawn from at random; the probability defaults to 1, every request). ROUTE is "
    "'METHOD /path/template' as the simulator names it (e.g. 'POST /api/rest/v1/events/batch', "
    "'GET /api/rest/v1/eventSessions/{id}', 'POST /IDP/connect/token') or * for every API "
    "route. Kinds: "
    + "; ".join(f"{kind}: {what}" for kind, what in FAULT_KINDS_HELP.items())
    + ". Example: --fault 'POST /api/rest/v1/events/batch=reset_after,status:500@0.05'."
)

#: Options of ``serve`` that switch on simulator faults. To add one, append a
#: ``click.option(...)`` here and handle its value in :func:`configure_faults`; ``serve``
#: passes every such option through to it.
FAULT_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--fault",
        "fault",
        multiple=True,
        metavar="ROUTE=KIND[@P]",
        callback=_parse_faults,
        help=_FAULT_HELP,
    ),
    click.option(
        "--fault-seed",
        type=int,
        default=0,
        show_default=True,
        help="Seed of the --fault draws: the same seed injects the same faults.",
    ),
]


def configure_faults(sim: Simulator, faults: Mapping[str, Any]) -> None:
    """Switch on the faults the ``FAULT_OPTIONS`` asked for: each ``--fault`` is one
    seeded random rule (seed ``--fault-seed`` + its position), asked in the given order."""
    seed = int(faults.get("fault_seed") or 0)
    for number, (route, kinds, probability) in enumerate(faults.get("fault") or ()):
        sim.faults.random(route, probability, kinds, seed=seed + number)
        names = ", ".join(kind.kind for kind in kinds)
        click.echo(f"fault: {route}: {names} on {probability:.0%} of requests", err=True)


def _with_fault_options(fn: F) -> F:
    for option in reversed(FAULT_OPTIONS):
        fn = option(fn)
    return fn


@attrs.frozen(kw_only=True)
class ServeArgs:
    host: str
    port: int
    https: bool
    token_lifetime: float
    session_idle_timeout: float | None
    seed_events: int
    faults: Mapping[str, Any]


@cli.command(short_help="Run the simulator until Ctrl-C or SIGTERM.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--https", is_flag=True, help="TLS with a throwaway CA (prints its path).")
@click.option(
    "--token-lifetime",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Seconds a token lives (expires_in); then the API answers 401.",
)
@click.option(
    "--session-idle-timeout",
    type=click.FloatRange(min=0.1),
    help="Seconds an unread event session lives (default 60); then reading it gives 404.",
)
@click.option("--seed-events", type=click.IntRange(min=0), default=0, help="Store N events.")
@_with_fault_options
def serve(
    host: str,
    port: int,
    https: bool,
    token_lifetime: float,
    session_idle_timeout: float | None,
    seed_events: int,
    **faults: Any,
) -> int:
    """Run the simulator of the Events API until Ctrl-C or SIGTERM.

    The first line printed is always "xprotect-events simulator listening on URL" (with
    --port 0, the port actually used). Users: admin/admin (all cameras), operator/operator
    (cameras 1 and 2); service client: service/service-secret.

    --fault makes it fail on purpose (seeded, so runs repeat), to test clients against
    cut connections, 5xx, 429, slow answers, revoked tokens and dropped sessions.
    """
    args = ServeArgs(
        host=host,
        port=port,
        https=https,
        token_lifetime=token_lifetime,
        session_idle_timeout=session_idle_timeout,
        seed_events=seed_events,
        faults=faults,
    )
    return run(_serve(args), stop_ok=True)


def _simulator(args: ServeArgs) -> Simulator:
    from .testing.simulator import Simulator

    options: dict[str, Any] = {}
    if args.session_idle_timeout is not None:
        options["session_idle_timeout"] = args.session_idle_timeout
    return Simulator(
        host=args.host,
        port=args.port,
        https=args.https,
        token_lifetime=args.token_lifetime,
        **options,
    )


async def _start(sim: Simulator, args: ServeArgs) -> None:
    try:
        await sim.start()
    except ImportError as exc:
        hint = "--https needs: pip install 'xprotect-events[https]'"
        raise ConfigurationError(f"{exc}; {hint}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {reason}") from None


async def _serve(args: ServeArgs) -> int:
    sim = _simulator(args)
    await _start(sim, args)
    try:
        configure_faults(sim, args.faults)
        if args.seed_events:
            seed_events(sim, args.seed_events)
        _print_serving(sim)
        await asyncio.Event().wait()
    finally:
        await sim.stop()
        click.echo("simulator stopped", err=True)
    return EXIT_OK


def _print_serving(sim: Simulator) -> None:
    click.echo(f"{LISTENING}{sim.url}")
    lines = [
        "  users:          admin/admin (all cameras), operator/operator (cameras 1 and 2)",
        "  service client: service/service-secret",
        "  windows user:   CONTOSO\\winuser/winuser (--windows, NTLM; cameras 1 and 2)",
    ]
    if sim.ca_path:
        lines.append(f"  CA certificate: {sim.ca_path}  (--ca-bundle / XPROTECT_CA_BUNDLE)")
    lines.append(
        f"  try:            XPROTECT_URL={sim.url} XPROTECT_USERNAME=admin "
        f"XPROTECT_PASSWORD=admin {PROG} list"
    )
    lines.append("Press Ctrl-C to stop.")
    click.echo("\n".join(lines))
    sys.stdout.flush()


def seed_events(sim: Simulator, count: int) -> int:
    """Store ``count`` events of the demo's types on every camera, spread over the last hour."""
    plan = DemoPlan(
        types=[_as_event_type(t) for t in sim.event_types if t.name in DEMO_TYPES],
        cameras=[Camera(id=c.id, name=c.name) for c in sim.cameras],
    )
    now = datetime.now(UTC)
    triggers = (
        attrs.evolve(trigger, time=now - timedelta(seconds=3600 * (count - i) / count))
        for i, trigger in enumerate(plan.triggers(count, tag="seed"))
    )
    stored = sim.store_events(triggers)
    click.echo(f"seeded {stored} event(s)", err=True)
    return stored


def _as_event_type(sim_type: SimEventType) -> EventType:
    return EventType(
        id=sim_type.id,
        name=sim_type.name,
        generator_type=sim_type.generator_type,
        generator_subtype=sim_type.generator_subtype,
    )


# ---------------------------------------------------------------------------- demo


@attrs.frozen(kw_only=True)
class DemoPlan:
    """What the demo triggers: the event types the login may trigger, on every camera."""

    types: list[EventType]
    cameras: list[Camera]

    @classmethod
    async def load(cls, client: XProtectClient) -> DemoPlan:
        names = await Names.load(client)
        usable = [
            t for t in names.types.values() if t.name in DEMO_TYPES and await client.can_trigger(t)
        ]
        if not usable or not names.cameras:
            raise ConfigurationError("the server has none of the demo's event types or cameras")
        return cls(types=usable, cameras=list(names.cameras.values()))

    def triggers(self, count: int, *, tag: str) -> Iterable[EventTrigger]:
        for i in range(count):
            event_type = self.types[i % len(self.types)]
            camera = self.cameras[(i // len(self.types)) % len(self.cameras)]
            analytics = event_type.generator_type == "MIPDevice"
            yield EventTrigger(
                type=event_type.id,
                source=camera.source,
                tag=f"{tag}-{i}",
                datatype="analytics" if analytics else None,
                data=_analytics_data(event_type, camera, i) if analytics else None,
            )


#: The seeded event types the demo triggers (a user token may trigger them all).
DEMO_TYPES = ("Person Detected", "License Plate Recognized", "Door Forced Open")


def _analytics_data(event_type: EventType, camera: Camera, i: int) -> dict[str, Any]:
    return {
        "description": f"{event_type.name} on {camera.name}",
        "vendor": {"name": "xprotect-events demo"},
        "objectList": [{"name": "person" if i % 2 else "car", "confidence": 0.9}],
    }


class DemoView:
    """The demo's live view: progress, counts per type, the latest events."""

    LATEST = 5
    PLAIN_EVERY = 1000

    def __init__(self, console: Console, names: Names, total: int) -> None:
        self.console = console
        self.names = names
        self.total = total
        self.plain = not console.is_terminal
        self.results: Counter[str] = Counter()
        self.per_type: Counter[str] = Counter()
        self.latest: deque[Event] = deque(maxlen=self.LATEST)
        self.received = 0
        self.first_sent: float | None = None
        self.last_received: float | None = None
        self.progress = _progress(console)
        self.sent_task = self.progress.add_task("triggered", total=total)
        self.recv_task = self.progress.add_task("received ", total=total)

    def on_result(self, result: TriggerResult) -> None:
        self.results[result.status] += 1
        self.progress.advance(self.sent_task)
        done = sum(self.results.values())
        if self.plain and (done % self.PLAIN_EVERY == 0 or done == self.total):
            self.console.print(f"triggered {done}/{self.total}")

    def on_change(self, change: SessionChange) -> None:
        if change.kind != "new":
            return
        self.received += 1
        self.last_received = time.perf_counter()
        self.per_type[self.names.type_name(change.event.type)] += 1
        self.latest.append(change.event)
        self.progress.advance(self.recv_task)
        step = self.received % self.PLAIN_EVERY == 0 or self.received == self.total
        if self.plain and step:
            self.console.print(f"received {self.received}")

    def __rich__(self) -> RenderableType:
        counts = Table(title="received per type", box=box.SIMPLE_HEAD, title_justify="left")
        counts.add_column("Type")
        counts.add_column("Events", justify="right")
        for name, n in sorted(self.per_type.items()):
            counts.add_row(escape(name), str(n))
        recent = Table(title="latest", box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("Time", "Type", "Source", "Tag"):
            recent.add_column(column, no_wrap=True)
        for event in reversed(self.latest):
            recent.add_row(
                fmt_time(event.time),
                escape(self.names.type_name(event.type)),
                escape(self.names.source_name(event.source)),
                escape(event.tag or ""),
            )
        return Group(self.progress.get_renderable(), counts, recent)


async def _run_watched(coro: Awaitable[None], view: DemoView, console: Console) -> None:
    """Await ``coro`` under a live view, refreshed from the event loop (no render thread)."""
    if view.plain:
        await coro
        return
    with Live(view, console=console, auto_refresh=False) as live:
        refresher = asyncio.create_task(_refresh(live))
        try:
            await coro
        finally:
            refresher.cancel()
            live.refresh()


async def _refresh(live: Live) -> None:
    while True:
        live.refresh()
        await asyncio.sleep(0.125)


@cli.command(short_help="See it work with no server: simulator, stream, batch.")
@click.option(
    "--events", type=click.IntRange(1, 100_000), default=3000, show_default=True, help="How many."
)
@click.option("--chunk-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    help="Events per second (0: full speed). Default: 1000 on a terminal, else full speed.",
)
def demo(events: int, chunk_size: int, concurrency: int, rate: float | None) -> int:
    """See it work, no server needed: an embedded simulator, a live stream, a batch.

    Starts the simulator in this process, logs in as admin, opens an event session,
    triggers the events in concurrent batches while they arrive through the session, lists
    a filtered slice and prints a summary. Leaves nothing running.
    """
    out = Output()
    if rate is None:
        rate = 1000.0 if out.out.is_terminal else 0.0
    options = DemoOptions(events=events, chunk_size=chunk_size, concurrency=concurrency, rate=rate)
    return run(_demo(options, out))


@attrs.frozen(kw_only=True)
class DemoOptions:
    events: int
    chunk_size: int
    concurrency: int
    rate: float


@attrs.define
class DemoRun:
    client: XProtectClient
    view: DemoView
    plan: DemoPlan
    options: DemoOptions
    started: datetime = attrs.Factory(lambda: datetime.now(UTC))
    arrived: asyncio.Event = attrs.Factory(asyncio.Event)

    @property
    def events(self) -> int:
        return self.options.events

    def check_arrived(self) -> None:
        accepted = self.view.results["accepted"]
        if sum(self.view.results.values()) == self.events and self.view.received >= accepted:
            self.arrived.set()


async def _demo(options: DemoOptions, out: Output) -> int:
    from .testing import seed
    from .testing.simulator import Simulator

    clock = time.perf_counter()
    async with (
        Simulator() as sim,
        XProtectClient(sim.url, username=seed.ADMIN_USER, password="admin") as client,
    ):
        out.out.print(f"simulator running at {sim.url}; logging in as admin")
        await client.login()
        plan = await DemoPlan.load(client)
        names = Names(types={t.id: t for t in plan.types}, cameras={c.id: c for c in plan.cameras})
        view = DemoView(out.out, names, options.events)
        demo_run = DemoRun(client, view, plan, options)
        await _run_watched(_stream_and_trigger(demo_run), view, out.out)
        await _show_slice(client, view.names, demo_run.started, out)
        _demo_summary(out, demo_run, time.perf_counter() - clock)
    ok = view.results["accepted"] == options.events and view.received == options.events
    return EXIT_OK if ok else EXIT_NOT_ACCEPTED


async def _stream_and_trigger(demo_run: DemoRun) -> None:
    session = demo_run.client.event_session(
        types=[t.id for t in demo_run.plan.types],
        since=demo_run.started - timedelta(seconds=1),
        max_size=1000,
        poll_interval=0.1,
    )
    async with session:
        consumer = asyncio.create_task(_consume(session, demo_run))
        try:
            await _inject(demo_run)
            await asyncio.wait_for(demo_run.arrived.wait(), timeout=30)
        except TimeoutError:
            click.echo("warning: not every event arrived within 30 s", err=True)
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)


async def _consume(session: EventSession, demo_run: DemoRun) -> None:
    async for change in session:
        demo_run.view.on_change(change)
        demo_run.check_arrived()


async def _inject(demo_run: DemoRun) -> None:
    options = demo_run.options
    demo_run.view.first_sent = time.perf_counter()
    triggers = _paced(demo_run.plan.triggers(options.events, tag="demo"), options.rate)
    results = demo_run.client.stream_trigger(
        triggers, chunk_size=options.chunk_size, concurrency=options.concurrency
    )
    async for result in results:
        demo_run.view.on_result(result)
    demo_run.check_arrived()


async def _paced(triggers: Iterable[EventTrigger], rate: float) -> AsyncIterator[EventTrigger]:
    """The triggers at about ``rate`` per second (0: as fast as they are taken)."""
    start = time.perf_counter()
    for i, trigger in enumerate(triggers):
        if rate and i % 50 == 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        yield trigger


async def _show_slice(client: XProtectClient, names: Names, since: datetime, out: Output) -> None:
    matching = client.list_events(
        source_name=contains("Entrance"), since=since, order="desc", page_size=1000
    )
    table = EventTable(out.out, names)
    count = 0
    async for event in matching:
        count += 1
        if count <= 5:
            table.add(event)
    out.out.print(f"\nevents from a source whose name contains 'Entrance': {count}; latest 5:")
    table.flush()


def _demo_summary(out: Output, run: DemoRun, elapsed: float) -> None:
    view = run.view
    accepted = view.results["accepted"]
    first, last = view.first_sent, view.last_received
    end_to_end = (last - first) if first and last else 0.0
    rate = view.received / end_to_end if end_to_end > 0 else 0.0
    table = Table(title="summary", box=box.SIMPLE_HEAD, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("triggered", str(run.events))
    table.add_row("accepted / rejected / unknown", _counts(view.results))
    table.add_row("received through the session", str(view.received))
    paced = f", paced at {run.options.rate:.0f}/s" if run.options.rate else ""
    table.add_row(
        "first trigger to last arrival", f"{end_to_end:.2f} s ({rate:.0f} events/s{paced})"
    )
    table.add_row("whole demo", f"{elapsed:.2f} s")
    out.out.print(table)
    click.echo(
        f"demo finished: {accepted} of {run.events} events accepted, "
        f"{view.received} received, in {elapsed:.1f} s"
    )


def _counts(results: Counter[str]) -> str:
    return " / ".join(str(results[s]) for s in ("accepted", "rejected", "unknown"))


if __name__ == "__main__":
    main()
