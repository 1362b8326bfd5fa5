"""Which paths a command may write: the checks, before anything is read or sent, that no
output of ``trigger-batch`` (the rejects file, the journal and its lock, stdout and stderr
redirected to a file) is an input or another output by another name (a symbolic or hard
link, another spelling, the file stdin comes from), and that each can be written;
:func:`is_stream` tells the outputs that are written as they are (``-``, a device, a FIFO)
from the regular files replaced whole."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

import click

#: The paths of stdout and stderr, as the checks of distinct files resolve them.
STDOUT, STDERR = "/dev/stdout", "/dev/stderr"

#: The option (or stream) a clash is blamed on, by a word of the later file's name.
_BLAMED = (
    ("rejects", "--rejects"),
    ("journal", "--journal"),
    ("checkpoint", "--checkpoint"),
    ("stdout", "stdout"),
    ("stderr", "stderr"),
)


class BatchFiles(Protocol):
    """The files of one ``trigger-batch`` run (``trigger.BatchArgs``)."""

    @property
    def file(self) -> str: ...

    @property
    def journal(self) -> str | None: ...

    @property
    def rejects_path(self) -> Path: ...


def check_batch_files(args: BatchFiles, json_lines: bool, ca_bundle: str | None = None) -> None:
    """Usage errors before anything is read or sent: the input is readable, and the
    input, the CA bundle, the journal (and its lock) and the rejects file are distinct
    files in directories that can be written."""
    if args.journal is not None and args.file == "-":
        raise click.BadParameter(
            "a journal needs a FILE, not - (stdin): a rerun must read the same input",
            param_hint="--journal",
        )
    if args.file != "-":
        source = Path(args.file)
        if not source.exists():
            raise click.BadParameter(f"no such file: {args.file}", param_hint="FILE")
        if source.is_dir():
            raise click.BadParameter(f"{args.file} is a directory", param_hint="FILE")
        if args.journal is not None and not source.is_file():
            raise click.BadParameter(
                f"{args.file} is not a regular file: a journal needs a FILE that a rerun "
                "can read again",
                param_hint="FILE",
            )
    rejects = str(args.rejects_path)
    if json_lines and is_stdout(rejects):
        raise click.BadParameter(
            f"--rejects {rejects} and --json would both write stdout: give --rejects a FILE",
            param_hint="--rejects",
        )
    # Rejects on stdout (``-``, /dev/stdout) are stdout's: checked as where it is redirected.
    writes = [] if is_stdout(rejects) else [("the rejects file", rejects)]
    if not is_stream(args.rejects_path):
        locked = lock_path(Path(os.path.realpath(rejects)))
        writes.append(("the rejects file's lock", str(locked)))
    if args.journal is not None:
        locked = lock_path(Path(os.path.realpath(args.journal)))  # as Journal names it
        writes += [("the journal", args.journal), ("the journal's lock", str(locked))]
    reads = [("the input", args.file), *_ca_file(ca_bundle)]
    refuse_clashes(reads, writes + redirected(), stdin_is="-" if args.file == "-" else None)
    target = Path(os.path.realpath(args.rejects_path))  # a link's file is written
    why = None if is_stream(args.rejects_path) else unwritable(target)
    if why is not None:
        raise click.BadParameter(
            f"the rejects file cannot be written: {why}", param_hint="--rejects"
        )
    if args.journal is not None:
        why = unwritable(Path(args.journal), appends=True)
        if why is not None:
            raise click.BadParameter(
                f"the journal cannot be written: {why}", param_hint="--journal"
            )


def check_checkpoint(path: str | None, ca_bundle: str | None = None) -> None:
    """Usage errors before logging in: the checkpoint (``watch --checkpoint``) can be kept,
    and neither it nor its lock nor its temp file is the CA bundle or the file stdout is
    redirected to (``> pos.json``: the output would destroy the position, and a save the
    output)."""
    if path is None:
        return
    why = unwritable(Path(path), appends=True)
    if why is not None:
        raise click.BadParameter(f"the checkpoint cannot be kept: {why}", param_hint="--checkpoint")
    real = Path(os.path.realpath(path))  # as FileCheckpoint names its files
    writes = [
        ("the checkpoint", path),
        ("the checkpoint's lock", str(lock_path(real))),
        ("the checkpoint's temp file", str(real.with_name(real.name + ".tmp"))),
    ]
    refuse_clashes(_ca_file(ca_bundle), writes + redirected())


def _ca_file(ca_bundle: str | None) -> list[tuple[str, str]]:
    return [] if ca_bundle is None else [("the CA bundle (--ca-bundle)", ca_bundle)]


def redirected() -> list[tuple[str, str]]:
    """stdout and stderr where they are redirected to a regular file (``>> FILE``,
    ``2>> FILE``): what is written there may be no input nor other output."""
    streams = (("stdout", STDOUT, 1), ("stderr", STDERR, 2))
    return [(name, path) for name, path, fd in streams if is_regular_fd(fd)]


def refuse_clashes(
    reads: Sequence[tuple[str, str]],
    writes: Sequence[tuple[str, str]],
    stdin_is: str | None = None,
) -> None:
    """A usage error naming the first two files (``(name, path)``) that are one file
    (:func:`clash`) where one of them is written: each of ``reads`` against the
    ``writes``, and the writes among themselves, but stdout and stderr (``> log 2>&1`` is
    one file on purpose). Two reads may be one file. A path equal to ``stdin_is``
    (``-``) is named as the file stdin comes from."""
    streams = [w for w in writes if w[0] in ("stdout", "stderr")]
    files = [w for w in writes if w not in streams]
    groups = [[*files, stream] for stream in streams] or [files]
    for read in [*reads, None]:
        for group in groups:
            both = clash(group if read is None else [read, *group])
            if both is not None:
                _refuse(dict([*reads, *writes]), *both, stdin_is)


def _refuse(paths: dict[str, str], first: str, second: str, stdin_is: str | None) -> None:
    path = paths[first]
    if stdin_is is not None and path == stdin_is:
        first = "the file stdin comes from"
    later = paths[second]
    named = path if later in (STDOUT, STDERR) else later
    blamed = next((option for word, option in _BLAMED if word in second), "FILE")
    raise click.BadParameter(
        f"{second} and {first} are the same file ({named}): one would "
        "destroy the other; give distinct paths",
        param_hint=blamed,
    )


def lock_path(path: Path) -> Path:
    """The lock beside the file ``path`` (as :class:`~xprotect_events.journal.Journal`
    names its own)."""
    return path.with_name(path.name + ".lock")


def first_line_lacks(path: Path, marker: bytes) -> bool:
    """Whether ``path`` is a file that is not empty and whose first line does not hold
    ``marker`` (read a block at a time, to the first line's end only); False when it
    cannot be read."""
    tail = b""
    try:
        with path.open("rb") as f:
            while data := f.read(64 * 1024):
                line, ended, _ = (tail + data).partition(b"\n")
                if marker in line:
                    return False
                if ended:
                    return True
                tail = line[-len(marker) :]
    except OSError:  # none there, or unreadable (the run says so when it writes)
        return False
    return bool(tail)


def is_stdout(path: str) -> bool:
    """Whether ``path`` is ``-`` or names what stdout is open on (``/dev/stdout``,
    ``/proc/self/fd/1``, a link to the terminal or pipe it writes)."""
    try:
        return path == "-" or os.path.samestat(os.stat(path), os.fstat(1))
    except OSError:
        return False


def is_stream(path: Path) -> bool:
    """Whether an output ``path`` is ``-`` (stdout) or an existing file that is not a
    regular file (a device such as /dev/null or /dev/stdout, a FIFO), once resolved."""
    try:
        return str(path) == "-" or not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # not there yet: a new regular file


def is_regular(stream: IO[bytes]) -> bool:
    """Whether ``stream`` is a regular file (one that can be read to its end at once)."""
    try:
        return is_regular_fd(stream.fileno())
    except (ValueError, io.UnsupportedOperation):
        return False


def is_regular_fd(fd: int) -> bool:
    """Whether the descriptor ``fd`` is open on a regular file."""
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def clash(paths: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The names of the first two of ``paths`` (``(name, path)``; ``-`` is stdin) that are
    one file: the same path once resolved (symbolic links, ``..``, another spelling; the
    file need not exist yet), or the same existing file by any name (a hard link; for
    ``-``, the file stdin is redirected from)."""
    known = [(name, _identity(path)) for name, path in paths]
    for i, (name, (resolved, inode)) in enumerate(known):
        for other, (other_resolved, other_inode) in known[:i]:
            same_path = resolved is not None and resolved == other_resolved
            if same_path or (inode is not None and inode == other_inode):
                return other, name
    return None


def _identity(path: str) -> tuple[str | None, tuple[int, int] | None]:
    """The resolved path, and the inode of a regular file (a terminal that is both
    stdin and stdout is no clash: only a regular file can be destroyed)."""
    resolved = None if path == "-" else os.path.realpath(path)
    try:
        found = os.fstat(0) if path == "-" else os.stat(path)
    except OSError:
        return resolved, None
    if not stat.S_ISREG(found.st_mode):
        return resolved, None
    return resolved, (found.st_dev, found.st_ino)


def unwritable(path: Path, *, appends: bool = False) -> str | None:
    """Why ``path`` cannot be written (in place, or replaced by a file beside it), if so:
    its directory is missing, not a directory or not writable; with ``appends``, the
    file itself is not writable, or not a regular file (a journal or a checkpoint on a
    device or a FIFO: never read nor locked, no lock file made beside /dev/null)."""
    folder = path.parent
    if path.is_dir():
        return f"{path} is a directory"
    if appends and path.exists() and not path.is_file():
        return f"{path} is not a regular file"
    if not folder.exists():
        return f"no such directory: {folder}"
    if not folder.is_dir():
        return f"not a directory: {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in the directory {folder} (permission denied)"
    if appends and path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"cannot write {path} (permission denied)"
    return None
