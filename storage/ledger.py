"""The reminder ledger: claim before send, so no replica, retry or restart sends twice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reminders.policy import Reminder
from storage.models import ReminderRow
from storage.store import Store

# A claim whose sender died before recording the outcome is treated like an unknown
# outcome after this long: the DM history decides whether it went out.
STALE_CLAIM = timedelta(minutes=10)
_BATCH = 5_000


@dataclass(frozen=True)
class Claim:
    """A reminder this process now owns. ``check_since`` set: look in the DM history first."""

    reminder: Reminder
    check_since: datetime | None = None
    channel: str | None = None


@dataclass(frozen=True)
class _Seen:
    state: str
    claimed_at: datetime
    channel: str | None


class Ledger:
    def __init__(self, store: Store) -> None:
        self.sessions = store.sessions
        self.clock = store.clock

    async def known(self, keys: Sequence[str]) -> dict[str, _Seen]:
        """What the ledger says of these keys, looked up in batches: PostgreSQL's driver takes
        at most 32,767 parameters in one statement, and a backlog can plan more reminders."""
        seen: dict[str, _Seen] = {}
        async with self.sessions() as session:
            for start in range(0, len(keys), _BATCH):
                rows = await session.execute(
                    select(ReminderRow.key, ReminderRow.state, ReminderRow.claimed_at, ReminderRow.channel).where(
                        ReminderRow.key.in_(keys[start : start + _BATCH])
                    )
                )
                seen.update({key: _Seen(state, claimed_at, channel) for key, state, claimed_at, channel in rows})
        return seen

    async def claim_all(self, reminders: Iterable[Reminder]) -> list[Claim]:
        """Claims for the reminders nobody has sent or is sending.

        One query skips the settled keys; then each recipient's reminders are claimed in
        one transaction, so two replicas sweeping at once never split a person's digest
        into two DMs: the second one's inserts conflict and it leaves that person alone.
        """
        wanted = sorted(reminders, key=lambda r: r.recipient)
        seen = await self.known([r.key for r in wanted])
        claims: list[Claim] = []
        for _, group in groupby(wanted, key=lambda r: r.recipient):
            claims += await self._claim_group(list(group), seen)
        return claims

    async def _claim_group(self, group: list[Reminder], seen: dict[str, _Seen]) -> list[Claim]:
        now = self.clock.now()
        claims: list[Claim] = []
        try:
            async with self.sessions.begin() as session:
                for reminder in group:
                    claim = await self._claim(session, reminder, seen.get(reminder.key), now)
                    if claim:
                        claims.append(claim)
                await session.flush()
        except IntegrityError:
            return []  # another replica is sending this person's digest
        return claims

    async def _claim(
        self, session: AsyncSession, reminder: Reminder, previous: _Seen | None, now: datetime
    ) -> Claim | None:
        if previous is None:
            session.add(
                ReminderRow(
                    key=reminder.key,
                    action_id=reminder.action_id,
                    kind=reminder.kind,
                    slot=reminder.slot,
                    recipient=reminder.recipient,
                    claimed_at=now,
                )
            )
            return Claim(reminder)
        if previous.state == "failed":
            won = await self._take(session, reminder.key, previous, "claimed", now)
            return Claim(reminder) if won else None
        stale = previous.state in ("claimed", "checking") and previous.claimed_at < now - STALE_CLAIM
        if previous.state == "unknown" or stale:
            won = await self._take(session, reminder.key, previous, "checking", now)
            return Claim(reminder, previous.claimed_at - timedelta(minutes=1), previous.channel) if won else None
        return None

    async def _take(self, session: AsyncSession, key: str, previous: _Seen, state: str, now: datetime) -> bool:
        """Compare-and-set on (state, claimed_at): of two replicas, exactly one wins."""
        result = await session.execute(
            update(ReminderRow)
            .where(
                ReminderRow.key == key,
                ReminderRow.state == previous.state,
                ReminderRow.claimed_at == previous.claimed_at,
            )
            .values(state=state, claimed_at=now, attempts=ReminderRow.attempts + 1, error=None)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def _finish(self, keys: Sequence[str], **values: object) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(ReminderRow).where(ReminderRow.key.in_(keys)).values(**values))

    async def sent(self, keys: Sequence[str], channel: str, ts: str | None) -> None:
        await self._finish(keys, state="sent", channel=channel, message_ts=ts, sent_at=self.clock.now())

    async def failed(self, keys: Sequence[str], error: str) -> None:
        await self._finish(keys, state="failed", error=error[:200])

    async def unknown(self, keys: Sequence[str], channel: str | None) -> None:
        await self._finish(keys, state="unknown", channel=channel)

    async def states(self) -> dict[str, str]:
        async with self.sessions() as session:
            return dict((await session.execute(select(ReminderRow.key, ReminderRow.state))).all())  # type: ignore[arg-type]
