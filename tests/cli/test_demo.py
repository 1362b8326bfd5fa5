"""The demo command.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

from tests.cli.running import clean_env, run_cli
from xprotect_events.cli import EXIT_OK


async def test_demo_runs_to_a_summary_and_exits_0() -> None:
    result = await run_cli("demo", env=clean_env(), timeout=60)
    assert result.rc == EXIT_OK, result.err
    assert "demo finished: 3000 of 3000 events accepted, 3000 received" in result.out
    assert "summary" in result.out
    assert "contains 'Entrance': 750" in result.out
