"""Delivering reminder digests under Slack's per-method limits, beside the old serial delivery.

The stand-in enforces Slack's published limits (``bot.ratelimit``'s defaults: chat.postMessage
300 a minute and 1 a second per channel, users.info 100, conversations.open and
conversations.history 50 a minute) with 429 + Retry-After, exactly as the product's client
reads them from ``SLACK_RATE_LIMITS``. Time is compressed: every limit's window is divided
by ``--speedup``, and every duration printed is multiplied back, in Slack minutes.

N people (``--recipients``) each own one action due today (in UTC, at a working hour), so
each must get exactly one digest DM. Two situations, each delivered by the product and by
the BASELINE on the same data:

* warm: every ``users.info`` answer is kept and fresh (a sweep every 15 minutes, all day);
* cold: nobody has been asked yet (the first sweep, or the first after 12 hours).

BASELINE (``serial_with_conversations_open``, defined here): delivery as it was before this
change, step for step: ``users.info`` for every owner of any open action whose kept answer
is over 12 hours old, one after the other; then, per digest, ``conversations.open`` and
``chat.postMessage``, one digest after the other; a 429 sleeps Retry-After inside the call
(slack_sdk's ``AsyncRateLimitErrorRetryHandler``, as ``create_client`` had it).

Printed per delivery: DMs (and duplicates, and people missed), Web API calls per digest by
method, 429s, time to the first DM (wall seconds: work on this machine, which no limit
compresses), total time, and the time the limits allow: for each method, the earliest the
last of its calls can be made at "COUNT calls in any PERIOD" (``floor((calls - 1) / COUNT)
* PERIOD``), the busiest method's figure.

    .venv/bin/python bench/delivery.py [--database-url URL] [--recipients 5000] [--speedup 20]

The database must hold no corrective actions yet.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from provenance import code_version
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, func, select

from bot.app import create_client, create_sweeper
from bot.config import Settings
from bot.domain.clock import FixedClock
from bot.domain.owners import is_user_id
from bot.domain.reminder_policy import group_digests, plan_reminders
from bot.ratelimit import Rate, rate_limits
from bot.reminders.people import Directory
from bot.reminders.sweep import METADATA_EVENT, action_state
from bot.slackdev import SlackStandin
from handlers.builders.digest import digest_message
from storage.db import create_engine, upgrade
from storage.ledger import Ledger
from storage.models import ActionRow, PostmortemRow, ReminderRow, SlackUserRow
from storage.store import Store

BOT_TOKEN = "xoxb-bench-token"
TEAM = "T0STANDIN1"
NOW = datetime(2026, 5, 5, 13, 30, tzinfo=UTC)
"""A Tuesday, 13:30 UTC: a working hour for people in UTC."""
LEAD = "U0LEAD0001"
ACTIONS_PER_POSTMORTEM = 100
METHODS = ("users.info", "conversations.open", "chat.postMessage", "conversations.history")


def recipient(i: int) -> str:
    return f"U0R{i:07d}"


def scaled(limits: dict[str, Rate], speedup: float) -> dict[str, Rate]:
    return {method: Rate(rate.count, rate.period / speedup) for method, rate in limits.items()}


def as_setting(limits: dict[str, Rate]) -> str:
    return ",".join(f"{method}={rate.count}/{rate.period:g}s" for method, rate in limits.items())


# --------------------------------------------------------------------------
# data


async def seed(store: Store, count: int) -> list[str]:
    """``count`` people, each owning one action due today, in postmortems the lead owns."""
    people = [recipient(i) for i in range(count)]
    async with store.sessions.begin() as session:
        for start in range(0, count, ACTIONS_PER_POSTMORTEM):
            postmortem = PostmortemRow(
                team_id=TEAM,
                channel_id=f"C0B{start:08d}",
                incident_id=f"inc-bench-{start}",
                created_by=LEAD,
                created_at=NOW - timedelta(days=7),
                owner=LEAD,
                template_name=store.catalog.default_template.name,
                template_version=store.catalog.default_template.version,
            )
            session.add(postmortem)
            await session.flush()
            session.add_all(
                ActionRow(
                    postmortem_id=postmortem.id,
                    action=f"Corrective action of {user}",
                    kind="other",
                    owner=user,
                    due=NOW.date(),
                    created_by=LEAD,
                    created_at=NOW - timedelta(days=7),
                    updated_at=NOW - timedelta(days=7),
                )
                for user in people[start : start + ACTIONS_PER_POSTMORTEM]
            )
    return people


async def reset(store: Store, people: list[str], *, warm: bool) -> None:
    """An empty ledger; kept users.info answers for everyone (warm) or for no one (cold)."""
    async with store.sessions.begin() as session:
        await session.execute(delete(ReminderRow))
        await session.execute(delete(SlackUserRow))
        if warm:
            session.add_all(SlackUserRow(user_id=u, tz="UTC", gone=False, fetched_at=NOW) for u in [*people, LEAD])


async def has_actions(store: Store) -> bool:
    async with store.sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(ActionRow)))


# --------------------------------------------------------------------------
# the two deliveries


async def product(store: Store, settings: Settings, session: aiohttp.ClientSession) -> None:
    """The product: one sweep, as `postmortem-bot remind` runs it."""
    await create_sweeper(settings, store, create_client(settings, session)).sweep()


async def serial_with_conversations_open(store: Store, settings: Settings, session: aiohttp.ClientSession) -> None:
    """BASELINE: the delivery this change replaced (see the module's docstring)."""
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )
    # The same due set as the product reads: what differs, and is measured, is the delivery.
    contexts = await create_sweeper(settings, store).due_contexts(store.clock.now())
    by_id = {c.action.id or 0: c for c in contexts}
    directory = Directory(store, client)
    users = {u for c in contexts for u in (c.action.owner, c.postmortem_owner) if u and is_user_id(u)}
    people = {u: c.person for u, c in (await directory.cached(users)).items() if c.fresh}
    for user in sorted(users - set(people)):
        person = await directory.ask(user)
        if person:
            people[user] = person
    states = [action_state(c, people) for c in contexts]
    reminders = plan_reminders(states, NOW, {u: p.zone for u, p in people.items()}, settings.reminder_policy)
    ledger = Ledger(store)
    claims = await ledger.claim_all(reminders)
    for digest in group_digests(c.reminder for c in claims):
        keys = [r.key for r in digest.reminders]
        channel = (await client.conversations_open(users=digest.recipient))["channel"]["id"]
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"keys": keys}}
        response = await client.chat_postMessage(channel=channel, metadata=metadata, **digest_message(digest, by_id))
        await ledger.sent(keys, channel, response.get("ts"))


Delivery = Callable[[Store, Settings, aiohttp.ClientSession], Awaitable[None]]


# --------------------------------------------------------------------------
# measuring


@dataclass
class Outcome:
    situation: str
    delivery: str
    people: int
    dms: Counter[str]
    calls: Counter[str]
    refused: int
    first_dm: float
    total: float
    bound: float

    def row(self, speedup: float) -> list[str]:
        digests = max(len(self.dms), 1)
        twice = sum(1 for n in self.dms.values() if n > 1)
        per_digest = " / ".join(f"{self.calls[m] / digests:.2f}" for m in METHODS)
        return [
            self.situation,
            self.delivery,
            f"{len(self.dms)} ({twice} twice, {self.people - len(self.dms)} missed)",
            per_digest,
            str(self.refused),
            f"{self.first_dm:.1f} s",
            _minutes(self.total, speedup),
            _minutes(self.bound, speedup),
            f"{self.total / self.bound:.2f}" if self.bound else "-",
        ]


def _minutes(seconds: float, speedup: float) -> str:
    return f"{seconds * speedup / 60:.1f} min ({seconds:.1f} s)"


def bound(calls: Counter[str], limits: dict[str, Rate]) -> float:
    """The soonest the busiest method's last call can be made under its limit."""
    return max(
        (math.floor((calls[m] - 1) / rate.count) * rate.period for m, rate in limits.items() if calls[m] > 0),
        default=0.0,
    )


async def measure(
    store: Store,
    settings: Settings,
    limits: dict[str, Rate],
    people: list[str],
    situation: str,
    name: str,
    run: Delivery,
) -> Outcome:
    await reset(store, people, warm=situation == "warm")
    async with SlackStandin(bot_token=BOT_TOKEN) as standin, aiohttp.ClientSession() as session:
        for user in [*people, LEAD]:
            standin.add_user(user, tz="UTC")
        standin.enforce_rate_limits(limits)
        started = time.time()
        await run(store, settings.model_copy(update={"slack_api_url": standin.api_url}), session)
        total = time.time() - started
        accepted = [c for c in standin.calls if c.status == 200 and c.response and c.response.get("ok")]
        posts = [c for c in accepted if c.method == "chat.postMessage"]
        calls = Counter(c.method for c in accepted)
        return Outcome(
            situation=situation,
            delivery=name,
            people=len(people),
            dms=Counter(c.response["channel"] for c in posts if c.response),
            calls=calls,
            refused=sum(1 for c in standin.calls if c.status == 429),
            first_dm=min((c.time for c in posts), default=started) - started,
            total=total,
            bound=bound(calls, limits),
        )


HEADER = [
    "situation",
    "delivery",
    "DMs",
    "calls per digest: " + " / ".join(METHODS),
    "429s",
    "first DM (wall)",
    "total",
    "limits allow",
    "total / allowed",
]


def table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


async def run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url)
    await upgrade(engine)
    store = Store(engine, FixedClock(NOW))
    try:
        if await has_actions(store):
            print("the database already holds corrective actions: give an empty one", file=sys.stderr)
            return 2
        limits = scaled(rate_limits(), args.speedup)
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret="bench-signing-secret",
            slack_api_url="http://127.0.0.1:9/api/",
            slack_rate_limits=as_setting(limits),
            database_url=database_url,
            reminder_workdays="mon-sun",
            _env_file=None,  # type: ignore[call-arg]
        )
        people = await seed(store, args.recipients)
        outcomes = []
        for situation in args.situations.split(","):
            for name, delivery in (("product", product), ("BASELINE serial", serial_with_conversations_open)):
                outcomes.append(await measure(store, settings, limits, people, situation, name, delivery))
                print(f"  {situation} {name}: {outcomes[-1].total:.1f} s", file=sys.stderr, flush=True)
        print(table([o.row(args.speedup) for o in outcomes]))
        products = [o for o in outcomes if o.delivery == "product"]
        return 0 if all(set(o.dms.values()) == {1} and len(o.dms) == len(people) for o in products) else 1
    finally:
        await engine.dispose()


def describe(args: argparse.Namespace, database_url: str) -> str:
    return (
        f"delivery: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {len(os.sched_getaffinity(0))}, "
        f"Python {platform.python_version()}, database {database_url.split(':', 1)[0]}, {args.recipients} recipients, "
        f"limits' windows / {args.speedup:g} (times printed in Slack minutes, wall seconds in brackets), "
        f"code {code_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--speedup", type=float, default=20.0, help="the stand-in's minute is Slack's / speedup")
    parser.add_argument("--situations", default="warm,cold", help="warm, cold or both (comma-separated)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as workdir:
        database_url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
        print(describe(args, database_url))
        return asyncio.run(run(args, database_url))


if __name__ == "__main__":
    sys.exit(main())
