"""The reminder sweep's read: only the actions that can call for a reminder at an instant.

A sweep runs every few minutes on every replica, while most open actions are due months
ahead, owned by someone who is still here: reading them all made a sweep cost every
action ever stored. One query instead picks the ids from three index reads: open
actions due by ``due_by`` (due soon, due today, overdue), open actions nobody can be
reminded of by name and open actions of owners Slack reported gone (the two arms of
``storage.owners.needs_owner``). What it finds is a superset of what reminds: the policy decides, and a row read in
vain costs little, a row missed would be a silent miss.

The rows are then read by primary key, a batch at a time, snoozed ones left out. In one
statement PostgreSQL would have to guess how many ids come back, and it cannot see that
open actions are the ones due in the future: it guesses hundreds of thousands and scans
the whole table to join them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select, select, union_all

from bot.domain.template import OPEN
from storage.models import ActionRow, PostmortemRow
from storage.owners import UNOWNED_INDEX, needs_owner
from storage.people import DEPARTED
from storage.read_models import ACTION_CONTEXT_COLUMNS, ActionContext, action_context
from storage.sqlite_hints import indexed_by
from storage.store import Store

BATCH = 1_000
"""Rows read and turned into contexts between two returns to the event loop."""

_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c


def due_ids(due_by: date) -> CompoundSelect[Any]:
    """The ids of the open actions due by ``due_by``, unowned or owned by someone gone; one index read each."""
    is_open = _actions.status == OPEN
    no_user, departed = needs_owner(_actions.owner, DEPARTED)
    return union_all(
        select(_actions.id).where(is_open, _actions.due <= due_by),
        indexed_by(select(_actions.id).where(is_open, no_user), ActionRow.__table__, UNOWNED_INDEX),
        select(_actions.id).where(departed, is_open),
    )


def _rows(ids: Sequence[int], now: datetime) -> Select[Any]:
    return (
        select(*ACTION_CONTEXT_COLUMNS)
        .join_from(ActionRow.__table__, PostmortemRow.__table__, _postmortems.id == _actions.postmortem_id)
        .where(_actions.id.in_(ids), _actions.snoozed_until.is_(None) | (_actions.snoozed_until <= now))
    )


async def due_actions(store: Store, now: datetime, due_by: date) -> AsyncIterator[list[ActionContext]]:
    """The open actions that may remind someone at ``now``, in batches of at most ``BATCH``.

    ``due_by`` is the latest due date that can remind anyone at ``now`` (the policy's
    ``due_horizon``); unowned actions and those of departed owners come whatever their date.
    """
    async with store.engine.connect() as connection:
        found: set[int] = set()
        async for ids in (await connection.stream_scalars(due_ids(due_by))).partitions(BATCH):
            found.update(ids)
        ordered = sorted(found)
        for start in range(0, len(ordered), BATCH):
            rows = await connection.execute(_rows(ordered[start : start + BATCH], now))
            yield [action_context(row) for row in rows]
