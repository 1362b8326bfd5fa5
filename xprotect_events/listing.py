"""``GET /events`` page by page under a moving time bound (keyset paging): what
``XProtectClient.list_events`` yields.

Page numbers alone (``page=0,1,2…``) lose events when the store changes during a listing:
a delete ahead of the next page (retention deletes the oldest) shifts every later page
back, and the events that cross the page boundary are never read; newer events arriving
at the top of a newest-first listing shift the pages forward and repeat. So every page
after the first starts again at ``page=0`` with the time bound narrowed to the last event
yielded (``gt:`` oldest first, ``lt:`` newest first, with the caller's ``since``/``until``
on the other side; the tighter of the two wins): a change before the bound no longer
moves what comes after it.

The bound stops short of the last time by the server's filter accuracy (``Profile.
time_filter_accuracy``, 10 ms [seed]: a server may round the bound that much either way)
and one microsecond more: servers write 7 fraction digits and a ``datetime`` keeps 6, the
7th rounded half up (:func:`.wire.parse_time`), so an event read as ``.123457`` may be
anything from ``.1234565`` to ``.1234574`` on the server; a bound one 100 ns tick under
it would skip those not read yet. Events a request returns from before the last time were
yielded already (or were stored behind the listing since) and are dropped; those yielded
between the bound and it are remembered by id (:class:`Edge`) and dropped when read
again, and the request asks for that many more than ``page_size`` (up to the profile's
``max_page_size``): a page still brings ``page_size`` new events. An id a page repeats,
or one yielded near the bound that comes again with another time, is yielded once.

The bound is only as good as the order: a page whose times are not in the order asked for
(oldest first, or newest first) is a :class:`ProtocolError`, raised before any event of it
is yielded; under a bound moved to its last event, the next page would skip events.

When a whole page lies at one time (more events at one instant than a page holds), the
bound cannot move: the listing reads on by page number under the same bound (and the same
size) until it can. A server that ignores the time filter shows it by answering a
narrowed request with an event before its bound by more than the accuracy: the listing
then reads the rest by page number under the caller's own bounds (:class:`Pager`),
dropping what it yielded already by time and id, so it neither loops nor repeats; a
delete may then skip events, as page numbers do. While every event so far lies within
the accuracy, such a server cannot be told from one that rounds: each narrowed page then
starts over from its first page, slower, still without repeats or skips. A server that
ignores the page number as well would answer every page with the same events for ever:
two pages that repeat an earlier page whole, while only the page number moved, are a
:class:`ProtocolError` (:class:`Repeats`).

Pure but for :func:`list_events`, which makes the requests through the :class:`Core`.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta

from . import filters as f
from . import typed
from .core import Core
from .errors import ProtocolError
from .models import Event
from .options import ListQuery
from .typed import AnyEvent, FastPage

#: How much further the bound stops short of the last event's time than the filter's
#: accuracy: every server time that reads as the same microsecond is within it.
ROUNDING = timedelta(microseconds=1)

#: Pages that brought again what another page brought, while only the page number moved:
#: this many, and the server ignores ``page`` (:class:`Repeats`).
MOST_REPEATS = 2

_ID_INT = operator.attrgetter("id.int")
_TIME = operator.attrgetter("time")


class Edge:
    """Where a listing stands: the bound the next page is read from (None: unbounded) and
    the ids of the events yielded at or past it, which a page under it returns again.

    ``bound`` starts as the caller's own (``since``, or ``until`` newest first) and only
    ever tightens. The ids kept are those between the bound and the last time (``accuracy``
    plus :data:`ROUNDING`; all of a run of events at one time), not every id yielded.
    """

    def __init__(self, query: ListQuery, accuracy: timedelta) -> None:
        self.accuracy = accuracy
        self.step = accuracy + ROUNDING
        self.desc = query.desc
        self.since = query.since
        self.until = query.until
        #: The caller's own bound on the side that the listing narrows.
        self.own = query.until if query.desc else query.since
        self.bound = self.own
        self.last: datetime | None = None  # the time of the last event yielded
        self.near: dict[int, datetime] = {}

    def before(self, time: datetime) -> bool:
        """Whether ``time`` lies before the bound."""
        if self.bound is None:
            return False
        return time > self.bound if self.desc else time < self.bound

    def outside(self, events: Sequence[AnyEvent]) -> bool:
        """Whether an event lies before the bound by more than the filter's accuracy: a
        server that applied the bound would not have sent it."""
        if self.bound is None or not events:
            return False
        if self.desc:
            return max(e.time for e in events) - self.bound > self.accuracy
        return self.bound - min(e.time for e in events) > self.accuracy

    def fresh(self, events: Sequence[AnyEvent]) -> list[AnyEvent]:
        """The events of a page not yielded yet: none behind the last time yielded (before
        the first, the caller's own bound), none whose id was yielded near it, and each id
        of the page once (a server that repeats an event, or sends it again with another
        time, shows it once). Per event, one time compared; the ids checked in C."""
        floor = self.own if self.last is None else self.last
        if floor is None:
            kept = list(events)
        elif self.desc:
            kept = [e for e in events if e.time <= floor]
        else:
            kept = [e for e in events if e.time >= floor]
        return once(kept, self.near)

    def took(self, events: Sequence[AnyEvent]) -> None:
        """Note ``events`` as yielded: the last time is the latest of them (the earliest,
        newest first), the bound moves just short of it (if that is tighter), and the ids
        kept are those of the events yielded at or past the bound."""
        if not events:
            return
        times = [e.time for e in events]
        self.last = min(times) if self.desc else max(times)
        bound = short_of(self.last, self.step, self.desc)
        if bound is not None and (self.bound is None or self.tighter(bound, self.bound)):
            self.bound = bound
            self.near = {i: t for i, t in self.near.items() if not self.before(t)}
        bound = self.bound
        pairs = zip(events, times, strict=True)
        if bound is None:
            self.near.update((e.id.int, t) for e, t in pairs)
        elif self.desc:
            self.near.update((e.id.int, t) for e, t in pairs if t <= bound)
        else:
            self.near.update((e.id.int, t) for e, t in pairs if t >= bound)

    def tighter(self, a: datetime, b: datetime) -> bool:
        """Whether bound ``a`` leaves out more than ``b``."""
        return a < b if self.desc else a > b

    def time_filter(self) -> str:
        """The ``time`` parameter of a page under the bound, with the caller's other side."""
        after, before = (self.since, self.bound) if self.desc else (self.bound, self.until)
        conditions = [f.gt(after)] if after is not None else []
        conditions += [f.lt(before)] if before is not None else []
        return f.encode_conditions(conditions)


def once(events: list[AnyEvent], seen: Mapping[int, object]) -> list[AnyEvent]:
    """``events`` without the ids in ``seen``, each id once (the first kept)."""
    ids = list(map(_ID_INT, events))
    if len(set(ids)) == len(ids) and seen.keys().isdisjoint(ids):
        return events  # the usual page: no repeat
    taken = set(seen)
    kept = []
    for event_id, event in zip(ids, events, strict=True):
        if event_id not in taken:
            taken.add(event_id)
            kept.append(event)
    return kept


def in_order(page: FastPage, desc: bool) -> FastPage:
    """``page``, if its events are in the order asked for; else :class:`ProtocolError`.
    Out of order, the last event's time is no bound: the next page would skip events."""
    times = list(map(_TIME, page.events))
    order = operator.ge if desc else operator.le
    if not all(map(order, times, times[1:])):
        asked = "newest" if desc else "oldest"
        raise ProtocolError(f"the page is not in time order ({asked} first was asked for)")
    return page


def short_of(time: datetime, step: timedelta, desc: bool) -> datetime | None:
    """The bound ``step`` short of ``time``; None past what a datetime holds."""
    try:
        return time + step if desc else time - step
    except OverflowError:
        return None


class Pager:
    """What the next request asks: page number, size, and the time bound (the
    :class:`Edge`'s as it stood when the bound last moved).

    Keyset paging (``keyset``) until a server answers a narrowed page with an event
    :meth:`~Edge.outside` its bound; then page numbers under the caller's own bounds, from
    the page after the last one read under them (a server that ignores the filter answered
    every narrowed page from page 0 of the whole listing, which was read already).
    """

    def __init__(self, query: ListQuery, edge: Edge, max_size: int) -> None:
        self.base = query.params
        self.page_size = query.page_size
        self.max_size = max(max_size, query.page_size)
        self.edge = edge
        self.keyset = True
        self.asked = edge.bound  # the bound of the pages being read
        self.size = query.page_size
        self.page = 0
        self.plain_next = 1  # the page number to go on from by page numbers alone

    @property
    def narrowed(self) -> bool:
        """Whether the pages being read are under a bound of the listing's own."""
        return self.asked != self.edge.own

    def params(self) -> dict[str, str]:
        """The query of the next request."""
        params = {**self.base, "page": str(self.page), "size": str(self.size)}
        if self.narrowed:
            params["time"] = self.edge.time_filter()
        return params

    def ignored(self, events: Sequence[AnyEvent]) -> bool:
        """Whether a page shows the server ignored the bound; if so, page numbers from now on."""
        if not (self.keyset and self.narrowed and self.edge.outside(events)):
            return False
        self.keyset = False
        self.asked = self.edge.own
        self.size = self.page_size
        self.page = self.plain_next
        return True

    def advance(self) -> None:
        """On to the next page: from page 0 under the moved bound, else the next number."""
        if not self.narrowed:
            self.plain_next = self.page + 1
        if self.keyset and self.edge.bound != self.asked:
            self.asked = self.edge.bound
            self.size = min(self.page_size + len(self.edge.near), self.max_size)
            self.page = 0
        else:
            self.page += 1


class Repeats:
    """Counts pages that bring a set of events already brought while only the page number
    moves: a server that ignores ``page`` (and the time bound) answers every page with the
    first (or cycles through a few), with a ``next`` link, for ever. One such page is let
    pass (the store may have moved under the numbers); :data:`MOST_REPEATS` are a
    :class:`ProtocolError`. Kept per run of requests alike but for the page number: one
    hash a page."""

    def __init__(self) -> None:
        self.asked: dict[str, str] = {}
        self.pages: set[int] = set()
        self.count = 0

    def check(self, params: Mapping[str, str], events: Sequence[AnyEvent]) -> None:
        """Note the page ``params`` asked for and the ``events`` it brought."""
        asked = {k: v for k, v in params.items() if k != "page"}
        if asked != self.asked:
            self.asked, self.pages, self.count = asked, set(), 0
        if not events:
            return
        page = hash(tuple(map(_ID_INT, events)))
        if page in self.pages:
            self.count += 1
        self.pages.add(page)
        if self.count >= MOST_REPEATS:
            raise ProtocolError(
                f"the server answered {self.count} pages with events it had sent on other "
                f"pages (page {params.get('page')} asked): it ignores the page parameter"
            )


async def list_events(core: Core, query: ListQuery) -> AsyncIterator[Event]:
    """Every stored event that matches ``query``, page by page (see the module's
    docstring), at most ``query.limit``; a missing ``next`` link or an empty page ends it
    (a short page with a ``next`` link is not the last: servers cap the size)."""
    edge = Edge(query, timedelta(seconds=core.profile.time_filter_accuracy))
    pager = Pager(query, edge, core.profile.max_page_size)
    left = query.limit

    def decode(raw: bytes) -> FastPage:
        return in_order(typed.page_forms(raw), query.desc)

    repeats = Repeats()
    while left is None or left > 0:
        params = pager.params()
        result = await core.call("GET", "/events", decode, params=params, raw=True)
        repeats.check(params, result.events)
        if pager.ignored(result.events):
            continue
        forms = edge.fresh(result.events)[:left]
        edge.took(forms)
        for start in range(0, len(forms), typed.SLICE):  # few Events live at once
            for event in typed.as_events(forms[start : start + typed.SLICE]):
                yield event
        if left is not None:
            left -= len(forms)
        if result.next is None or not result.events:
            return
        pager.advance()
