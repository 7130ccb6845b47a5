"""Who the recipients are: their time zone, and whether their account still exists.

``users.info`` is asked at most once per user per ``CACHE_FOR``; the answers are kept in
the database, so replicas share them and a restart does not re-ask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.models import SlackUserRow
from storage.store import Store

CACHE_FOR = timedelta(hours=12)
GONE_ERRORS = ("user_not_found", "account_inactive")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    user_id: str
    tz: str | None
    gone: bool

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class Directory:
    def __init__(self, store: Store, client: AsyncWebClient) -> None:
        self.sessions = store.sessions
        self.clock = store.clock
        self.client = client

    async def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        wanted = sorted(set(user_ids))
        async with self.sessions() as session:
            rows = (await session.scalars(select(SlackUserRow).where(SlackUserRow.user_id.in_(wanted)))).all()
        fresh_after = self.clock.now() - CACHE_FOR
        known = {r.user_id: Person(r.user_id, r.tz, r.gone) for r in rows if r.fetched_at > fresh_after}
        for user_id in wanted:
            if user_id not in known:
                person = await self._ask_slack(user_id)
                if person:
                    known[user_id] = person
        return known

    async def _ask_slack(self, user_id: str) -> Person | None:
        try:
            response = await self.client.users_info(user=user_id)
            user = response["user"]
            person = Person(user_id, user.get("tz"), bool(user.get("deleted")))
        except SlackApiError as exc:
            if exc.response.get("error") not in GONE_ERRORS:
                log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
                return None  # unknown this time: neither "gone" nor a time zone; ask again next sweep
            person = Person(user_id, None, True)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("users.info %s unreachable: %s", user_id, exc)
            return None
        try:
            async with self.sessions.begin() as session:
                await session.merge(
                    SlackUserRow(user_id=user_id, tz=person.tz, gone=person.gone, fetched_at=self.clock.now())
                )
        except IntegrityError:
            pass  # another replica cached the same answer at the same moment
        return person
