"""``Profile`` checks its fields when it is made (fresh-eyes audit of the client's options):
a wrong one is an InvalidInputError before anything is sent, never a raw TypeError at the
first request (``token_path=1``), a path that leaves the API (``api_path="http://…"``),
nor a CR/LF in a path that splits every error message naming the request."""

from __future__ import annotations

from typing import Any

import pytest

from xprotect_events import InvalidInputError
from xprotect_events.profile import Profile

BAD: dict[str, Any] = {
    "token_path": 1,
    "windows_token_path": None,
    "api_path": "http://elsewhere.example/api",
    "batch_path": "events/batch",
    "ws_path": "/ws\r\nX-Injected: 1",
    "grant_client_id": "",
    "max_page_size": "2000",
    "max_session_read": 0,
    "max_batch": True,
    "max_batch_bytes": -1,
    "ws_max_frame": 1.5,
    "trigger_rules": "no",
    "ws_auth": "cookie",
    "ws_heartbeat": -1,
    "ws_command_timeout": float("nan"),
}


@pytest.mark.parametrize("field", sorted(BAD))
def test_a_wrong_field_is_refused_when_the_profile_is_made(field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"Profile.{field}"):
        Profile(**{field: BAD[field]})


def test_the_defaults_and_the_documented_choices_are_taken() -> None:
    Profile()
    Profile(ws_auth="command", ws_heartbeat=None, token_path="/IDP/connect/token")
