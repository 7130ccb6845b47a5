"""The card's render lease: one renderer at a time, and it ends on the newest state.

Every change marks the card out of date (``card_revision``); only the holder of the lease
talks to Slack, and it renders again until nothing changed meanwhile, so the card's edits
reach Slack one after the other. A lease left by a crashed process expires. Each step is
one statement: marking and taking together (also inside the statement that stores a
change, see ``wanted``), releasing or carrying on together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, bindparam, case, func, update

from storage.models import PostmortemRow

if TYPE_CHECKING:
    from storage.store import Store

LEASE_FOR = timedelta(seconds=60)
_postmortems = PostmortemRow.__table__
_c = _postmortems.c
MARK_RETURNS = (_c.card_revision, _c.card_lease_holder)
"""What a statement that marks the card out of date returns, for ``granted``."""


@dataclass(frozen=True)
class Lease:
    """This renderer holds the card of ``postmortem_id`` and renders ``revision`` next."""

    postmortem_id: int
    holder: str
    revision: int
    post_claimed: bool = False
    """The card's first post is already claimed (see ``CardLeases.claim_post``)."""


def new_holder() -> str:
    return secrets.token_hex(8)


def _param(name: str, column: Any) -> BindParameter[Any]:
    return bindparam(name, type_=column.type)


_NOW = _param("now", _c.card_lease_until)
_FREE = _c.card_lease_until.is_(None) | (_c.card_lease_until < _NOW)
MARK: dict[str, Any] = {
    "card_revision": _c.card_revision + 1,
    "card_lease_holder": case((_FREE, _param("holder", _c.card_lease_holder)), else_=_c.card_lease_holder),
    "card_lease_until": case((_FREE, _param("until", _c.card_lease_until)), else_=_c.card_lease_until),
}
"""The SET of an UPDATE of a postmortem that marks its card out of date and gives the lease to
the ``holder`` parameter if nobody holds it (a lease past its time is nobody's); see ``wanted``."""


def wanted(holder: str, now: datetime) -> dict[str, Any]:
    """The parameters of ``MARK``."""
    return {"holder": holder, "now": now, "until": now + LEASE_FOR}


_THIS = _c.id == bindparam("postmortem_id")
_HELD = _THIS & (_c.card_lease_holder == bindparam("holder"))
_WANT = update(_postmortems).where(_THIS).values(MARK).returning(*MARK_RETURNS)
_UNCHANGED = _c.card_revision == bindparam("revision")
_FINISHED = _param("finished", _c.finished_at)
_KEPT = {
    "card_lease_holder": case((_UNCHANGED, None), else_=_c.card_lease_holder),
    "card_lease_until": case((_UNCHANGED, None), else_=_param("until", _c.card_lease_until)),
    "finished_at": case((_FINISHED.is_(None), None), else_=func.coalesce(_c.finished_at, _FINISHED)),
}
"""The release's SET: the lease, and whether the card just rendered showed every section done
(``finished``: now, or None), so insights count finished postmortems without reading one."""
_RELEASE = update(_postmortems).where(_HELD).values(_KEPT).returning(*MARK_RETURNS)
_RELEASE_POSTED = (
    update(_postmortems)
    .where(_HELD)
    .values({**_KEPT, "card_ts": _param("posted", _c.card_ts), "card_post_started": None})
    .returning(*MARK_RETURNS)
)
_DROP = update(_postmortems).where(_HELD).values(card_lease_holder=None, card_lease_until=None)
_CLAIM_POST = update(_postmortems).where(_HELD).values(card_post_started=_param("now", _c.card_post_started))


def taken(holder: str, now: datetime) -> dict[str, Any]:
    """The card columns of a postmortem created with its first render leased to ``holder``, and
    its first post claimed: the creator posts the card next (``Lease.post_claimed``)."""
    return {
        "card_revision": 1,
        "card_lease_holder": holder,
        "card_lease_until": now + LEASE_FOR,
        "card_post_started": now,
    }


def granted(postmortem_id: int, holder: str, returned: Any) -> Lease | None:
    """The lease, when the row a marking statement returned (``MARK_RETURNS``) says ``holder`` got it."""
    if returned is None or returned.card_lease_holder != holder:
        return None
    return Lease(postmortem_id, holder, returned.card_revision)


class CardLeases:
    def __init__(self, store: Store) -> None:
        self.write = store.write  # each step below is a single statement
        self.clock = store.clock

    async def want(self, postmortem_id: int) -> Lease | None:
        """Mark the card out of date; the lease if nobody renders it now, else None (they will)."""
        me = new_holder()
        row = await self.write(_WANT, {"postmortem_id": postmortem_id, **wanted(me, self.clock.now())})
        return granted(postmortem_id, me, row)

    async def release(self, lease: Lease, posted: str | None = None, *, finished: bool = False) -> Lease | None:
        """Done rendering ``lease.revision``: released if nothing changed since, else kept (and
        extended) with the revision to render next. ``posted``: the ts of the card this render
        posted, recorded in the same statement (and the post's claim settled); ``finished``: the
        card showed every section done (kept from the first render that did, until one does not)."""
        now = self.clock.now()
        params = {
            **self._held(lease),
            "revision": lease.revision,
            "until": now + LEASE_FOR,
            "finished": now if finished else None,
        }
        if posted:
            row = await self.write(_RELEASE_POSTED, {**params, "posted": posted})
        else:
            row = await self.write(_RELEASE, params)
        if row is None or row.card_lease_holder is None:
            return None  # released (or taken over after expiring: the new holder renders)
        return Lease(lease.postmortem_id, lease.holder, row.card_revision)

    async def drop(self, lease: Lease) -> None:
        """Give the lease up after a failed render, so the next change renders at once."""
        await self.write(_DROP, self._held(lease))

    async def claim_post(self, lease: Lease) -> None:
        """Record, under the lease, that the card is about to be posted.

        Should the post's outcome be lost, the next renderer looks for the card in the
        channel's history from this moment, instead of posting it again.
        """
        await self.write(_CLAIM_POST, {**self._held(lease), "now": self.clock.now()})

    @staticmethod
    def _held(lease: Lease) -> dict[str, Any]:
        return {"postmortem_id": lease.postmortem_id, "holder": lease.holder}
