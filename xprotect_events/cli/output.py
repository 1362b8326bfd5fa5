"""Where results go and how they look: rich tables on a terminal, JSON Lines with ``--json``,
notes on stderr, progress bars."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
import orjson
from rich import box
from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .. import Event
from ..wire import event_to_wire
from .names import Names
from .runner import silence_stdout
from .tables import data_text, fmt_time, shown, write_tsv


class _Console(Console):
    """A console whose closed pipe (``| head -1``) is the command's to handle (exit 0 in
    silence, :func:`~xprotect_events.cli.runner.run`), not rich's ``SystemExit(1)``, which
    is the exit code of triggers that were not accepted."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def make_console(stderr: bool) -> Console:
    console = _Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # plain output (a pipe, a file): do not cut GUIDs
    return console


class OutputClosed(BrokenPipeError):
    """The reader of stdout went away (``| head``): nothing more is written there."""


class Output:
    """Where results go: rich on a terminal, JSON Lines with ``--json``; notes on stderr."""

    def __init__(self, json_lines: bool = False) -> None:
        self.json = json_lines
        self.out = make_console(stderr=False)
        self.err = make_console(stderr=True)
        #: Whether stdout's reader went away; then :meth:`emit` writes nothing.
        self.closed = False

    def emit(self, obj: Mapping[str, Any], *, flush: bool = False) -> None:
        """One JSON Lines record on stdout; :class:`OutputClosed` when its reader went
        away, and nothing more after that."""
        if self.closed:
            return
        try:
            sys.stdout.write(orjson.dumps(obj).decode() + "\n")
            if flush:
                sys.stdout.flush()
        except BrokenPipeError:
            self.closed = True
            silence_stdout()
            raise OutputClosed from None

    @property
    def plain(self) -> bool:
        """Whether tables go out as tab-separated lines (stdout is not a terminal)."""
        return not self.json and not self.out.is_terminal

    def rows(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Tab-separated lines on stdout: the header, then the rows."""
        write_tsv(sys.stdout, [header, *rows])

    def record(self, record: Mapping[str, Any]) -> None:
        """A record: a JSON line, ``key<TAB>value`` lines in a pipe, or a two-column table."""
        if self.json:
            self.emit(record)
        elif self.plain:
            write_tsv(sys.stdout, [(key, str(value)) for key, value in record.items()])
        else:
            self.out.print(record_table(record))

    def note(self, text: str) -> None:
        """A plain line on stderr (status, summaries): never mixed into stdout's data; what
        the server said in it (names, reasons) cannot write control characters."""
        click.echo(shown(text), err=True)

    def event(self, event: Event, names: Names) -> None:
        """One event: its wire form with ``--json``, else its details."""
        if self.json:
            self.emit(event_json(event))
        elif self.plain:
            data = {"data": data_text(event)} if event.data is not None else {}
            self.record(event_record(event, names) | data)
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


def event_json(event: Event) -> dict[str, Any]:
    return event_to_wire(event)


def event_record(event: Event, names: Names) -> dict[str, str]:
    """An event's fields as shown (names beside GUIDs); its data as compact JSON."""
    record = {
        "id": str(event.id),
        "time": fmt_time(event.time),
        "type": f"{names.type_name(event.type)} ({event.type})",
        "source": f"{names.source_name(event.source)} ({event.source})",
        "tag": event.tag or "-",
        "datatype": event.datatype or "-",
    }
    record.update((key, orjson.dumps(value).decode()) for key, value in event.extra.items())
    return record


def event_details(event: Event, names: Names) -> RenderableType:
    table = record_table(event_record(event, names))
    if event.data is None:
        return table
    text = orjson.dumps(event.data).decode()
    return Group(table, JSON(text, ensure_ascii=not text.isprintable()))


def record_table(record: Mapping[str, Any]) -> Table:
    """A record as a two-column table of keys and values."""
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")  # an id wraps on a narrow terminal, never cut
    for key, value in record.items():
        table.add_row(Text(shown(key)), Text(shown(str(value))))
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
