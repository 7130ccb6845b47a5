"""What Slack said of people (``users.info``): their time zone, and whether their account is
gone. Kept in the database, so replicas share the answers and a restart does not re-ask."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, select
from sqlalchemy.exc import IntegrityError

from bot.domain.timeline import zone_named
from storage.base import StoreBase
from storage.models import SlackUserRow

_BATCH = 5_000
"""Users per statement: PostgreSQL's driver takes 32,767 parameters at most."""
_people = SlackUserRow.__table__.c
DEPARTED = select(_people.user_id).where(_people.gone)
"""The people Slack reported deleted or unknown: their actions need an owner (``storage.owners``)."""


def per_departed(count: Select[Any], owner: ColumnElement[Any]) -> ScalarSelect[int]:
    """``count`` (a ``SELECT count(*) ...``) of the rows whose ``owner`` is one of the ``DEPARTED``,
    counted person by person through the owner's index. As ``owner IN (DEPARTED)`` PostgreSQL, which
    cannot know how few rows the departed own, read every open action: 95 ms at 500,000."""
    each = count.where(owner == _people.user_id).scalar_subquery()
    return select(func.coalesce(func.sum(each), 0)).where(_people.gone).scalar_subquery()


@dataclass(frozen=True)
class KeptAnswer:
    """Slack's answer about one person, as kept, and when it was asked."""

    user_id: str
    tz: str | None
    gone: bool
    fetched_at: datetime


class People(StoreBase):
    async def kept_answers(self, user_ids: Iterable[str]) -> list[KeptAnswer]:
        """What is kept about these people, however old."""
        wanted = sorted(set(user_ids))
        rows: list[SlackUserRow] = []
        async with self.sessions() as session:
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                rows += (await session.scalars(select(SlackUserRow).where(SlackUserRow.user_id.in_(batch)))).all()
        return [KeptAnswer(r.user_id, r.tz, r.gone, r.fetched_at) for r in rows]

    async def zone_of(self, user_id: str) -> tzinfo:
        """The person's time zone as ``users.info`` last told it; UTC when never asked or not a zone."""
        kept = await self.kept_answers([user_id])
        return zone_named(kept[0].tz if kept else None)

    async def keep_answer(self, user_id: str, tz: str | None, gone: bool) -> None:
        """Slack's answer about a person, asked now."""
        try:
            async with self.sessions.begin() as session:
                await session.merge(SlackUserRow(user_id=user_id, tz=tz, gone=gone, fetched_at=self.clock.now()))
        except IntegrityError:
            pass  # another replica kept the same answer at the same moment
