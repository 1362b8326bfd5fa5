"""Running a command: signals, errors, exit codes and hints, in one place.

Every command builds its coroutine and hands it to :func:`run`; an error becomes one line
on stderr (with a hint) and a documented exit code (:data:`EXIT_CODES`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import attrs
import click

from .. import (
    APIError,
    AuthenticationError,
    CheckpointError,
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
from ..responses import shown_text

log = logging.getLogger("xprotect_events.cli")

PROG = "xprotect-events"

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
    EXIT_USAGE: "usage or local error: bad option, bad input, missing URL or credentials, "
    "a local file that cannot be used (checkpoint, journal, rejects file, output)",
    EXIT_AUTH: "authentication failed: the identity provider refused the credentials",
    EXIT_CONNECTION: "no connection: server unreachable, timeout or TLS verification failed",
    EXIT_API: "the API answered with an error (not found, forbidden, server error, …)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (143: by SIGTERM)",
}


@attrs.define
class State:
    """Options of the command group, shared by every command."""

    debug: bool = False


def current_state() -> State:
    """The group's options of the running command (defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(State) if ctx is not None else None
    return obj or State()


class _Plain(logging.Formatter):
    """``warning: reconnecting in 2.0 s: connection refused``: a person's log line."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def configure_logging(debug: bool) -> None:
    """WARNING and up as plain lines on stderr; with ``--debug``, everything, timestamped."""
    handler = logging.StreamHandler(sys.stderr)
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_Plain())
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


def run(main: Coroutine[Any, Any, int], *, stop_ok: bool = False) -> int:
    """Run a command's coroutine: signals, errors and exit codes handled in one place.

    SIGINT and SIGTERM cancel the coroutine (so every ``async with`` cleans up: event
    sessions are deleted, connections closed). ``stop_ok`` commands (watch, serve) then
    exit 0; the others exit 128 + the signal number.
    """
    try:
        return asyncio.run(_supervise(main, stop_ok))
    except XProtectError as exc:
        return fail(exc)
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK
    except OSError as exc:
        return fail_os(exc)


def fail_os(exc: OSError) -> int:
    """A local I/O error (a full disk under stdout, an unreadable file) in one line (the
    traceback with --debug); no more writes to stdout. :data:`EXIT_USAGE`."""
    if current_state().debug:
        log.exception("command failed")
    where = f": {exc.filename}" if exc.filename else " (the output or a local file)"
    click.echo(f"error: cannot read or write{where}: {exc.strerror or exc}", err=True)
    silence_stdout()
    return EXIT_USAGE


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


def silence_stdout() -> None:
    """After the reader of a pipe went away (``| head``), or the disk under stdout is
    full: no more writes, no error at exit (what is still buffered goes nowhere)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no stdout at all
        pass


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
    (
        CheckpointError,
        EXIT_USAGE,
        "a local checkpoint or journal file that cannot be used as it is (see --help)",
    ),
    (ConfigurationError, EXIT_USAGE, "see --help"),
    (InvalidInputError, EXIT_USAGE, "see --help"),
]


#: Settings whose values are secrets: named in errors, never shown.
SECRET_PARAMETERS = frozenset({"password", "client_secret", "proxy"})


def usage_error_line(exc: click.UsageError) -> str:
    """A usage error in one line: what is wrong, the flag or argument and (when it came
    from there) the environment variable with its value, and where the help is."""
    message = _misplaced(exc) or exc.format_message()
    where = _bad_parameter(exc) if isinstance(exc, click.BadParameter) else None
    if where is not None:
        message = f"invalid value for {where}: {exc.message}"
    command = exc.ctx.command_path if exc.ctx is not None else PROG
    return f"error: {shown_text(' '.join(message.split()))} -- see '{command} --help'"


#: Options people reach for that are spelt another way here (or go elsewhere).
_SPELT_OTHERWISE = {
    "--debug": "--debug goes before the command: {prog} --debug {command} …",
    "--verbose": "for more detail, --debug goes before the command: {prog} --debug {command} …",
    "--format": "for JSON Lines, use --json",
    "--output": "for JSON Lines, use --json (and > FILE to keep them)",
}


def _misplaced(exc: click.UsageError) -> str | None:
    """An unknown option that means something here: where it goes, or its spelling."""
    if not isinstance(exc, click.NoSuchOption) or exc.option_name not in _SPELT_OTHERWISE:
        return None
    advice = _SPELT_OTHERWISE[exc.option_name]
    ctx = exc.ctx
    if "--json" in advice and not (ctx and any(p.name == "json_lines" for p in ctx.command.params)):
        return None  # this command has no --json
    command = ctx.info_name if ctx is not None else "COMMAND"
    advice = advice.format(prog=PROG, command=command)
    return f"no such option {exc.option_name}: {advice}"


def _bad_parameter(exc: click.BadParameter) -> str | None:
    """The flag (``--type``), argument (``FILE``) or variable a bad value came from, in
    the same words whether click or a command found it bad."""
    param, ctx = exc.param, exc.ctx
    if param is None or ctx is None:
        hint = exc.param_hint
        return hint if hint is None or isinstance(hint, str) else " / ".join(hint)
    name = param.name or ""
    flag = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    source = ctx.get_parameter_source(name)
    if source is click.core.ParameterSource.ENVIRONMENT and isinstance(param.envvar, str):
        shown = "…" if name in SECRET_PARAMETERS else os.environ.get(param.envvar, "")
        return f"{param.envvar}={shown} (for {flag})"
    return flag


def _scheme_hint(exc: XProtectError) -> str | None:
    """A hint for an https URL against an http server, and the other way round."""
    text = str(exc).lower()
    if isinstance(exc, TLSError) and ("wrong_version_number" in text or "record layer" in text):
        return "the server speaks plain http here: use http:// in --url (XPROTECT_URL)"
    if isinstance(exc, TransportError) and "clientproxyconnectionerror" in text:
        return (
            "the proxy could not be reached: check --proxy (XPROTECT_PROXY), or HTTPS_PROXY/"
            "HTTP_PROXY when no --proxy is given (NO_PROXY=host bypasses them)"
        )
    if isinstance(exc, TransportError) and "server disconnected" in text:
        return (
            "the server closed the connection: if it speaks https, use https:// in --url "
            "(XPROTECT_URL); else it may be restarting"
        )
    return None


def _auth_hint(exc: XProtectError) -> str | None:
    if isinstance(exc, AuthenticationError) and "refused the Windows login" in str(exc):
        return (
            "the Windows user was refused: check --username, as DOMAIN\\user, and --password "
            "(XPROTECT_USERNAME/XPROTECT_PASSWORD)"
        )
    if isinstance(exc, AuthenticationError) and exc.error == "invalid_client":
        return (
            "the service client was refused: check --client-id/--client-secret "
            "(XPROTECT_CLIENT_ID/XPROTECT_CLIENT_SECRET)"
        )
    if isinstance(exc, AuthenticationError) and exc.error == "invalid_grant":
        return (
            "the user was refused: check --username/--password "
            "(XPROTECT_USERNAME/XPROTECT_PASSWORD); a Windows user needs --windows"
        )
    return None


def _not_found_hint(exc: XProtectError) -> str | None:
    """A 404 for the login itself is the URL, and one for the WebSocket's upgrade is an
    older server: neither is a stored event that is gone."""
    path = (exc.path or "").lower() if isinstance(exc, NotFoundError) else ""
    if "/connect/token" in path:
        return (
            "the server has no login at this address: check --url (XPROTECT_URL), the "
            "server's address such as https://vms (a path there is kept before /API/IDP)"
        )
    if "/api/ws/" in path:
        return (
            "the server has no Events and State WebSocket API (XProtect 2023 R3 or later): "
            "watch without --live polls an event session instead"
        )
    return None


def classify(exc: XProtectError) -> tuple[int, str]:
    """The exit code and a hint for an error (the hint matching its cause where known)."""
    code, hint = _classify(exc)
    return code, _scheme_hint(exc) or _auth_hint(exc) or _not_found_hint(exc) or hint


def _classify(exc: XProtectError) -> tuple[int, str]:
    for cls, code, hint in _HINTS:
        if isinstance(exc, cls):
            return code, hint
    return EXIT_API, ""


def fail(exc: XProtectError) -> int:
    """Say what went wrong in one line on stderr (the traceback with --debug); its exit code."""
    code, hint = classify(exc)
    if current_state().debug:
        log.exception("command failed")
    message = shown_text(" ".join(str(exc).split())) or type(exc).__name__
    click.echo(f"error: {message}" + (f" -- {hint}" if hint else ""), err=True)
    return code
