"""The timeline of section 2: one row per message, so three reactions, a pin and a replayed
event on one message are one entry; each command is one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from bot.domain.timeline import TimelineEntry
from storage.base import StoreBase
from storage.models import TimelineRow


def entry_model(row: Any) -> TimelineEntry:
    return TimelineEntry(
        id=row.id,
        message_ts=row.message_ts,
        at=row.at,
        author=row.author,
        text=row.text,
        summary=row.summary,
        permalink=row.permalink,
        files=list((row.files or {}).get("permalinks", [])),
        deleted=row.deleted,
        via=row.via,
    )


class Timeline(StoreBase):
    async def add_to_timeline(self, postmortem_id: int, entry: TimelineEntry, user_id: str) -> bool:
        """Adds the message once; False when it is on the timeline already (the entry is left as it is)."""
        try:
            async with self.sessions.begin() as session:
                session.add(
                    TimelineRow(
                        postmortem_id=postmortem_id,
                        message_ts=entry.message_ts,
                        at=entry.at,
                        author=entry.author,
                        text=entry.text,
                        summary=entry.summary,
                        permalink=entry.permalink,
                        files={"permalinks": entry.files},
                        deleted=False,
                        via=entry.via,
                        added_by=user_id,
                        added_at=self.clock.now(),
                    )
                )
                await self._audit(session, postmortem_id, user_id, "timeline_added", ts=entry.message_ts)
        except IntegrityError:
            return False
        return True

    async def message_changed(self, postmortem_id: int, message_ts: str, text: str, files: list[str]) -> bool:
        return await self._set(postmortem_id, message_ts, text=text, files={"permalinks": files})

    async def message_deleted(self, postmortem_id: int, message_ts: str) -> bool:
        return await self._set(postmortem_id, message_ts, deleted=True)

    async def set_summary(self, postmortem_id: int, entry_id: int, summary: str, user_id: str) -> bool:
        async with self.sessions.begin() as session:
            changed = await session.execute(
                update(TimelineRow)
                .where(TimelineRow.id == entry_id, TimelineRow.postmortem_id == postmortem_id)
                .values(summary=summary)
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                await self._audit(session, postmortem_id, user_id, "timeline_edited", entry=entry_id)
            return bool(changed.rowcount)  # type: ignore[attr-defined]

    async def remove_from_timeline(self, postmortem_id: int, entry_id: int, user_id: str) -> bool:
        async with self.sessions.begin() as session:
            removed = await session.execute(
                delete(TimelineRow).where(TimelineRow.id == entry_id, TimelineRow.postmortem_id == postmortem_id)
            )
            if removed.rowcount:  # type: ignore[attr-defined]
                await self._audit(session, postmortem_id, user_id, "timeline_removed", entry=entry_id)
            return bool(removed.rowcount)  # type: ignore[attr-defined]

    async def _set(self, postmortem_id: int, message_ts: str, **values: object) -> bool:
        async with self.sessions.begin() as session:
            changed = await session.execute(
                update(TimelineRow)
                .where(TimelineRow.postmortem_id == postmortem_id, TimelineRow.message_ts == message_ts)
                .values(**values)
            )
            return bool(changed.rowcount)  # type: ignore[attr-defined]
