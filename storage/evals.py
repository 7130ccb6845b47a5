"""Commands on eval cases: add, edit or remove one, atomically, so a doubled submission adds it once."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.evals import EvalCase
from storage.base import StoreBase, touch
from storage.models import EvalCaseRow


class EvalCommands(StoreBase):
    async def save_case(self, postmortem_id: int, case: EvalCase, user_id: str, form_view: str | None = None) -> int:
        """Insert a new case, or update the one with ``case.id`` in this postmortem.

        A new case is stored once per ``form_view`` (the form it was typed in): the same
        submission delivered twice, even at once, returns the case the first one created.
        """
        try:
            return await self._write_case(postmortem_id, case, user_id, form_view)
        except IntegrityError:
            if form_view is None:
                raise
            async with self.sessions() as session:
                created = await session.scalar(
                    select(EvalCaseRow.id).where(
                        EvalCaseRow.postmortem_id == postmortem_id, EvalCaseRow.form_view == form_view
                    )
                )
            if created is None:
                raise
            return created

    async def _write_case(self, postmortem_id: int, case: EvalCase, user_id: str, form_view: str | None) -> int:
        now = self.clock.now()
        values = {"data": case.fields(), "action_ids": case.action_ids, "updated_at": now}
        async with self.sessions.begin() as session:
            if case.id is None:
                row = EvalCaseRow(
                    postmortem_id=postmortem_id, created_by=user_id, form_view=form_view, created_at=now, **values
                )
                session.add(row)
                await session.flush()
                case_id, event = row.id, "eval_case_added"
            else:
                await session.execute(
                    update(EvalCaseRow)
                    .where(EvalCaseRow.id == case.id, EvalCaseRow.postmortem_id == postmortem_id)
                    .values(**values)
                )
                case_id, event = case.id, "eval_case_edited"
            await session.run_sync(touch, postmortem_id, user_id, now, {}, None)
            await self._audit(session, postmortem_id, user_id, event, case_id=case_id)
            return case_id

    async def remove_case(self, postmortem_id: int, case_id: int, user_id: str) -> bool:
        """Take case ``case_id`` off this postmortem; False when it was not there (removed already)."""
        async with self.sessions.begin() as session:
            removed = await session.execute(
                delete(EvalCaseRow).where(EvalCaseRow.id == case_id, EvalCaseRow.postmortem_id == postmortem_id)
            )
            if not removed.rowcount:  # type: ignore[attr-defined]
                return False
            await session.run_sync(touch, postmortem_id, user_id, self.clock.now(), {}, None)
            await self._audit(session, postmortem_id, user_id, "eval_case_removed", case_id=case_id)
            return True
