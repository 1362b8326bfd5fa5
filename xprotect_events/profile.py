"""The wire details that are our chosen defaults rather than published facts, in one place.

WIRE.md marks each unpublished detail **[profile]**. A server that differs can be met by
passing ``XProtectClient(..., profile=Profile(...))`` with the values it uses.
"""

from __future__ import annotations

from typing import Literal

import attrs

from .checks import seconds


def _accuracy(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    seconds(f"Profile.{attribute.name}", value, 3600.0, zero=True)


@attrs.frozen(kw_only=True)
class Profile:
    """Paths and limits of the Events API as this library assumes them."""

    #: The Events API base path under the server URL [seed].
    api_path: str = "/api/rest/v1"
    #: Token endpoint for basic users and service clients, via the API Gateway [sample].
    token_path: str = "/API/IDP/connect/token"
    #: Token endpoint for Windows (NTLM) users: the IDP directly [sample].
    windows_token_path: str = "/IDP/connect/token"
    #: ``client_id`` of the password and Windows grants [seed].
    grant_client_id: str = "GrantValidatorClient"
    #: Batch trigger path under ``api_path`` [profile].
    batch_path: str = "/events/batch"
    #: Most bodies one batch POST may carry [profile].
    max_batch: int = 100
    #: Most bytes one batch POST should carry (chunks are cut below it) [profile].
    max_batch_bytes: int = 4 * 1024 * 1024
    #: Largest ``size`` of a page of ``GET /events`` [profile].
    max_page_size: int = 2000
    #: Seconds a server may be off when it applies a ``time`` filter ("an accuracy of
    #: 10ms" [seed]): a listing's next page starts that much (and a microsecond) short of
    #: the last event's time, so that a bound the server rounds loses nothing (``listing``).
    time_filter_accuracy: float = attrs.field(default=0.01, validator=_accuracy)
    #: Largest ``maxSize`` of an event-session read [profile].
    max_session_read: int = 2000
    #: ``triggerRules`` query value sent with triggers [seed: legacy, true by default].
    trigger_rules: bool = True
    #: The Events and State WebSocket path under the server (or API Gateway) URL [doc].
    ws_path: str = "/api/ws/events/v1"
    #: Where the WebSocket token goes: the upgrade's ``Authorization`` header, or an
    #: ``authenticate`` command as the first message (for servers behind a proxy that
    #: strips the header) [doc, sample].
    ws_auth: Literal["header", "command"] = "header"
    #: Seconds between WebSocket pings [sample: the Go sample pings every minute].
    ws_heartbeat: float | None = 60.0
    #: Largest WebSocket frame read; a getState answer of a large system is tens of MB [3p].
    ws_max_frame: int = 256 * 1024 * 1024
    #: Longest wait for a WebSocket command's answer; getState has taken two minutes [3p].
    ws_command_timeout: float = 600.0
