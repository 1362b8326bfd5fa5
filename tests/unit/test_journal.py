"""The trigger-batch journal: durable blocks, torn last lines, and what a rerun does."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xprotect_events.checkpoints import FileLock
from xprotect_events.errors import CheckpointError, InvalidInputError
from xprotect_events.journal import (
    HEADER,
    Journal,
    JournalEntry,
    JournalState,
    line_hash,
    plan,
    read_journal,
)

T = datetime(2024, 5, 1, 12, tzinfo=UTC)
LINES = [(n, f'{{"type": "t", "tag": "job-{n}"}}') for n in range(1, 7)]
TEXT = dict(LINES)
EVENT = uuid.UUID(int=7)


def entry(line: int, outcome: str, **fields: object) -> JournalEntry:
    return JournalEntry.of(line, TEXT[line], outcome, **fields)  # type: ignore[arg-type]


def write_run(path: Path) -> None:
    """A run that sent lines 1-4 and died before the answers of 3 and 4 were journaled."""
    with Journal(path) as journal:
        assert journal.state.entries == {}
        journal.record([entry(n, "sent", sent_from=T) for n in (1, 2, 3, 4)])
        journal.record(
            [
                entry(1, "accepted", event_id=EVENT, sent_from=T, sent_until=T),
                entry(2, "rejected", reason="HTTP 400: bad source"),
                entry(3, "unknown", reason="timeout", sent_from=T, sent_until=T),
            ]
        )


def test_a_journal_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    state = read_journal(path)
    assert not state.torn
    assert state.entries[1] == entry(1, "accepted", event_id=EVENT, sent_from=T, sent_until=T)
    assert state.entries[2].reason == "HTTP 400: bad source"
    assert state.entries[4].outcome == "sent"  # the last entry of a line wins
    lines = path.read_bytes().splitlines()
    assert orjson.loads(lines[0]) == HEADER
    assert len(lines) == 1 + 4 + 3


def test_a_rerun_skips_answered_lines_reconciles_the_rest_and_sends_the_new(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    with Journal(path) as journal:
        result = plan(journal.state, LINES)
        opened_at = journal.state.opened_at
    assert result.skip == (1, 2)
    assert [e.line for e in result.reconcile] == [3, 4]
    assert result.reconcile[0].sent_until == T  # its answer's time
    assert opened_at is not None
    assert result.reconcile[1].sent_until == opened_at
    assert result.new == (5, 6)


def test_a_torn_last_line_is_left_out_and_cut_off_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"line": 5, "hash": "ab')  # died mid-write
    state = read_journal(path)
    assert state.torn
    assert sorted(state.entries) == [1, 2, 3, 4]
    with Journal(path) as journal:
        assert journal.state.torn
        journal.record([entry(5, "sent")])
    assert path.read_bytes() == whole + orjson.dumps(entry(5, "sent").to_doc()) + b"\n"
    assert read_journal(path).entries[5].outcome == "sent"


def test_a_complete_line_without_its_newline_counts_as_torn(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    whole = path.read_bytes()
    path.write_bytes(whole + orjson.dumps(entry(5, "accepted").to_doc()))
    state = read_journal(path)
    assert state.torn
    assert 5 not in state.entries  # its block never finished: as if never written


def test_a_torn_header_starts_the_journal_afresh(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"journal": "xprot')
    with Journal(path) as journal:
        assert journal.state.entries == {}
        journal.record([entry(1, "sent")])
    assert sorted(read_journal(path).entries) == [1]


def test_a_missing_journal_is_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.jsonl") == JournalState(entries={})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b'{"line": 1}\n', "not a trigger-batch journal"),
        (b'{"journal": "xprotect-events trigger-batch", "version": 2}\n', "version 2"),
        (orjson.dumps(HEADER) + b"\nnot json\n{}\n", "line 2 is not JSON"),
        (orjson.dumps(HEADER) + b'\n{"line": 1, "hash": "x", "outcome": "maybe"}\n', "outcome"),
        (orjson.dumps(HEADER) + b'\n{"line": 0, "hash": "x", "outcome": "sent"}\n', "line"),
        (orjson.dumps(HEADER) + b'\n{"line": 1, "hash": 5, "outcome": "sent"}\n', "'hash'"),
        (orjson.dumps(HEADER) + b"\n[1]\n", "expected a JSON object"),
        (
            orjson.dumps(HEADER) + b'\n{"line": 1, "hash": "x", "outcome": "sent",'
            b' "sent_from": "soon"}\n',
            "invalid ISO 8601",
        ),
    ],
)
def test_a_corrupt_journal_is_refused(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as caught:
        read_journal(path)
    assert caught.value.path == str(path)
    with pytest.raises(CheckpointError, match=match):
        Journal(path).open()
    lock = FileLock(path.with_name("j.jsonl.lock"), path)
    lock.acquire()  # the failed open released its lock
    lock.release()


def test_a_changed_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    changed = [(n, text.replace("job-3", "job-33")) for n, text in LINES]
    with pytest.raises(CheckpointError, match="line 3 is not the one journaled"):
        plan(read_journal(path), changed)


def test_a_shorter_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_run(path)
    with pytest.raises(CheckpointError, match="line 4 is in the journal but not in the input"):
        plan(read_journal(path), LINES[:3])


def test_two_runs_cannot_share_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path), pytest.raises(CheckpointError, match="in use by another stream"):
        Journal(path).open()


def test_record_before_open_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="open the journal first"):
        Journal(tmp_path / "j.jsonl").record([entry(1, "sent")])


def test_record_writes_each_block_with_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    with Journal(tmp_path / "j.jsonl") as journal:
        synced.clear()
        journal.record([entry(n, "sent") for n in TEXT])
        journal.record([])
    assert len(synced) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"line": 0, "hash": "x", "outcome": "sent"},
        {"line": True, "hash": "x", "outcome": "sent"},
        {"line": 1, "hash": "x", "outcome": "lost"},
    ],
)
def test_bad_entries_are_invalid_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        JournalEntry(**kwargs)  # type: ignore[arg-type]


@given(st.text(), st.text())
def test_line_hash_tells_lines_apart(a: str, b: str) -> None:
    assert (line_hash(a) == line_hash(b)) == (a == b)
    assert len(line_hash(a)) == 32
