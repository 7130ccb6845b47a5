"""The reminder sweep's read: only the actions that can call for a reminder at an instant.

A sweep runs every few minutes on every replica, while most open actions are due months
ahead, owned by someone who is still here: reading them all made a sweep cost every
action ever stored. One query instead unions three index-driven reads: open actions due
by ``due_by`` (due soon, due today, overdue), open actions nobody can be reminded of by
name (``OPEN_AND_UNOWNED``), and open actions of owners Slack reported gone; snoozed ones
are left out until the snooze ends. What it returns is a superset of what reminds: the
policy decides, and a row read in vain costs little, a row missed would be a silent miss.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import CompoundSelect, Row, select, text, union

from bot.document import CorrectiveAction
from storage.models import OPEN_AND_UNOWNED, ActionRow, PostmortemRow, SlackUserRow
from storage.store import ActionContext, Store

BATCH = 1_000
"""Rows turned into contexts between two returns to the event loop."""

_COLUMNS = (
    ActionRow.id,
    ActionRow.action,
    ActionRow.kind,
    ActionRow.owner,
    ActionRow.due,
    ActionRow.artifact,
    ActionRow.status,
    ActionRow.status_reason,
    ActionRow.snoozed_until,
    ActionRow.created_at,
    PostmortemRow.id.label("postmortem_id"),
    PostmortemRow.team_id,
    PostmortemRow.channel_id,
    PostmortemRow.incident_id,
    PostmortemRow.owner.label("postmortem_owner"),
    PostmortemRow.created_by,
)


def _due_ids(due_by: date) -> CompoundSelect[Any]:
    is_open = ActionRow.status == "open"
    return union(
        select(ActionRow.id).where(is_open, ActionRow.due <= due_by),
        select(ActionRow.id).where(text(OPEN_AND_UNOWNED)),
        select(ActionRow.id)
        .join(SlackUserRow, SlackUserRow.user_id == ActionRow.owner)
        .where(SlackUserRow.gone, is_open),
    )


def _context(row: Row[Any]) -> ActionContext:
    action = CorrectiveAction(
        id=row.id,
        action=row.action,
        kind=row.kind,
        owner=row.owner,
        due=row.due,
        artifact=row.artifact,
        status=row.status,
        status_reason=row.status_reason,
    )
    return ActionContext(
        action=action,
        postmortem_id=row.postmortem_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        incident_id=row.incident_id,
        postmortem_owner=row.postmortem_owner or row.created_by,
        created_at=row.created_at,
        snoozed_until=row.snoozed_until,
    )


async def due_actions(store: Store, now: datetime, due_by: date) -> AsyncIterator[Sequence[ActionContext]]:
    """The open actions that may remind someone at ``now``, streamed in batches of ``BATCH``.

    ``due_by`` is the latest due date that can remind anyone at ``now`` (the policy's
    ``due_horizon``); unowned actions and those of departed owners come whatever their date.
    """
    due = _due_ids(due_by).subquery()
    query = (
        select(*_COLUMNS)
        .select_from(due)
        .join(ActionRow, ActionRow.id == due.c.id)
        .join(PostmortemRow, PostmortemRow.id == ActionRow.postmortem_id)
        .where(ActionRow.snoozed_until.is_(None) | (ActionRow.snoozed_until <= now))
    )
    async with store.engine.connect() as connection:
        result = await connection.stream(query)
        async for rows in result.partitions(BATCH):
            yield [_context(row) for row in rows]
