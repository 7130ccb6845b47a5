"""Commands on corrective actions: add or edit one, and the one-click changes (done, snooze,
reassign), each atomic, so a double click or two people at once change an action once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.document import CorrectiveAction
from bot.domain.template import DONE, OPEN
from storage.base import StoreBase, touch
from storage.models import ActionRow
from storage.records import action_columns

_SAME_SNOOZE = timedelta(minutes=10)


class ActionCommands(StoreBase):
    async def save_action(
        self, postmortem_id: int, action: CorrectiveAction, user_id: str, form_view: str | None = None
    ) -> int:
        """Insert a new corrective action, or update the one with ``action.id``.

        A new action is stored once per ``form_view`` (the form it was typed in): the same
        submission delivered twice, even at once, returns the action the first one created.
        """
        try:
            return await self._write_action(postmortem_id, action, user_id, form_view)
        except IntegrityError:
            created = await self._action_of_form(postmortem_id, form_view) if form_view else None
            if created is None:
                raise
            return created

    async def _action_of_form(self, postmortem_id: int, form_view: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(ActionRow.id).where(ActionRow.postmortem_id == postmortem_id, ActionRow.form_view == form_view)
            )

    async def _write_action(
        self, postmortem_id: int, action: CorrectiveAction, user_id: str, form_view: str | None
    ) -> int:
        fields = action_columns(action)
        async with self.sessions.begin() as session:
            now = self.clock.now()
            if action.id is None:
                row = ActionRow(
                    postmortem_id=postmortem_id,
                    created_by=user_id,
                    form_view=form_view,
                    created_at=now,
                    updated_at=now,
                    closed_at=None if action.status == OPEN else now,
                    **fields,
                )
                session.add(row)
                await session.flush()
                action_id = row.id
                event = "action_added"
            else:
                await session.execute(
                    update(ActionRow)
                    .where(ActionRow.id == action.id, ActionRow.postmortem_id == postmortem_id)
                    .values(updated_at=now, closed_at=_closed(action, now), **fields)
                )
                action_id = action.id
                event = "action_edited"
            await session.run_sync(touch, postmortem_id, user_id, now, {}, None)
            await self._audit(session, postmortem_id, user_id, event, action_id=action_id)
            return action_id

    async def update_action(
        self, action_id: int, user_id: str, event: str, *unless_already: Any, **values: Any
    ) -> bool:
        """Change an open action, atomically; False when there was nothing left to change.

        ``unless_already`` holds the conditions under which the change is still new, so a
        double click, or two people clicking at once, changes the action once.
        """
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(ActionRow)
                .where(ActionRow.id == action_id, ActionRow.status == OPEN, *unless_already)
                .values(updated_at=self.clock.now(), **values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            postmortem_id = await session.scalar(select(ActionRow.postmortem_id).where(ActionRow.id == action_id))
            await self._audit(
                session, postmortem_id, user_id, event, action_id=action_id, **{k: str(v) for k, v in values.items()}
            )
            await session.run_sync(touch, postmortem_id, user_id, self.clock.now(), {}, None)
            return True

    async def snooze_action(self, action_id: int, user_id: str, until: datetime) -> bool:
        """Quiet until ``until``; the same snooze clicked again moments later changes nothing."""
        not_yet = ActionRow.snoozed_until.is_(None) | (ActionRow.snoozed_until < until - _SAME_SNOOZE)
        return await self.update_action(action_id, user_id, "action_snoozed", not_yet, snoozed_until=until)

    async def reassign_action(self, action_id: int, user_id: str, owner: str) -> bool:
        other_owner = ActionRow.owner.is_(None) | (ActionRow.owner != owner)
        return await self.update_action(action_id, user_id, "action_reassigned", other_owner, owner=owner)

    async def complete_action(self, action_id: int, user_id: str) -> bool:
        return await self.update_action(action_id, user_id, "action_done", status=DONE, closed_at=self.clock.now())


def _closed(action: CorrectiveAction, now: datetime) -> Any:
    """``closed_at`` of an edited action: kept from when it first left open, cleared when reopened."""
    return None if action.status == OPEN else func.coalesce(ActionRow.closed_at, now)
