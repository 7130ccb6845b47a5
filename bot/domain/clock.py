"""The one source of "now".

Nothing in the app reads the wall clock directly: the composition creates one clock and
hands it to the store, the handlers and the sweeper, so `remind --now` and the tests can
set the time and every decision (due dates, snoozes, claims, leases) agrees on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware and in UTC."""
        ...


class SystemClock:
    """The wall clock: what `postmortem-bot run` uses."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """Stands at a set instant until moved: `remind --now`, and tests."""

    def __init__(self, at: datetime) -> None:
        self._at = _utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _utc(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock is set to an aware datetime")
    return at.astimezone(UTC)
