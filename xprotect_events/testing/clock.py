"""Simulated time (:class:`SimClock`) and the microsecond arithmetic the store keys on."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


class SimClock:
    """Simulated time: the real wall clock plus an offset that :meth:`advance` grows.

    Tests move time forward instead of sleeping: tokens expire, retention lapses and idle
    sessions are dropped, all evaluated lazily against :meth:`now` on each request.
    ``SimClock(start)`` starts at ``start`` and then runs; :meth:`frozen` (or :meth:`freeze`)
    stops time entirely so that only :meth:`advance` moves it. Kept in whole microseconds.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._offset_us = 0 if start is None else to_us(aware(start)) - wall_us()
        self._frozen_us: int | None = None

    @classmethod
    def frozen(cls, at: datetime | None = None) -> SimClock:
        """A clock stopped at ``at`` (default: now)."""
        clock = cls()
        clock._frozen_us = wall_us() if at is None else to_us(aware(at))
        return clock

    @property
    def is_frozen(self) -> bool:
        """Whether the clock stands still (moved only by the test)."""
        return self._frozen_us is not None

    def freeze(self) -> None:
        """Stop time where it is; :meth:`advance` still moves it."""
        self._frozen_us = self.now_us()

    def unfreeze(self) -> None:
        """Let time run again from where it stands."""
        if self._frozen_us is not None:
            self._offset_us = self._frozen_us - wall_us()
            self._frozen_us = None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("the simulated clock never goes backwards")
        step = round(seconds * 1_000_000)
        if self._frozen_us is not None:
            self._frozen_us += step
        else:
            self._offset_us += step

    def now_us(self) -> int:
        """Microseconds since the epoch."""
        if self._frozen_us is not None:
            return self._frozen_us
        return wall_us() + self._offset_us

    def time(self) -> float:
        """Seconds since the epoch (like ``time.time()``)."""
        return self.now_us() / 1_000_000

    def now(self) -> datetime:
        """An aware UTC datetime."""
        return from_us(self.now_us())

    def __repr__(self) -> str:
        return f"SimClock({self.now().isoformat()}, frozen={self.is_frozen})"


def wall_us() -> int:
    """The real wall clock, in microseconds since the epoch."""
    return _time.time_ns() // 1000


def aware(value: datetime) -> datetime:
    """``value`` if it has a timezone, else :class:`ValueError`."""
    if value.utcoffset() is None:
        raise ValueError(f"a naive datetime is ambiguous; give it a timezone: {value!r}")
    return value


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    """The aware UTC datetime ``us`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=us)
