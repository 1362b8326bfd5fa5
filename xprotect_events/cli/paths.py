"""Which paths a command may write: the checks, before anything is read or sent, that no
output of ``trigger-batch`` (the rejects file, the journal and its lock, stdout) is an
input by another name (a symbolic or hard link, another spelling, the file stdin comes
from), and that each can be written; :func:`is_stream` tells the outputs that are written
as they are (``-``, a device, a FIFO) from the regular files replaced whole.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Protocol

import click

#: The path of stdout, as the checks of distinct files resolve it.
STDOUT = "/dev/stdout"


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
    files = [("the input", args.file), *_ca_file(ca_bundle)]
    files.append(("the rejects file", STDOUT if rejects == "-" else rejects))
    if not is_stream(args.rejects_path):
        locked = lock_path(Path(os.path.realpath(rejects)))
        files.append(("the rejects file's lock", str(locked)))
    if args.journal is not None:
        locked = lock_path(Path(os.path.realpath(args.journal)))  # as Journal names it
        files += [("the journal", args.journal), ("the journal's lock", str(locked))]
    if is_regular_fd(1):  # `> FILE` or `>> FILE`: what is written there may not be an input
        files.append(("stdout", STDOUT))
    refuse_clashes(
        files,
        lambda name: "--rejects" if "rejects" in name else "--journal",
        stdin_is="-" if args.file == "-" else None,
    )
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
    files = [
        *_ca_file(ca_bundle),
        ("the checkpoint", path),
        ("the checkpoint's lock", str(lock_path(real))),
        ("the checkpoint's temp file", str(real.with_name(real.name + ".tmp"))),
    ]
    if is_regular_fd(1):
        files.append(("stdout", STDOUT))
    refuse_clashes(files, lambda _: "--checkpoint")


def _ca_file(ca_bundle: str | None) -> list[tuple[str, str]]:
    return [] if ca_bundle is None else [("the CA bundle (--ca-bundle)", ca_bundle)]


def refuse_clashes(
    files: Sequence[tuple[str, str]],
    option_of: Callable[[str], str],
    stdin_is: str | None = None,
) -> None:
    """A usage error naming the first two of ``files`` that are one file (:func:`clash`),
    given as the error of the option ``option_of`` the second's name; a path equal to
    ``stdin_is`` (``-``) is named as the file stdin comes from."""
    both = clash(files)
    if both is None:
        return
    first, second = both
    path = dict(files)[first]
    if stdin_is is not None and path == stdin_is:
        first = "the file stdin comes from"
    later = dict(files)[second]
    named = path if later == STDOUT else later
    raise click.BadParameter(
        f"{second} and {first} are the same file ({named}): one would "
        "destroy the other; give distinct paths",
        param_hint=option_of(second),
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
