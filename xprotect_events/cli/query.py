"""The reading commands: ``token``, ``types``, ``list`` and ``get``."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import attrs
import click

from .. import Condition, Event, EventType, XProtectClient
from ..config import simulator_retention
from ..wire import format_time
from .connection import Connection, connection_options
from .names import Names, closest, shown_name
from .output import Output, event_json, output_option
from .params import WHEN, id_conditions, include_data_option, name_conditions
from .runner import EXIT_OK, run
from .tables import Column, EventTable, print_planned


@click.command(short_help="Log in; show the token's type, scope and expiry.")
@click.option("--show-token", is_flag=True, help="Print the access token itself (a secret).")
@output_option
@connection_options
def token(conn: Connection, show_token: bool, out: Output) -> int:
    """Log in and show the token's type, scope and expiry (never the token unless asked)."""
    return run(_token(conn, show_token, out))


async def _token(conn: Connection, show_token: bool, out: Output) -> int:
    async with conn.client() as client:
        got = await client.tokens.current()
        kind = "service" if client.is_service else "user"
        left = math.ceil(client.tokens.deadline - time.monotonic())
        expires_at = client.tokens.expires_at
    record: dict[str, Any] = {
        "kind": kind,
        "login": conn.who,
        "token_type": got.token_type,
        "scope": got.scope,
        "expires_in": left,
        "expires_at": format_time(expires_at) if expires_at else None,
    }
    if show_token:
        record["access_token"] = got.access_token
    out.record(record)
    return EXIT_OK


@click.command(short_help="List event types and whether you may trigger each.")
@output_option
@connection_options
def types(conn: Connection, out: Output) -> int:
    """List the event types, with whether these credentials may trigger each."""
    return run(_types(conn, out))


def type_json(t: EventType, may_trigger: bool) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "name": t.name,
        "displayName": t.display_name,
        "generatorType": t.generator_type,
        "generatorSubtype": t.generator_subtype,
        "mayTrigger": may_trigger,
    }


def retention_text(seconds: float | None) -> str:
    """A type's retention for people: forever, never stored, or so many seconds."""
    if seconds is None:
        return "forever"
    if seconds <= 0:
        return "never stored"
    return f"{seconds:g} s"


#: Said under the table when a type is accepted but never stored.
NEVER_STORED_NOTE = (
    "retention 0: triggering works (you get an id), but the event is never stored, "
    "so `get` and `list` will not find it"
)


async def _types(conn: Connection, out: Output) -> int:
    async with conn.client() as client:
        found = sorted(await client.list_event_types(), key=lambda t: t.name.casefold())
        allowed = {t.id: await client.can_trigger(t) for t in found}
        retention = await simulator_retention(client)  # None: not the simulator
    if out.json:
        for t in found:
            record = type_json(t, allowed[t.id])
            if retention is not None:
                record["retention"] = retention.get(t.id)
            out.emit(record)
        return EXIT_OK
    if out.plain:
        header: tuple[str, ...] = ("name", "id", "generator", "may_trigger")
        header += ("retention",) if retention is not None else ()
        out.rows(header, [_plain_type(t, allowed[t.id], retention) for t in found])
        _note_unstored(retention)
        return EXIT_OK
    columns = TYPE_COLUMNS if retention is not None else TYPE_COLUMNS[:-1]
    rows = [_plain_type(t, allowed[t.id], retention) for t in found]
    print_planned(out.out, columns, rows, style=_may_trigger_style)
    _note_unstored(retention)
    return EXIT_OK


#: The columns of ``types`` on a terminal: the id always whole; on a narrow terminal the
#: generator goes first, then the retention, whether you may trigger, and the name.
TYPE_COLUMNS = (
    Column("Name", 24, drop_rank=4),
    Column("Id", 36, folds=False),
    Column("Generator", 24, drop_rank=1),
    Column("May trigger", 11, drop_rank=3),
    Column("Retention", 12, drop_rank=2),
)


def _may_trigger_style(index: int, cell: str) -> str:
    if TYPE_COLUMNS[index].name != "May trigger":
        return ""
    return "green" if cell == "yes" else "red"


def _plain_type(
    t: EventType, may_trigger: bool, retention: dict[uuid.UUID, float | None] | None
) -> tuple[str, ...]:
    row = (t.display_name or t.name, str(t.id), _generator(t), "yes" if may_trigger else "no")
    return row + ((retention_text(retention.get(t.id)),) if retention is not None else ())


def _note_unstored(retention: dict[uuid.UUID, float | None] | None) -> None:
    if retention is not None and any(v is not None and v <= 0 for v in retention.values()):
        click.echo(NEVER_STORED_NOTE, err=True)


def _generator(t: EventType) -> str:
    return "/".join(g for g in (t.generator_type, t.generator_subtype) if g)


def _zero_is_all(limit: int) -> int | None:
    return limit or None


@attrs.frozen(kw_only=True)
class ListQuery:
    """The options of ``list``, converted for ``list_events``."""

    since: datetime | None
    until: datetime | None
    source_name: list[Condition] = attrs.field(converter=name_conditions)
    source_id: list[Condition] = attrs.field(converter=id_conditions)
    order: str
    include_data: bool
    limit: int | None = attrs.field(converter=_zero_is_all)
    page_size: int

    def events(self, client: XProtectClient) -> AsyncIterator[Event]:
        return client.list_events(
            since=self.since,
            until=self.until,
            source_name=self.source_name or None,
            source_id=self.source_id or None,
            order="desc" if self.order == "desc" else "asc",
            include_data=self.include_data,
            page_size=self.page_size,
            limit=self.limit + 1 if self.limit else None,  # one more: to tell if there are more
        )

    @property
    def empty_range(self) -> bool:
        """Whether nothing can match: the bounds are exclusive and --since is not before
        --until."""
        return self.since is not None and self.until is not None and self.since >= self.until


@click.command(name="list")
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
@click.option(
    "--order",
    type=click.Choice(["asc", "desc"]),
    default="asc",
    show_default=True,
    help="By time: oldest first (asc) or newest first (desc).",
)
@include_data_option()
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0: all.")
@click.option(
    "--page-size", type=click.IntRange(1, 2000), default=100, show_default=True, help="Per GET."
)
@output_option
@connection_options
def list_command(conn: Connection, out: Output, **options: Any) -> int:
    """List stored events, oldest first unless --order desc."""
    return run(_list(conn, ListQuery(**options), out))


async def _list(conn: Connection, query: ListQuery, out: Output) -> int:
    if query.empty_range:
        out.note("note: --since is not before --until, so no event can match (both exclusive)")
    async with conn.client() as client:
        await client.login()
        if out.json:
            shown = 0
            async for event in query.events(client):
                if shown == query.limit:
                    _note_limit(out, shown)
                    break
                out.emit(event_json(event))
                shown += 1
            if not shown:
                _note_unknown_names(out, query, await Names.load(client))
            return EXIT_OK
        names = await Names.load(client)
        table = EventTable(out.out, names, data=query.include_data)
        more = False
        async for event in query.events(client):
            if table.count + len(table.rows) == query.limit:
                more = True
                break
            table.add(event)
        table.flush()
    out.note(f"{table.count} event(s)")
    if not table.count:
        _note_unknown_names(out, query, names)
    if more:
        _note_limit(out, table.count)
    return EXIT_OK


def _note_unknown_names(out: Output, query: ListQuery, names: Names) -> None:
    """Nothing found, and a plain --source-name is no source's whole name (``Camera 2``):
    say so, with the names it may mean (a part needs ``contains:``)."""
    known = [shown_name(c) for c in names.cameras.values()] + [
        shown_name(t)
        for t in names.types.values()  # a user-defined event is its own source
    ]
    if not names.cameras:
        return  # the cameras cannot be read: no name can be checked
    folded = {name.casefold() for name in known}
    for condition in query.source_name:
        if condition.operator not in ("equals", "oneOf"):
            continue
        values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        for value in (str(v) for v in values):
            if value.casefold() in folded:
                continue
            guess = closest(value, known)
            maybe = f"; did you mean {' or '.join(map(repr, guess))}?" if guess else ""
            out.note(
                f"note: no source is named {value!r}{maybe} (--source-name is the whole name; "
                f"contains:{value} matches a part)"
            )


def _note_limit(out: Output, shown: int) -> None:
    out.note(f"note: showing {shown} of more; use --limit 0 for all (or --limit N)")


@click.command()
@click.argument("event_id")
@include_data_option("the event's")
@output_option
@connection_options
def get(conn: Connection, event_id: str, include_data: bool, out: Output) -> int:
    """Show one stored event by its id."""
    try:
        guid = uuid.UUID(event_id)
    except ValueError:
        raise click.BadParameter(f"{event_id!r} is not a GUID", param_hint="EVENT_ID") from None
    return run(_get(conn, guid, include_data, out))


async def _get(conn: Connection, event_id: uuid.UUID, include_data: bool, out: Output) -> int:
    async with conn.client() as client:
        event = await client.get_event(event_id, include_data=include_data)
        names = Names() if out.json else await Names.load(client)
    out.event(event, names)
    return EXIT_OK
