"""The demo's live view shows names and tags as the rest of the CLI does: controls escaped
(a terminal title, a colour, a line break) and never read as rich markup."""

from __future__ import annotations

import io

from rich.console import Console

from xprotect_events.cli.demo import DemoView
from xprotect_events.cli.names import Names


def test_the_demo_view_escapes_controls_in_names() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    view = DemoView(console, Names(), total=1)
    view.per_type["\x1b]0;pwned\x07Door\r[bold]x"] = 1
    console.print(view)
    text = screen.getvalue()
    assert "\x1b]0" not in text
    assert "\x07" not in text
    assert "\r" not in text
    assert "\\x1b]0;pwned\\x07Door\\r[bold]x" in text
