"""What the server sends (tags, names, data, error texts) never reaches the terminal as
control characters or rich markup: every human-readable output escapes them, tab-separated
lines keep their columns, and JSON Lines stay byte for byte what the server sent.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio

from tests.cli.running import (
    CAMERA_1,
    PERSON,
    admin_env,
    run_cli,
    run_cli_tty,
)
from xprotect_events.cli import EXIT_OK, EXIT_USAGE
from xprotect_events.testing.simulator import Simulator

#: A tag a hostile user or server may choose: a window title (OSC 0), a hyperlink (OSC 8),
#: a colour, a carriage return and backspaces to forge the line, a right-to-left override,
#: NUL, a tab and a line break to break the columns, rich markup and an emoji code.
HOSTILE = (
    "a\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\\x1b[31mred"
    "\rforged\x08\x08\u202eevil\x00nul\ttab\nline [red]x[/red] [link=http://evil/]y :smile:"
)
#: Characters that must never be printed as they are.
RAW = ("\x1b", "\x07", "\r", "\x08", "\u202e", "\x00")


def _assert_safe(text: str) -> None:
    for char in RAW:
        assert char not in text, (char, text)
    assert "\\x1b" in text  # escaped, so the user sees what was sent


def _hostile_event(sim: Simulator) -> None:
    # a mapping: an EventTrigger refuses control characters in its tag before sending
    event = {"type": PERSON, "source": CAMERA_1, "tag": HOSTILE, "data": {"note": HOSTILE}}
    assert sim.store_events([event | {"datatype": "x"}]) == 1


async def test_list_and_get_escape_what_the_server_sent_in_a_pipe(sim: Simulator) -> None:
    _hostile_event(sim)
    env = admin_env(sim)
    listed, as_json = await asyncio.gather(
        run_cli("list", "--include-data", env=env), run_cli("list", "--json", env=env)
    )
    assert listed.rc == as_json.rc == EXIT_OK
    _assert_safe(listed.out)
    assert "\\x1b]0;pwned\\x07" in listed.out
    assert "\\u202eevil" in listed.out
    header, row = listed.out.splitlines()
    assert len(row.split("\t")) == len(header.split("\t"))  # the tab and newline escaped
    (record,) = as_json.json_lines()
    assert record["tag"] == HOSTILE  # JSON Lines: exact
    assert "\x1b" not in as_json.out  # orjson writes control characters as \u001b
    got = await run_cli("get", record["id"], "--include-data", env=env)
    _assert_safe(got.out)
    assert all(len(line.split("\t")) == 2 for line in got.out.splitlines())


async def test_tables_on_a_terminal_escape_controls_and_never_read_markup(
    sim: Simulator,
) -> None:
    _hostile_event(sim)
    env = admin_env(sim)
    listed = await run_cli_tty("list", "--include-data", env=env, columns=400)
    (event_id,) = [e["id"] for e in (await run_cli("list", "--json", env=env)).json_lines()]
    got = await run_cli_tty("get", event_id, "--include-data", env=env, columns=400)
    for result in (listed, got):
        assert result.rc == EXIT_OK
        _assert_safe(result.out)
        assert "[red]x[/red]" in result.out  # markup shown as written
        assert "[link=http://evil/]y" in result.out
        assert ":smile:" in result.out  # not an emoji


async def test_names_from_the_server_are_escaped_in_types_and_in_errors(
    sim: Simulator,
) -> None:
    sim.add_event_type(HOSTILE)
    env = admin_env(sim)
    piped, table, wrong = await asyncio.gather(
        run_cli("types", env=env),
        run_cli_tty("types", env=env, columns=400),
        run_cli("watch", "--type", "no such type", env=env),
    )
    assert piped.rc == table.rc == EXIT_OK
    _assert_safe(piped.out)
    _assert_safe(table.out)
    assert "[red]x[/red]" in table.out
    assert wrong.rc == EXIT_USAGE
    _assert_safe(wrong.err)  # the known names listed in the error line
    assert wrong.err.count("\n") == 1


async def test_watch_escapes_what_the_server_sent(sim: Simulator) -> None:
    _hostile_event(sim)
    env = admin_env(sim)
    line = await run_cli_tty(
        "watch", "--since", "-1h", "--include-data", env=env, columns=400, stop_after="+ new"
    )
    _assert_safe(line.out)
    assert "[red]x[/red]" in line.out
