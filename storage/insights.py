"""The insights' counts (``bot.domain.insights``): four aggregate statements per workspace,
whatever its number of postmortems, each answering with numbers or a short list.

Every week of the trend is a column of its own (``SUM(CASE ...)``), so twelve weeks cost one
statement per table rather than one per week, and no row leaves the database to be counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.insights import STALLED_AFTER, WEEK, Tally, middle_offsets, week_ends
from bot.domain.template import DONE, OPEN
from storage.base import StoreBase
from storage.models import ActionRow, PostmortemRow
from storage.owners import needs_owner
from storage.people import DEPARTED

_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c
_OF_TEAM = ActionRow.__table__.join(PostmortemRow.__table__, _postmortems.id == _actions.postmortem_id)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _within(column: Any, ends: datetime) -> ColumnElement[bool]:
    return and_(column >= ends - WEEK, column < ends)


def _overdue_at(ends: datetime) -> ColumnElement[bool]:
    """Past due at ``ends``: created before, due before that (UTC) day, and still open then."""
    still_open = or_(_actions.status == OPEN, _actions.closed_at >= ends)
    return and_(_actions.created_at < ends, _actions.due < ends.date(), still_open)


def _closed_on(dialect: str) -> ColumnElement[Any]:
    """The UTC day an action was closed on (the day the card and the reminders call "today")."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", _actions.closed_at), Date)
    return func.date(_actions.closed_at)


def _days_to_close(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", _actions.closed_at - _actions.created_at), Float) / 86400.0
    return func.julianday(_actions.closed_at) - func.julianday(_actions.created_at)


class InsightsReads(StoreBase):
    async def tally(self, team_id: str, ends: datetime) -> Tally:
        """The counts of the ``WEEKS`` weeks up to ``ends`` for one workspace."""
        weeks = week_ends(ends)
        dialect = self.engine.dialect.name
        async with self.engine.connect() as connection:
            started, finished, stalled = await self._postmortem_counts(connection, team_id, weeks)
            on_time, overdue, unowned, closed = await self._action_counts(connection, team_id, weeks, dialect)
            middle = await self._middle_days(connection, team_id, weeks, closed, dialect)
            owners = await self._overdue_owners(connection, team_id, ends)
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
    async def _action_counts(
        connection: AsyncConnection, team_id: str, weeks: list[datetime], dialect: str
    ) -> tuple[list[int], list[int], int, int]:
        ends, since = weeks[-1], weeks[0] - WEEK
        done = _actions.status == DONE
        in_time = or_(_actions.due.is_(None), _actions.due >= _closed_on(dialect))
        nobody = or_(*needs_owner(_actions.owner, DEPARTED, qualified=True))
        unowned = and_(_actions.status == OPEN, _actions.created_at < ends, nobody)
        row = (
            await connection.execute(
                select(
                    *(_count(and_(done, _within(_actions.closed_at, w), in_time)) for w in weeks),
                    *(_count(_overdue_at(w)) for w in weeks),
                    _count(unowned),
                    _count(and_(done, _actions.closed_at >= since, _actions.closed_at < ends)),
                )
                .select_from(_OF_TEAM)
                .where(_postmortems.team_id == team_id, or_(_actions.status == OPEN, _actions.closed_at >= since))
            )
        ).one()
        n = len(weeks)
        return list(row[:n]), list(row[n : 2 * n]), row[2 * n], row[2 * n + 1]

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
            select(days)
            .select_from(_OF_TEAM)
            .where(
                _postmortems.team_id == team_id,
                _actions.status == DONE,
                _actions.closed_at >= weeks[0] - WEEK,
                _actions.closed_at < weeks[-1],
            )
            .order_by(days)
            .offset(offset)
            .limit(count)
        )
        return [float(value) for (value,) in rows]

    @staticmethod
    async def _overdue_owners(connection: AsyncConnection, team_id: str, ends: datetime) -> dict[str, int]:
        a_person = ~or_(*needs_owner(_actions.owner, DEPARTED, qualified=True))
        rows = await connection.execute(
            select(_actions.owner, func.count())
            .select_from(_OF_TEAM)
            .where(_postmortems.team_id == team_id, _overdue_at(ends), a_person)
            .group_by(_actions.owner)
        )
        return {owner: count for owner, count in rows}
