"""Insights: how a workspace's postmortems and corrective actions are doing, week by week.

Pure: the figures are counted by ``storage.insights`` for instants this module chooses, and
read back here. What each figure means:

- *started*: postmortems created in the week.
- *finished*: postmortems whose card first showed every section done in the week. The card
  is what people look at, and "Sections done: 10/10" is the one thing on it that says a
  postmortem is complete whatever its template; a status field is a template's own word
  that no role names, so it cannot be counted across templates.
- *stalled*: not finished, and nobody edited it for ``STALLED_AFTER``: a week with no edit
  means a whole weekly review went by without anyone touching it.
- *done on time*: actions marked done in the week, on or before their due date (an action
  without a due date cannot be late).
- *overdue*: open actions past their due date at the week's end.
- *unowned*: open actions nobody can be reminded of by name (no owner, an owner Slack says
  is gone, or a team name from an imported file).
- *median days to close*: over the actions done in the last ``WEEKS`` weeks, from creation
  to done; one week's handful is too few for a median worth reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)
WEEKS = 12
"""The trend's length."""
STALLED_AFTER = timedelta(days=7)
TOP = 5
"""How many overdue owners and teams are named."""


@dataclass(frozen=True)
class WeekPoint:
    """One week of the trend, ending at ``ends``."""

    ends: datetime
    started: int
    finished: int
    done_on_time: int
    overdue: int


@dataclass(frozen=True)
class Figures:
    """A workspace's figures for the week ending at ``ends``; ``trend`` is oldest first and ends with it."""

    ends: datetime
    started: int
    finished: int
    stalled: int
    done_on_time: int
    overdue: int
    unowned: int
    median_days_to_close: float | None
    top_owners: list[tuple[str, int]]
    """Slack user ids with the most overdue actions, most first."""
    top_teams: list[tuple[str, int]]
    """User group handles, with the overdue actions of their members, most first."""
    trend: list[WeekPoint]


@dataclass(frozen=True)
class Tally:
    """What the database counts for the weeks ending at ``ends`` (oldest first): the figures' raw material."""

    ends: list[datetime]
    started: list[int]
    finished: list[int]
    done_on_time: list[int]
    overdue: list[int]
    stalled: int
    unowned: int
    closed: int
    """Actions done in the whole trend's span."""
    middle_days: list[float]
    """The middle one or two of their days to close (``middle_offsets``)."""
    overdue_by_owner: dict[str, int]
    """Overdue actions at the last week's end, per Slack user owning them."""


def figures(tally: Tally, groups: Mapping[str, Iterable[str]]) -> Figures:
    """The figures of the last week of ``tally``, with ``groups`` (user group handle -> members) for the teams."""
    trend = [
        WeekPoint(*point)
        for point in zip(tally.ends, tally.started, tally.finished, tally.done_on_time, tally.overdue, strict=True)
    ]
    owners = sorted(tally.overdue_by_owner.items(), key=lambda item: (-item[1], item[0]))
    last = trend[-1]
    return Figures(
        ends=last.ends,
        started=last.started,
        finished=last.finished,
        stalled=tally.stalled,
        done_on_time=last.done_on_time,
        overdue=last.overdue,
        unowned=tally.unowned,
        median_days_to_close=median(tally.middle_days, tally.closed),
        top_owners=owners[:TOP],
        top_teams=team_counts(tally.overdue_by_owner, groups),
        trend=trend,
    )


def week_ends(ends: datetime, weeks: int = WEEKS) -> list[datetime]:
    """The ends of the ``weeks`` weeks up to ``ends``, oldest first; each week starts where the one before ends."""
    return [ends - WEEK * back for back in range(weeks - 1, -1, -1)]


def median(middle: list[float], count: int) -> float | None:
    """The median of ``count`` sorted values, given only their middle one (odd count) or two (even)."""
    if count == 0:
        return None
    return sum(middle) / len(middle)


def middle_offsets(count: int) -> tuple[int, int]:
    """(offset, how many) of the middle values of ``count`` sorted values."""
    return (count - 1) // 2, 2 - count % 2


def team_counts(owner_counts: Mapping[str, int], groups: Mapping[str, Iterable[str]]) -> list[tuple[str, int]]:
    """Overdue actions per user group (a person in two groups counts in both), the ``TOP`` most first."""
    counts = {handle: sum(owner_counts.get(user, 0) for user in set(members)) for handle, members in groups.items()}
    ranked = sorted(((h, n) for h, n in counts.items() if n), key=lambda item: (-item[1], item[0]))
    return ranked[:TOP]


def iso_week(at: datetime, zone: str) -> str:
    """The ISO week ``at`` falls in, in ``zone`` (``2026-W48``): the weekly post's key, once per week
    whatever the clocks do that day."""
    year, week, _ = at.astimezone(ZoneInfo(zone)).isocalendar()
    return f"{year}-W{week:02d}"
