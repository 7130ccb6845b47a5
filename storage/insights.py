"""The insights' counts (``bot.domain.insights``): five statements per workspace, each reading
through an index only the rows its figures are made of, whatever else is stored. They are built
once per database, with the workspace and the weeks as parameters: built anew at every App Home
opened, their 24-column expressions took about 8 ms of the event loop's time.

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
request's statements waited, and 0.68 s on PostgreSQL; 0.41 s and 0.19 s this way, most of it
the 110,000 actions closed in the span (``bench/sweep_scale.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.insights import STALLED_AFTER, WEEK, WEEKS, Tally, middle_offsets, week_ends
from bot.domain.template import DONE, OPEN
from storage.base import StoreBase
from storage.models import CLOSED_INDEX, OPEN_INDEX, OWNER_INDEX, ActionRow, PostmortemRow
from storage.owners import NO_USER_OWNER, UNOWNED_INDEX, needs_owner
from storage.people import DEPARTED, per_departed
from storage.sqlite_hints import indexed_by

_table = ActionRow.__table__
_actions = _table.c
_postmortems = PostmortemRow.__table__.c
_COUNTED = (_actions.status, _actions.due, _actions.created_at, _actions.closed_at)
"""What says whether an action was past due at an instant; with ``postmortem_id``, what ``CLOSED_INDEX`` holds."""
_TEAM = bindparam("team_id", type_=String())
_EDGES = [bindparam(f"edge_{i}", type_=_actions.created_at.type) for i in range(WEEKS + 1)]
"""Week ``i`` of the trend runs from ``_EDGES[i]`` to ``_EDGES[i + 1]``."""
_DAYS = [bindparam(f"day_{i}", type_=Date()) for i in range(WEEKS)]
"""The UTC day week ``i`` ends on."""
_STALLED_BEFORE = bindparam("stalled_before", type_=_postmortems.created_at.type)
_OFFSET, _LIMIT = bindparam("offset", type_=Integer()), bindparam("limit", type_=Integer())


def _params(team_id: str, weeks: list[datetime]) -> dict[str, Any]:
    edges = [weeks[0] - WEEK, *weeks]
    return {
        "team_id": team_id,
        "stalled_before": weeks[-1] - STALLED_AFTER,
        **{f"edge_{i}": edge for i, edge in enumerate(edges)},
        **{f"day_{i}": end.date() for i, end in enumerate(weeks)},
    }


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in_week(column: Any, week: int) -> ColumnElement[bool]:
    return and_(column >= _EDGES[week], column < _EDGES[week + 1])


def _overdue_at(actions: Any, week: int) -> ColumnElement[bool]:
    """Past due at the end of ``week``: created before, due before that (UTC) day, and still open then."""
    ends = _EDGES[week + 1]
    still_open = or_(actions.status == OPEN, actions.closed_at >= ends)
    return and_(actions.created_at < ends, actions.due < _DAYS[week], still_open)


def _closed_on(closed_at: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day an action was closed on (the day the card and the reminders call "today")."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", closed_at), Date)
    return func.date(closed_at)


def _days_to_close(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", _actions.closed_at - _actions.created_at), Float) / 86400.0
    return func.julianday(_actions.closed_at) - func.julianday(_actions.created_at)


def _read(columns: Sequence[Any], index: str, *where: ColumnElement[bool]) -> Select[Any]:
    """The team's actions found through ``index``; each is tested against the set of the team's
    postmortems, built once, rather than the team's postmortems each leading to all their actions."""
    of_team = _actions.postmortem_id.in_(select(_postmortems.id).where(_postmortems.team_id == _TEAM))
    return indexed_by(select(*columns).select_from(_table).where(of_team, *where), _table, index)


def _past_due(columns: Sequence[Any], first: BindParameter[Any], dialect: str) -> list[Select[Any]]:
    """``columns`` of the actions past due at some week's end from ``first`` to the last, in two
    reads: those open and past due at the last, and those closed since ``first`` after their due
    day (closed on or before it, an action was past due at no week's end it was still open at)."""
    return [
        _read(columns, OPEN_INDEX, _actions.status == OPEN, _actions.due < _DAYS[-1]),
        _read(
            columns,
            CLOSED_INDEX,
            _actions.closed_at >= first,
            _actions.status != OPEN,
            _actions.due < _closed_on(_actions.closed_at, dialect),
        ),
    ]


def _unowned() -> list[ColumnElement[int]]:
    """Open actions nobody can be reminded of by name: with no user as owner, and with a departed
    one (never both: only Slack user ids are looked up, so a departed owner is one)."""
    unowned = (_actions.status == OPEN, _actions.created_at < _EDGES[-1])
    return [
        _read([func.count()], UNOWNED_INDEX, text(NO_USER_OWNER), *unowned).scalar_subquery(),
        per_departed(_read([func.count()], OWNER_INDEX, *unowned), _actions.owner),
    ]


def _done_in_span() -> ColumnElement[bool]:
    return and_(_actions.status == DONE, _actions.closed_at >= _EDGES[0], _actions.closed_at < _EDGES[-1])


def _postmortem_counts() -> Select[Any]:
    last_touched = func.coalesce(_postmortems.last_edited_at, _postmortems.created_at)
    stalled = and_(
        _postmortems.finished_at.is_(None), _postmortems.created_at < _EDGES[-1], last_touched < _STALLED_BEFORE
    )
    return select(
        *(_count(_in_week(_postmortems.created_at, week)) for week in range(WEEKS)),
        *(_count(_in_week(_postmortems.finished_at, week)) for week in range(WEEKS)),
        _count(stalled),
    ).where(_postmortems.team_id == _TEAM)


def _done_counts(dialect: str) -> Select[Any]:
    """Actions done per week, and of them on time: each action done in the span is put in its week
    once (``CASE`` in week order) rather than tested against every week."""
    week = case(*((_actions.closed_at < _EDGES[i + 1], i) for i in range(WEEKS)))
    in_time = or_(_actions.due.is_(None), _actions.due >= _closed_on(_actions.closed_at, dialect))
    columns = [week.label("week"), case((in_time, 1), else_=0).label("in_time")]
    done = _read(columns, CLOSED_INDEX, _done_in_span()).subquery("done")
    return select(done.c.week, func.count(), func.sum(done.c.in_time)).group_by(done.c.week)


def _overdue_counts(dialect: str) -> Select[Any]:
    """Past due at each week's end, counted in each of the two reads on its own, then added up:
    counted over the union of their rows, every row went through a subquery, twice the time."""
    per_week = [_count(_overdue_at(_actions, week)).label(f"week_{week}") for week in range(WEEKS)]
    arms = union_all(*_past_due(per_week, _EDGES[1], dialect)).subquery("arms")
    return select(*(func.sum(arms.c[f"week_{week}"]) for week in range(WEEKS)), *_unowned())


def _middle_days(dialect: str) -> Select[Any]:
    """The middle one or two days-to-close of the actions done in the span: a median without
    reading the others (SQLite has no percentile function)."""
    days = _days_to_close(dialect)
    return _read([days], CLOSED_INDEX, _done_in_span()).order_by(days).offset(_OFFSET).limit(_LIMIT)


def _overdue_owners(dialect: str) -> Select[Any]:
    past_due = union_all(*_past_due([*_COUNTED, _actions.owner], _EDGES[-1], dialect)).subquery("past_due").c
    a_person = ~or_(*needs_owner(past_due.owner, DEPARTED, qualified=True))
    return (
        select(past_due.owner, func.count()).where(_overdue_at(past_due, WEEKS - 1), a_person).group_by(past_due.owner)
    )


@dataclass(frozen=True)
class _Statements:
    postmortems: Select[Any]
    done: Select[Any]
    overdue: Select[Any]
    middle: Select[Any]
    owners: Select[Any]


@functools.cache
def _statements(dialect: str) -> _Statements:
    return _Statements(
        _postmortem_counts(),
        _done_counts(dialect),
        _overdue_counts(dialect),
        _middle_days(dialect),
        _overdue_owners(dialect),
    )


class InsightsReads(StoreBase):
    async def tally(self, team_id: str, ends: datetime) -> Tally:
        """The counts of the ``WEEKS`` weeks up to ``ends`` for one workspace."""
        weeks = week_ends(ends.astimezone(UTC))
        statements = _statements(self.engine.dialect.name)
        params = _params(team_id, weeks)
        async with self.engine.connect() as connection:
            postmortems = (await connection.execute(statements.postmortems, params)).one()
            on_time, closed = [0] * WEEKS, 0
            for week, count, in_time in await connection.execute(statements.done, params):
                on_time[week], closed = in_time, closed + count
            overdue = (await connection.execute(statements.overdue, params)).one()
            middle = await self._middle(connection, statements.middle, params, closed)
            owners = await connection.execute(statements.owners, params)
            return Tally(
                ends=weeks,
                started=list(postmortems[:WEEKS]),
                finished=list(postmortems[WEEKS : 2 * WEEKS]),
                done_on_time=on_time,
                overdue=[int(count) for count in overdue[:WEEKS]],
                stalled=postmortems[-1],
                unowned=sum(overdue[WEEKS:]),
                closed=closed,
                middle_days=middle,
                overdue_by_owner={owner: count for owner, count in owners},
            )

    @staticmethod
    async def _middle(
        connection: AsyncConnection, statement: Select[Any], params: dict[str, Any], closed: int
    ) -> list[float]:
        if not closed:
            return []
        offset, limit = middle_offsets(closed)
        rows = await connection.execute(statement, {**params, "offset": offset, "limit": limit})
        return [float(days) for (days,) in rows]
