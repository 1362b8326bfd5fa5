"""The wire details that are our chosen defaults rather than published facts, in one place.

WIRE.md marks each unpublished detail **[profile]**. A server that differs can be met by
passing ``XProtectClient(..., profile=Profile(...))`` with the values it uses.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .checks import boolean, int_in, plain_str, seconds
from .errors import InvalidInputError, shown


def _accuracy(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    seconds(f"Profile.{attribute.name}", value, 3600.0, zero=True)


def _path(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    """A path under the server URL: text that starts with ``/`` (no CR, LF or other
    control character: it names the request in every error)."""
    text = plain_str(value) if isinstance(value, str) else None
    if text is None or not text.startswith("/") or not text.isprintable():
        raise InvalidInputError(f"Profile.{attribute.name} must be a path /…, got {shown(value)}")


def _word(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    text = plain_str(value) if isinstance(value, str) else None
    if not text or not text.isprintable():
        raise InvalidInputError(f"Profile.{attribute.name} must be a text, got {shown(value)}")


def _count(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    int_in(f"Profile.{attribute.name}", value, 1)


def _flag(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    boolean(f"Profile.{attribute.name}", value)


def _ws_auth(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or plain_str(value) not in ("header", "command"):
        raise InvalidInputError(
            f"Profile.{attribute.name} must be 'header' or 'command', got {shown(value)}"
        )


def _wait(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None or attribute.name != "ws_heartbeat":
        seconds(f"Profile.{attribute.name}", value, 1e9)


@attrs.frozen(kw_only=True)
class Profile:
    """Paths and limits of the Events API as this library assumes them."""

    #: The Events API base path under the server URL [seed].
    api_path: str = attrs.field(default="/api/rest/v1", validator=_path)
    #: Token endpoint for basic users and service clients, via the API Gateway [sample].
    token_path: str = attrs.field(default="/API/IDP/connect/token", validator=_path)
    #: Token endpoint for Windows (NTLM) users: the IDP directly [sample].
    windows_token_path: str = attrs.field(default="/IDP/connect/token", validator=_path)
    #: ``client_id`` of the password and Windows grants [seed].
    grant_client_id: str = attrs.field(default="GrantValidatorClient", validator=_word)
    #: Batch trigger path under ``api_path`` [profile].
    batch_path: str = attrs.field(default="/events/batch", validator=_path)
    #: Most bodies one batch POST may carry [profile].
    max_batch: int = attrs.field(default=100, validator=_count)
    #: Most bytes one batch POST should carry (chunks are cut below it) [profile].
    max_batch_bytes: int = attrs.field(default=4 * 1024 * 1024, validator=_count)
    #: Largest ``size`` of a page of ``GET /events`` [profile].
    max_page_size: int = attrs.field(default=2000, validator=_count)
    #: Seconds a server may be off when it applies a ``time`` filter ("an accuracy of
    #: 10ms" [seed]): a listing's next page starts that much (and a microsecond) short of
    #: the last event's time, so that a bound the server rounds loses nothing (``listing``).
    time_filter_accuracy: float = attrs.field(default=0.01, validator=_accuracy)
    #: Largest ``maxSize`` of an event-session read [profile].
    max_session_read: int = attrs.field(default=2000, validator=_count)
    #: ``triggerRules`` query value sent with triggers [seed: legacy, true by default].
    trigger_rules: bool = attrs.field(default=True, validator=_flag)
    #: The Events and State WebSocket path under the server (or API Gateway) URL [doc].
    ws_path: str = attrs.field(default="/api/ws/events/v1", validator=_path)
    #: Where the WebSocket token goes: the upgrade's ``Authorization`` header, or an
    #: ``authenticate`` command as the first message (for servers behind a proxy that
    #: strips the header) [doc, sample].
    ws_auth: Literal["header", "command"] = attrs.field(default="header", validator=_ws_auth)
    #: Seconds between WebSocket pings [sample: the Go sample pings every minute].
    ws_heartbeat: float | None = attrs.field(default=60.0, validator=_wait)
    #: Largest WebSocket frame read; a getState answer of a large system is tens of MB [3p].
    ws_max_frame: int = attrs.field(default=256 * 1024 * 1024, validator=_count)
    #: Longest wait for a WebSocket command's answer; getState has taken two minutes [3p].
    ws_command_timeout: float = attrs.field(default=600.0, validator=_wait)
