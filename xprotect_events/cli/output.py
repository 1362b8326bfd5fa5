"""Where results go and how they look: rich tables on a terminal, JSON Lines with ``--json``,
notes on stderr, progress bars."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import click
import orjson
from rich import box
from rich.console import Console, Group, RenderableType
from rich.json import JSON
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

from .. import Event
from ..wire import event_to_wire
from .names import Names


def make_console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # plain output (a pipe, a file): do not cut GUIDs
    return console


class Output:
    """Where results go: rich on a terminal, JSON Lines with ``--json``; notes on stderr."""

    def __init__(self, json_lines: bool = False) -> None:
        self.json = json_lines
        self.out = make_console(stderr=False)
        self.err = make_console(stderr=True)

    def emit(self, obj: Mapping[str, Any], *, flush: bool = False) -> None:
        """One JSON Lines record on stdout."""
        sys.stdout.write(orjson.dumps(obj).decode() + "\n")
        if flush:
            sys.stdout.flush()

    def note(self, text: str) -> None:
        """A plain line on stderr (status, summaries): never mixed into stdout's data."""
        click.echo(text, err=True)

    def event(self, event: Event, names: Names) -> None:
        """One event: its wire form with ``--json``, else its details."""
        if self.json:
            self.emit(event_json(event))
        else:
            self.out.print(event_details(event, names))


def output_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json``; the command receives an :class:`Output` as its ``out`` argument."""

    @functools.wraps(fn)
    def wrapper(*, json_lines: bool, **kwargs: Any) -> Any:
        return fn(out=Output(json_lines), **kwargs)

    return click.option(
        "--json",
        "json_lines",
        is_flag=True,
        help="JSON Lines on stdout (one object per line, wire field names) for jq.",
    )(wrapper)


def fmt_time(value: datetime) -> str:
    """``2024-05-01 12:00:00.123Z``: UTC, milliseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def event_json(event: Event) -> dict[str, Any]:
    return event_to_wire(event)


def event_row(event: Event, names: Names) -> tuple[str, ...]:
    """Time, type, source, tag, id: an event's row (names where known)."""
    return (
        fmt_time(event.time),
        names.type_name(event.type),
        names.source_name(event.source),
        event.tag or "",
        str(event.id),
    )


def data_text(event: Event) -> str:
    """An event's data as compact JSON ("" without data)."""
    return orjson.dumps(event.data).decode() if event.data is not None else ""


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
        row = event_row(event, self.names)
        if self.data:
            row += (data_text(event),)
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


def record_table(record: Mapping[str, Any]) -> Table:
    """A record as a two-column table of keys and values."""
    table = Table(box=box.SIMPLE, show_header=False)
    for key, value in record.items():
        table.add_row(key, escape(str(value)))
    return table


def progress_bar(console: Console) -> Progress:
    """A progress bar on ``console``, off when it is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
