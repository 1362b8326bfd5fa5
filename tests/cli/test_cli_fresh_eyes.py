"""A new user's first contact, through the real entry point: what a fresh pair of eyes
found wrong (tables that hid names or cut ids, a closed pipe that exited 1, error lines
that read differently for the same mistake, hints that named the wrong thing)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.cli.running import (
    CAMERA_1,
    admin_env,
    cli_path,
    run_cli,
    run_cli_tty,
    store,
)
from xprotect_events.cli import EXIT_OK
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("columns", [80, 100, 120])
async def test_types_on_a_terminal_show_every_name_and_whole_ids(
    sim: Simulator, columns: int
) -> None:
    listed = await run_cli("types", "--json", env=admin_env(sim))
    expected = {t["id"]: t["displayName"] or t["name"] for t in listed.json_lines()}
    shown = await run_cli_tty("types", env=admin_env(sim), columns=columns)
    assert shown.rc == EXIT_OK, shown.err
    rows = [line for line in shown.out.splitlines() if GUID.search(line)]
    assert {GUID.search(line).group() for line in rows} == set(expected)  # type: ignore[union-attr]
    for name in expected.values():  # a name may fold onto the next lines, never vanish
        assert name.split()[0][:8] in shown.out, (name, shown.out)
    assert "…" not in shown.out
    assert max(len(line.rstrip()) for line in shown.out.splitlines()) <= columns


async def test_types_on_a_narrow_terminal_keep_the_ids_whole(sim: Simulator) -> None:
    listed = await run_cli("types", "--json", env=admin_env(sim))
    shown = await run_cli_tty("types", env=admin_env(sim), columns=40)
    assert shown.rc == EXIT_OK, shown.err
    assert set(GUID.findall(shown.out)) == {t["id"] for t in listed.json_lines()}
    assert "…" not in shown.out


async def test_get_on_a_narrow_terminal_never_cuts_the_event_id(sim: Simulator) -> None:
    store(sim, EventTrigger(type=seed.ANALYTICS_EVENT, source=CAMERA_1, tag="t"))
    (event,) = (await run_cli("list", "--json", env=admin_env(sim))).json_lines()
    shown = await run_cli_tty("get", event["id"], env=admin_env(sim), columns=40)
    assert shown.rc == EXIT_OK, shown.err
    assert "…" not in shown.out
    assert event["id"] in "".join(shown.out.split()), shown.out


def test_demo_into_a_closed_pipe_exits_0_in_silence() -> None:
    """``demo | head -1``: the reader went away; that is no failed trigger (exit 1)."""
    piped = _closed_pipe_run(["demo", "--events", "20"])
    assert piped.returncode == EXIT_OK, piped.stderr
    assert "Traceback" not in piped.stderr


def _closed_pipe_run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader closes it after the first line."""
    proc = subprocess.Popen(  # noqa: S603 (our own console script)
        [cli_path(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    return subprocess.CompletedProcess(args, proc.wait(timeout=60), "", err)
