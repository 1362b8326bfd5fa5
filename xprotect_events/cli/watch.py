"""The ``watch`` command: new and deleted events through an event session, until stopped."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import attrs
import click
from rich.markup import escape

from .. import SessionChange
from .connection import Connection, connection_options
from .names import Names, names_for
from .output import Output, data_text, event_json, event_row, output_option
from .params import WHEN, include_data_option
from .runner import EXIT_OK, run


def _from_now(since: datetime | None) -> datetime:
    return since or datetime.now(UTC)


@attrs.frozen(kw_only=True)
class WatchArgs:
    """The options of ``watch``."""

    types: tuple[str, ...]
    sources: tuple[str, ...]
    source_names: tuple[str, ...]
    since: datetime = attrs.field(converter=_from_now)
    include_data: bool
    poll_interval: float
    max_size: int
    checkpoint: str | None = None


@click.command(short_help="Stream new and deleted events until Ctrl-C.")
@click.option("--type", "types", multiple=True, help="Event type GUID or name. Repeatable.")
@click.option(
    "--source", "sources", multiple=True, help="GUID, cameras/GUID or camera name. Repeatable."
)
@click.option("--source-name", "source_names", multiple=True, help="Exact source name. Repeatable.")
@click.option("--since", type=WHEN, help="Also events after this time (default: from now).")
@include_data_option()
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option("--max-size", type=click.IntRange(1, 2000), default=100, show_default=True)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    help="Keep the position in this file and resume from it (then --since is only the start).",
)
@output_option
@connection_options
def watch(conn: Connection, out: Output, **options: Any) -> int:
    """Stream new and deleted events through an event session until Ctrl-C or SIGTERM.

    The session is deleted on the server when the command ends. With --json each line is
    {"kind": "new"|"deleted", "event": {…}}. With --checkpoint FILE a rerun goes on after the
    last event shown (an event shown just before a crash may be shown again).
    """
    return run(_watch(conn, WatchArgs(**options), out), stop_ok=True)


async def _watch(conn: Connection, args: WatchArgs, out: Output) -> int:
    seen: Counter[str] = Counter()
    async with conn.client() as client:
        await client.login()
        names = await names_for(client, out.json, args.types, args.sources)
        session = client.event_session(
            types=[names.resolve_type(t) for t in args.types] or None,
            sources=[names.resolve_source(s) for s in args.sources] or None,
            source_names=list(args.source_names) or None,
            since=args.since,
            include_data=args.include_data,
            max_size=args.max_size,
            poll_interval=args.poll_interval,
            checkpoint=args.checkpoint,
        )
        try:
            async with session:
                out.note("watching events (Ctrl-C to stop)")
                async for change in session:
                    seen[change.kind] += 1
                    show_change(out, names, change)
        finally:
            out.note(f"stopped: {seen['new']} new, {seen['deleted']} deleted")
    return EXIT_OK


_WIDTHS = (0, 26, 28, 16, 0)  # the columns of a change line, padded like the list table


def show_change(out: Output, names: Names, change: SessionChange) -> None:
    """One change: a JSON line (flushed at once) or a marked line of the table's columns."""
    event = change.event
    if out.json:
        out.emit({"kind": change.kind, "event": event_json(event)}, flush=True)
        return
    mark = "[green]+ new    [/]" if change.kind == "new" else "[red]- deleted[/]"
    cells = zip(event_row(event, names), _WIDTHS, strict=True)
    text = " ".join(f"{cell:<{width}}" if width else cell for cell, width in cells)
    out.out.print(f"{mark} {escape(text)}")
    if event.data is not None:
        out.out.print(f"          {escape(data_text(event))}")
