"""Secrets out of text the server sent, whatever its escaping. Pure.

A proxy's error page, a debug answer or a batch item's error text may echo what the
request carried (the bearer token, the password, the client secret). :func:`scrubbed`
takes every occurrence out of a text that is about to be shown (in an error message, a
repr, a log record, a batch item's reason), in any escaping and any mix of them: JSON
``\\uXXXX`` escapes (either case of hex, as .NET writes ``\\u002B`` for ``+``) and short
escapes, URL ``%XX`` (either case, ``+`` for a space), HTML references (``&#43;``,
``&#x2b;``, ``&amp;``), any letter case, escapes of escapes, and base64 (standard or
URL-safe, the secret alone or inside a longer encoded text). Secrets shorter than 4
characters are not hunted through every word.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"
#: The longest a secret's character can be once escaped (``&#x1F600;`` …): a text cut
#: in the middle of an escaped secret loses this many characters per secret character.
WIDEST_ESCAPE = 12

_SURROGATES = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_SHORT_ESCAPE = re.compile(r"\\([\"\\/])")
_HEX_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")  # JavaScript, Python bytes: \x2b\xc3\xb6


def _forms(secret: str) -> set[str]:
    """The usual escapings of a whole secret, found as they are (in any letter case)."""
    return {
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        html.escape(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(secret.encode()).decode("ascii"),
        *_base64_cores(secret.encode()),
    }


def _base64_cores(secret: bytes) -> set[str]:
    """The secret's base64 inside a longer base64 text (``Bearer <token>``, a JSON
    object …): at each of the three byte alignments, the characters that encode the
    secret's bytes alone, in both alphabets (standard and URL-safe). Cores shorter than
    8 characters (secrets under 6 bytes) are left out: too likely to match by chance."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + secret).decode("ascii")
        core = encoded[4 if shift else 0 : 4 * ((shift + len(secret)) // 3)]
        if len(core) >= 8:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    wanted = {form for s in secrets if len(s) >= 4 for form in _forms(s)}
    if not wanted:
        return None
    ordered = sorted(wanted, key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in ordered), re.IGNORECASE)


def _pair(match: re.Match[str]) -> str:
    high, low = int(match[1], 16), int(match[2], 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _bytes_of(match: re.Match[str]) -> str:
    """A run of ``\\xNN`` escapes as the text its bytes are: UTF-8, else Latin-1."""
    data = bytes.fromhex(match[0].replace("\\x", ""))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unescaped(text: str) -> str:
    """One level of every escape undone: JSON ``\\uXXXX`` (pairs too) and short escapes,
    ``\\xNN`` escapes (JavaScript, a bytes repr), HTML references, URL ``%XX`` (``+`` stays
    a plus)."""
    text = _SURROGATES.sub(_pair, text)
    text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    text = _SHORT_ESCAPE.sub(lambda m: m[1], text)
    text = _HEX_ESCAPES.sub(_bytes_of, text)
    return urllib.parse.unquote(html.unescape(text))


def scrubbed(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced by ``[redacted]``.

    The usual forms are replaced where they stand; any other escaping (or a mix, such as
    .NET's ``\\u002B`` for ``+`` alone) shows once escapes are undone, up to three levels
    deep: then the text is shown unescaped, with the secret replaced.
    """
    pattern = _pattern(tuple(secrets))
    if pattern is None or not text:
        return text
    text = reading = pattern.sub(REDACTED, text)
    for _ in range(3):
        if "%" not in reading and "&" not in reading and "\\" not in reading:
            break  # no escape left to undo (most texts: at once)
        deeper = _unescaped(reading)
        if deeper == reading:
            break
        reading = deeper
        if pattern.search(reading):
            text = reading = pattern.sub(REDACTED, reading)
    return text


def widest(secrets: Iterable[str]) -> int:
    """How many characters the widest escaped form of any of ``secrets`` can take."""
    return WIDEST_ESCAPE * max((len(s) for s in secrets), default=0)
