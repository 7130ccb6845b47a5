"""The canvas's render lease and its create's claim: the card's lease idea (``storage.card_lease``)
for the postmortem's canvas.

Every change marks the canvas out of date (``canvas_revision``) and takes the lease if it is
free, in one statement; only the holder talks to Slack, and it renders again until nothing
changed meanwhile, so a burst of saves ends in one update per changed section with the
newest text last. The create is claimed under the lease before it is sent: a create whose
reply was lost is settled by looking, never by creating a second canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, select, update

from storage.card_lease import LEASE_FOR, new_holder
from storage.models import PostmortemRow

if TYPE_CHECKING:
    from storage.store import Store

_postmortems = PostmortemRow.__table__
_c = _postmortems.c
_RETURNS = (_c.canvas_revision, _c.canvas_lease_holder)
_THIS = _c.id == bindparam("postmortem_id")
_HELD = _THIS & (_c.canvas_lease_holder == bindparam("holder"))
_FREE = _c.canvas_lease_until.is_(None) | (_c.canvas_lease_until < bindparam("now", type_=_c.canvas_lease_until.type))
_HOLDER = bindparam("holder", type_=_c.canvas_lease_holder.type)
_UNTIL = bindparam("until", type_=_c.canvas_lease_until.type)
_WANT = (
    update(_postmortems)
    .where(_THIS)
    .values(
        canvas_revision=_c.canvas_revision + 1,
        canvas_lease_holder=case((_FREE, _HOLDER), else_=_c.canvas_lease_holder),
        canvas_lease_until=case((_FREE, _UNTIL), else_=_c.canvas_lease_until),
    )
    .returning(*_RETURNS)
)
_UNCHANGED = _c.canvas_revision == bindparam("revision")
_RELEASE = (
    update(_postmortems)
    .where(_HELD)
    .values(
        canvas_digests=bindparam("digests", type_=_c.canvas_digests.type),
        canvas_lease_holder=case((_UNCHANGED, None), else_=_c.canvas_lease_holder),
        canvas_lease_until=case((_UNCHANGED, None), else_=_UNTIL),
    )
    .returning(*_RETURNS)
)
_DROP = update(_postmortems).where(_HELD).values(canvas_lease_holder=None, canvas_lease_until=None)
_STATE = select(
    _c.canvas_id, _c.canvas_standalone, _c.canvas_create_started, _c.canvas_digests, _c.team_id, _c.channel_id
).where(_THIS)


@dataclass(frozen=True)
class CanvasLease:
    """This renderer holds the canvas of ``postmortem_id`` and renders ``revision`` next."""

    postmortem_id: int
    holder: str
    revision: int


@dataclass(frozen=True)
class CanvasState:
    team_id: str
    channel_id: str
    canvas_id: str | None
    standalone: bool
    create_started: datetime | None
    digests: dict[str, str]


class CanvasLeases:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.clock = store.clock

    async def want(self, postmortem_id: int) -> CanvasLease | None:
        """Mark the canvas out of date; the lease if nobody renders it now, else None (they will)."""
        me, now = new_holder(), self.clock.now()
        params = {"postmortem_id": postmortem_id, "holder": me, "now": now, "until": now + LEASE_FOR}
        async with self.engine.begin() as connection:
            row = (await connection.execute(_WANT, params)).one_or_none()
        if row is None or row.canvas_lease_holder != me:
            return None
        return CanvasLease(postmortem_id, me, row.canvas_revision)

    async def state(self, lease: CanvasLease) -> CanvasState | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(_STATE, {"postmortem_id": lease.postmortem_id})).one_or_none()
        if row is None:
            return None
        return CanvasState(
            row.team_id,
            row.channel_id,
            row.canvas_id,
            row.canvas_standalone,
            row.canvas_create_started,
            dict(row.canvas_digests or {}),
        )

    async def release(self, lease: CanvasLease, digests: dict[str, str]) -> CanvasLease | None:
        """Done rendering ``lease.revision`` (the canvas now holds ``digests``): released if nothing
        changed since, else kept, extended, with the revision to render next."""
        params = {
            **self._held(lease),
            "revision": lease.revision,
            "until": self.clock.now() + LEASE_FOR,
            "digests": digests,
        }
        async with self.engine.begin() as connection:
            row = (await connection.execute(_RELEASE, params)).one_or_none()
        if row is None or row.canvas_lease_holder is None:
            return None
        return CanvasLease(lease.postmortem_id, lease.holder, row.canvas_revision)

    async def drop(self, lease: CanvasLease) -> None:
        """Give the lease up after a failed render, so the next change renders at once."""
        async with self.engine.begin() as connection:
            await connection.execute(_DROP, self._held(lease))

    async def claim_create(self, lease: CanvasLease, *, standalone: bool) -> None:
        """Record, under the lease, that a canvas is about to be created (and which kind)."""
        await self._set(lease, canvas_create_started=self.clock.now(), canvas_standalone=standalone)

    async def created(self, lease: CanvasLease, canvas_id: str | None, *, standalone: bool) -> None:
        """The create's outcome is known: ``canvas_id``, or None when Slack created nothing."""
        await self._set(lease, canvas_id=canvas_id, canvas_standalone=standalone, canvas_create_started=None)

    async def _set(self, lease: CanvasLease, **values: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(_postmortems).where(_HELD).values(**values), self._held(lease))

    @staticmethod
    def _held(lease: CanvasLease) -> dict[str, Any]:
        return {"postmortem_id": lease.postmortem_id, "holder": lease.holder}
