"""Secrets out of text the server sent, whatever its escaping. Pure.

A proxy's error page, a debug answer or a batch item's error text may echo what the
request carried (the bearer token, the password, the client secret). :func:`scrubbed`
takes every occurrence out of a text that is about to be shown (in an error message, a
repr, a log record, a batch item's reason), in any escaping and any mix of them, each
character as it is or as a JSON ``\\uXXXX`` escape (any case of hex, as .NET writes
``\\u002B`` for ``+``), a JSON short escape, a URL ``%XX`` (either case, ``+`` for a
space), an HTML character reference (``&#43;``, ``&#x2b;``, ``&amp;``) and in any letter
case; then once more after one level of escapes is undone (an HTML-escaped URL-encoded
echo). Secrets shorter than 4 characters are not hunted through every word.
"""

from __future__ import annotations

import functools
import html
import html.entities
import re
import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"
#: The longest a secret's character can be once escaped (``&#x1F600;`` …): a text cut
#: in the middle of an escaped secret loses this many characters per secret character.
WIDEST_ESCAPE = 12

_JSON_SHORT = {'"': '\\\\"', "\\": "\\\\\\\\", "/": "\\\\/"}
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _forms(ch: str) -> str:
    """A regex for one character in every escaping."""
    code = ord(ch)
    forms = {re.escape(ch), "%" + "%".join(f"{b:02x}" for b in ch.encode())}
    forms.add(_json_escape(code))
    forms.add(f"&#0*{code};")
    forms.add(f"&#x0*{code:x};")
    name = html.entities.codepoint2name.get(code)
    if name is not None:
        forms.add(f"&{name};")
    if ch in _JSON_SHORT:
        forms.add(_JSON_SHORT[ch])
    if ch == " ":
        forms.add(r"\+")
    return "(?:" + "|".join(sorted(forms)) + ")"


def _json_escape(code: int) -> str:
    if code < 0x10000:
        return rf"\\u{code:04x}"
    high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
    return rf"\\u{high:04x}\\u{low:04x}"


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    wanted = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    if not wanted:
        return None
    return re.compile("|".join("".join(_forms(ch) for ch in s) for s in wanted), re.IGNORECASE)


def _unescaped(text: str) -> str:
    """One level of JSON, HTML and URL escapes undone (``+`` stays a plus)."""
    text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    return urllib.parse.unquote(html.unescape(text))


def scrubbed(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced by ``[redacted]``."""
    pattern = _pattern(tuple(secrets))
    if pattern is None or not text:
        return text
    text = pattern.sub(REDACTED, text)
    plain = _unescaped(text)
    if plain != text and pattern.search(plain):
        return pattern.sub(REDACTED, plain)
    return text


def widest(secrets: Iterable[str]) -> int:
    """How many characters the widest escaped form of any of ``secrets`` can take."""
    return WIDEST_ESCAPE * max((len(s) for s in secrets), default=0)
