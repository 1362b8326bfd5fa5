"""The triggering commands: ``trigger`` (one event) and ``trigger-batch`` (a JSON Lines file)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import attrs
import click
from rich.progress import Progress

from .. import EventTrigger, TriggerResult, XProtectError
from ..jsonlines import read_lines
from .batchfile import (
    InputLine,
    RejectsFile,
    count_lines,
    input_line,
    record_of,
    same_file,
    trigger_of,
)
from .connection import Connection, connection_options
from .journaling import BatchJournal, journal_options, open_journal
from .names import names_for
from .output import Output, event_json, output_option, progress_bar
from .params import WHEN, batch_options, parse_json_object
from .runner import EXIT_NOT_ACCEPTED, EXIT_OK, run


def _data_object(text: str | None) -> dict[str, Any] | None:
    return parse_json_object(text, "--data")


@attrs.frozen(kw_only=True)
class TriggerArgs:
    """The options of ``trigger``."""

    type: str
    source: str | None
    tag: str | None
    datatype: str | None
    data: dict[str, Any] | None = attrs.field(converter=_data_object)
    time: datetime | None


@click.command()
@click.option("--type", required=True, help="Event type: GUID or name.")
@click.option("--source", help="GUID, cameras/GUID or a camera name (none: no source).")
@click.option("--tag", help="A tag for filtering and sorting.")
@click.option("--datatype", help="Kind of --data, e.g. analytics (none for user-defined).")
@click.option("--data", help="Event data as a JSON object.")
@click.option("--time", type=WHEN, help="When it happened (default: the server's now).")
@output_option
@connection_options
def trigger(conn: Connection, out: Output, **options: Any) -> int:
    """Trigger one event; shows the event as the server stored it."""
    return run(_trigger(conn, TriggerArgs(**options), out))


async def _trigger(conn: Connection, args: TriggerArgs, out: Output) -> int:
    async with conn.client() as client:
        await client.login()
        sources = [args.source] if args.source else []
        names = await names_for(client, out.json, [args.type], sources)
        made = EventTrigger(
            type=names.resolve_type(args.type),
            source=names.resolve_source(args.source) if args.source else None,
            time=args.time,
            tag=args.tag,
            datatype=args.datatype,
            data=args.data,
        )
        event = await client.trigger_event(made)
    out.event(event, names)
    return EXIT_OK


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
    #: Lines handed to the library and not yet answered: stream index → line.
    pending: dict[int, InputLine] = attrs.Factory(dict)
    #: ``--journal``: where each line's outcome is also kept.
    journal: BatchJournal | None = None

    @property
    def done(self) -> int:
        return self.accepted + self.rejected + self.unknown

    def accept(self, number: int, result: TriggerResult) -> None:
        self.accepted += 1
        self.progress.advance(self.progress.task_ids[0])
        if self.out.json:
            event = event_json(result.event) if result.event is not None else None
            self.out.emit({"line": number, "status": "accepted", "event": event})

    def reject(self, line: InputLine, status: str, reason: str) -> None:
        """A line that did not land: counted, written to the rejects file, reported."""
        if status == "rejected":
            self.rejected += 1
        else:
            self.unknown += 1
        self.progress.advance(self.progress.task_ids[0])
        self.rejects.write(record_of(line, status, reason))
        if self.journal is not None:
            self.journal.outcome(line.number, line.raw, status, reason)
        if self.out.json:
            self.out.emit({"line": line.number, "status": status, "reason": reason})

    def result(self, result: TriggerResult) -> None:
        line = self.pending.pop(result.index)
        if result.status == "accepted":
            self.accept(line.number, result)
            if self.journal is not None:
                self.journal.outcome(line.number, line.raw, "accepted", None, result)
            return
        reason = result.reason or result.status
        if result.status == "unknown":
            reason = f"sent, no answer: it may have happened; check before resending ({reason})"
        self.reject(line, result.status, reason)

    def interrupted(self) -> None:
        reason = "interrupted before its answer came: it may or may not have happened"
        for line in sorted(self.pending.values(), key=lambda line: line.number):
            self.reject(line, "unknown", reason)
        self.pending.clear()
        self.out.note(f"stopped after line {self.lines_read}: later lines were not read")

    async def triggers(
        self, lines: AsyncIterator[tuple[int, bytes]]
    ) -> AsyncIterator[EventTrigger]:
        """The valid triggers of ``lines``; invalid lines are rejected here, never sent."""
        index = 0
        async for number, data in lines:
            self.lines_read = number
            line = input_line(number, data)
            try:
                parsed = trigger_of(line)
            except XProtectError as exc:
                self.reject(line, "rejected", str(exc))
                continue
            self.pending[index] = line
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
    """The options of ``trigger-batch``."""

    file: str
    rejects: str | None
    chunk_size: int
    concurrency: int
    journal: str | None = None
    settle: float = 10.0

    @property
    def rejects_path(self) -> Path:
        default = "rejects.jsonl" if self.file == "-" else f"{self.file}.rejects.jsonl"
        return Path(self.rejects or default)


@click.command(name="trigger-batch", short_help="Trigger the events of a JSON Lines file.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--rejects", type=click.Path(dir_okay=False), help="Default: FILE.rejects.jsonl.")
@journal_options
@batch_options
@output_option
@connection_options
def trigger_batch(conn: Connection, out: Output, **options: Any) -> int:
    """Trigger the events of a JSON Lines FILE (or - for stdin), in concurrent batches.

    Each line is a trigger in wire form: {"type", "source", "time", "tag", "datatype",
    "data"} (a time with its offset: Z or +hh:mm). Lines not accepted go to the rejects
    file with the reason under "_reject" and the line as read under "_reject.raw" (fix
    them and send that file again); it is written when the run ends, and may not be the
    input itself. Exit code 1 when any line was not accepted.
    """
    args = BatchArgs(**options)
    if args.journal is not None and args.file == "-":
        raise click.BadParameter("a journal needs a FILE: a rerun must read the same input")
    if args.file != "-" and not Path(args.file).is_file():
        raise click.BadParameter(f"no such file: {args.file}", param_hint="FILE")
    if same_file(args.rejects_path, args.file):
        source = "stdin's file" if args.file == "-" else "the input file"
        raise click.BadParameter(
            f"{args.rejects_path} is {source}: it would be overwritten with the rejects; "
            "give another path with --rejects",
            param_hint="--rejects",
        )
    total = None if args.file == "-" else count_lines(Path(args.file))
    with click.open_file(args.file, "rb") as stream:
        return run(_trigger_batch(conn, args, stream, total, out))


async def _trigger_batch(
    conn: Connection, args: BatchArgs, stream: IO[bytes], total: int | None, out: Output
) -> int:
    progress = progress_bar(out.err)
    progress.add_task("triggering", total=total)
    batch = BatchRun(
        out=out, rejects=RejectsFile(args.rejects_path), progress=progress, total=total
    )
    started = time.perf_counter()
    with open_journal(args.journal, args.chunk_size) as journal:
        batch.journal = journal
        try:
            with progress:
                await _send_batch(conn, args, batch, read_lines(stream))
        except asyncio.CancelledError:
            batch.interrupted()
            raise
        finally:
            batch.rejects.close()
            batch.summary(time.perf_counter() - started)
            if journal is not None:
                out.note(journal.summary())
    return EXIT_OK if batch.done == batch.accepted else EXIT_NOT_ACCEPTED


async def _send_batch(
    conn: Connection, args: BatchArgs, batch: BatchRun, lines: AsyncIterator[tuple[int, bytes]]
) -> None:
    async with conn.client() as client:
        await client.login()
        if batch.journal is not None:
            await batch.journal.prepare(client, Path(args.file), batch, args.settle)
            lines = batch.journal.lines(lines)
        results = client.stream_trigger(
            batch.triggers(lines), chunk_size=args.chunk_size, concurrency=args.concurrency
        )
        async for result in results:
            batch.result(result)
