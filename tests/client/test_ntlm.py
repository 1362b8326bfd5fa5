"""Windows (NTLM) login against the simulator's real NTLM acceptor, over loopback HTTP(S)."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import spnego
from aiohttp import web
from requests_ntlm import HttpNtlmAuth

from tests.helpers import FAST_RETRY
from xprotect_events import AuthenticationError, EventTrigger, XProtectClient
from xprotect_events.errors import (
    ConfigurationError,
    ForbiddenError,
    ProtocolError,
    RequestTimeoutError,
    TLSError,
)
from xprotect_events.ntlm import MISSING_EXTRA, WindowsCredentials
from xprotect_events.policy import RetryPolicy
from xprotect_events.testing import Fault, SimClock, Simulator, SimUser, seed
from xprotect_events.testing.idp import challenge_windows
from xprotect_events.testing.ntlm_acceptor import NtlmAcceptor, claimed_names, principal

TOKEN_ROUTE = "POST /IDP/connect/token"
WINDOWS_USER, WINDOWS_PASSWORD = seed.WINDOWS_USER, seed.WINDOWS_PASSWORD
CAMERA_1, CAMERA_3 = (f"cameras/{seed.CAMERA_IDS[i]}" for i in (0, 2))
Hook = Callable[[web.Request, Any], Awaitable["str | web.StreamResponse"]]


def acceptor_of(sim: Simulator) -> NtlmAcceptor:
    acceptor = sim.windows_auth
    assert isinstance(acceptor, NtlmAcceptor)
    return acceptor


def windows_client(
    sim: Simulator,
    username: str = WINDOWS_USER,
    password: str = WINDOWS_PASSWORD,
    **kw: Any,
) -> XProtectClient:
    options: dict[str, Any] = {"retry": FAST_RETRY, "clock": sim.clock.time}
    options.update(kw)
    return XProtectClient(sim.url, username=username, password=password, windows=True, **options)


def spy(hook: Hook, seen: list[tuple[Any, str]]) -> Hook:
    """A hook that records (peer address, Authorization scheme) of each leg, then delegates."""

    async def recording(request: web.Request, form: Any) -> str | web.StreamResponse:
        scheme = request.headers.get("Authorization", "").partition(" ")[0]
        assert request.transport is not None
        seen.append((request.transport.get_extra_info("peername"), scheme))
        return await hook(request, form)

    return recording


# --------------------------------------------------------------------------- login and use


@pytest.mark.parametrize("username", [WINDOWS_USER, "winuser@contoso.com", "contoso\\WINUSER"])
async def test_windows_user_logs_in_triggers_and_lists(username: str) -> None:
    async with Simulator(clock=SimClock()) as sim, windows_client(sim, username) as client:
        sim.store_events([{"type": seed.ANALYTICS_EVENT, "source": CAMERA_3}])  # not its camera
        assert not client.is_service
        event = await client.trigger_event(
            EventTrigger(type=seed.USER_DEFINED_EVENT, source=CAMERA_1)
        )
        listed = [e async for e in client.list_events()]
        assert [e.id for e in listed] == [event.id]  # camera 3 is not visible to this user
        with pytest.raises(ForbiddenError):  # a user token may not trigger generic events
            await client.trigger_event(EventTrigger(type=seed.GENERIC_EVENT, source=CAMERA_1))
        acceptor = acceptor_of(sim)
        assert (acceptor.handshakes, acceptor.logins, acceptor.failures) == (1, 1, 0)
        assert sim.stats.tokens_issued == 1


async def test_the_handshake_stays_on_one_connection(sim: Simulator) -> None:
    seen: list[tuple[Any, str]] = []
    sim.windows_auth = spy(sim.windows_auth, seen)
    async with windows_client(sim) as client:
        await client.login()
        await client.login()  # the token is reused: no second handshake
    assert len(seen) == 2
    (peer1, scheme1), (peer2, scheme2) = seen
    assert peer1 == peer2  # same client port: the same TCP connection
    assert scheme1 == scheme2 == "NTLM"


async def test_authenticate_on_another_connection_is_refused(sim: Simulator) -> None:
    url = sim.url + "/IDP/connect/token"
    form = {"grant_type": "windows_credentials", "client_id": "GrantValidatorClient"}
    context = spnego.client(WINDOWS_USER, WINDOWS_PASSWORD, protocol="ntlm")
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
        negotiate = base64.b64encode(context.step() or b"").decode()
        async with first.post(url, data=form, headers={"Authorization": f"NTLM {negotiate}"}) as r:
            assert r.status == 401
            challenge = base64.b64decode(r.headers["WWW-Authenticate"].split()[1])
        answer = base64.b64encode(context.step(challenge) or b"").decode()
        async with second.post(url, data=form, headers={"Authorization": f"NTLM {answer}"}) as r:
            assert r.status == 401
            assert r.headers.getall("WWW-Authenticate") == ["Negotiate", "NTLM"]
    assert (acceptor_of(sim).logins, acceptor_of(sim).failures) == (0, 1)
    assert sim.stats.tokens_issued == 0


async def test_a_connection_closed_after_the_challenge_is_reported(sim: Simulator) -> None:
    acceptor = acceptor_of(sim)

    async def closing(request: web.Request, form: Any) -> str | web.StreamResponse:
        outcome = await acceptor(request, form)
        if isinstance(outcome, web.StreamResponse):
            outcome.force_close()  # like a proxy that does not keep the connection
        return outcome

    sim.windows_auth = closing
    async with windows_client(sim) as client:
        with pytest.raises(ProtocolError, match="one kept-alive connection"):
            await client.login()
    assert acceptor.handshakes == 1  # not retried


async def test_server_offering_only_negotiate(sim: Simulator) -> None:
    seen: list[tuple[Any, str]] = []
    sim.windows_auth = spy(NtlmAcceptor(schemes=("Negotiate",)), seen)
    async with windows_client(sim) as client:
        await client.login()
    assert [scheme for _, scheme in seen] == ["NTLM", "Negotiate", "Negotiate"]
    assert len({peer for peer, _ in seen}) == 1


async def test_concurrent_calls_share_one_handshake(sim: Simulator) -> None:
    async with windows_client(sim) as client:
        await asyncio.gather(*(client.list_event_types() for _ in range(20)))
    assert acceptor_of(sim).handshakes == 1


async def test_token_path_override(sim: Simulator) -> None:
    async with windows_client(sim, token_path="/idp/connect/token") as client:
        await client.login()
    assert sim.stats.requests[TOKEN_ROUTE] == 2  # two legs, on the alias


# --------------------------------------------------------------------------- refusals


async def test_wrong_password_is_refused_once(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Wr0ng-Secret:&%"
    async with windows_client(sim, password=secret) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.login()
    error = info.value
    assert error.status == 401
    assert "refused the Windows login of CONTOSO\\winuser" in str(error)
    for text in (str(error), repr(error), repr(client), repr(client.credentials), caplog.text):
        assert secret not in text
    acceptor = acceptor_of(sim)
    assert (acceptor.handshakes, acceptor.failures) == (1, 1)  # no retry storm
    assert sim.stats.requests[TOKEN_ROUTE] == 2
    assert sim.stats.tokens_issued == 0


@pytest.mark.parametrize(
    ("username", "windows"),
    [("CONTOSO\\nobody", True), ("admin", False), ("OTHER\\winuser", True)],
)
async def test_unknown_or_basic_users_cannot_log_in_by_ntlm(username: str, windows: bool) -> None:
    users = [SimUser("admin", "pw", windows=windows), *seed.default_users()[2:]]
    async with Simulator(users=users) as sim, windows_client(sim, username, "pw") as client:
        with pytest.raises(AuthenticationError):
            await client.login()
        assert acceptor_of(sim).failures == 1


async def test_server_without_ntlm(sim: Simulator) -> None:
    sim.windows_auth = challenge_windows  # 401 with NTLM offered, but never a challenge
    async with windows_client(sim) as client:
        with pytest.raises(AuthenticationError, match="no NTLM challenge"):
            await client.login()
    assert sim.stats.requests[TOKEN_ROUTE] == 1


async def test_identity_provider_refusal_after_ntlm_keeps_its_error_code(sim: Simulator) -> None:
    acceptor = acceptor_of(sim)

    async def stranger(request: web.Request, form: Any) -> str | web.StreamResponse:
        outcome = await acceptor(request, form)
        return "CONTOSO\\ghost" if isinstance(outcome, str) else outcome  # not a known user

    sim.windows_auth = stranger
    async with windows_client(sim) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.login()
    assert (info.value.status, info.value.error_code) == (400, "InvalidCredentials")
    assert acceptor.handshakes == 1


async def test_a_garbled_challenge_is_a_protocol_error(sim: Simulator) -> None:
    async def garbled(request: web.Request, form: Any) -> str | web.StreamResponse:
        response = web.Response(status=401)
        response.headers["WWW-Authenticate"] = "NTLM " + base64.b64encode(b"garbage!").decode()
        return response

    sim.windows_auth = garbled
    async with windows_client(sim) as client:
        with pytest.raises(ProtocolError, match="challenge is not valid"):
            await client.login()
    assert sim.stats.requests[TOKEN_ROUTE] == 1


def test_windows_user_name_is_checked() -> None:
    for bad in ("", "CONTOSO\\", "@contoso"):
        with pytest.raises(ConfigurationError, match="DOMAIN"):
            XProtectClient("http://127.0.0.1:1", username=bad, password="p", windows=True)
    credentials = WindowsCredentials(username="D\\u", password="hunter2")
    assert "hunter2" not in repr(credentials)
    typed_in_a_shell = WindowsCredentials(username=" CONTOSO\\\\winuser", password="p")
    assert typed_in_a_shell.username == "CONTOSO\\winuser"


async def test_missing_pyspnego_says_how_to_install(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "spnego", None)
    async with windows_client(sim) as client:
        with pytest.raises(ConfigurationError) as info:
            await client.login()
    assert str(info.value) == MISSING_EXTRA
    assert "pip install 'xprotect-events[ntlm]'" in str(info.value)
    assert sim.stats.token_requests == 0


# --------------------------------------------------------------------------- renewal, retries


async def test_renewal_before_expiry_runs_a_new_handshake() -> None:
    async with Simulator(clock=SimClock(), token_lifetime=60) as sim:
        async with windows_client(sim) as client:
            await client.list_event_types()
            sim.clock.advance(30)
            await client.list_event_types()
            assert acceptor_of(sim).handshakes == 1
            sim.clock.advance(20)  # inside the last fifth of the token's life
            await client.list_event_types()
            assert client.tokens.renewals == 2
        assert (acceptor_of(sim).handshakes, acceptor_of(sim).logins) == (2, 2)


async def test_revoked_token_is_renewed_after_a_401(sim: Simulator) -> None:
    async with windows_client(sim) as client:
        await client.list_event_types()
        sim.revoke_tokens()
        await client.list_event_types()
        assert client.tokens.renewals == 2
    assert acceptor_of(sim).logins == 2


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        ([Fault.reset_before()], "reset_before"),  # NEGOTIATE never arrived
        ([Fault.status(503)], "status"),
        ([Fault.reset_after()], "reset_after"),  # challenged, but the answer was lost
        ([None, Fault.reset_before()], "reset_before"),  # AUTHENTICATE never arrived
    ],
)
async def test_connection_failures_restart_the_handshake(
    sim: Simulator, script: list[Fault | None], kind: str
) -> None:
    sim.faults.script(TOKEN_ROUTE, script)
    async with windows_client(sim) as client:
        await client.login()
    assert sim.faults.injected[kind] == 1
    assert (acceptor_of(sim).logins, sim.stats.tokens_issued) == (1, 1)


async def test_a_late_answer_times_out_like_any_request(sim: Simulator) -> None:
    sim.faults.add(TOKEN_ROUTE, Fault.delay(1.0), times=None)
    once = RetryPolicy(attempts=1)
    async with windows_client(sim, timeout=0.2, retry=once) as client:
        with pytest.raises(RequestTimeoutError):
            await client.login()


async def test_the_environment_is_left_as_it_was(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    async with windows_client(sim) as client:
        await client.login()
    assert "NTLM_USER_FILE" not in os.environ
    monkeypatch.setenv("NTLM_USER_FILE", "/somebody/elses/file")
    async with windows_client(sim) as client:
        await client.login()
    assert os.environ["NTLM_USER_FILE"] == "/somebody/elses/file"


# --------------------------------------------------------------------------- HTTPS


@pytest.fixture
async def https_sim() -> AsyncIterator[Simulator]:
    async with Simulator(https=True, clock=SimClock()) as simulator:
        yield simulator


async def test_windows_login_over_https_with_the_ca(https_sim: Simulator) -> None:
    sim = https_sim
    assert sim.ca_path is not None
    for verify in (sim.ca_path, sim.ssl_context()):
        async with windows_client(sim, verify=verify) as client:
            await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
            assert len([e async for e in client.list_events()]) >= 1


async def test_https_certificate_is_verified(https_sim: Simulator) -> None:
    async with windows_client(https_sim) as client:  # the system CAs do not know it
        with pytest.raises(TLSError):
            await client.login()
    assert https_sim.stats.token_requests == 0


async def server_certificate(sim: Simulator) -> bytes:
    pem = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", sim.port))
    return ssl.PEM_cert_to_DER_cert(pem)


async def test_channel_bindings_satisfy_extended_protection(
    https_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = https_sim
    acceptor = NtlmAcceptor(channel_binding_certificate=await server_certificate(sim))
    sim.windows_auth = acceptor
    async with windows_client(sim, verify=sim.ca_path) as client:
        await client.login()
    assert acceptor.logins == 1
    monkeypatch.setattr("xprotect_events.ntlm.channel_bindings", lambda connection: None)
    async with windows_client(sim, verify=sim.ca_path) as client:
        with pytest.raises(AuthenticationError):
            await client.login()
    assert acceptor.failures == 1


# --------------------------------------------------------------------------- other clients


def quickstart_main(
    SERVER_URL: str, USERNAME: str, PASSWORD: str, VERIFY_CERTIFICATES: bool | str
) -> None:
    """The body of ``main()`` of the "Python (Windows User)" quickstart, verbatim [seed]."""
    session = requests.Session()

    # 1. Retrieve a token from IDP
    response = session.request(
        "POST",
        f"{SERVER_URL}/IDP/connect/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data="grant_type=windows_credentials&client_id=GrantValidatorClient",
        verify=VERIFY_CERTIFICATES,
        auth=HttpNtlmAuth(USERNAME, PASSWORD),
    )
    if response.status_code != 200:
        return print(f"Unable to retrieve token: {response.status_code}")

    token = response.json()["access_token"]

    # 2. Retrieve events with the token
    response = session.request(
        "GET",
        f"{SERVER_URL}/api/rest/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        verify=VERIFY_CERTIFICATES,
    )
    if response.status_code != 200:
        return print(f"Unable to retrieve events: {response.status_code}")

    events = response.json()
    print(f"GET /events response:\n{events}\n\n")
    return None


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
async def test_the_seed_quickstart_gets_a_token_and_lists_events(
    https: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(https=https) as sim:
        if https:  # with Extended Protection, which requests-ntlm satisfies
            certificate = await server_certificate(sim)
            sim.windows_auth = NtlmAcceptor(channel_binding_certificate=certificate)
        stored = sim.store_events([{"type": seed.USER_DEFINED_EVENT, "source": CAMERA_1}])
        verify: bool | str = sim.ca_path or True
        await asyncio.to_thread(quickstart_main, sim.url, WINDOWS_USER, WINDOWS_PASSWORD, verify)
        await asyncio.to_thread(quickstart_main, sim.url, WINDOWS_USER, "wrong", verify)
        assert (acceptor_of(sim).logins, acceptor_of(sim).failures) == (1, 1)
    out = capsys.readouterr().out
    assert stored == 1
    assert "GET /events response:" in out
    assert str(seed.USER_DEFINED_EVENT) in out
    assert "Unable to retrieve token: 401" in out


async def run_cli(*args: str) -> tuple[int | None, bytes, bytes]:
    cli = Path(sys.executable).parent / "xprotect-events"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    process = await asyncio.create_subprocess_exec(
        str(cli), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out, err


@pytest.mark.parametrize("username", [WINDOWS_USER, "CONTOSO\\\\winuser"], ids=["one", "two"])
async def test_cli_token_with_windows(sim: Simulator, username: str) -> None:
    login = ["token", "--url", sim.url, "--username", username, "--json", "--windows"]
    code, out, err = await run_cli(*login, "--password", WINDOWS_PASSWORD)
    assert code == 0, err.decode()
    assert b'"kind":"user"' in out
    assert b'"login":"CONTOSO\\\\' in out  # JSON escapes the backslash
    assert acceptor_of(sim).logins == 1
    code, _, err = await run_cli(*login, "--password", "Not-1t")
    assert code == 3  # EXIT_AUTH
    assert b"refused the Windows login" in err
    assert b"Not-1t" not in err


# --------------------------------------------------------------------------- message parsing


@pytest.mark.parametrize(
    ("username", "claimed"),
    [
        ("CONTOSO\\winuser", ("CONTOSO", "winuser")),
        ("winuser@contoso.com", ("", "winuser@contoso.com")),
    ],
)
def test_claimed_names(
    username: str, claimed: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "users"
    users.write_text("CONTOSO:winuser:pw\n:winuser@contoso.com:pw\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    client = spnego.client(username, "pw", protocol="ntlm")
    server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
    negotiate = client.step()
    assert negotiate is not None
    with pytest.raises(ValueError, match="AUTHENTICATE"):
        claimed_names(negotiate)
    authenticate = client.step(server.step(negotiate))
    assert authenticate is not None
    assert claimed_names(authenticate) == claimed
    server.step(authenticate)
    assert server.complete


def test_principals() -> None:
    assert principal("CONTOSO\\winuser") == principal("winuser@contoso.example.com")
    assert principal("winuser@CONTOSO") == ("CONTOSO", "WINUSER")
    assert principal("winuser") == ("", "WINUSER")
