"""The weekly insights post's claims: one row per (workspace, ISO week), taken before anything
is sent to Slack, so replicas, restarts and a trigger that fires twice post it once.

A claim belongs to the run that took it while its lease lasts; a run that died before the
chart was shared leaves a claim another run may take once the lease ran out, and a refusal
by Slack (nothing shared) leaves one any later run may take. A share whose outcome is
unknown is never repeated: it is settled by looking for the chart in the channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import InsightsPostRow

if TYPE_CHECKING:
    from storage.store import Store

LEASE_FOR = timedelta(minutes=5)
CLAIMED, COMPLETING, POSTED, FAILED, UNKNOWN = "claimed", "completing", "posted", "failed", "unknown"
_posts = InsightsPostRow.__table__
_c = _posts.c


@dataclass(frozen=True)
class PostClaim:
    """The claim of one week's post; ``holder`` is the run that took it."""

    team_id: str
    week: str
    channel_id: str
    holder: str


@dataclass(frozen=True)
class PostState:
    """A week's post as the database knows it."""

    state: str
    channel_id: str
    claimed_at: datetime
    lease_until: datetime
    file_id: str | None
    permalink: str | None


class InsightsPosts:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.clock = store.clock

    async def claim(self, team_id: str, week: str, channel_id: str) -> PostClaim | None:
        """The week's post is this run's to make; None when another run made it, makes it, or must settle it."""
        holder = secrets.token_hex(8)
        now = self.clock.now()
        values = {"claimed_by": holder, "claimed_at": now, "lease_until": now + LEASE_FOR, "state": CLAIMED}
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    insert(_posts).values(team_id=team_id, week=week, channel_id=channel_id, **values)
                )
        except IntegrityError:
            takeable = or_(_c.state == FAILED, and_(_c.state == CLAIMED, _c.lease_until < now))
            async with self.engine.begin() as connection:
                taken = await connection.execute(
                    update(_posts)
                    .where(self._of(team_id, week), takeable)
                    .values(channel_id=channel_id, error=None, **values)
                )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return PostClaim(team_id, week, channel_id, holder)

    async def completing(self, claim: PostClaim, file_id: str) -> bool:
        """About to share the uploaded ``file_id``: recorded first, so a lost answer is looked for by it.
        False when the claim is no longer this run's (its lease ran out and another run took it)."""
        now = self.clock.now()
        async with self.engine.begin() as connection:
            moved = await connection.execute(
                update(_posts)
                .where(self._of(claim.team_id, claim.week), _c.claimed_by == claim.holder, _c.state == CLAIMED)
                .values(state=COMPLETING, file_id=file_id, lease_until=now + LEASE_FOR)
            )
        return moved.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    async def settle(self, team_id: str, week: str, state: str, **values: Any) -> None:
        """The outcome: ``POSTED`` (with ``message_ts``, ``permalink``), ``FAILED`` (``error``) or ``UNKNOWN``."""
        async with self.engine.begin() as connection:
            await connection.execute(update(_posts).where(self._of(team_id, week)).values(state=state, **values))

    async def state(self, team_id: str, week: str) -> PostState | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(_c.state, _c.channel_id, _c.claimed_at, _c.lease_until, _c.file_id, _c.permalink).where(
                        self._of(team_id, week)
                    )
                )
            ).one_or_none()
        return None if row is None else PostState(*row)

    async def latest_chart(self, team_id: str) -> str | None:
        """The permalink of the newest posted chart of the workspace (App Home links to it)."""
        async with self.engine.connect() as connection:
            return await connection.scalar(  # type: ignore[no-any-return]
                select(_c.permalink)
                .where(_c.team_id == team_id, _c.state == POSTED, _c.permalink.is_not(None))
                .order_by(_c.claimed_at.desc())
                .limit(1)
            )

    @staticmethod
    def _of(team_id: str, week: str) -> Any:
        return and_(_c.team_id == team_id, _c.week == week)
