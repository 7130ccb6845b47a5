"""One reminder sweep: plan, claim in the ledger, deliver one digest DM per person.

The order is what makes it exactly-once: a reminder is claimed under its unique key
before any message goes out, the claim is checked to be still this sweep's own right
before the send, and an outcome we cannot know (the connection dropped after the request
left) is settled by the DM history, never by sending again blindly.

Delivery goes at Slack's pace: digests to people whose time zone is known leave at once,
several at a time, with the client pacing each Web API method within Slack's limits,
while ``users.info`` is asked meanwhile, and only about people about to be reminded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.owners import is_user_id, needs_owner
from bot.domain.reminder_policy import (
    ActionState,
    Digest,
    Reminder,
    ReminderPolicy,
    due_horizon,
    group_digests,
    plan_reminders,
)
from bot.reminders.people import Cached, Directory, Person
from handlers.support.errors import UNKNOWN_OUTCOME
from storage.due import due_actions
from storage.ledger import RENEW_EVERY, Claim, Ledger, Seen
from storage.read_models import ActionContext
from storage.store import Store

METADATA_EVENT = "postmortem_reminder"
WORKERS = 32
"""Digests on their way at once: enough to keep chat.postMessage at its limit through the
database round trips of each one. A person's card never queues behind them (``bot.ratelimit``)."""
ASKING = 32
EARTH_ZONES = tuple(ZoneInfo(z) for z in ("Etc/GMT+12", "UTC", "Etc/GMT-14"))
"""Between them, every local date someone can have at a given instant (UTC-12 to UTC+14)."""
RenderDigest = Callable[[Digest, Mapping[int, ActionContext]], dict[str, Any]]
ClientOf = Callable[[str], Awaitable[AsyncWebClient | None]]
"""A workspace's client, by team id; None where the app is not installed (any more)."""
log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    planned: int = 0
    claimed: int = 0
    messages: int = 0
    failed: int = 0
    unknown: int = 0
    found_in_history: int = 0
    handed_over: int = 0
    preview: list[str] = field(default_factory=list)

    @classmethod
    def merged(cls, reports: Iterable[SweepReport]) -> SweepReport:
        """The workspaces' reports of one sweep, as one."""
        total = cls()
        counts = [f.name for f in fields(cls) if f.name != "preview"]
        for report in reports:
            for name in counts:
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.preview += report.preview
        total.preview.sort()
        return total

    def summary(self) -> str:
        return (
            f"planned {self.planned}, claimed {self.claimed}, sent {self.messages} DM(s), "
            f"failed {self.failed}, unknown {self.unknown}, already delivered {self.found_in_history}, "
            f"taken over by another sweep {self.handed_over}"
        )


@dataclass(frozen=True)
class _Gone:
    """The people Slack reported gone, as ``needs_owner`` asks about them."""

    people: Mapping[str, Person]

    def __contains__(self, user: object) -> bool:
        person = self.people.get(user) if isinstance(user, str) else None
        return person is not None and person.gone


def _live(user: str | None, people: Mapping[str, Person]) -> bool:
    """A person we can DM: one who would not leave an action needing an owner."""
    return not needs_owner(user, _Gone(people))


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


def _plan(
    contexts: Iterable[ActionContext],
    people: Mapping[str, Person],
    zones: Mapping[str, ZoneInfo],
    now: datetime,
    policy: ReminderPolicy,
) -> list[Reminder]:
    return plan_reminders([action_state(c, people) for c in contexts], now, zones, policy)


@dataclass
class FirstPass:
    """The sweep planned with what is already known of people, before asking Slack anything.

    ``ready``: reminders of people whose kept answer is fresh, to send at once; ``stale``:
    reminders of people whose answer is old, asked again first if anything is left to send;
    ``unseen``: people never asked, who could be reminded now in some time zone.
    """

    by_id: dict[int, ActionContext]
    actions_of: dict[str, list[ActionContext]]
    ready: dict[str, list[Reminder]]
    stale: dict[str, list[Reminder]]
    unseen: list[str]


def first_pass(
    contexts: Sequence[ActionContext], cached: Mapping[str, Cached], now: datetime, policy: ReminderPolicy
) -> FirstPass:
    """CPU only: run in a worker thread, so a large backlog does not hold up the event loop."""
    actions_of: dict[str, list[ActionContext]] = {}
    for context in contexts:
        for user in {context.action.owner, context.postmortem_owner}:
            if user and is_user_id(user):
                actions_of.setdefault(user, []).append(context)
    people = {u: c.person for u, c in cached.items()}
    zones = {u: p.zone for u, p in people.items()}
    mine: dict[str, list[Reminder]] = {}
    for reminder in _plan(contexts, people, zones, now, policy):
        mine.setdefault(reminder.recipient, []).append(reminder)
    unseen = set(actions_of) - set(cached)
    return FirstPass(
        by_id={c.action.id or 0: c for c in contexts},
        actions_of=actions_of,
        ready={r: rs for r, rs in mine.items() if r in cached and cached[r].fresh},
        stale={r: rs for r, rs in mine.items() if r in cached and not cached[r].fresh},
        unseen=sorted(_may_be_reminded(unseen, actions_of, people, zones, now, policy)),
    )


def _may_be_reminded(
    unseen: set[str],
    actions_of: Mapping[str, Sequence[ActionContext]],
    people: Mapping[str, Person],
    zones: Mapping[str, ZoneInfo],
    now: datetime,
    policy: ReminderPolicy,
) -> set[str]:
    """Of people whose time zone we do not know, those some zone would remind now."""
    contexts = {c.action.id: c for u in unseen for c in actions_of[u]}.values()
    any_hour = replace(policy, working_hours=(time.min, time.max), workdays=frozenset(range(7)))
    found: set[str] = set()
    for zone in EARTH_ZONES:
        guess = {**zones, **dict.fromkeys(unseen, zone)}
        found |= {r.recipient for r in _plan(contexts, people, guess, now, any_hour)} & unseen
    return found


class Sweeper:
    """With ``workspaces`` (the OAuth install) each team's actions go out with that team's
    client, the teams side by side: one team's revoked token or rate limit holds up no other.
    Without, ``client`` serves the one workspace."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        policy: ReminderPolicy,
        render: RenderDigest,
        *,
        workers: int = WORKERS,
        workspaces: ClientOf | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.policy = policy
        self.render = render
        self.workers = workers
        self.workspaces = workspaces
        self.directory = Directory(store, client)

    async def sweep(self, *, dry_run: bool = False) -> SweepReport:
        """One pass at the store clock's "now", so a sweep and its ledger claims agree on the time."""
        now = self.store.clock.now()
        contexts = await self.due_contexts(now)
        if self.workspaces is None:
            return await self._sweep(self.client, self.directory, contexts, now, dry_run)
        teams: dict[str, list[ActionContext]] = {}
        for context in contexts:
            teams.setdefault(context.team_id, []).append(context)
        workspaces = self.workspaces
        shares = (self._sweep_team(workspaces, t, cs, now, dry_run) for t, cs in sorted(teams.items()))
        return SweepReport.merged(await asyncio.gather(*shares))

    async def _sweep_team(
        self, workspaces: ClientOf, team_id: str, contexts: Sequence[ActionContext], now: datetime, dry_run: bool
    ) -> SweepReport:
        """One workspace's share, with its own token; a workspace without one is left out."""
        client = await workspaces(team_id)
        if client is None:
            log.info("team %s has no installation: its %d due action(s) are not reminded", team_id, len(contexts))
            return SweepReport()
        try:
            return await self._sweep(client, Directory(self.store, client), contexts, now, dry_run)
        except Exception:  # one workspace's failure must not hold up the others'
            log.exception("reminder sweep of team %s failed; the next sweep tries again", team_id)
            return SweepReport()

    async def _sweep(
        self,
        client: AsyncWebClient,
        directory: Directory,
        contexts: Sequence[ActionContext],
        now: datetime,
        dry_run: bool,
    ) -> SweepReport:
        users = {u for c in contexts for u in (c.action.owner, c.postmortem_owner) if u and is_user_id(u)}
        cached = await directory.cached(users)
        plan = await asyncio.to_thread(first_pass, contexts, cached, now, self.policy)
        run = _Run(self, client, directory, Ledger(self.store), now, plan, cached, dry_run)
        return await run.deliver()

    async def due_contexts(self, now: datetime) -> list[ActionContext]:
        """Only the actions that can remind someone at ``now`` (``storage.due``), read in batches
        so that a large backlog never holds up the requests this event loop serves meanwhile."""
        return [c async for batch in due_actions(self.store, now, due_horizon(now, self.policy)) for c in batch]

    @staticmethod
    def describe(reminder: Reminder, context: ActionContext) -> str:
        due = context.action.due.isoformat() if context.action.due else "no due date"
        incident = context.incident_id or context.postmortem_id
        return f"{reminder.recipient}\t{reminder.kind}\t{incident}\t{due}\t{context.action.action}"


@dataclass(frozen=True)
class _Job:
    recipient: str
    reminders: Sequence[Reminder]
    seen: Mapping[str, Seen] | None


class _Run:
    """One sweep's delivery: a queue of digests, the workers sending them, the people asked about."""

    def __init__(
        self,
        sweeper: Sweeper,
        client: AsyncWebClient,
        directory: Directory,
        ledger: Ledger,
        now: datetime,
        plan: FirstPass,
        cached: Mapping[str, Cached],
        dry_run: bool,
    ) -> None:
        self.sweeper = sweeper
        self.client = client
        self.directory = directory
        self.ledger = ledger
        self.now = now
        self.plan = plan
        self.people = {u: c.person for u, c in cached.items()}
        self.zones = {u: p.zone for u, p in self.people.items()}
        self.fresh = {u for u, c in cached.items() if c.fresh}
        self.handled = {*plan.ready, *plan.stale, *plan.unseen}
        """People whose digest this sweep has planned for good, or is asking Slack about."""
        self.dry_run = dry_run
        self.report = SweepReport()
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.asking = asyncio.Semaphore(ASKING)

    async def deliver(self) -> SweepReport:
        """Fresh people's digests first, at once; the others as Slack tells us who they are."""
        planned = [r.key for rs in (*self.plan.ready.values(), *self.plan.stale.values()) for r in rs]
        seen = {} if self.dry_run else await self.ledger.known(planned)
        for recipient, reminders in self.plan.ready.items():
            self._enqueue(recipient, reminders, seen)
        to_ask = list(self.plan.unseen)
        for recipient, reminders in self.plan.stale.items():
            if any(_left_to_send(seen.get(r.key)) for r in reminders):
                to_ask.append(recipient)
            else:
                self.report.planned += len(reminders)
        tasks = [asyncio.create_task(self._work()) for _ in range(self.sweeper.workers)]
        if not self.dry_run:
            tasks.append(asyncio.create_task(self._keep_claims()))
        try:
            await asyncio.gather(*(self._ask(user) for user in to_ask))
            await self.queue.join()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.report.preview.sort()
        return self.report

    def _enqueue(self, recipient: str, reminders: Sequence[Reminder], seen: Mapping[str, Seen] | None) -> None:
        self.report.planned += len(reminders)
        if seen is None or any(_left_to_send(seen.get(r.key)) for r in reminders):
            self.queue.put_nowait(_Job(recipient, reminders, seen))

    async def _ask(self, user: str) -> None:
        """Slack's word on someone about to be reminded, then their reminders planned with it."""
        async with self.asking:
            person = await self.directory.ask(user)
        if person is not None:  # no answer: what was kept, or (never asked) UTC, as for anyone unknown
            self.people[user] = person
            self.zones[user] = person.zone
        if reminders := self._reminders_of(user):
            self._enqueue(user, reminders, None)
        if person is not None and person.gone:
            await self._now_unowned(user)

    def _reminders_of(self, user: str) -> list[Reminder]:
        contexts = self.plan.actions_of[user]
        return [
            r for r in _plan(contexts, self.people, self.zones, self.now, self.sweeper.policy) if r.recipient == user
        ]

    async def _now_unowned(self, departed: str) -> None:
        """Slack says an owner is gone: their actions' postmortem owners hear of them in this sweep."""
        theirs = self.plan.actions_of[departed]
        told = {p for c in theirs if c.action.owner == departed and (p := c.postmortem_owner) and is_user_id(p)}
        for user in sorted(told - self.handled):
            self.handled.add(user)
            if user not in self.fresh:
                await self._ask(user)
            elif reminders := self._reminders_of(user):
                self._enqueue(user, reminders, None)

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._handle(job)
            except Exception:  # one person's digest must not hold up everyone else's
                log.exception("reminder digest for %s not delivered; the next sweep tries again", job.recipient)
            finally:
                self.queue.task_done()

    async def _keep_claims(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY.total_seconds())
            try:
                await self.ledger.renew()
            except SQLAlchemyError:
                log.warning("could not renew this sweep's claims", exc_info=True)

    async def _handle(self, job: _Job) -> None:
        by_id = self.plan.by_id
        if self.dry_run:
            self.report.preview += [Sweeper.describe(r, by_id[r.action_id]) for r in job.reminders]
            return
        claims = await self.ledger.claim(job.reminders, job.seen)
        self.report.claimed += len(claims)
        if claims:
            (digest,) = group_digests(c.reminder for c in claims)
            await self._deliver(digest, claims)

    async def _deliver(self, digest: Digest, claims: Sequence[Claim]) -> None:
        report = self.report
        if any(c.check_since for c in claims):
            digest = await self._without_delivered(digest, claims)
        mine = await self.ledger.start_sending([r.key for r in digest.reminders]) if digest.reminders else set()
        report.handed_over += len(digest.reminders) - len(mine)
        digest = Digest(digest.recipient, tuple(r for r in digest.reminders if r.key in mine))
        if not digest.reminders:
            return
        keys = [r.key for r in digest.reminders]
        message = self.sweeper.render(digest, self.plan.by_id)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"keys": keys}}
        try:  # to the user's id: Slack delivers it to their DM with the app, no conversations.open
            response = await self.client.chat_postMessage(channel=digest.recipient, metadata=metadata, **message)
        except SlackApiError as exc:
            await self.ledger.failed(keys, _error(exc))
            report.failed += len(keys)
        except UNKNOWN_OUTCOME as exc:
            log.warning(
                "reminder DM to %s: outcome unknown (%s); the history decides next sweep", digest.recipient, exc
            )
            await self.ledger.unknown(keys, None)
            report.unknown += len(keys)
        else:
            await self.ledger.sent(keys, response["channel"], response.get("ts"))
            report.messages += 1

    async def _without_delivered(self, digest: Digest, claims: Sequence[Claim]) -> Digest:
        """Drop what an earlier attempt did deliver, as the DM's message metadata proves."""
        unsure = [c for c in claims if c.check_since]
        since = min(c.check_since for c in unsure if c.check_since)
        try:
            channel = next((c.channel for c in unsure if c.channel), None) or await self._dm_channel(digest.recipient)
            history = await self.client.conversations_history(
                channel=channel, oldest=f"{since.timestamp():.6f}", include_all_metadata=True, limit=200
            )
        except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
            keys = [c.reminder.key for c in unsure]
            log.warning(
                "cannot read the DM history of %s (%s); not resending %d reminder(s)", digest.recipient, exc, len(keys)
            )
            await self.ledger.unknown(keys, None)
            return Digest(digest.recipient, tuple(r for r in digest.reminders if r.key not in keys))
        delivered: dict[str, str] = {}
        for message in history.get("messages", []):
            for key in metadata_keys(message):
                delivered[key] = message.get("ts", "")
        for key, ts in delivered.items():
            if any(c.reminder.key == key for c in unsure):
                await self.ledger.sent([key], channel, ts)
                self.report.found_in_history += 1
        return Digest(digest.recipient, tuple(r for r in digest.reminders if r.key not in delivered))

    async def _dm_channel(self, user: str) -> str:
        """The DM's id, for its history: only when an earlier attempt's answer never came."""
        return str((await self.client.conversations_open(users=user))["channel"]["id"])


def _left_to_send(row: Seen | None) -> bool:
    return row is None or row.state != "sent"


def _error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "slack_error")
    return type(exc).__name__
