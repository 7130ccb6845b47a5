"""One reminder sweep: plan, claim in the ledger, deliver one digest DM per person.

The order is what makes it exactly-once: a reminder is claimed under its unique key
before any message goes out, and an outcome we cannot know (the connection dropped after
the request left) is settled by the DM history, never by sending again blindly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.document import is_user_id
from bot.reminders.people import Directory, Person
from bot.reminders.policy import (
    ActionState,
    Digest,
    Reminder,
    ReminderPolicy,
    due_horizon,
    group_digests,
    plan_reminders,
)
from storage.due import due_actions
from storage.ledger import Claim, Ledger
from storage.store import ActionContext, Store

METADATA_EVENT = "postmortem_reminder"
UNKNOWN_OUTCOME = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
RenderDigest = Callable[[Digest, Mapping[int, ActionContext]], dict[str, Any]]
log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    planned: int = 0
    claimed: int = 0
    messages: int = 0
    failed: int = 0
    unknown: int = 0
    found_in_history: int = 0
    preview: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"planned {self.planned}, claimed {self.claimed}, sent {self.messages} DM(s), "
            f"failed {self.failed}, unknown {self.unknown}, already delivered {self.found_in_history}"
        )


def _live(user: str | None, people: Mapping[str, Person]) -> bool:
    """A person we can DM: a Slack user id whose account Slack did not report gone."""
    return is_user_id(user) and not (user in people and people[user].gone)


def action_state(context: ActionContext, people: Mapping[str, Person]) -> ActionState:
    owner = context.action.owner
    return ActionState(
        action_id=context.action.id or 0,
        postmortem_id=context.postmortem_id,
        owner=owner,
        owner_gone=owner is not None and not _live(owner, people),
        due=context.action.due,
        status=context.action.status,
        snoozed_until=context.snoozed_until,
        created_at=context.created_at,
        postmortem_owner=context.postmortem_owner if _live(context.postmortem_owner, people) else None,
    )


def metadata_keys(message: Mapping[str, Any]) -> list[str]:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return []
    return list((metadata.get("event_payload") or {}).get("keys") or [])


class Sweeper:
    def __init__(self, store: Store, client: AsyncWebClient, policy: ReminderPolicy, render: RenderDigest) -> None:
        self.store = store
        self.client = client
        self.policy = policy
        self.render = render
        self.ledger = Ledger(store)
        self.directory = Directory(store, client)

    async def sweep(self, *, dry_run: bool = False) -> SweepReport:
        """One pass at the store clock's "now", so a sweep and its ledger claims agree on the time."""
        reminders, by_id = await self.plan(self.store.clock.now())
        report = SweepReport(planned=len(reminders))
        if dry_run:
            report.preview = [self._describe(r.recipient, r.kind, by_id[r.action_id]) for r in reminders]
            return report
        claims = await self.ledger.claim_all(reminders)
        report.claimed = len(claims)
        for digest in group_digests(c.reminder for c in claims):
            mine = [c for c in claims if c.reminder.recipient == digest.recipient]
            await self._deliver(digest, mine, by_id, report)
        return report

    async def plan(self, now: datetime) -> tuple[list[Reminder], dict[int, ActionContext]]:
        """The reminders due at ``now``, and the actions they are about.

        Only the actions that can remind someone are read, in batches, and only their
        people are looked up; the planning itself runs in a worker thread, so a large
        backlog never holds up the requests this event loop serves meanwhile.
        """
        by_id: dict[int, ActionContext] = {}
        users: set[str] = set()
        async for batch in due_actions(self.store, now, due_horizon(now, self.policy)):
            for context in batch:
                by_id[context.action.id or 0] = context
                users.update(u for u in (context.action.owner, context.postmortem_owner) if is_user_id(u))
        people = await self.directory.people(users)
        reminders = await asyncio.to_thread(_plan, list(by_id.values()), people, now, self.policy)
        return reminders, by_id

    @staticmethod
    def _describe(recipient: str, kind: str, context: ActionContext) -> str:
        due = context.action.due.isoformat() if context.action.due else "no due date"
        return f"{recipient}\t{kind}\t{context.incident_id or context.postmortem_id}\t{due}\t{context.action.action}"

    async def _deliver(
        self, digest: Digest, claims: Sequence[Claim], by_id: Mapping[int, ActionContext], report: SweepReport
    ) -> None:
        keys = [r.key for r in digest.reminders]
        try:
            channel = (await self.client.conversations_open(users=digest.recipient))["channel"]["id"]
        except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
            await self.ledger.failed(keys, _error(exc))
            report.failed += len(keys)
            return
        if any(c.check_since for c in claims):
            digest = await self._without_delivered(digest, claims, channel, report)
            if not digest.reminders:
                return
            keys = [r.key for r in digest.reminders]
        message = self.render(digest, by_id)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"keys": keys}}
        try:
            response = await self.client.chat_postMessage(channel=channel, metadata=metadata, **message)
        except SlackApiError as exc:
            await self.ledger.failed(keys, _error(exc))
            report.failed += len(keys)
        except UNKNOWN_OUTCOME as exc:
            log.warning(
                "reminder DM to %s: outcome unknown (%s); the history decides next sweep", digest.recipient, exc
            )
            await self.ledger.unknown(keys, channel)
            report.unknown += len(keys)
        else:
            await self.ledger.sent(keys, channel, response.get("ts"))
            report.messages += 1

    async def _without_delivered(
        self, digest: Digest, claims: Sequence[Claim], channel: str, report: SweepReport
    ) -> Digest:
        """Drop what an earlier attempt did deliver, as the DM's message metadata proves."""
        since = min(c.check_since for c in claims if c.check_since)
        try:
            history = await self.client.conversations_history(
                channel=channel, oldest=f"{since.timestamp():.6f}", include_all_metadata=True, limit=200
            )
        except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
            unsure = [c.reminder.key for c in claims if c.check_since]
            log.warning("cannot read DM history of %s (%s); not resending %d reminder(s)", channel, exc, len(unsure))
            await self.ledger.unknown(unsure, channel)
            return Digest(digest.recipient, tuple(r for r in digest.reminders if r.key not in unsure))
        delivered: dict[str, str] = {}
        for message in history.get("messages", []):
            for key in metadata_keys(message):
                delivered[key] = message.get("ts", "")
        for key, ts in delivered.items():
            if any(c.reminder.key == key and c.check_since for c in claims):
                await self.ledger.sent([key], channel, ts)
                report.found_in_history += 1
        return Digest(digest.recipient, tuple(r for r in digest.reminders if r.key not in delivered))


def _plan(
    contexts: Sequence[ActionContext], people: Mapping[str, Person], now: datetime, policy: ReminderPolicy
) -> list[Reminder]:
    states = [action_state(c, people) for c in contexts]
    return plan_reminders(states, now, {u: p.zone for u, p in people.items()}, policy)


def _error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "slack_error")
    return type(exc).__name__
