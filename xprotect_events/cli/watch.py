"""The ``watch`` command: new and deleted events through an event session, until stopped."""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
import click
from rich.text import Text

from .. import Event, SessionChange, XProtectClient
from ..filters import Condition, SessionFilter
from .connection import Connection, connection_options
from .live import (
    LIVE_HELP,
    STATE_HELP,
    STORED_HELP,
    LiveWatch,
    check_live_flags,
    watch_live,
)
from .names import Names, names_for, needs_lookup
from .output import Output, event_json, output_option
from .params import WHEN, Seconds, include_data_option, name_conditions
from .paths import check_checkpoint
from .runner import EXIT_OK, run
from .tables import (
    EVENT_COLUMNS,
    MARK_WIDTH,
    change_line,
    data_text,
    event_row,
    shown,
    write_tsv,
)


def _from_now(since: datetime | None) -> datetime:
    return since or datetime.now(UTC)


@attrs.frozen(kw_only=True)
class WatchArgs:
    """The options of ``watch``."""

    types: tuple[str, ...]
    sources: tuple[str, ...]
    #: ``--source-name``, checked here: a bad value is refused before anything is sent.
    source_names: list[Condition] = attrs.field(converter=name_conditions)
    since: datetime = attrs.field(converter=_from_now)
    include_data: bool
    poll_interval: float
    max_size: int
    live: bool
    state: bool
    stored_types: tuple[str, ...]
    checkpoint: str | None


@click.command(short_help="Stream new and deleted events until Ctrl-C.")
@click.option("--type", "types", multiple=True, help="Event type GUID or name. Repeatable.")
@click.option(
    "--source", "sources", multiple=True, help="GUID, cameras/GUID or camera name. Repeatable."
)
@click.option(
    "--source-name",
    "source_names",
    multiple=True,
    help="Source name: exact, or contains:TEXT, startsWith:TEXT, notEquals:TEXT. Repeatable "
    "(several plain names: any of them).",
)
@click.option("--since", type=WHEN, help="Also events after this time (default: from now).")
@include_data_option()
@click.option(
    "--poll-interval",
    type=Seconds(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between reads of the session (a full read is followed at once).",
)
@click.option(
    "--max-size",
    type=click.IntRange(1, 2000),
    default=100,
    show_default=True,
    help="Most events per read of the session.",
)
@click.option("--live", is_flag=True, help=LIVE_HELP)
@click.option("--state", is_flag=True, help=STATE_HELP)
@click.option("--stored-type", "stored_types", multiple=True, metavar="TYPE|all", help=STORED_HELP)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    help="Keep the position in FILE; a rerun with it resumes there (nothing lost; an event "
    "shown just before a crash may be shown again). Then --since is only the first start.",
)
@output_option
@connection_options
def watch(conn: Connection, out: Output, **options: Any) -> int:
    """Stream new and deleted events through an event session until Ctrl-C or SIGTERM.

    The session is deleted on the server when the command ends. With --json each line is
    {"kind": "new"|"deleted", "event": {…}}. With --live the events are pushed over the
    WebSocket instead (kind "new", and "state" with --state); --source-name, --since,
    --poll-interval and --max-size do not apply there. With --checkpoint FILE a rerun goes
    on after the last event shown (an event shown just before a crash may be shown again).
    """
    check_live_flags(click.get_current_context(), options)
    check_checkpoint(options["checkpoint"], conn.ca_bundle)
    return run(_watch(conn, WatchArgs(**options), out), stop_ok=True)


async def _watch(conn: Connection, args: WatchArgs, out: Output) -> int:
    seen: Counter[str] = Counter()
    async with conn.client() as client:
        await client.login()
        stored = [t for t in args.stored_types if t.casefold() != "all"]
        names = await names_for(client, out.json, [*args.types, *stored], args.sources)
        await _note_unknown_types(client, names, args.types, out)
        if args.live:
            await watch_live(client, names, _live_args(names, args), out, show_event)
            return EXIT_OK
        session = client.event_session(
            types=[names.resolve_type(t) for t in args.types] or None,
            sources=[names.resolve_source(s) for s in args.sources] or None,
            filters=[SessionFilter("source.name", c.operator, c.value) for c in args.source_names]
            or None,
            since=args.since,
            include_data=args.include_data,
            max_size=args.max_size,
            poll_interval=args.poll_interval,
            checkpoint=args.checkpoint,
        )
        watching = False
        try:
            async with session:
                out.note("watching events (Ctrl-C to stop)")
                watching = True
                if out.plain:
                    write_tsv(sys.stdout, [PLAIN_HEADER])
                    sys.stdout.flush()
                async for change in session:
                    show_change(out, names, change)
                    seen[change.kind] += 1  # shown: not one its reader never got (| head)
        finally:
            if watching:  # not when the session could not even be opened
                out.note(f"stopped: {seen['new']} new, {seen['deleted']} deleted")
    return EXIT_OK


async def _note_unknown_types(
    client: XProtectClient, names: Names, types: tuple[str, ...], out: Output
) -> None:
    """A --type GUID that is no event type these credentials see would watch nothing."""
    wanted = [t for t in types if not needs_lookup([t], uuid.UUID)]
    if not wanted:
        return
    known = names.types or (await Names.load(client)).types
    for text in wanted:
        if known and uuid.UUID(text) not in known:
            out.note(
                f"warning: no event type has the id {text} (as these credentials see them): "
                "nothing of it will show; 'xprotect-events types' lists them"
            )


def _live_args(names: Names, args: WatchArgs) -> LiveWatch:
    return LiveWatch(
        types=[names.resolve_type(t) for t in args.types],
        sources=[names.resolve_source(s) for s in args.sources],
        include_data=args.include_data,
        state=args.state,
        checkpoint=args.checkpoint,
        stored_types=_stored_types(names, args.stored_types),
    )


def _stored_types(names: Names, given: tuple[str, ...]) -> list[uuid.UUID] | Literal["all"] | None:
    if any(text.casefold() == "all" for text in given):
        return "all"
    return [names.resolve_type(text, "--stored-type") for text in given] or None


#: The header of ``watch``'s tab-separated lines (in a pipe).
PLAIN_HEADER = ("kind", *(column.name.lower() for column in EVENT_COLUMNS), "data")
_COLORS = {"new": "green", "deleted": "red", "state": "cyan"}


def show_change(out: Output, names: Names, change: SessionChange) -> None:
    """One change, as :func:`show_event` shows it."""
    show_event(out, names, change.kind, change.event)


def show_event(out: Output, names: Names, kind: str, event: Event) -> None:
    """One event of ``kind`` ("new", "deleted", "state"), flushed at once: a JSON line, a
    tab-separated line in a pipe, or one line of the table's columns on a terminal (the
    time and the id always whole)."""
    if out.json:
        out.emit({"kind": kind, "event": event_json(event)}, flush=True)
        return
    row = event_row(event, names)
    if out.plain:
        write_tsv(sys.stdout, [(kind, *row, data_text(event))])
        sys.stdout.flush()
        return
    line = change_line(kind, row, out.out.width)
    mark, rest = line[:MARK_WIDTH], line[MARK_WIDTH:]
    data = f"  {shown(data_text(event))}" if event.data is not None else ""
    out.out.print(Text.assemble((mark, _COLORS[kind]), rest, data), soft_wrap=True)
