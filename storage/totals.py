"""Open, overdue and unowned corrective actions of every postmortem, counted for ``/metrics``.

A scrape comes every few seconds from every Prometheus that watches every replica: one
aggregate statement on the open-actions index (``ix_corrective_actions_open``) answers it,
and no row is read into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select

from bot.domain.template import OPEN
from storage.models import ActionRow
from storage.owners import needs_owner
from storage.people import DEPARTED
from storage.store import Store

_actions = ActionRow.__table__.c


@dataclass(frozen=True)
class ActionTotals:
    """Counted as the card counts them (``handlers.builders.render.action_counts``), over every channel."""

    open: int
    overdue: int
    unowned: int


async def action_totals(store: Store, today: date) -> ActionTotals:
    no_user, departed = needs_owner(_actions.owner, DEPARTED)
    query = select(
        func.count(),
        func.count(case((_actions.due < today, 1))),
        func.count(case((or_(no_user, departed), 1))),
    ).where(_actions.status == OPEN)
    async with store.engine.connect() as connection:
        opened, overdue, unowned = (await connection.execute(query)).one()
    return ActionTotals(open=opened, overdue=overdue, unowned=unowned)
