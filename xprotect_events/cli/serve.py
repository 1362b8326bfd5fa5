"""The ``serve`` command: the simulator as a server, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import click

from .. import ConfigurationError, InvalidInputError
from ..testing.demo import seed_events
from ..testing.faultflags import FAULT_KINDS_HELP, FaultFlag, apply_fault_flags, parse_fault_flag
from ..testing.simulator import Simulator
from ..wire import MAX_TOKEN_LIFETIME
from .params import Seconds, with_options
from .runner import EXIT_OK, PROG, run

F = TypeVar("F", bound=Callable[..., Any])

#: The machine-readable first line of ``serve``: scripts and tests read the URL from it.
LISTENING = "xprotect-events simulator listening on "


def parse_fault(text: str) -> FaultFlag:
    """One ``--fault`` value (see :func:`~xprotect_events.testing.faultflags.parse_fault_flag`);
    :class:`click.BadParameter` for anything else."""
    try:
        return parse_fault_flag(text)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_faults(
    ctx: click.Context, param: click.Parameter, values: Iterable[str]
) -> list[FaultFlag]:
    return [parse_fault(value) for value in values]


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
        help="Inject faults (repeatable): the syntax, the kinds and an example are below.",
    ),
    click.option(
        "--fault-seed",
        type=int,
        default=0,
        show_default=True,
        help="Seed of the --fault draws: the same seed injects the same faults.",
    ),
]


def configure_faults(sim: Simulator, faults: Mapping[str, Any]) -> list[str]:
    """Switch on the faults the ``FAULT_OPTIONS`` asked for: each ``--fault`` is one
    seeded random rule (seed ``--fault-seed`` + its position), asked in the given order;
    the lines that say what was switched on."""
    seed = int(faults.get("fault_seed") or 0)
    return list(apply_fault_flags(sim.faults, faults.get("fault") or (), seed=seed))


@attrs.frozen(kw_only=True)
class ServeArgs:
    host: str
    port: int
    https: bool
    token_lifetime: float
    session_idle_timeout: float | None
    seed_events: int
    max_events: int | None
    access_log: bool | None
    ntlm_at_gateway: bool
    resume_window: float
    cors: str | None
    faults: Mapping[str, Any]

    def simulator(self) -> Simulator:
        options: dict[str, Any] = {}
        if self.session_idle_timeout is not None:
            options["session_idle_timeout"] = self.session_idle_timeout
        return Simulator(
            host=self.host,
            port=self.port,
            https=self.https,
            token_lifetime=self.token_lifetime,
            max_events=self.max_events,
            access_log=_log_line if self._logs_access() else False,
            ntlm_at_gateway=self.ntlm_at_gateway,
            resume_window=self.resume_window,
            cors=self.cors,
            **options,
        )

    def _logs_access(self) -> bool:
        """``--access-log``/``--no-access-log``; by default on in a terminal (a piped stderr
        that nobody reads must not fill up and stall the server)."""
        return sys.stderr.isatty() if self.access_log is None else self.access_log


def _log_line(line: str) -> None:
    click.echo(line, err=True)


def _fault_epilog() -> str:
    """The --fault syntax for the help: the paths and the example in no-rewrap paragraphs
    (``\\b``), so that they can be pasted whole; the kinds as a wrapped paragraph."""
    kinds = "; ".join(f"{kind}: {what}" for kind, what in FAULT_KINDS_HELP.items())
    return (
        "\b\n--fault ROUTE=KIND[:ARG][,KIND[:ARG]...][@PROBABILITY]\n"
        "  ROUTE: 'METHOD /path/template' as the simulator names it, or * for all:\n"
        "    'POST /api/rest/v1/events/batch'\n"
        "    'GET /api/rest/v1/eventSessions/{id}'\n"
        "    'POST /IDP/connect/token'\n"
        "  Several kinds: drawn at random. PROBABILITY: 1 unless given (every request).\n"
        f"\nKinds: {kinds}.\n"
        "\n\b\nExample:\n"
        f"  {PROG} serve --fault 'POST /api/rest/v1/events/batch=reset_after,status:500@0.05'"
    )


@click.command(short_help="Run the simulator until Ctrl-C or SIGTERM.", epilog=_fault_epilog())
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: a free one; the first line says which).",
)
@click.option("--https", is_flag=True, help="TLS with a throwaway CA (prints its path).")
@click.option(
    "--token-lifetime",
    type=Seconds(min=1, max=MAX_TOKEN_LIFETIME),  # longer: clients refuse the token
    default=3600.0,
    show_default=True,
    help="Seconds a token lives (expires_in); then the API answers 401.",
)
@click.option(
    "--session-idle-timeout",
    type=Seconds(min=0.1),
    help="Seconds an unread event session lives (default 60); then reading it gives 404.",
)
@click.option(
    "--seed-events",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Store N events at start (spread over the last hour, tagged seed-N).",
)
@click.option(
    "--max-events",
    type=click.IntRange(min=1),
    help="Keep at most N events; the oldest go first, as if their retention ran out.",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="One line per request on stderr: method, path, status, time (never a token). "
    "Default: on when stderr is a terminal.",
)
@click.option(
    "--ntlm-at-gateway",
    is_flag=True,
    help="Let Windows (NTLM) logins complete at the gateway's /API/IDP path too (real "
    "gateways refuse them; some installations differ).",
)
@click.option(
    "--resume-window",
    type=Seconds(min=0),
    default=30.0,
    show_default=True,
    metavar="S",
    help="Seconds a dropped WebSocket session can be resumed; then startSession answers 201.",
)
@click.option(
    "--cors",
    is_flag=False,
    flag_value="*",
    metavar="[ORIGIN]",
    help="Answer CORS as a gateway configured for it does, for web pages from other origins: "
    "--cors alone sends Access-Control-Allow-Origin * (the samples' config), else ORIGIN.",
)
@with_options(FAULT_OPTIONS)
def serve(**options: Any) -> int:
    """Run the simulator of the Events API until Ctrl-C or SIGTERM.

    The first line printed is always "xprotect-events simulator listening on URL" (with
    --port 0, the port actually used). Users: admin/admin (all cameras), operator/operator
    (cameras 1 and 2); service client: service/service-secret.

    --fault makes it fail on purpose (seeded, so runs repeat), to test clients against
    cut connections, 5xx, 429, slow answers, revoked tokens and dropped sessions.
    """
    fault_keys = ("fault", "fault_seed")  # the FAULT_OPTIONS
    faults = {key: options.pop(key) for key in fault_keys}
    return run(_serve(ServeArgs(faults=faults, **options)), stop_ok=True)


async def _start(sim: Simulator, args: ServeArgs) -> None:
    try:
        await sim.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {reason}") from None


async def _serve(args: ServeArgs) -> int:
    sim = args.simulator()
    await _start(sim, args)
    try:
        notes = configure_faults(sim, args.faults)
        if args.seed_events:
            stored = seed_events(sim, args.seed_events)
            notes.append(f"seeded {stored} event(s)")
        _print_serving(sim, args.cors)  # the listening line first, whatever else is said
        for note in notes:
            click.echo(note, err=True)
        await asyncio.Event().wait()
    finally:
        await sim.stop()
        click.echo("simulator stopped", err=True)
    return EXIT_OK


def _print_serving(sim: Simulator, cors: str | None) -> None:
    click.echo(f"{LISTENING}{sim.url}")
    lines = [
        "  users:          admin/admin (all cameras), operator/operator (cameras 1 and 2)",
        "  service client: service/service-secret",
        "  windows user:   CONTOSO\\winuser/winuser (--windows, NTLM; cameras 1 and 2)",
    ]
    lines.append(f"  live events:    {sim.ws_url} (watch --live)")
    if cors is not None:
        lines.append(f"  CORS:           on for /api/ paths, Access-Control-Allow-Origin: {cors}")
    trust = ""
    if sim.ca_path:
        lines.append(f"  CA certificate: {sim.ca_path}  (--ca-bundle / XPROTECT_CA_BUNDLE)")
        trust = f"XPROTECT_CA_BUNDLE={sim.ca_path} "
    lines.append(
        f"  try:            XPROTECT_URL={sim.url} {trust}XPROTECT_USERNAME=admin "
        f"XPROTECT_PASSWORD=admin {PROG} list"
    )
    lines.append("Press Ctrl-C to stop.")
    click.echo("\n".join(lines))
    sys.stdout.flush()
