"""Refresh tokens: the client renews by repeating its grant, never with a refresh token.

Why: the seed's ``GrantValidatorClient`` gets no refresh token [sample], the client holds
the password or secret anyway, and a one-time refresh token shared by concurrent renewals
is one more way to fail. An identity provider that answers one anyway (a profile that logs
in as ``VmsClient``, as Milestone's WebRTC sample does) has it dropped: it is kept nowhere,
so it shows nowhere.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

from tests.helpers import FAST_RETRY
from xprotect_events import XProtectClient, wire
from xprotect_events.profile import Profile
from xprotect_events.testing import SimClock, Simulator
from xprotect_events.testing import tokens as sim_tokens


async def test_a_refresh_token_answered_is_neither_used_nor_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issued: list[str] = []
    redeemed: list[str] = []
    original_issue, original_redeem = sim_tokens.Tokens.issue_refresh, sim_tokens.Tokens.redeem

    def issue_refresh(self: sim_tokens.Tokens, identity: Any, client_id: str) -> str:
        issued.append(original_issue(self, identity, client_id))
        return issued[-1]

    def redeem(self: sim_tokens.Tokens, token: str, client_id: str) -> Any:
        redeemed.append(token)
        return original_redeem(self, token, client_id)

    monkeypatch.setattr(sim_tokens.Tokens, "issue_refresh", issue_refresh)
    monkeypatch.setattr(sim_tokens.Tokens, "redeem", redeem)
    caplog.set_level(logging.DEBUG)
    async with (
        Simulator(clock=SimClock.frozen(), token_lifetime=600) as sim,
        XProtectClient(
            sim.url,
            username="admin",
            password="admin",
            retry=FAST_RETRY,
            clock=sim.clock.time,
            profile=Profile(grant_client_id="VmsClient"),
        ) as client,
    ):
        await client.list_cameras()
        sim.clock.advance(601)  # the token lapsed: renewal
        await client.list_cameras()
        shown = [repr(client), repr(client.core.tokens), caplog.text]
    assert len(issued) == 2  # both logins were password grants that answered one
    assert redeemed == []
    assert sim.stats.tokens_issued == 2
    for token in issued:
        assert all(token not in text for text in shown)


def test_the_token_model_keeps_no_refresh_token() -> None:
    secret = "refresh-" + "x" * 40
    body = {"access_token": "a" * 20, "expires_in": 60, "refresh_token": secret}
    token = wire.token_from_wire(body)
    assert secret not in repr(token)
    assert secret not in repr(attrs.asdict(token))
