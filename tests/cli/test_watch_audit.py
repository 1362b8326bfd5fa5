"""``watch`` as a demanding user runs it: bad options refused before anything is sent,
and a reader that goes away (``| head``) counted and checkpointed for what it got.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

from tests.cli.running import admin_env, run_cli
from xprotect_events.cli import EXIT_USAGE
from xprotect_events.testing.simulator import Simulator

NOT_UTF8 = b"\xff".decode("utf-8", "surrogateescape")  # as the shell passes the byte


async def test_watch_refuses_a_bad_source_name_before_anything_is_sent(sim: Simulator) -> None:
    result = await run_cli("watch", "--source-name", NOT_UTF8, env=admin_env(sim))
    assert result.rc == EXIT_USAGE
    assert result.err.count("\n") == 1, result.err
    assert "--source-name" in result.err
    assert sim.stats.token_requests == 0
    assert sum(sim.stats.requests.values()) == 0
