"""Read models of corrective actions: an action with what a reminder or App Home says of its
postmortem, as plain columns (the due read of ``storage.due`` selects the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Row, Select, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.document import CorrectiveAction
from bot.domain.template import OPEN
from storage.base import StoreBase
from storage.models import ActionRow, PostmortemRow
from storage.owners import UNOWNED_INDEX, needs_owner
from storage.people import DEPARTED
from storage.records import action_model
from storage.sqlite_hints import indexed_by

_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c


@dataclass(frozen=True)
class ActionContext:
    """An open corrective action with what a reminder needs to say about its postmortem."""

    action: CorrectiveAction
    postmortem_id: int
    team_id: str
    channel_id: str
    incident_id: str | None
    postmortem_owner: str
    created_at: datetime
    snoozed_until: datetime | None


ACTION_CONTEXT_COLUMNS = (
    _actions.id,
    _actions.action,
    _actions.kind,
    _actions.owner,
    _actions.due,
    _actions.extra,
    _actions.status,
    _actions.status_reason,
    _actions.source,
    _actions.snoozed_until,
    _actions.created_at,
    _actions.postmortem_id,
    _postmortems.team_id,
    _postmortems.channel_id,
    _postmortems.incident_id,
    _postmortems.owner.label("postmortem_owner"),
    _postmortems.created_by,
)
"""What an ``ActionContext`` is made of, as plain columns (see ``action_context``)."""


def action_context(row: Row[Any]) -> ActionContext:
    return ActionContext(
        action=action_model(row),
        postmortem_id=row.postmortem_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        incident_id=row.incident_id,
        postmortem_owner=row.postmortem_owner or row.created_by,
        created_at=row.created_at,
        snoozed_until=row.snoozed_until,
    )


_on_postmortem = _postmortems.id == _actions.postmortem_id


async def _contexts(session: AsyncSession, *where: Any) -> list[ActionContext]:
    rows = await session.execute(
        select(*ACTION_CONTEXT_COLUMNS)
        .join_from(ActionRow.__table__, PostmortemRow.__table__, _on_postmortem)
        .where(*where)
        .order_by(_actions.due.is_(None), _actions.due, _actions.id)
    )
    return [action_context(row) for row in rows]


def open_action_ids(team_id: str, user_id: str) -> CompoundSelect[Any]:
    """The ids of the open actions a person owns, and of those of postmortems they own that need an
    owner: one index read per reason. As one condition with ORs, the only index left to SQLite was
    the one of every open action: 1.8 s at 500,000 open, holding its one connection."""
    theirs = (_postmortems.owner == user_id) | (_postmortems.owner.is_(None) & (_postmortems.created_by == user_id))
    no_user, departed = needs_owner(_actions.owner, DEPARTED, qualified=True)

    def ids(*where: Any) -> Select[Any]:
        joined = select(_actions.id).join_from(ActionRow.__table__, PostmortemRow.__table__, _on_postmortem)
        return joined.where(_actions.status == OPEN, _postmortems.team_id == team_id, *where)

    return union(
        ids(_actions.owner == user_id),
        indexed_by(ids(no_user, theirs), ActionRow.__table__, UNOWNED_INDEX),
        ids(departed, theirs),
    )


class ActionReads(StoreBase):
    async def open_actions_for(self, team_id: str, user_id: str) -> list[ActionContext]:
        """Open actions a person owns, and those of postmortems they own that need an owner."""
        async with self.sessions() as session:
            return await _contexts(session, _actions.id.in_(open_action_ids(team_id, user_id).scalar_subquery()))

    async def action(self, action_id: int) -> ActionContext | None:
        async with self.sessions() as session:
            found = await _contexts(session, ActionRow.id == action_id)
        return found[0] if found else None
