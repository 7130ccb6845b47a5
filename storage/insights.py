"""The insights' counts (``bot.domain.insights``): five statements per workspace, each reading
through an index only the rows its figures are made of, whatever else is stored.

- The postmortems: the workspace's, every week of the trend a column of its own (``SUM(CASE
  ...)``), so twelve weeks cost one statement rather than one per week.
- Done on time, and the median days to close: the actions done since the first week began,
  through ``CLOSED_INDEX``, which holds every column they are counted by.
- Past due at each week's end: the open actions past due at the last one (``OPEN_INDEX``), and
  those closed since the first one after their due day (``CLOSED_INDEX``). No other action was
  past due at any week's end while open: one open and not past due at the last one was not
  past due at an earlier one either, and one closed on or before its due day never was.
- Unowned: through ``UNOWNED_INDEX`` and the owners' index, as ``/metrics`` counts them.

Counted in one pass over every open action of the workspace and those closed in the span, the
tally of 500,000 open actions took 3.3 s on SQLite, holding its one connection while every
request's statements waited, and 0.7 s on PostgreSQL; 0.43 s and 0.22 s this way, most of it
the 110,000 actions closed in the span (``bench/sweep_scale.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, Select, and_, case, cast, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.insights import STALLED_AFTER, WEEK, Tally, middle_offsets, week_ends
from bot.domain.template import DONE, OPEN
from storage.base import StoreBase
from storage.models import CLOSED_INDEX, OPEN_INDEX, OWNER_INDEX, ActionRow, PostmortemRow
from storage.owners import UNOWNED_INDEX, needs_owner
from storage.people import DEPARTED, per_departed
from storage.sqlite_hints import indexed_by

_table = ActionRow.__table__
_actions = _table.c
_postmortems = PostmortemRow.__table__.c
_COUNTED = (_actions.status, _actions.due, _actions.created_at, _actions.closed_at)
"""What says whether an action was past due at an instant; with ``postmortem_id``, what ``CLOSED_INDEX`` holds."""


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _within(column: Any, ends: datetime) -> ColumnElement[bool]:
    return and_(column >= ends - WEEK, column < ends)


def _overdue_at(actions: Any, ends: datetime) -> ColumnElement[bool]:
    """Past due at ``ends``: created before, due before that (UTC) day, and still open then."""
    still_open = or_(actions.status == OPEN, actions.closed_at >= ends)
    return and_(actions.created_at < ends, actions.due < ends.date(), still_open)


def _closed_on(closed_at: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day an action was closed on (the day the card and the reminders call "today")."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", closed_at), Date)
    return func.date(closed_at)


def _days_to_close(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", _actions.closed_at - _actions.created_at), Float) / 86400.0
    return func.julianday(_actions.closed_at) - func.julianday(_actions.created_at)


def _read(columns: Any, index: str, team_id: str, *where: ColumnElement[bool]) -> Select[Any]:
    """The team's actions found through ``index``; each is tested against the set of the team's
    postmortems, built once, rather than the team's postmortems each leading to all their actions."""
    of_team = _actions.postmortem_id.in_(select(_postmortems.id).where(_postmortems.team_id == team_id))
    return indexed_by(select(*columns).select_from(_table).where(of_team, *where), _table, index)


def _past_due(columns: Sequence[Any], team_id: str, first: datetime, ends: datetime, dialect: str) -> list[Select[Any]]:
    """``columns`` of the actions past due at some week's end from ``first`` to ``ends``, in two
    reads: those open and past due at ``ends``, and those closed since ``first`` after their due
    day (closed on or before it, an action was past due at no week's end it was still open at)."""
    return [
        _read(columns, OPEN_INDEX, team_id, _actions.status == OPEN, _actions.due < ends.date()),
        _read(
            columns,
            CLOSED_INDEX,
            team_id,
            _actions.closed_at >= first,
            _actions.status != OPEN,
            _actions.due < _closed_on(_actions.closed_at, dialect),
        ),
    ]


def _unowned(team_id: str, ends: datetime) -> list[ColumnElement[int]]:
    """Open actions nobody can be reminded of by name: with no user as owner, and with a departed
    one (never both: only Slack user ids are looked up, so a departed owner is one)."""
    no_user, _ = needs_owner(_actions.owner, DEPARTED)
    unowned = (_actions.status == OPEN, _actions.created_at < ends)
    return [
        _read([func.count()], UNOWNED_INDEX, team_id, no_user, *unowned).scalar_subquery(),
        per_departed(_read([func.count()], OWNER_INDEX, team_id, *unowned), _actions.owner),
    ]


def _done_in(weeks: list[datetime]) -> ColumnElement[bool]:
    return and_(_actions.status == DONE, _actions.closed_at >= weeks[0] - WEEK, _actions.closed_at < weeks[-1])


class InsightsReads(StoreBase):
    async def tally(self, team_id: str, ends: datetime) -> Tally:
        """The counts of the ``WEEKS`` weeks up to ``ends`` for one workspace."""
        weeks = week_ends(ends.astimezone(UTC))
        dialect = self.engine.dialect.name
        async with self.engine.connect() as connection:
            started, finished, stalled = await self._postmortem_counts(connection, team_id, weeks)
            on_time, closed = await self._done_counts(connection, team_id, weeks, dialect)
            overdue, unowned = await self._overdue_counts(connection, team_id, weeks, dialect)
            middle = await self._middle_days(connection, team_id, weeks, closed, dialect)
            owners = await self._overdue_owners(connection, team_id, weeks[-1], dialect)
        return Tally(weeks, started, finished, on_time, overdue, stalled, unowned, closed, middle, owners)

    @staticmethod
    async def _postmortem_counts(
        connection: AsyncConnection, team_id: str, weeks: list[datetime]
    ) -> tuple[list[int], list[int], int]:
        ends = weeks[-1]
        last_touched = func.coalesce(_postmortems.last_edited_at, _postmortems.created_at)
        stalled = and_(
            _postmortems.finished_at.is_(None),
            _postmortems.created_at < ends,
            last_touched < ends - STALLED_AFTER,
        )
        row = (
            await connection.execute(
                select(
                    *(_count(_within(_postmortems.created_at, w)) for w in weeks),
                    *(_count(_within(_postmortems.finished_at, w)) for w in weeks),
                    _count(stalled),
                ).where(_postmortems.team_id == team_id)
            )
        ).one()
        n = len(weeks)
        return list(row[:n]), list(row[n : 2 * n]), row[2 * n]

    @staticmethod
    async def _done_counts(
        connection: AsyncConnection, team_id: str, weeks: list[datetime], dialect: str
    ) -> tuple[list[int], int]:
        """Actions done on time, per week, and done at all in the span: each action done in the span is
        put in its week once (``CASE`` in week order) rather than tested against every week."""
        week = case(*((_actions.closed_at < w, i) for i, w in enumerate(weeks)))
        in_time = or_(_actions.due.is_(None), _actions.due >= _closed_on(_actions.closed_at, dialect))
        columns = [week.label("week"), case((in_time, 1), else_=0).label("in_time")]
        done = _read(columns, CLOSED_INDEX, team_id, _done_in(weeks)).subquery("done")
        rows = await connection.execute(
            select(done.c.week, func.count(), func.sum(done.c.in_time)).group_by(done.c.week)
        )
        on_time = [0] * len(weeks)
        closed = 0
        for i, count, in_time_count in rows:
            on_time[i] = in_time_count
            closed += count
        return on_time, closed

    @staticmethod
    async def _overdue_counts(
        connection: AsyncConnection, team_id: str, weeks: list[datetime], dialect: str
    ) -> tuple[list[int], int]:
        """Past due at each week's end, counted in each of the two reads on its own, then added up:
        counted over the union of their rows, every row went through a subquery, twice the time."""
        per_week = [_count(_overdue_at(_actions, w)).label(f"week_{i}") for i, w in enumerate(weeks)]
        arms = union_all(*_past_due(per_week, team_id, weeks[0], weeks[-1], dialect)).subquery("arms")
        summed = [func.sum(arms.c[f"week_{i}"]) for i in range(len(weeks))]
        row = (await connection.execute(select(*summed, *_unowned(team_id, weeks[-1])))).one()
        n = len(weeks)
        no_user, departed = row[n:]
        return [int(count) for count in row[:n]], no_user + departed

    @staticmethod
    async def _middle_days(
        connection: AsyncConnection, team_id: str, weeks: list[datetime], closed: int, dialect: str
    ) -> list[float]:
        """The middle one or two days-to-close of the actions done in the span: a median without
        reading the others (SQLite has no percentile function)."""
        if not closed:
            return []
        offset, count = middle_offsets(closed)
        days = _days_to_close(dialect)
        rows = await connection.execute(
            _read([days], CLOSED_INDEX, team_id, _done_in(weeks)).order_by(days).offset(offset).limit(count)
        )
        return [float(value) for (value,) in rows]

    @staticmethod
    async def _overdue_owners(
        connection: AsyncConnection, team_id: str, ends: datetime, dialect: str
    ) -> dict[str, int]:
        past_due = (
            union_all(*_past_due([*_COUNTED, _actions.owner], team_id, ends, ends, dialect)).subquery("past_due").c
        )
        a_person = ~or_(*needs_owner(past_due.owner, DEPARTED, qualified=True))
        rows = await connection.execute(
            select(past_due.owner, func.count()).where(_overdue_at(past_due, ends), a_person).group_by(past_due.owner)
        )
        return {owner: count for owner, count in rows}
