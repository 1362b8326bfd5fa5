"""Fault flags as text: ``ROUTE=KIND[:ARG][,KIND[:ARG]…][@PROBABILITY]``.

``xprotect-events serve --fault`` parses its values here and switches them on with
:func:`apply_fault_flags`; any other driver of the simulator may do the same. Pure: bad text
is an :class:`~xprotect_events.errors.InvalidInputError` that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidInputError
from .app import ROUTE_KEYS
from .faults import Fault, Faults

#: One parsed flag: the route key (or ``*``), the kinds drawn from, the probability.
FaultFlag = tuple[str, list[Fault], float]

#: What a flag's KIND may be: each kind, its optional argument, and what it does.
FAULT_KINDS_HELP = {
    "reset_before": "cut the connection before the handler runs (nothing happened)",
    "reset_after": "run the handler, then cut the connection (it happened, no answer)",
    "status[:CODE[:RETRY_AFTER]]": "answer CODE (default 503) with an error body",
    "rate_limit[:RETRY_AFTER]": "answer 429 with Retry-After (default 1 s)",
    "delay:SECONDS": "answer SECONDS late (the handler runs, client or not)",
    "truncate": "run the handler, send half the body, cut the connection",
    "html[:CODE]": "answer a proxy's HTML error page (default 502)",
    "revoke_token": "revoke every token, then handle the request (401)",
    "drop_session": "drop every event session, then handle the request",
}

#: The help text of a fault flag: the syntax, the routes, every kind, an example.
FAULT_FLAG_HELP = (
    "Inject faults: ROUTE=KIND[:ARG][,KIND[:ARG]...][@PROBABILITY] (repeatable; several kinds "
    "are drawn from at random; the probability defaults to 1, every request). ROUTE is "
    "'METHOD /path/template' as the simulator names it (e.g. 'POST /api/rest/v1/events/batch', "
    "'GET /api/rest/v1/eventSessions/{id}', 'POST /IDP/connect/token', the WebSocket "
    "upgrade 'GET /api/ws/events/v1') or * for every REST API route. Kinds: "
    + "; ".join(f"{kind}: {what}" for kind, what in FAULT_KINDS_HELP.items())
    + ". Example: --fault 'POST /api/rest/v1/events/batch=reset_after,status:500@0.05'."
)

#: How many numeric arguments each kind takes (the others take none).
_MOST_ARGUMENTS = {"status": 2, "rate_limit": 1, "delay": 1, "html": 1}


def parse_fault_flag(text: str) -> FaultFlag:
    """``ROUTE=KIND[:ARG][,KIND[:ARG]…][@PROBABILITY]`` as ``(route, faults, probability)``.

    ROUTE is a route key (``"POST /api/rest/v1/events/batch"``, ``"GET
    /api/rest/v1/eventSessions/{id}"``, ``"POST /IDP/connect/token"``) or ``*`` (every API
    route); several kinds are drawn from at random; the probability defaults to 1 (every
    request).
    """
    route, sep, spec = text.rpartition("=")
    route = route.strip()
    if not sep or not route:
        raise InvalidInputError(f"{text!r} is not ROUTE=KIND[@PROBABILITY]")
    if route != "*" and route not in ROUTE_KEYS:
        known = ", ".join(sorted(ROUTE_KEYS))
        raise InvalidInputError(f"unknown route {route!r}; use '*' or one of: {known}")
    kinds, at, chance = spec.partition("@")
    probability = _probability(chance) if at else 1.0
    return route, [parse_fault_kind(item.strip()) for item in kinds.split(",")], probability


def _probability(text: str) -> float:
    try:
        probability = float(text)
    except ValueError:
        raise InvalidInputError(f"probability {text!r} is not a number") from None
    if not 0 < probability <= 1:
        raise InvalidInputError(f"probability {text!r} is not in (0, 1]")
    return probability


def _arguments(item: str, kind: str, args: list[str]) -> list[float]:
    try:
        numbers = [float(a) for a in args]
    except ValueError:
        raise InvalidInputError(f"{item!r}: the arguments must be numbers") from None
    if any(not 0 <= n < float("inf") for n in numbers):
        raise InvalidInputError(f"{item!r}: the arguments must be finite and >= 0")
    most = _MOST_ARGUMENTS.get(kind, 0)
    if len(numbers) > most:
        raise InvalidInputError(f"{item!r}: {kind or 'a fault'} takes at most {most} argument(s)")
    return numbers


def parse_fault_kind(item: str) -> Fault:
    """One ``KIND[:ARG[:ARG]]`` of a fault flag as a :class:`Fault`."""
    kind, *args = item.split(":")
    numbers = _arguments(item, kind, args)
    code = int(numbers[0]) if numbers and kind in ("status", "html") else None
    if code is not None and not 400 <= code <= 599:
        raise InvalidInputError(f"{item!r}: the status must be 400 to 599")
    retry_after = numbers[1] if len(numbers) > 1 else None
    if kind == "status":
        return Fault.status(code or 503, retry_after=retry_after)
    if kind == "rate_limit":
        return Fault.rate_limit(numbers[0] if numbers else 1)
    if kind == "delay":
        if not numbers:
            raise InvalidInputError(f"{item!r}: delay needs its seconds (delay:1.5)")
        return Fault.delay(numbers[0])
    if kind == "html":
        return Fault.html(code or 502)
    try:
        return Fault(kind)
    except ValueError:
        kinds = ", ".join(k.split("[")[0].split(":")[0] for k in FAULT_KINDS_HELP)
        raise InvalidInputError(f"unknown fault kind {kind!r}; use one of: {kinds}") from None


def apply_fault_flags(faults: Faults, flags: Iterable[FaultFlag], *, seed: int = 0) -> list[str]:
    """Switch on each flag as one seeded random rule (seed ``seed`` + its position), in the
    given order; one line per flag saying what it does."""
    said = []
    for number, (route, kinds, probability) in enumerate(flags):
        faults.random(route, probability, kinds, seed=seed + number)
        names = ", ".join(kind.kind for kind in kinds)
        said.append(f"fault: {route}: {names} on {probability:.0%} of requests")
    return said
