"""Batch accounting and chunking, pure (moved from tests/client/test_batch.py): what each
trigger's status is from a chunk's answer or its POST's failure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from xprotect_events import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    EventTrigger,
    ForbiddenError,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UnauthorizedError,
)
from xprotect_events.accounting import answers, failed, outcome
from xprotect_events.chunks import Chunk, Chunker, prepare
from xprotect_events.testing import CAMERA_IDS, USER_DEFINED_EVENT

BATCH_PATH = "/api/rest/v1/events/batch"


def doors(n: int) -> list[EventTrigger]:
    """Valid triggers for any user: user-defined events on cameras everyone sees."""
    return [
        EventTrigger(type=USER_DEFINED_EVENT, source=f"cameras/{CAMERA_IDS[i % 2]}", tag=f"t{i}")
        for i in range(n)
    ]


def chunk_of(triggers: list[Any]) -> Chunk:
    chunker = Chunker(100, 1 << 20, reject_invalid=False)
    for i, trigger in enumerate(triggers):
        chunker.add(i, trigger, prepare(trigger, 1 << 20))
    chunk = chunker.take()
    assert chunk is not None
    return chunk


@pytest.mark.parametrize(
    "answer",
    [
        {"array": [{"id": str(uuid.uuid4())}]},  # one item for two triggers
        {"array": [{"id": str(uuid.uuid4())}, {"what": 1}]},  # neither event nor error
        {"array": [{"id": str(uuid.uuid4())}, {"error": {"httpCode": 200}}]},
        {"array": [{"id": str(uuid.uuid4())}, "text"]},
        {"data": []},
    ],
)
def test_a_malformed_answer_fails_the_whole_chunk(answer: dict[str, Any]) -> None:
    chunk = chunk_of(doors(2))
    with pytest.raises(ProtocolError):
        answers(chunk.indices, chunk.triggers, answer, BATCH_PATH)
    results = failed(chunk.indices, chunk.triggers, ProtocolError("bad", status=200), BATCH_PATH)
    assert [r.status for r in results] == ["unknown", "unknown"]


def test_per_item_errors_become_the_servers_errors() -> None:
    chunk = chunk_of(doors(2))
    error = {"error": {"httpCode": "403", "details": [{"errorText": "No.", "errorTextId": "X1"}]}}
    results = answers(chunk.indices, chunk.triggers, {"array": [{"id": "e1"}, error]}, BATCH_PATH)
    assert [r.status for r in results] == ["accepted", "rejected"]
    assert isinstance(results[1].error, ForbiddenError)
    assert (results[1].error.error_text, results[1].error.error_text_id) == ("No.", "X1")
    assert results[1].error.path == "/api/rest/v1/events/batch"


@pytest.mark.parametrize(
    ("error", "status", "sent"),
    [
        (ConnectError("refused"), "rejected", False),
        (RequestTimeoutError("slow"), "unknown", True),
        (TransportError("cut"), "unknown", True),
        (RateLimitedError(status=429), "rejected", True),  # a 4xx: refused, with or without
        (RateLimitedError(status=429, retry_after=1), "rejected", True),  # Retry-After
        (ServerError(status=503, retry_after=1), "rejected", True),  # the server said so
        (ServerError(status=503), "unknown", True),  # may come after the backend acted
        (ServerError(status=500), "unknown", True),
        (ServerError(status=504), "unknown", True),
        (BadRequestError(status=400), "rejected", True),
        (UnauthorizedError(status=401), "rejected", True),
        (ProtocolError("redirected", status=302), "rejected", True),
        (ProtocolError("truncated", status=200), "unknown", True),
        (AuthenticationError("refused"), "rejected", True),
        (RuntimeError("surprise"), "unknown", True),
    ],
)
def test_the_accounting_rule_for_a_failed_chunk(error: Exception, status: str, sent: bool) -> None:
    assert outcome(error) == (status, sent)
