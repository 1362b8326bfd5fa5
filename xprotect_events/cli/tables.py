"""Event tables that never cut an id or a time: on a terminal, the text columns fold (wrap
inside their column), and when even folded they do not fit they are dropped (the tag first,
the id never); in a pipe, plain tab-separated lines with a header.

:func:`plan` decides the columns and their widths once, for a width; :class:`EventTable`
prints events in slices with that plan; :func:`change_line` is ``watch``'s one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

import attrs
import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import Event
from ..responses import shown_text
from .names import Names

#: Between two columns: one space of padding on each side, and the (blank) rule.
GAP = 3
#: A text column narrower than this is dropped rather than folded.
MIN_TEXT = 8


@attrs.frozen
class Column:
    """A column of an event table: its name, the width it would like, whether it is text
    that may fold (else it is shown whole: a time, an id) and when it goes (0: never)."""

    name: str
    natural: int
    folds: bool = True
    drop_rank: int = 0


TIME = Column("Time", 24, folds=False, drop_rank=5)
ID = Column("Id", 36, folds=False)
#: The columns of an event row, in the order of :func:`event_row`.
EVENT_COLUMNS = (
    TIME,
    Column("Type", 26, drop_rank=4),
    Column("Source", 28, drop_rank=2),
    Column("Tag", 16, drop_rank=1),
    ID,
)
DATA = Column("Data", 40, drop_rank=3)


def plan(columns: Sequence[Column], width: int) -> list[tuple[int, int]]:
    """The columns to show (their index) and each one's width, in ``width`` characters.

    Whole columns keep their natural width; text columns shrink (fold) down to
    :data:`MIN_TEXT`; if that is still too wide, columns are dropped by ``drop_rank``.
    """
    kept = list(range(len(columns)))

    def least(index: int) -> int:
        column = columns[index]
        return min(column.natural, _narrowest(column)) if column.folds else column.natural

    def needed(indices: Iterable[int], size: Callable[[int], int]) -> int:
        listed = list(indices)
        return sum(size(i) for i in listed) + GAP * max(len(listed) - 1, 0)

    droppable = sorted((c.drop_rank, i) for i, c in enumerate(columns) if c.drop_rank)
    while needed(kept, least) > width and droppable:
        kept.remove(droppable.pop(0)[1])
    widths = {i: columns[i].natural for i in kept}
    while needed(kept, widths.__getitem__) > width:
        text = [i for i in kept if columns[i].folds and widths[i] > _narrowest(columns[i])]
        if not text:
            break
        widest = max(text, key=lambda i: widths[i])
        widths[widest] -= 1
    return [(i, widths[i]) for i in kept]


def _narrowest(column: Column) -> int:
    """How narrow a text column may fold: :data:`MIN_TEXT`, or its header's longest word."""
    return max(MIN_TEXT, *(len(word) for word in column.name.split()))


def natural(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[Column]:
    """The columns with their natural width taken from ``rows`` (a text column: its
    longest cell or its header; a whole column keeps its own)."""
    out = []
    for i, column in enumerate(columns):
        if column.folds:
            longest = max((len(row[i]) for row in rows), default=0)
            column = attrs.evolve(column, natural=max(longest, len(column.name)))
        out.append(column)
    return out


def shown(text: str) -> str:
    """``text`` (from the server) safe to print, never cut: every control or other
    non-printable character (an escape sequence, a tab, a line break, a right-to-left
    override, a lone surrogate) as its escape (``\\x1b``, ``\\t``, ``\\u202e``)."""
    return shown_text(text, sys.maxsize)


def write_tsv(stream: TextIO, rows: Iterable[Sequence[str]]) -> None:
    """Tab-separated lines: a tab or line break inside a cell is escaped, as is every
    other non-printable character, so each row is one line of its columns."""
    stream.write("".join("\t".join(map(shown, row)) + "\n" for row in rows))


def data_text(event: Event) -> str:
    """An event's data as compact JSON ("" without data)."""
    return orjson.dumps(event.data).decode() if event.data is not None else ""


class EventTable:
    """Events as a table printed in slices: the header once, memory flat however many.

    On a terminal the layout is planned from the first slice and kept; elsewhere each
    event is one tab-separated line (the header first).
    """

    SLICE = 50

    def __init__(self, console: Console, names: Names, *, data: bool = False) -> None:
        self.console = console
        self.names = names
        self.columns = EVENT_COLUMNS + ((DATA,) if data else ())
        self.data = data
        self.rows: list[tuple[str, ...]] = []
        self.count = 0
        self.layout: list[tuple[int, int]] | None = None

    def add(self, event: Event) -> None:
        row = event_row(event, self.names)
        self.rows.append((*row, data_text(event)) if self.data else row)
        if len(self.rows) >= self.SLICE:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        if self.console.is_terminal:
            self._print_table()
        else:
            header = [tuple(c.name.lower() for c in self.columns)] if self.count == 0 else []
            write_tsv(sys.stdout, header + self.rows)
        self.count += len(self.rows)
        self.rows.clear()

    def _print_table(self) -> None:
        if self.layout is None:
            self.layout = plan(natural(self.columns, self.rows), self.console.width)
        self.console.print(
            planned_table(self.columns, self.rows, self.layout, header=self.count == 0)
        )


def planned_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[str]],
    layout: Sequence[tuple[int, int]],
    *,
    header: bool = True,
    style: Callable[[int, str], str] | None = None,
) -> Table:
    """The ``rows`` (plain text) as a table laid out by :func:`plan`: text columns fold,
    whole ones (a time, an id) are never cut. ``style`` gives a cell's rich style."""
    table = Table(box=box.SIMPLE_HEAD, show_header=header, show_edge=False, pad_edge=False)
    for index, width in layout:
        column = columns[index]
        table.add_column(column.name, width=width, overflow="fold", no_wrap=not column.folds)
    for row in rows:
        table.add_row(*(_cell(row[index], index, style) for index, _ in layout))
    return table


def _cell(text: str, index: int, style: Callable[[int, str], str] | None) -> Text:
    """A cell: the text as it is (no markup, no emoji codes), its non-printable
    characters escaped, in its style if it has one."""
    return Text(shown(text), style=style(index, text) if style is not None else "")


def print_planned(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    style: Callable[[int, str], str] | None = None,
) -> None:
    """``rows`` as one table sized to ``console`` (see :func:`plan`)."""
    layout = plan(natural(columns, rows), console.width)
    console.print(planned_table(columns, rows, layout, style=style))


def event_row(event: Event, names: Names) -> tuple[str, ...]:
    """Time, type, source, tag, id: an event's row (names where known)."""
    return (
        fmt_time(event.time),
        names.type_name(event.type),
        names.source_name(event.source),
        event.tag or "",
        str(event.id),
    )


def fmt_time(value: datetime) -> str:
    """``2024-05-01 12:00:00.123Z``: UTC, milliseconds; always four digits of year (``%Y``
    gives ``1-01-01`` for .NET's ``DateTime.MinValue``)."""
    v = value.astimezone(UTC)
    return f"{v.year:04d}-{v:%m-%d %H:%M:%S}.{v.microsecond // 1000:03d}Z"


def fitted(cell: str, width: int) -> str:
    """``cell`` in exactly ``width`` characters: padded, or cut with an ellipsis."""
    return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "…"


#: The mark of each kind of line ``watch`` prints ("state": ``watch --live --state``).
CHANGE_MARKS = {"new": "+ new", "deleted": "- deleted", "state": "= state"}
MARK_WIDTH = max(len(mark) for mark in CHANGE_MARKS.values())


def change_line(kind: str, row: Sequence[str], width: int) -> str:
    """``watch``'s one line for a change: a mark and the event's columns in ``width``
    (text columns cut with an ellipsis or dropped; the time and the id always whole)."""
    layout = plan(EVENT_COLUMNS, width - MARK_WIDTH - GAP)
    safe = [shown(cell) for cell in row]
    cells = [safe[i] if not EVENT_COLUMNS[i].folds else fitted(safe[i], w) for i, w in layout]
    mark = CHANGE_MARKS[kind]
    return f"{mark:<{MARK_WIDTH}} " + " " * (GAP - 2) + (" " * GAP).join(cells).rstrip()
