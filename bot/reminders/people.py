"""Who the recipients are: their time zone, and whether their account still exists.

``users.info`` is asked only about people about to be reminded, and only when the answer
kept for them is older than ``CACHE_FOR``; the answers are kept in the database, so
replicas share them and a restart does not re-ask.
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


@dataclass(frozen=True)
class Cached:
    """What the cache says of someone, and whether it is recent enough to act on unasked."""

    person: Person
    fresh: bool


class Directory:
    def __init__(self, store: Store, client: AsyncWebClient) -> None:
        self.store = store
        self.client = client

    async def cached(self, user_ids: Iterable[str]) -> dict[str, Cached]:
        """The kept answers about these people, fresh or not: no call to Slack."""
        kept = await self.store.kept_answers(user_ids)
        fresh_after = self.store.clock.now() - CACHE_FOR
        return {k.user_id: Cached(Person(k.user_id, k.tz, k.gone), k.fetched_at > fresh_after) for k in kept}

    async def ask(self, user_id: str) -> Person | None:
        """Slack's answer now (kept for the next ``CACHE_FOR``), or None when Slack gave none."""
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
        await self.store.keep_answer(user_id, person.tz, person.gone)
        return person
