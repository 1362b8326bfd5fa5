"""The ``xprotect-events`` command: a demo, the simulator as a server, and a client.

Every command that talks to a server takes its connection settings from flags or from
``XPROTECT_*`` environment variables. Output is a table on a terminal and JSON Lines with
``--json``. Errors are one line on stderr and a documented exit code (see ``EXIT_CODES``).

One module per command family (``query``: token/types/list/get, ``trigger``:
trigger/trigger-batch, ``watch``, ``serve``, ``demo``) over the shared ``runner`` (signals,
exit codes, hints), ``connection`` (flags and environment), ``params`` (times, filters,
shared options) and ``output`` (tables, JSON Lines). This module is the group and ``main``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from .. import __version__
from ..responses import shown_text
from .batchfile import REJECT_KEY, parse_trigger_line, reject_record
from .connection import ENVIRONMENT
from .demo import demo
from .params import id_conditions, name_conditions, parse_when
from .query import get, list_command, token, types
from .runner import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    State,
    classify,
    configure_logging,
    fail_os,
    silence_stdout,
    usage_error_line,
)
from .serve import LISTENING, parse_fault, serve
from .trigger import trigger, trigger_batch
from .watch import watch

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ACCEPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "LISTENING",
    "REJECT_KEY",
    "classify",
    "cli",
    "id_conditions",
    "main",
    "name_conditions",
    "parse_fault",
    "parse_trigger_line",
    "parse_when",
    "reject_record",
]


def _epilog() -> str:
    codes = "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    env = "\n".join(f"  {name:<23} {flag}" for name, flag in ENVIRONMENT.items())
    return f"\b\nExit codes:\n{codes}\n\n\b\nEnvironment (instead of the flags):\n{env}"


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
    configure_logging(debug)


for command in (token, types, list_command, get, trigger, trigger_batch, watch, serve, demo):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: exit codes as documented in ``EXIT_CODES``."""
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.UsageError as exc:
        click.echo(usage_error_line(exc), err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"error: {shown_text(' '.join(exc.format_message().split()))}", err=True)
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        silence_stdout()
        sys.exit(EXIT_OK)
    except OSError as exc:
        sys.exit(fail_os(exc))
    try:
        sys.stdout.flush()  # a full disk shows here, not as a message at exit
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        sys.exit(fail_os(exc))
    sys.exit(result if isinstance(result, int) else EXIT_OK)
