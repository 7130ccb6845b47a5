"""The card's render lease: one renderer at a time, and it ends on the newest state.

Every change marks the card out of date (``card_revision``); only the holder of the lease
talks to Slack, and it renders again until nothing changed meanwhile, so the card's edits
reach Slack one after the other. A lease left by a crashed process expires. Each step is
one statement: marking and taking together, releasing or carrying on together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, literal, update

from storage.models import PostmortemRow
from storage.store import Store

LEASE_FOR = timedelta(seconds=60)


@dataclass(frozen=True)
class Lease:
    """This renderer holds the card of ``postmortem_id`` and renders ``revision`` next."""

    postmortem_id: int
    holder: str
    revision: int


class CardLeases:
    def __init__(self, store: Store) -> None:
        self.sessions = store.sessions
        self.clock = store.clock

    async def want(self, postmortem_id: int) -> Lease | None:
        """Mark the card out of date; the lease if nobody renders it now, else None (they will)."""
        me = secrets.token_hex(8)
        now = self.clock.now()
        free = PostmortemRow.card_lease_until.is_(None) | (PostmortemRow.card_lease_until < now)
        until = literal(now + LEASE_FOR, PostmortemRow.card_lease_until.type)
        async with self.sessions.begin() as session:
            row = (
                await session.execute(
                    update(PostmortemRow)
                    .where(PostmortemRow.id == postmortem_id)
                    .values(
                        card_revision=PostmortemRow.card_revision + 1,
                        card_lease_holder=case((free, me), else_=PostmortemRow.card_lease_holder),
                        card_lease_until=case((free, until), else_=PostmortemRow.card_lease_until),
                    )
                    .returning(PostmortemRow.card_revision, PostmortemRow.card_lease_holder)
                )
            ).one_or_none()
        if row is None or row.card_lease_holder != me:
            return None
        return Lease(postmortem_id, me, row.card_revision)

    async def release(self, lease: Lease) -> Lease | None:
        """Done rendering ``lease.revision``: released if nothing changed since, else kept (and
        extended) with the revision to render next."""
        unchanged = PostmortemRow.card_revision == lease.revision
        until = literal(self.clock.now() + LEASE_FOR, PostmortemRow.card_lease_until.type)
        async with self.sessions.begin() as session:
            row = (
                await session.execute(
                    update(PostmortemRow)
                    .where(PostmortemRow.id == lease.postmortem_id, PostmortemRow.card_lease_holder == lease.holder)
                    .values(
                        card_lease_holder=case((unchanged, None), else_=PostmortemRow.card_lease_holder),
                        card_lease_until=case((unchanged, None), else_=until),
                    )
                    .returning(PostmortemRow.card_revision, PostmortemRow.card_lease_holder)
                )
            ).one_or_none()
        if row is None or row.card_lease_holder is None:
            return None  # released (or taken over after expiring: the new holder renders)
        return Lease(lease.postmortem_id, lease.holder, row.card_revision)

    async def drop(self, lease: Lease) -> None:
        """Give the lease up after a failed render, so the next change renders at once."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(PostmortemRow)
                .where(PostmortemRow.id == lease.postmortem_id, PostmortemRow.card_lease_holder == lease.holder)
                .values(card_lease_holder=None, card_lease_until=None)
            )

    async def claim_post(self, lease: Lease) -> None:
        """Record, under the lease, that the card is about to be posted.

        Should the post's outcome be lost, the next renderer looks for the card in the
        channel's history from this moment, instead of posting it again.
        """
        async with self.sessions.begin() as session:
            await session.execute(
                update(PostmortemRow)
                .where(PostmortemRow.id == lease.postmortem_id, PostmortemRow.card_lease_holder == lease.holder)
                .values(card_post_started=self.clock.now())
            )
