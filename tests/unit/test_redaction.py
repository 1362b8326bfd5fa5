"""Redaction after decoding (issue 12): one function takes a secret out of any text, in any
escaping or mix of them, and the error-body parser never cuts one in half."""

from __future__ import annotations

import html
import json
import urllib.parse

import pytest

from tests.hostile import FORMS, leaks
from xprotect_events.errors import ErrorDetail
from xprotect_events.redaction import REDACTED, scrubbed
from xprotect_events.responses import (
    SNIPPET_WINDOW,
    ErrorBody,
    error_of,
    parse_error_body,
    redacted,
)

SECRET = "Pa+ss&w\u00f6rd=\u00e9/\"<x>'\\ " + "0123456789abcdef" * 2
SECRETS = {"the secret": SECRET}


def mixed(secret: str) -> str:
    """Every character in another escaping, in turn."""
    out = []
    for i, ch in enumerate(secret):
        kind = i % 5
        if kind == 1:
            out.append(urllib.parse.quote(ch, safe=""))
        elif kind == 2:
            out.append(f"&#x{ord(ch):X};")
        elif kind == 3:
            out.append(json.dumps(ch)[1:-1])
        else:
            out.append(ch.upper())
    return "".join(out)


ECHOES = {
    **FORMS,
    "a mix of escapes": lambda s: mixed(s).encode(),
    "html-escaped url-encoded": lambda s: html.escape(urllib.parse.quote(s)).encode(),
    "decimal references": lambda s: "".join(f"&#{ord(c)};" for c in s).encode(),
    "json short escapes": lambda s: json.dumps(s, ensure_ascii=False)[1:-1].encode(),
}


@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_a_secret_in_any_escaping_is_taken_out(echo: str) -> None:
    text = "before " + ECHOES[echo](SECRET).decode() + " after"
    out = scrubbed(text, [SECRET])
    assert leaks(out, SECRETS) == [], out
    assert out.startswith("before ")
    assert out.endswith(" after")
    assert REDACTED in out


def test_a_character_beyond_the_bmp_as_a_json_surrogate_pair() -> None:
    secret = "smile\U0001f600" + "0123456789abcdef" * 2
    out = scrubbed("echo " + json.dumps(secret) + " end", [secret])
    assert out == f'echo "{REDACTED}" end'


def test_text_without_secrets_is_left_as_it_is() -> None:
    text = "HTTP 400: the tag &amp; the type %2B are wrong \\u0041"
    assert scrubbed(text, [SECRET]) == text
    assert scrubbed(text, []) == text
    assert scrubbed("a short one: abc", ["abc"]) == "a short one: abc"  # < 4: not hunted


def test_every_text_of_an_error_body_is_redacted() -> None:
    detail = ErrorDetail(error_text=SECRET, error_text_id=SECRET.upper(), property_name=SECRET)
    parsed = ErrorBody(details=(detail,), error=SECRET, error_description=SECRET, snippet=SECRET)
    out = redacted(parsed, [SECRET])
    assert leaks(repr(out), SECRETS) == []


def test_a_batch_item_error_is_parsed_and_redacted_in_one_call() -> None:
    item = {"error": {"httpCode": 400, "details": [{"errorText": f"token {SECRET}"}]}}
    parsed = error_of(item, [SECRET])
    assert parsed.http_code == 400
    assert parsed.details[0].error_text == f"token {REDACTED}"


@pytest.mark.parametrize("shift", range(0, 200, 7))
def test_a_snippet_window_never_cuts_a_secret_in_half(shift: int) -> None:
    """A secret across the end of the window would leave its start; the cut end goes."""
    echoed = urllib.parse.quote(SECRET, safe="")
    page = "<p>" + "x" * (SNIPPET_WINDOW - shift - 3) + echoed + "</p>" + "y" * 10_000
    parsed = parse_error_body(page.encode(), (SECRET,))
    shown = redacted(parsed, [SECRET]).snippet or ""
    assert SECRET[:4].lower() not in urllib.parse.unquote(shown).lower()
    assert len(shown) <= 200
