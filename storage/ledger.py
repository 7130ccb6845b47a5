"""The reminder ledger: claim before send, so no replica, retry, restart or slow sweep sends twice.

A claim belongs to one sweep (``claimed_by``) while its lease lasts. The sweep renews the
lease as it runs, and just before each send it moves its rows to "sending" only where they
are still its own. Another sweep takes a claim over only once the lease has run out,
by the store's clock: a "claimed" row was never sent and is simply taken; a "sending" row
may be on its way to Slack, so it is only marked "unknown", and the next sweep settles it
by the DM history.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.reminder_policy import Reminder
from storage.base import DIALECT_INSERT
from storage.models import ReminderRow
from storage.store import Store

LEASE = timedelta(minutes=2)
"""How long a claim outlives its sweep's last sign of life; renewed every ``RENEW_EVERY``."""
RENEW_EVERY = LEASE / 4
OWNED = ("claimed", "checking", "sending")
_BATCH = 5_000
Request = TypeVar("Request")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Claim:
    """A reminder this sweep now owns. ``check_since`` set: look in the DM history first."""

    reminder: Reminder
    check_since: datetime | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Seen:
    """A ledger row as a sweep found it."""

    state: str
    claimed_at: datetime
    claimed_by: str
    lease_until: datetime
    channel: str | None


class _GroupCommit(Generic[Request, Result]):
    """Writes asked for while a transaction commits go together in the next one.

    A sweep sends many digests at once; one commit each would queue them behind
    SQLite's single writer (and PostgreSQL's round trips). Each write still happens
    before its caller goes on, in a transaction of its own or shared.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        apply: Callable[[AsyncSession, list[Request]], Awaitable[list[Result]]],
    ) -> None:
        self.sessions = sessions
        self.apply = apply
        self.waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self.waiting.append((request, answer))
        if self.draining is None:
            self.draining = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                async with self.sessions.begin() as session:
                    results = await self.apply(session, [request for request, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the failure
                for _, answer in batch:
                    answer.set_exception(exc)
            else:
                for (_, answer), result in zip(batch, results, strict=True):
                    answer.set_result(result)
        self.draining = None


class Ledger:
    """One sweep's view of the ledger: ``owner`` names it in every row it claims."""

    def __init__(self, store: Store, owner: str | None = None) -> None:
        self.sessions = store.sessions
        self.clock = store.clock
        self.owner = owner or uuid.uuid4().hex
        self._claims = _GroupCommit(self.sessions, self._claim_groups)
        self._sending = _GroupCommit(self.sessions, self._start_sending)
        self._outcomes = _GroupCommit(self.sessions, self._record)

    async def known(self, keys: Sequence[str]) -> dict[str, Seen]:
        """What the ledger says of these keys, looked up in batches: PostgreSQL's driver takes
        at most 32,767 parameters in one statement, and a backlog can plan more reminders."""
        seen: dict[str, Seen] = {}
        columns = (ReminderRow.state, ReminderRow.claimed_at, ReminderRow.claimed_by, ReminderRow.lease_until)
        async with self.sessions() as session:
            for start in range(0, len(keys), _BATCH):
                rows = await session.execute(
                    select(ReminderRow.key, *columns, ReminderRow.channel).where(
                        ReminderRow.key.in_(keys[start : start + _BATCH])
                    )
                )
                seen.update({key: Seen(*rest) for key, *rest in rows})
        return seen

    async def claim_all(self, reminders: Iterable[Reminder]) -> list[Claim]:
        """Claims for the reminders nobody has sent or is sending, each recipient's all or none."""
        wanted = sorted(reminders, key=lambda r: r.recipient)
        seen = await self.known([r.key for r in wanted])
        groups = [list(group) for _, group in groupby(wanted, key=lambda r: r.recipient)]
        return [claim for claims in await asyncio.gather(*(self.claim(g, seen) for g in groups)) for claim in claims]

    async def claim(self, group: Sequence[Reminder], seen: Mapping[str, Seen] | None = None) -> list[Claim]:
        """Claim one recipient's reminders (``seen``: their rows as already read), all or none
        of the new ones: two sweeps at once never split a person's digest into two DMs."""
        if seen is None:
            seen = await self.known([r.key for r in group])
        return await self._claims.submit((group, seen))

    async def _claim_groups(
        self, session: AsyncSession, groups: list[tuple[Sequence[Reminder], Mapping[str, Seen]]]
    ) -> list[list[Claim]]:
        now = self.clock.now()
        new = sorted((r for group, seen in groups for r in group if r.key not in seen), key=lambda r: r.key)
        inserted = await self._insert(session, new, now)
        claims: list[list[Claim]] = []
        for group, seen in groups:
            fresh = [r for r in group if r.key not in seen]
            if any(r.key not in inserted for r in fresh):  # another sweep got there first: leave this person
                mine = [r.key for r in fresh if r.key in inserted]
                await session.execute(delete(ReminderRow).where(ReminderRow.key.in_(mine)))
                claims.append([])
                continue
            known = sorted((r for r in group if r.key in seen), key=lambda r: r.key)
            taken = [await self._claim(session, r, seen[r.key], now) for r in known]
            claims.append([Claim(r) for r in fresh] + [c for c in taken if c])
        return claims

    async def _insert(self, session: AsyncSession, reminders: Sequence[Reminder], now: datetime) -> set[str]:
        """New rows, in key order (the order every sweep locks them in); the keys that went in."""
        if not reminders:
            return set()
        rows = [
            {
                "key": r.key,
                "action_id": r.action_id,
                "kind": r.kind,
                "slot": r.slot,
                "recipient": r.recipient,
                "state": "claimed",
                "attempts": 1,
                "claimed_at": now,
                "claimed_by": self.owner,
                "lease_until": now + LEASE,
            }
            for r in reminders
        ]
        insert = DIALECT_INSERT[session.bind.dialect.name](ReminderRow).on_conflict_do_nothing(index_elements=["key"])
        return set((await session.scalars(insert.returning(ReminderRow.key), rows)).all())

    async def _claim(self, session: AsyncSession, reminder: Reminder, previous: Seen, now: datetime) -> Claim | None:
        """A row already there: ours to take only if it failed, is unsure, or its lease ran out."""
        expired = previous.lease_until < now
        check = Claim(reminder, previous.claimed_at - timedelta(minutes=1), previous.channel)
        match previous.state:
            case "failed":
                return Claim(reminder) if await self._take(session, reminder.key, previous, "claimed", now) else None
            case "claimed" if expired:
                return Claim(reminder) if await self._take(session, reminder.key, previous, "claimed", now) else None
            case "unknown":
                return check if await self._take(session, reminder.key, previous, "checking", now) else None
            case "checking" if expired:
                return check if await self._take(session, reminder.key, previous, "checking", now) else None
            case "sending" if expired:
                await self._orphaned(session, reminder.key, previous, now)
        return None

    async def _take(self, session: AsyncSession, key: str, previous: Seen, state: str, now: datetime) -> bool:
        """Compare-and-set on the row as it was seen: of two sweeps, exactly one wins, and
        never while the owner's lease lasts (it may have been renewed since it was read)."""
        fresh_attempt = state == "claimed"  # "checking" keeps when the unsure attempt was claimed
        result = await session.execute(
            update(ReminderRow)
            .where(*self._as_seen(key, previous, now))
            .values(
                state=state,
                claimed_by=self.owner,
                lease_until=now + LEASE,
                attempts=ReminderRow.attempts + 1,
                error=None,
                **({"claimed_at": now} if fresh_attempt else {}),
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def _orphaned(self, session: AsyncSession, key: str, previous: Seen, now: datetime) -> None:
        """A send whose sweep stopped renewing its lease: not resent now, settled by history later.

        Its sender may still be waiting for Slack's answer: reading the history right now
        could miss the message on its way, so this sweep leaves it to the next one.
        """
        await session.execute(update(ReminderRow).where(*self._as_seen(key, previous, now)).values(state="unknown"))

    @staticmethod
    def _as_seen(key: str, previous: Seen, now: datetime) -> tuple:
        conditions = (ReminderRow.key == key, ReminderRow.state == previous.state)
        if previous.state not in OWNED:
            return conditions
        return (*conditions, ReminderRow.claimed_by == previous.claimed_by, ReminderRow.lease_until < now)

    async def start_sending(self, keys: Sequence[str]) -> set[str]:
        """The keys still ours, now marked as being sent: checked immediately before the send."""
        return await self._sending.submit(keys)

    async def _start_sending(self, session: AsyncSession, requests: list[Sequence[str]]) -> list[set[str]]:
        rows = await session.execute(
            update(ReminderRow)
            .where(
                ReminderRow.key.in_(sorted(k for keys in requests for k in keys)),
                ReminderRow.claimed_by == self.owner,
                ReminderRow.state.in_(("claimed", "checking")),
            )
            .values(state="sending", lease_until=self.clock.now() + LEASE)
            .returning(ReminderRow.key)
            .execution_options(synchronize_session=False)
        )
        mine = set(rows.scalars())
        return [mine & set(keys) for keys in requests]

    async def renew(self) -> None:
        """This sweep is alive: its claims stay its own for another ``LEASE``."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(ReminderRow)
                .where(ReminderRow.state.in_(OWNED), ReminderRow.claimed_by == self.owner)
                .values(lease_until=self.clock.now() + LEASE)
            )

    async def _finish(self, keys: Sequence[str], **values: object) -> None:
        await self._outcomes.submit((keys, values))

    @staticmethod
    async def _record(session: AsyncSession, outcomes: list[tuple[Sequence[str], dict[str, Any]]]) -> list[None]:
        for keys, values in outcomes:
            await session.execute(update(ReminderRow).where(ReminderRow.key.in_(keys)).values(**values))
        return [None] * len(outcomes)

    async def sent(self, keys: Sequence[str], channel: str, ts: str | None) -> None:
        await self._finish(keys, state="sent", channel=channel, message_ts=ts, sent_at=self.clock.now())

    async def failed(self, keys: Sequence[str], error: str) -> None:
        await self._finish(keys, state="failed", error=error[:200])

    async def unknown(self, keys: Sequence[str], channel: str | None) -> None:
        await self._finish(keys, state="unknown", channel=channel)

    async def states(self) -> dict[str, str]:
        async with self.sessions() as session:
            return dict((await session.execute(select(ReminderRow.key, ReminderRow.state))).all())  # type: ignore[arg-type]
