"""The checkpoint lock across processes and through symlinks.

``checkpoints`` promises that a second opener "in this process or another" is refused, and
that "a symlinked ``<path>`` stands for the file it names (locked and replaced; the link
stays)". Here the openers are separate processes (not threads: ``flock`` locks are per
open file, and a process must be refused whichever name it opens the file by), and the
``watch --checkpoint`` command is held to the same rule over loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.running import admin_env, run_cli
from xprotect_events import CheckpointError, FileCheckpoint
from xprotect_events.cli import EXIT_USAGE
from xprotect_events.testing.simulator import Simulator

#: This checkout, first on the children's path (the venv may hold another one).
ROOT = Path(__file__).resolve().parents[2]

#: A child that opens the checkpoint at argv[1]: "hold" keeps it locked until its stdin
#: closes; "try" says whether it could lock it and exits.
CHILD = """
import sys
from xprotect_events import CheckpointError, FileCheckpoint
store = FileCheckpoint(sys.argv[1])
try:
    store.lock()
except CheckpointError as exc:
    print("refused:", exc, flush=True)
    sys.exit(0)
print("locked", flush=True)
if sys.argv[2] == "hold":
    sys.stdin.readline()
"""


def _child(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", CHILD, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _try(path: Path) -> str:
    child = _child(path, "try")
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0, out
    return out.strip()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A real checkpoint path, a relative symlink to it from another directory, and a
    symlink to that symlink."""
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    real = tmp_path / "real" / "state.json"
    alias = tmp_path / "links" / "alias.json"
    alias.symlink_to(Path("..") / "real" / "state.json")
    chain = tmp_path / "links" / "chain.json"
    chain.symlink_to("alias.json")
    return real, alias, chain


def test_a_process_opening_through_a_symlink_is_refused_as_by_the_real_path(
    files: tuple[Path, Path, Path],
) -> None:
    real, alias, chain = files
    with FileCheckpoint(real):  # the first process: this one, by the real path
        by_real, by_alias, by_chain = _try(real), _try(alias), _try(chain)
    for answer in (by_real, by_alias, by_chain):
        assert answer.startswith("refused:"), answer
        assert f"process {os.getpid()}" in answer
        assert "in use by another stream" in answer
    assert _try(alias) == "locked"  # released with the first opener
    assert alias.is_symlink()
    assert chain.is_symlink()


def test_a_process_holding_it_through_a_symlink_locks_the_real_file(
    files: tuple[Path, Path, Path],
) -> None:
    real, alias, chain = files
    holder = _child(chain, "hold")  # the first process holds it by a link to a link
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        assert _try(real).startswith("refused:")  # a second process, by the real path
        assert _try(alias).startswith("refused:")  # and by the other link
        for path in (real, alias):
            with pytest.raises(CheckpointError, match=f"process {holder.pid}"):
                FileCheckpoint(path).lock()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    with FileCheckpoint(real) as store:  # the lock went with the process
        assert store.load() is None
    assert sorted(p.name for p in real.parent.iterdir()) == ["state.json.lock"]  # it stays
    assert alias.is_symlink()


async def test_watch_through_a_symlink_to_a_checkpoint_in_use_exits_2(
    sim: Simulator, files: tuple[Path, Path, Path]
) -> None:
    """Exit code 2 for a locked ``--checkpoint``, whichever name it is given by."""
    real, alias, _ = files
    holder = _child(real, "hold")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        env = admin_env(sim, PYTHONPATH=str(ROOT))
        result = await run_cli("watch", "--checkpoint", str(alias), env=env)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert result.rc == EXIT_USAGE, result.err
    assert "in use by another stream" in result.err
    assert f"process {holder.pid}" in result.err
    assert sim.sessions_alive == 0
