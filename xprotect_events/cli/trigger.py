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

from .. import CheckpointError, EventTrigger, TriggerResult, XProtectError
from .batchfile import (
    REJECT_KEY,
    InputLine,
    InputReader,
    RejectsFile,
    count_lines,
    input_line,
    record_of,
    trigger_of,
)
from .connection import Connection, connection_options
from .journaling import BatchJournal, journal_options, open_journal
from .names import names_for
from .output import Output, OutputClosed, event_json, output_option, progress_bar
from .params import WHEN, batch_options, parse_json_object
from .paths import check_batch_files, first_line_lacks
from .runner import EXIT_NOT_ACCEPTED, EXIT_OK, EXIT_USAGE, run


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


#: The status of a line that a stopped run never sent (nor, maybe, read).
NOT_SENT = "not sent"


@attrs.define
class BatchRun:
    """One ``trigger-batch`` run: where each line stands, and where results go."""

    out: Output
    rejects: RejectsFile
    progress: Progress
    total: int | None
    reader: InputReader
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    not_sent: int = 0
    lines_read: int = 0
    #: Lines handed to the library and not yet answered: stream index → line.
    pending: dict[int, InputLine] = attrs.Factory(dict)
    #: ``--journal``: where each line's outcome is also kept.
    journal: BatchJournal | None = None

    @property
    def done(self) -> int:
        return self.accepted + self.rejected + self.unknown + self.not_sent

    def accept(self, number: int, result: TriggerResult | None) -> None:
        self.accepted += 1
        self.progress.advance(self.progress.task_ids[0])
        if self.out.json:
            event = event_json(result.event) if result and result.event is not None else None
            self.out.emit({"line": number, "status": "accepted", "event": event})

    def reject(self, line: InputLine, status: str, reason: str) -> None:
        """A line that did not land: counted, written to the rejects file, reported."""
        if status == "rejected":
            self.rejected += 1
        elif status == NOT_SENT:
            self.not_sent += 1
        else:
            self.unknown += 1
        self.progress.advance(self.progress.task_ids[0])
        self.rejects.write(record_of(line, status, reason))
        if self.journal is not None and status != NOT_SENT:  # never sent: no entry
            self.journal.outcome(line.number, line.journaled, status, reason)
        if self.out.json:
            self.out.emit({"line": line.number, "status": status, "reason": reason})

    def result(self, result: TriggerResult) -> None:
        line = self.pending.pop(result.index)
        if result.status == "accepted":
            self.accept(line.number, result)
            if self.journal is not None:
                self.journal.outcome(line.number, line.journaled, "accepted", None, result)
            return
        reason = result.reason or result.status
        if result.status == "unknown":
            reason = f"sent, no answer: it may have happened; check before resending ({reason})"
        self.reject(line, result.status, reason)

    def stopped(self, why: str) -> None:
        """The run stops early (``why``: interrupted, or an error): the lines in flight
        are unknown, and every line not read yet goes to the rejects file as not sent."""
        reason = "interrupted before its answer came: it may or may not have happened"
        for line in sorted(self.pending.values(), key=lambda line: line.number):
            self.reject(line, "unknown", reason)
        self.pending.clear()
        unread = f"not sent: the run was {why} before this line was sent"
        held = self.journal.held if self.journal is not None else ()
        for number, data in held:
            self.reject(input_line(number, data), NOT_SENT, unread)
        try:
            for number, data in self.reader.rest():
                self._unread(input_line(number, data), unread)
        except OSError as exc:
            self.out.note(f"error: the rest of the input could not be read: {exc.strerror}")
        if not self.reader.complete:
            self.out.note(
                f"stopped after line {self.reader.number} of a pipe: the lines after "
                f"it were NOT read and are NOT in the rejects file; send them again (from "
                f"line {self.reader.number + 1} on, e.g. with tail -n +{self.reader.number + 1})"
            )

    def _unread(self, line: InputLine, reason: str) -> None:
        known = self.journal.unread(line.number) if self.journal is not None else (NOT_SENT, None)
        if known is None:
            return  # the journal of an earlier run settled it; counted already
        status, why = known
        if status == "accepted":
            self.accept(line.number, None)
        else:
            self.reject(line, status, why or reason)

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
        more = f", {self.not_sent} not sent" if self.not_sent else ""
        if self.reader.blank:
            more += f", {self.reader.blank} blank (skipped)"
        self.out.note(
            f"{self.done + self.reader.blank} line(s): {self.accepted} accepted, "
            f"{self.rejected} rejected, {self.unknown} unknown{more} in {elapsed:.2f} s "
            f"({rate:.0f}/s)"
        )
        rejects = self.rejects
        if rejects.error is not None:
            self.out.note(
                f"error: cannot write the rejects file {rejects.name}: "
                f"{rejects.error.strerror or rejects.error}; the {rejects.count} line(s) not "
                "accepted are not saved there"
                + ("" if rejects.stream else " (an earlier rejects file there was removed)")
            )
        elif rejects.count:
            self.out.note(f"{rejects.count} not accepted: written with reasons to {rejects.name}")
            self._note_unknown()
        elif rejects.removed_stale:
            self.out.note(
                f"all accepted: removed the rejects file of an earlier run, {rejects.name}"
            )

    def _note_unknown(self) -> None:
        """What to do about lines that may have happened, before anyone resends them."""
        if not self.unknown:
            return
        if self.journal is not None:
            self.out.note(
                f"note: {self.unknown} unknown line(s) may have happened: run the same command "
                "again (with this --journal) to look them up and send only what is missing"
            )
            return
        self.out.note(
            f"note: {self.unknown} unknown line(s) were sent and no answer came, so they may "
            f"have happened: sending {self.rejects.name} again sends them again (check them "
            "first, or run with --journal FILE, which settles them on a rerun)"
        )

    @property
    def exit_code(self) -> int:
        if self.rejects.error is not None:
            return EXIT_USAGE
        return EXIT_OK if self.done == self.accepted else EXIT_NOT_ACCEPTED


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
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Default: FILE.rejects.jsonl (rejects.jsonl for stdin).",
)
@journal_options
@batch_options
@output_option
@connection_options
def trigger_batch(conn: Connection, out: Output, **options: Any) -> int:
    """Trigger the events of a JSON Lines FILE (or - for stdin), in concurrent batches.

    Each line is a trigger in wire form: {"type", "source", "time", "tag", "datatype",
    "data"} (a time with its offset: Z or +hh:mm); blank lines are skipped. Every line
    ends accepted, rejected, unknown (sent, no answer) or, when the run stops early (Ctrl-C,
    SIGTERM, an error), not sent. Each line not accepted goes to the rejects file with
    the reason under "_reject" and the line as read under "_reject.raw" (fix them and
    send that file again): the lines of a stopped run that were never read too (status
    "not sent"), except from a pipe, whose unread rest the summary names. The rejects
    file is written when the run ends and describes that run only: a run with nothing to
    reject removes an old one. It may not be the input, nor the journal, nor a file that
    is no rejects file, nor the rejects file of a run still going (it is locked while a
    run writes it). Exit code 1 when any
    line was not accepted.
    """
    args = BatchArgs(**options)
    check_batch_files(args, out.json, conn.ca_bundle)
    rejects = _locked_rejects(args.rejects_path)
    try:
        regular = args.file != "-" and Path(args.file).is_file()
        total = count_lines(Path(args.file)) if regular else None
        with click.open_file(args.file, "rb") as stream:
            return run(_trigger_batch(conn, args, rejects, stream, total, out))
    finally:
        rejects.unlock()


def _locked_rejects(path: Path) -> RejectsFile:
    """The run's rejects file, locked; a usage error if it is a file no run wrote (a run
    replaces or removes its rejects file) or another run holds it."""
    rejects = RejectsFile(path)
    if not rejects.stream and first_line_lacks(rejects.target, f'"{REJECT_KEY}"'.encode()):
        raise click.BadParameter(
            f'{rejects.name} is not a rejects file (its first line has no "{REJECT_KEY}"): '
            "a run replaces or removes its rejects file, so it would be lost; give "
            "another path",
            param_hint="--rejects",
        )
    try:
        rejects.lock()
    except CheckpointError as exc:
        raise click.BadParameter(str(exc), param_hint="--rejects") from None
    return rejects


async def _trigger_batch(
    conn: Connection,
    args: BatchArgs,
    rejects: RejectsFile,
    stream: IO[bytes],
    total: int | None,
    out: Output,
) -> int:
    progress = progress_bar(out.err)
    progress.add_task("triggering", total=total)
    reader = InputReader(stream)
    batch = BatchRun(
        out=out,
        rejects=rejects,
        progress=progress,
        total=total,
        reader=reader,
    )
    started = time.perf_counter()
    try:
        with open_journal(args.journal, args.chunk_size) as journal:
            batch.journal = journal
            try:
                with progress:
                    await _send_batch(conn, args, batch, reader.lines())
            except asyncio.CancelledError:
                batch.stopped("interrupted")
                raise
            except OutputClosed:  # `--json | head`: nobody reads the results any more
                out.note("stopped: the reader of stdout went away; sending no more lines")
                batch.stopped("stopped when its output was closed")
            except BaseException:
                batch.stopped("stopped by an error")
                raise
            finally:
                batch.rejects.close()
                batch.summary(time.perf_counter() - started)
                if journal is not None:
                    out.note(journal.summary())
    finally:
        reader.close()
    return batch.exit_code


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
