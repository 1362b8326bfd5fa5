"""Proof (issue 7, item 4): no secret shows in a log record, exception, repr or traceback.

Two parts:

- Focused tests (always run): a workflow at DEBUG with a password and a client secret
  that are unique marker strings (login, list, trigger, a batch with faults, a stream
  with a dropped session, a wrong password, a wrong secret, a TLS failure, a 401 storm,
  servers that echo what they were sent, broken headers that make aiohttp keep the
  request headers in its exception, the CLI with ``--debug``). Every log record, every
  exception raised (its ``str``, ``repr``, formatted traceback and the ``repr`` of each
  attribute, along the whole ``__cause__``/``__context__`` chain), the reprs of the
  client, its token manager and its credentials, and the CLI's output are searched for
  the markers (also URL- and JSON-encoded) and for every token a server issued.

- :class:`SecretsAudit`, a pytest plugin that tests/conftest.py registers for the whole
  suite when asked (``pytest --secrets-audit`` or ``XPROTECT_SECRETS_AUDIT=1``). It puts
  the root and ``xprotect_events`` loggers at DEBUG (and keeps them there), replaces the
  seeded password and client secret by marker strings wherever the library receives them
  (the simulator accepts the markers in their place), records every token any simulator
  issues, and scans every log record, every exception the library created or a test
  caught with ``pytest.raises``, every report's traceback and captured output, and every
  warning; a leak fails the run and says where it was found.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import subprocess
import sys
import threading
import traceback
import urllib.parse
import uuid
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import FAST_RETRY
from xprotect_events import (
    AuthenticationError,
    EventTrigger,
    RetryPolicy,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectClient,
    XProtectError,
)
from xprotect_events.auth import ServiceCredentials, UserCredentials
from xprotect_events.testing import Fault, SimClock, Simulator, SimUser, seed
from xprotect_events.testing import idp as sim_idp
from xprotect_events.testing import tokens as sim_tokens

# ============================================================================ the scanner

_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{16,}")


def encodings(secret: str) -> set[str]:
    """The forms a secret may take in a text: as is, URL-encoded, JSON-escaped."""
    forms = {
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
        orjson.dumps(secret).decode()[1:-1],
    }
    return {form for form in forms if form}


class Secrets:
    """The markers (by name) and the tokens to look for; ``leaks(text)`` names those found.

    Tokens are found without comparing each one with each text: every run of token
    characters in the text is cut into windows of each known token length and looked up.
    """

    def __init__(self, markers: Mapping[str, str] = {}) -> None:
        self.markers: dict[str, set[str]] = {}
        self.tokens: set[str] = set()
        self._lengths: set[int] = set()
        self._lock = threading.Lock()
        for name, value in markers.items():
            self.add_marker(name, value)

    def add_marker(self, name: str, value: str) -> None:
        self.markers[name] = encodings(value)

    def add_token(self, token: str) -> None:
        if len(token) >= 16 and _TOKENISH.fullmatch(token):
            with self._lock:
                self.tokens.add(token)
                self._lengths.add(len(token))

    def leaks(self, text: str) -> list[str]:
        found = [name for name, forms in self.markers.items() if any(f in text for f in forms)]
        if self.tokens:
            with self._lock:
                tokens, lengths = self.tokens, sorted(self._lengths)
            for run in _TOKENISH.findall(text):
                if any(run[i : i + n] in tokens for n in lengths for i in range(len(run) - n + 1)):
                    found.append("an issued token")
                    break
        return found


def _safe(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except Exception as exc:  # a repr that fails (an int too long to print …)
        return f"<{type(exc).__name__} while showing>"


def exception_texts(exc: BaseException) -> Iterator[tuple[str, str]]:
    """``(what, text)`` for an exception and every exception chained to it: its str, repr,
    the repr of each attribute (aiohttp keeps the request's headers in ``request_info``),
    and the formatted traceback of the whole chain."""
    yield "traceback.format_exception", _safe(lambda: "".join(traceback.format_exception(exc)))
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        name = type(e).__name__
        yield f"str({name})", _safe(lambda e=e: str(e))  # type: ignore[misc]
        yield f"repr({name})", _safe(lambda e=e: repr(e))  # type: ignore[misc]
        for key, value in getattr(e, "__dict__", {}).items():
            yield f"{name}.{key}", _safe(lambda v=value: repr(v))  # type: ignore[misc]
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
        todo += list(getattr(e, "exceptions", ()))


def record_texts(record: logging.LogRecord) -> Iterator[tuple[str, str]]:
    """``(what, text)`` of a log record: the message with its args, the args' reprs, and
    its exception (formatted and deeply) and stack."""
    yield "message", _safe(record.getMessage)
    yield "args", _safe(lambda: repr(record.args))
    if record.exc_text:
        yield "exc_text", record.exc_text
    if record.exc_info and record.exc_info[1] is not None:
        for what, text in exception_texts(record.exc_info[1]):
            yield f"exc_info {what}", text
    if record.stack_info:
        yield "stack_info", record.stack_info


def scan(secrets: Secrets, texts: Iterable[tuple[str, str]], where: str) -> list[str]:
    """Leaks in ``texts``, each described as ``"<secret> in <where>: <what>"``."""
    return [f"{name} in {where}: {what}" for what, text in texts for name in secrets.leaks(text)]


@contextlib.contextmanager
def recording_tokens(secrets: Secrets) -> Iterator[None]:
    """Every token any simulator issues (login or ``issue_token``), refresh tokens too, is
    added to ``secrets``."""
    original, original_refresh = sim_tokens.Tokens.issue, sim_tokens.Tokens.issue_refresh

    def issue(self: sim_tokens.Tokens, identity: Any) -> str:
        token = original(self, identity)
        secrets.add_token(token)
        return token

    def issue_refresh(self: sim_tokens.Tokens, identity: Any, client_id: str) -> str:
        token = original_refresh(self, identity, client_id)
        secrets.add_token(token)
        return token

    sim_tokens.Tokens.issue = issue  # type: ignore[method-assign]
    sim_tokens.Tokens.issue_refresh = issue_refresh  # type: ignore[method-assign]
    try:
        yield
    finally:
        sim_tokens.Tokens.issue = original  # type: ignore[method-assign]
        sim_tokens.Tokens.issue_refresh = original_refresh  # type: ignore[method-assign]


# ============================================================================ the audit plugin

#: The seeded secrets (value: name) that the audit replaces by markers.
SEEDED_SECRETS = {
    "admin": "admin's password",
    "operator": "operator's password",
    seed.SERVICE_CLIENT_SECRET: "the service client's secret",
}


#: Where an xdist worker puts its findings for the controller (``config.workeroutput``).
WORKER_KEY = "xprotect_secrets_audit"


class SecretsAudit:
    """The whole suite, audited for secrets (see the module docstring)."""

    def __init__(self) -> None:
        run = uuid.uuid4().hex[:12]
        #: seeded secret -> its marker for this run (letters and digits: no encoding hides it)
        self.replacement = {
            legacy: f"AuditSecret{i}x{run}" for i, legacy in enumerate(SEEDED_SECRETS)
        }
        self.secrets = Secrets(
            {SEEDED_SECRETS[legacy]: marker for legacy, marker in self.replacement.items()}
        )
        self.leaks: list[str] = []
        #: Found only where pytest shows a failing frame's argument values (not a leak of
        #: the library's: Python's own tracebacks do not show them).
        self.notes: list[str] = []
        self.counts = dict.fromkeys(
            (
                "tests",
                "log records",
                "exceptions",
                "pytest.raises",
                "reports",
                "warnings",
                "clients",
                "credentials with a marker",
                "grants with a marker",
                "grants with a seeded secret",
                "grants elsewhere (seeded secret sent)",
            ),
            0,
        )
        self.where = "session start"
        #: tokens the xdist workers checked (each has its own ``secrets``)
        self.worker_tokens = 0
        self.simulator_ports: set[int | None] = set()
        self._pending: list[BaseException] = []
        self._clients: weakref.WeakSet[XProtectClient] = weakref.WeakSet()
        self._patch = pytest.MonkeyPatch()
        self._handler = _AuditHandler(self)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ setup

    def start(self) -> None:
        patch = self._patch
        root = logging.getLogger()
        root.addHandler(self._handler)
        root.setLevel(logging.DEBUG)
        logging.getLogger("xprotect_events").setLevel(logging.DEBUG)
        set_level = logging.Logger.setLevel

        def debug_at_least(logger: logging.Logger, level: int | str) -> None:
            # caplog.set_level(INFO) and basicConfig(WARNING) must not hide DEBUG records
            # from the audit; their own handlers keep the level they were given.
            set_level(logger, min(logging._checkLevel(level), logging.DEBUG))  # type: ignore[attr-defined]

        patch.setattr(logging.Logger, "setLevel", debug_at_least)
        self._patch_secrets()
        self._patch_exceptions()

    def _patch_secrets(self) -> None:
        patch, audit, replacement = self._patch, self, self.replacement
        for cls, field in ((UserCredentials, "password"), (ServiceCredentials, "client_secret")):
            init = cls.__init__

            @functools.wraps(init)
            def marked(self: Any, *a: Any, _init: Any = init, _f: str = field, **kw: Any) -> None:
                if kw.get(_f) in replacement:
                    kw[_f] = replacement[kw[_f]]
                    audit.counts["credentials with a marker"] += 1
                _init(self, *a, **kw)

            patch.setattr(cls, "__init__", marked)
        same = sim_idp.same_secret

        def accepts_markers(given: object, expected: str) -> bool:
            if expected in replacement and given == replacement[expected]:
                audit.counts["grants with a marker"] += 1
                return True
            ok = same(given, expected)
            if ok and expected in replacement:
                audit.counts["grants with a seeded secret"] += 1
            return ok

        patch.setattr(sim_idp, "same_secret", accepts_markers)
        # A server in another process (`xprotect-events serve` run by a test) knows only the
        # seeded secrets: a grant to a port that no simulator of this process serves sends
        # the seeded secret instead of the marker, at the last moment (and is counted).
        from xprotect_events import auth

        seeded = {marker: legacy for legacy, marker in replacement.items()}
        grant = auth.grant

        async def grant_anywhere(transport: Any, path: str, form: Mapping[str, str]) -> Any:
            if transport.base_url.port not in audit.simulator_ports:
                sent = {k: seeded.get(v, v) for k, v in form.items()}
                if sent != form:
                    audit.counts["grants elsewhere (seeded secret sent)"] += 1
                form = sent
            return await grant(transport, path, form)

        patch.setattr(auth, "grant", grant_anywhere)
        start, stop = Simulator.start, Simulator.stop

        @functools.wraps(start)  # (docstrings kept: the reference test reads them)
        async def started(sim: Simulator) -> None:
            await start(sim)
            audit.simulator_ports.add(sim.port)

        @functools.wraps(stop)
        async def stopped(sim: Simulator) -> None:
            audit.simulator_ports.discard(sim.port)
            await stop(sim)

        patch.setattr(Simulator, "start", started)
        patch.setattr(Simulator, "stop", stopped)
        original_issue = sim_tokens.Tokens.issue
        original_refresh = sim_tokens.Tokens.issue_refresh

        def issue(tokens: sim_tokens.Tokens, identity: Any) -> str:
            token = original_issue(tokens, identity)
            audit.secrets.add_token(token)
            return token

        def issue_refresh(tokens: sim_tokens.Tokens, identity: Any, client_id: str) -> str:
            token = original_refresh(tokens, identity, client_id)
            audit.secrets.add_token(token)
            return token

        patch.setattr(sim_tokens.Tokens, "issue", issue)
        patch.setattr(sim_tokens.Tokens, "issue_refresh", issue_refresh)

    def _patch_exceptions(self) -> None:
        patch, pending = self._patch, self._pending

        def new(cls: type[XProtectError], *args: Any, **kwargs: Any) -> XProtectError:
            exc = BaseException.__new__(cls, *args, **kwargs)
            pending.append(exc)
            return exc

        patch.setattr(XProtectError, "__new__", new)
        from _pytest._code.code import ExceptionInfo

        fill = ExceptionInfo.fill_unfilled

        def filled(info: ExceptionInfo[Any], exc_info: Any) -> None:
            fill(info, exc_info)
            pending.append(exc_info[1])
            self.counts["pytest.raises"] += 1

        patch.setattr(ExceptionInfo, "fill_unfilled", filled)
        clients = self._clients
        init = XProtectClient.__init__

        @functools.wraps(init)  # its signature stays the client's (tests read the defaults)
        def registered(client: XProtectClient, *a: Any, **kw: Any) -> None:
            init(client, *a, **kw)
            clients.add(client)
            self.counts["clients"] += 1

        patch.setattr(XProtectClient, "__init__", registered)

    def stop(self) -> None:
        self._patch.undo()
        logging.getLogger().removeHandler(self._handler)

    # ------------------------------------------------------------------ scanning

    def found(self, leaks: list[str]) -> None:
        if leaks:
            with self._lock:
                self.leaks += leaks

    def scan_record(self, record: logging.LogRecord) -> None:
        self.counts["log records"] += 1
        where = f"a {record.levelname} record of {record.name!r} during {self.where}"
        self.found(scan(self.secrets, record_texts(record), where))

    def scan_pending(self) -> None:
        pending, self._pending[:] = list(self._pending), []
        done: set[int] = set()
        for exc in pending:
            if id(exc) not in done:
                done.add(id(exc))
                self.counts["exceptions"] += 1
                where = f"a {type(exc).__name__} during {self.where}"
                self.found(scan(self.secrets, exception_texts(exc), where))
        for client in list(self._clients):
            texts = [("repr(client)", repr(client)), ("repr(client.tokens)", repr(client.tokens))]
            if type(client.credentials).__module__.startswith("xprotect_events."):
                # (a test's own credentials class, holding a token, is the test's business)
                texts.append(("repr(client.credentials)", repr(client.credentials)))
            self.found(scan(self.secrets, texts, f"a client during {self.where}"))

    # ------------------------------------------------------------------ hooks

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.where = f"{item.nodeid} (setup)"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self.where = f"{item.nodeid} (call)"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.where = f"{item.nodeid} (teardown)"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        self.where = f"{item.nodeid} ({call.when})"
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        self.counts["reports"] += 1
        self.counts["tests"] += call.when == "call"
        self.scan_pending()
        texts = [(f"report section {title!r}", content) for title, content in report.sections]
        if report.longrepr is not None:
            texts.append(("the report's traceback", _without_frame_arguments(report.longrepr)))
            shown = [("pytest's display of frame arguments", str(report.longrepr))]
            self.notes += scan(self.secrets, shown, self.where)
        self.found(scan(self.secrets, texts, self.where))

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        self.counts["warnings"] += 1
        texts = [("warning", str(warning_message.message))]
        self.found(scan(self.secrets, texts, f"a warning during {self.where}"))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.where = "session end"
        self.scan_pending()
        if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller adds up
            session.config.workeroutput[WORKER_KEY] = {
                "counts": self.counts,
                "leaks": self.leaks,
                "notes": self.notes,
                "tokens": len(self.secrets.tokens),
            }
        if self.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Under ``pytest -n``: a worker's findings, added to the controller's."""
        found = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if found is None:
            self.leaks.append(f"worker {getattr(node, 'gateway', node)} sent no audit")
            return
        for name, n in found["counts"].items():
            self.counts[name] += n
        self.leaks += found["leaks"]
        self.notes += found["notes"]
        self.worker_tokens += found["tokens"]

    def summary(self) -> list[str]:
        counts = ", ".join(f"{name}: {n}" for name, n in self.counts.items())
        lines = [
            f"secrets audit: {len(self.leaks)} leak(s); {counts}; "
            f"markers: {len(self.replacement)}, "
            f"tokens checked: {len(self.secrets.tokens) + self.worker_tokens}"
        ]
        seen: set[str] = set()
        for leak in self.leaks:
            if leak not in seen and len(seen) < 50:
                seen.add(leak)
                lines.append(f"  LEAK: {leak}")
        lines += [f"  note: {note}" for note in sorted(set(self.notes))[:20]]
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.summary():
            terminalreporter.write_line(line, red=bool(self.leaks), green=not self.leaks)


def _without_frame_arguments(longrepr: object) -> str:
    """A report's traceback as text, without the argument values pytest shows for each
    frame of a failing test (``password = '…'`` when a frame had one: pytest's display,
    like ``--showlocals``, not something the library formatted)."""
    chain = getattr(longrepr, "chain", None)
    if not chain:
        return str(longrepr)
    parts = []
    for traceback_, crash, description in chain:
        for entry in getattr(traceback_, "reprentries", ()):
            parts += getattr(entry, "lines", [])
            if getattr(entry, "reprfileloc", None) is not None:
                parts.append(str(entry.reprfileloc))
        parts += [str(crash) if crash is not None else "", description or ""]
    return "\n".join(parts)


class _AuditHandler(logging.Handler):
    def __init__(self, audit: SecretsAudit) -> None:
        super().__init__(logging.DEBUG)
        self.audit = audit

    def emit(self, record: logging.LogRecord) -> None:
        self.audit.scan_record(record)


# ============================================================================ focused tests

RUN = uuid.uuid4().hex
PASSWORD = f"PwMarker{RUN}"
SECRET = f"SecretMarker&+%= é{RUN}"  # needs encoding in a form, a URL and JSON
USER = "auditor"
SERVICE = "auditor-service"


class Watch:
    """What one test saw: exceptions, and the secrets to look for."""

    def __init__(self) -> None:
        self.secrets = Secrets({"the password": PASSWORD, "the client secret": SECRET})
        self.errors: list[BaseException] = []
        self.texts: list[tuple[str, str]] = []

    async def attempt(self, what: str, step: Awaitable[object]) -> object:
        """Run a step; an exception it raises (not a cancellation) is kept for the scan."""
        try:
            return await step
        except Exception as exc:
            self.errors.append(exc)
            return exc

    def look_at(self, what: str, *objects: object) -> None:
        self.texts += [(f"{what}: repr({type(o).__name__})", repr(o)) for o in objects]

    def leaks(self, records: Iterable[logging.LogRecord]) -> list[str]:
        found = scan(self.secrets, self.texts, "what the test looked at")
        for exc in self.errors:
            found += scan(self.secrets, exception_texts(exc), f"a {type(exc).__name__}")
        for record in records:
            found += scan(self.secrets, record_texts(record), f"a record of {record.name}")
        return found


@pytest.fixture
def watch(caplog: pytest.LogCaptureFixture) -> Iterator[Watch]:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="xprotect_events")
    watched = Watch()
    with recording_tokens(watched.secrets):
        yield watched


WINDOWS_USER = "CONTOSO\\auditor"


def simulator(**options: Any) -> Simulator:
    return Simulator(
        clock=SimClock(),
        users=[SimUser(USER, PASSWORD), SimUser(WINDOWS_USER, PASSWORD, windows=True)],
        service_clients={SERVICE: SECRET},
        **options,
    )


def user(url: str, password: str = PASSWORD, **options: Any) -> XProtectClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("username", USER)
    return XProtectClient(url, password=password, **options)


def _has_ntlm() -> bool:
    try:
        import spnego  # noqa: F401
    except ImportError:
        return False
    return True


def service(url: str, secret: str = SECRET, **options: Any) -> XProtectClient:
    options.setdefault("retry", FAST_RETRY)
    return XProtectClient(url, client_id=SERVICE, client_secret=secret, **options)


def trigger(i: int = 0) -> EventTrigger:
    camera = seed.CAMERA_IDS[i % len(seed.CAMERA_IDS)]
    return EventTrigger(type=seed.ANALYTICS_EVENT, source=f"cameras/{camera}", tag=f"t{i}")


async def test_a_whole_workflow_at_debug_shows_no_secret(
    watch: Watch, caplog: pytest.LogCaptureFixture
) -> None:
    async with simulator() as sim:
        async with user(sim.url) as a, service(sim.url) as s:
            await a.login()
            await s.login()
            await a.list_event_types()
            await a.list_cameras()
            await a.trigger_event(trigger())
            [e async for e in a.list_events(limit=5)]
            # a batch with faults: 5xx, a cut after the handler ran, a half body, a proxy page
            batch = "POST /api/rest/v1/events/batch"
            faults = [Fault.status(500), Fault.reset_after(), Fault.truncate(), Fault.html(502)]
            sim.faults.script(batch, faults)
            report = await s.trigger_events([trigger(i) for i in range(6)], chunk_size=1)
            assert report.unknown == 4
            watch.errors += [r.error for r in report.results if r.error is not None]
            # a stream whose session the server drops, then a token the server revokes
            read = "GET /api/rest/v1/eventSessions/{id}"
            sim.faults.script(read, [None, Fault.drop_session(), Fault.revoke_token()])
            async with s.event_session(types=[seed.ANALYTICS_EVENT], poll_interval=0.01) as ses:
                async with asyncio.timeout(10):
                    await anext(ses)  # the first read: the backlog
                    await s.trigger_event(trigger(9))
                    async for change in ses:  # the next reads: dropped, revoked, recovered
                        if change.event.tag == "t9":
                            break
            assert ses.recoveries >= 1
            # a 401 storm: every API call refused, the token renewed once, then an error
            sim.faults.add("*", Fault.status(401), times=None)
            await watch.attempt("401 storm", a.list_cameras())
            sim.faults.clear()
            watch.look_at("clients", a, a.tokens, a.credentials, s, s.tokens, s.credentials)
        # refused credentials: the wrong ones contain the right ones, so a leak shows
        async with user(sim.url, password="wrong" + PASSWORD) as bad:
            await watch.attempt("wrong password", bad.login())
        async with service(sim.url, secret=SECRET + "wrong") as bad:
            await watch.attempt("wrong secret", bad.login())
        if _has_ntlm():  # a Windows user (NTLM): the password never goes on the wire
            async with user(sim.url, username=WINDOWS_USER, windows=True) as win:
                await win.login()
                await win.list_cameras()
                watch.look_at("windows client", win, win.tokens, win.credentials)
            async with user(sim.url, "x" + PASSWORD, username=WINDOWS_USER, windows=True) as bad:
                await watch.attempt("wrong Windows password", bad.login())
    async with simulator(https=True) as tls, user(tls.url) as a:
        await watch.attempt("TLS failure", a.login())
    kinds = {type(e) for e in watch.errors}
    assert {AuthenticationError, TLSError, UnauthorizedError} <= kinds, kinds
    assert len(watch.secrets.tokens) >= 4  # two logins, the renewals after the revocation
    assert len(caplog.records) > 20
    assert watch.leaks(caplog.records) == []


# ---------------------------------------------------------------------------- odd servers


async def echo_server(answer: Callable[[bytes], bytes]) -> tuple[asyncio.Server, str]:
    """A loopback server that answers each request with ``answer(the raw request)``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            writer.write(answer(head + body))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


SERVER_TOKEN = f"EchoServerToken{RUN}"


def _http(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def token_answer() -> bytes:
    return _http(200, orjson.dumps({"access_token": SERVER_TOKEN, "expires_in": 3600}))


@pytest.mark.parametrize("status", [400, 401, 403, 500, 502])
async def test_servers_that_echo_the_request_do_not_put_secrets_in_errors(
    watch: Watch, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """A proxy or a debug page that reflects the request (its form with the password, its
    Authorization header) in an error answer: the library's error must not carry it."""
    watch.secrets.add_token(SERVER_TOKEN)

    def reflect(request: bytes) -> bytes:
        text = request.decode("latin-1")
        html = f"<html><body><pre>You sent:\n{text}</pre></body></html>".encode("latin-1")
        as_json = orjson.dumps(
            {"error": {"httpCode": status, "details": [{"errorText": f"bad request: {text}"}]}}
        )
        if b"/connect/token" in request.split(b"\r\n", 1)[0]:
            oauth = orjson.dumps({"error": "invalid_grant", "error_description": text})
            return _http(400, oauth) if status == 400 else _http(status, html, "text/html")
        return _http(status, html if status >= 500 else as_json, "text/html")

    server, url = await echo_server(reflect)
    try:
        for client in (user(url), service(url)):
            async with client:
                await watch.attempt("token endpoint echoes", client.login())

        def api_reflects(request: bytes) -> bytes:
            if b"/connect/token" in request.split(b"\r\n", 1)[0]:
                return token_answer()
            return reflect(request)

        server.close()
        server, url = await echo_server(api_reflects)
        async with user(url, retry=RetryPolicy(attempts=1)) as client:
            await watch.attempt("API echoes", client.list_cameras())
            await watch.attempt("API echoes", client.trigger_event(trigger()))
    finally:
        server.close()
    assert len(watch.errors) == 4
    assert all(isinstance(e, XProtectError) for e in watch.errors)
    assert watch.leaks(caplog.records) == []


BROKEN = {
    "invalid header": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\nBad Header\r\n\r\n{}",
    "invalid status line": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}",
    "header too long": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n{}",
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
async def test_aiohttp_errors_chained_to_ours_do_not_keep_the_token(
    watch: Watch, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    """aiohttp's ClientResponseError keeps the request's headers (``request_info``), our
    bearer token among them; chained to a TransportError, its repr showed the token."""
    watch.secrets.add_token(SERVER_TOKEN)

    def answer(request: bytes) -> bytes:
        if b"/connect/token" in request.split(b"\r\n", 1)[0]:
            return token_answer()
        return BROKEN[broken]

    server, url = await echo_server(answer)
    try:
        async with user(url, retry=RetryPolicy(attempts=1)) as client:
            error = await watch.attempt("broken answer", client.list_cameras())
    finally:
        server.close()
    assert isinstance(error, TransportError), repr(error)
    chain = [type(e).__name__ for e in _chain(error)]
    assert "ClientResponseError" in chain  # the case that kept the headers
    assert watch.leaks(caplog.records) == []


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def test_a_url_with_credentials_never_shows_them() -> None:
    with pytest.raises(ValueError, match="credentials") as info:
        XProtectClient(f"https://{USER}:{PASSWORD}@vms.example.com", username=USER, password="p")
    assert (
        Secrets({"the password": PASSWORD}).leaks(
            "".join(traceback.format_exception(info.value)) + repr(info.value)
        )
        == []
    )


# ---------------------------------------------------------------------------- the CLI


def run_cli(args: list[str]) -> int:
    """``xprotect-events ARGS`` in this process (in a thread: it runs its own event loop)."""
    from xprotect_events.cli import main

    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


async def test_the_cli_with_debug_shows_no_secret(
    watch: Watch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    lines = tmp_path / "triggers.jsonl"
    lines.write_text(
        "\n".join(
            orjson.dumps({"type": str(seed.ANALYTICS_EVENT), "source": f"cameras/{c}"}).decode()
            for c in seed.CAMERA_IDS
        )
        + "\n"
    )
    outputs: list[tuple[str, str]] = []
    async with simulator() as sim, simulator(https=True) as tls:
        as_user = ["--url", sim.url, "--username", USER, "--password", PASSWORD]
        as_service = ["--url", sim.url, "--client-id", SERVICE, "--client-secret", SECRET]
        runs = {
            "token": (["token", *as_user], 0),
            "types": (["types", "--json", *as_service], 0),
            "trigger": (["trigger", "--type", str(seed.ANALYTICS_EVENT), *as_service], 0),
            "trigger-batch": (["trigger-batch", str(lines), *as_service], 0),
            "list": (["list", "--json", *as_user], 0),
            "wrong password": (["list", *as_user[:-1], "x" + PASSWORD], 3),
            "wrong secret": (["types", *as_service[:-1], SECRET + "x"], 3),
            "TLS failure": (["list", "--url", tls.url, *as_user[2:]], 4),
            "unreachable": (["list", "--url", "http://127.0.0.1:1", *as_user[2:]], 4),
        }
        for name, (args, expected) in runs.items():
            code = await asyncio.to_thread(run_cli, ["--debug", *args])
            out, err = capsys.readouterr()
            outputs += [(f"{name}: stdout", out), (f"{name}: stderr", err)]
            assert code == expected, f"{name}: exit {code}\n{err}"
    watch.texts += outputs
    failures = [r for r in caplog.records if r.name == "xprotect_events.cli" and r.exc_info]
    assert len(failures) >= 4  # --debug logged the tracebacks of the failed commands
    assert len(watch.secrets.tokens) >= 5
    assert watch.leaks(caplog.records) == []


# ---------------------------------------------------------------------------- the scanner


def test_the_scanner_finds_what_it_looks_for() -> None:
    """The proof is only as good as its search: it finds markers in each encoding, and
    tokens inside longer texts, in exceptions, in chained exceptions and their attributes."""
    secrets = Secrets({"pw": SECRET})
    token = "tok_" + uuid.uuid4().hex + "-x"
    secrets.add_token(token)
    assert secrets.leaks(f"password={urllib.parse.quote_plus(SECRET)}&x=1") == ["pw"]
    assert secrets.leaks(orjson.dumps({"p": SECRET}).decode()) == ["pw"]
    assert secrets.leaks(f"Authorization: Bearer {token}\r\n") == ["an issued token"]
    assert secrets.leaks(f"x{token}y") == ["an issued token"]
    assert secrets.leaks("nothing here " + token[:-1]) == []

    class Holder(Exception):
        def __init__(self) -> None:
            super().__init__("clean")
            self.headers = {"Authorization": f"Bearer {token}"}

    try:
        try:
            raise Holder
        except Holder as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        found = scan(secrets, exception_texts(outer), "test")
    assert found == ["an issued token in test: Holder.headers"]
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "sent %s", (SECRET,), None)
    assert scan(secrets, record_texts(record), "r") == ["pw in r: message", "pw in r: args"]


def test_the_audit_plugin_is_registered_only_when_asked(pytestconfig: pytest.Config) -> None:
    audit = pytestconfig.pluginmanager.get_plugin("secrets-audit")
    asked = pytestconfig.getoption("--secrets-audit") or _env_asked()
    assert (audit is not None) == bool(asked)
    if audit is not None:
        assert isinstance(audit, SecretsAudit)
        assert logging.getLogger("xprotect_events").getEffectiveLevel() == logging.DEBUG


def _env_asked() -> bool:
    return os.environ.get("XPROTECT_SECRETS_AUDIT") == "1"


CANARY = "XPROTECT_SECRETS_AUDIT_CANARY"


@pytest.mark.skipif(os.environ.get(CANARY) != "1", reason="run only by the audit's own test")
async def test_audit_canary() -> None:
    """Leaks on purpose (a seeded password in a DEBUG record, a token in a caught error):
    run by the test below under the audit, which must then fail and name both."""
    async with (
        Simulator() as sim,
        XProtectClient(sim.url, username="admin", password="admin") as client,
    ):
        await client.login()
        password = client.credentials.password  # type: ignore[attr-defined]
        logging.getLogger("xprotect_events.canary").debug("the password is %s", password)
        with pytest.raises(ValueError, match="token"):
            raise ValueError(f"the token is {(await client.tokens.current()).access_token}")


def _audited_pytest(
    target: str, env: Mapping[str, str] | None = None, options: tuple[str, ...] = ()
) -> tuple[int, str]:
    """``pytest target`` in a subprocess under the audit: its exit code and output."""
    root = Path(__file__).parents[2]
    done = subprocess.run(  # noqa: S603 (our own interpreter and test files)
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            *options,
            target,
        ],
        cwd=root,
        env={**os.environ, **(env or {}), "XPROTECT_SECRETS_AUDIT": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("options", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_audit_finds_leaks_in_a_real_run(options: tuple[str, ...]) -> None:
    """The audit mode, end to end, in a pytest subprocess: it fails the run and says where,
    also under ``pytest -n`` (the workers' findings reach the controller's summary)."""
    returncode, out = _audited_pytest(f"{__file__}::test_audit_canary", {CANARY: "1"}, options)
    assert returncode == pytest.ExitCode.TESTS_FAILED, out
    assert "1 passed" in out, out
    assert re.search(r"secrets audit: [1-9]\d* leak\(s\); tests: 1,", out), out
    assert "LEAK: admin's password in a DEBUG record of 'xprotect_events.canary'" in out, out
    assert "LEAK: an issued token in a ValueError" in out, out


def test_the_audit_keeps_what_it_wraps_documented() -> None:
    """Under the audit, the public names it wraps keep their docstrings (the API reference
    test, run in the audit, passes)."""
    returncode, out = _audited_pytest("tests/unit/test_reference.py")
    assert returncode == pytest.ExitCode.OK, out
