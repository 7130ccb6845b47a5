"""The reminder sweep over a realistic backlog, and its claim step beside a naive baseline.

Every sweep (every 15 minutes, on every replica) plans the reminders due now and claims
each one in the ledger before anything is sent, so a reminder is never sent twice. Once
the day's reminders are out, every later sweep plans the same reminders again and must
send nothing; what that costs is the claim step's price, paid all day long.

This script seeds N open corrective actions through ``storage.store.Store`` (owners
registered in the Slack stand-in with their time zones, due dates spread so that most
actions call for a reminder), then measures at one instant ``--now``:

* the first sweep: wall time, reminders planned and claimed, DMs sent, Web API calls
  (from the stand-in's ``calls``) and SQL statements, and how much of it the claim took;
* a second sweep at the same instant: everything is in the ledger, it must send nothing;
* the second sweep's claim step alone, product (``Ledger.claim_all``: one SELECT that
  pre-filters settled keys) against a BASELINE defined here: one INSERT attempt per
  planned reminder, each in its own transaction, catching ``IntegrityError``; the two
  alternate ``--repeat`` times and the median is reported.

    .venv/bin/python bench/reminder_sweep.py [--database-url URL] [--actions 2000]

The database must hold no corrective actions yet (the sweep reads all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from provenance import code_version
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_sweeper
from bot.clock import FixedClock
from bot.config import Settings
from bot.document import CorrectiveAction
from bot.reminders.policy import Reminder
from bot.reminders.sweep import Sweeper, SweepReport
from bot.slackdev import SlackStandin
from storage.db import create_engine, upgrade
from storage.ledger import Claim, Ledger
from storage.models import ActionRow, ReminderRow
from storage.store import Store

BOT_TOKEN = "xoxb-bench-token"
TEAM = "T0STANDIN1"
ZONES = ("Europe/London", "UTC")
DUE_OFFSETS = (-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4)
"""Days from --now: overdue (escalated from -3), due today, due soon (d-1, d-3), and 4: nothing yet."""
UNOWNED_EVERY = 10
"""Every 10th action has no owner: its postmortem's owner is nagged instead."""


# --------------------------------------------------------------------------
# counting what the database is asked


@dataclass
class Queries:
    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    checkouts: int = 0

    def copy(self) -> Queries:
        return Queries(**{f.name: getattr(self, f.name) for f in fields(self)})

    def __sub__(self, other: Queries) -> Queries:
        return Queries(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


def count_queries(engine: AsyncEngine) -> Queries:
    """Statements sent, transactions ended and pool checkouts (each one a pre-ping round trip)."""
    counted = Queries()
    sync_engine = engine.sync_engine

    def bump(name: str) -> Callable[..., None]:
        def listener(*_args: Any, **_kwargs: Any) -> None:
            setattr(counted, name, getattr(counted, name) + 1)

        return listener

    event.listen(sync_engine, "before_cursor_execute", bump("statements"))
    event.listen(sync_engine, "commit", bump("commits"))
    event.listen(sync_engine, "rollback", bump("rollbacks"))
    event.listen(sync_engine.pool, "checkout", bump("checkouts"))
    return counted


# --------------------------------------------------------------------------
# the backlog


def owner_id(k: int) -> str:
    return f"UOWNER{k:04d}"


def default_now() -> datetime:
    """The next Tuesday 15:00 UTC at least 2 hours ahead: inside 09-18 in London and UTC, and
    after the seeded actions' one-hour "unowned" grace period (they are created at real time)."""
    moment = datetime.now(UTC) + timedelta(hours=2)
    candidate = moment.replace(hour=15, minute=0, second=0, microsecond=0)
    candidate += timedelta(days=(1 - candidate.weekday()) % 7)
    return candidate if candidate >= moment else candidate + timedelta(days=7)


def register_owners(standin: SlackStandin, owners: int) -> list[str]:
    users = [owner_id(k) for k in range(owners)]
    for k, user in enumerate(users):
        standin.add_user(user, tz=ZONES[k % len(ZONES)])
    return users


def planned_action(n: int, owners: Sequence[str], today: date) -> CorrectiveAction:
    owner = None if n % UNOWNED_EVERY == UNOWNED_EVERY - 1 else owners[n % len(owners)]
    due = today + timedelta(days=DUE_OFFSETS[n % len(DUE_OFFSETS)])
    return CorrectiveAction(action=f"Corrective action {n}: add an idempotency key", owner=owner, due=due)


async def seed(store: Store, owners: Sequence[str], postmortems: int, actions: int, today: date) -> None:
    """Through the product's own Store: postmortems, then actions spread over them."""
    ids: list[int] = []
    for p in range(postmortems):
        record, _ = await store.open_postmortem(TEAM, f"CPM{p:06d}", owners[p % len(owners)], f"inc-bench-{p}")
        ids.append(record.id)
    for n in range(actions):
        postmortem_id = ids[n % len(ids)]
        await store.save_action(postmortem_id, planned_action(n, owners, today), owners[n % len(owners)])


async def has_actions(store: Store) -> bool:
    async with store.sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(ActionRow)))


# --------------------------------------------------------------------------
# the claim step: product and baseline


@dataclass
class ClaimProbe:
    """Stands in for ``sweeper.ledger.claim_all`` to time it and keep what it was asked to claim."""

    original: Callable[[Iterable[Reminder]], Awaitable[list[Claim]]]
    counted: Queries
    seconds: float = 0.0
    queries: Queries | None = None
    reminders: tuple[Reminder, ...] = ()

    async def __call__(self, reminders: Iterable[Reminder]) -> list[Claim]:
        self.reminders = tuple(reminders)
        before, started = self.counted.copy(), time.perf_counter()
        claims = await self.original(self.reminders)
        self.seconds, self.queries = time.perf_counter() - started, self.counted - before
        return claims


def probe_claims(sweeper: Sweeper, counted: Queries) -> ClaimProbe:
    probe = ClaimProbe(sweeper.ledger.claim_all, counted)
    sweeper.ledger.claim_all = probe  # type: ignore[method-assign]
    return probe


async def naive_claim_all(store: Store, reminders: Sequence[Reminder]) -> list[Reminder]:
    """BASELINE: no pre-filter; try to insert every planned reminder and let the unique key refuse."""
    claimed: list[Reminder] = []
    for reminder in reminders:
        try:
            async with store.sessions.begin() as session:
                session.add(
                    ReminderRow(
                        key=reminder.key,
                        action_id=reminder.action_id,
                        kind=reminder.kind,
                        slot=reminder.slot,
                        recipient=reminder.recipient,
                        claimed_at=store.clock.now(),
                    )
                )
        except IntegrityError:
            continue
        claimed.append(reminder)
    return claimed


async def product_claim_all(store: Store, reminders: Sequence[Reminder]) -> list[Reminder]:
    return [claim.reminder for claim in await Ledger(store).claim_all(reminders)]


@dataclass
class Timed:
    seconds: float
    queries: Queries
    claimed: int


async def timed_claim(
    claim: Callable[[Store, Sequence[Reminder]], Awaitable[list[Reminder]]],
    store: Store,
    reminders: Sequence[Reminder],
    counted: Queries,
) -> Timed:
    before, started = counted.copy(), time.perf_counter()
    claimed = await claim(store, reminders)
    return Timed(time.perf_counter() - started, counted - before, len(claimed))


# --------------------------------------------------------------------------
# report


@dataclass
class Row:
    step: str
    seconds: float
    queries: Queries
    report: SweepReport | None = None
    api_calls: Counter[str] | None = None
    claimed: int | None = None


def api_text(calls: Counter[str] | None) -> str:
    if calls is None:
        return ""
    detail = ", ".join(f"{method} {count}" for method, count in sorted(calls.items()))
    return f"{sum(calls.values())}" + (f" ({detail})" if detail else "")


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| step | wall ms | planned | claimed | DMs sent | Web API calls | SQL statements | commits | rollbacks "
        "| pool checkouts |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        planned = row.report.planned if row.report else ""
        claimed = row.report.claimed if row.report else ("" if row.claimed is None else row.claimed)
        sent = row.report.messages if row.report else ""
        q = row.queries
        lines.append(
            f"| {row.step} | {row.seconds * 1000:.1f} | {planned} | {claimed} | {sent} | {api_text(row.api_calls)} "
            f"| {q.statements} | {q.commits} | {q.rollbacks} | {q.checkouts} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the run


@dataclass
class Bench:
    store: Store
    standin: SlackStandin
    sweeper: Sweeper
    counted: Queries
    probe: ClaimProbe

    async def sweep(self, step: str, now: datetime) -> tuple[Row, Row]:
        """One real sweep, and its claim step as the probe saw it."""
        before_calls, before, started = len(self.standin.calls), self.counted.copy(), time.perf_counter()
        assert isinstance(self.store.clock, FixedClock)
        self.store.clock.set(now)
        result = await self.sweeper.sweep()
        seconds, queries = time.perf_counter() - started, self.counted - before
        calls = Counter(call.method for call in self.standin.calls[before_calls:])
        claim = Row(f"{step}: claim step inside it", self.probe.seconds, self.probe.queries or Queries())
        claim.claimed = result.claimed
        return Row(step, seconds, queries, result, calls), claim

    async def compare_claims(self, repeat: int) -> tuple[Row, Row]:
        """The second sweep's claim input, claimed again: baseline and product alternate."""
        reminders = self.probe.reminders
        runs: dict[str, list[Timed]] = {"naive": [], "product": []}
        for _ in range(repeat):
            runs["naive"].append(await timed_claim(naive_claim_all, self.store, reminders, self.counted))
            runs["product"].append(await timed_claim(product_claim_all, self.store, reminders, self.counted))
        return (
            _median_row(
                f"BASELINE claim: 1 INSERT try per reminder ({len(reminders)}), median of {repeat}", runs["naive"]
            ),
            _median_row(f"product Ledger.claim_all, median of {repeat}", runs["product"]),
        )


def _median_row(step: str, runs: Sequence[Timed]) -> Row:
    middle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    row = Row(step, statistics.median(r.seconds for r in runs), middle.queries)
    row.claimed = max(r.claimed for r in runs)
    return row


async def run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url)
    await upgrade(engine)
    store = Store(engine, FixedClock(args.now - timedelta(hours=2)))  # seeded past the unowned grace
    try:
        if await has_actions(store):
            print("the database already holds corrective actions: give an empty one", file=sys.stderr)
            return 2
        async with SlackStandin(bot_token=BOT_TOKEN) as standin:
            return await measure(args, database_url, store, standin)
    finally:
        await engine.dispose()


async def measure(args: argparse.Namespace, database_url: str, store: Store, standin: SlackStandin) -> int:
    now: datetime = args.now
    counted = count_queries(store.engine)
    owners = register_owners(standin, args.owners)
    before, started = counted.copy(), time.perf_counter()
    await seed(store, owners, args.postmortems, args.actions, now.date())
    seeded = Row(
        f"seed {args.actions} actions, {args.postmortems} postmortems (Store)",
        time.perf_counter() - started,
        counted - before,
    )
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="bench-signing-secret",
        slack_api_url=standin.api_url,
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    sweeper = create_sweeper(settings, store)
    bench = Bench(store, standin, sweeper, counted, probe_claims(sweeper, counted))
    first, first_claim = await bench.sweep("first sweep", now)
    second, second_claim = await bench.sweep("second sweep, same instant", now)
    naive, product = await bench.compare_claims(args.repeat)
    print(table([seeded, first, first_claim, second, second_claim, naive, product]))
    print(f"\nsecond sweep sent {second.report.messages if second.report else '?'} DM(s) (must be 0)")
    return 0 if second.report and second.report.messages == 0 and product.claimed == naive.claimed == 0 else 1


def describe(args: argparse.Namespace, database_url: str) -> str:
    return (
        f"reminder_sweep: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {len(os.sched_getaffinity(0))}, "
        f"Python {platform.python_version()}, database {database_url.split(':', 1)[0]}, {args.actions} open actions "
        f"over {args.postmortems} postmortems and {args.owners} owners ({' / '.join(ZONES)}), "
        f"now {args.now:%a %Y-%m-%d %H:%M} UTC, code {code_version()}"
    )


def parse_now(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs a time zone, e.g. 2026-12-01T15:00:00+00:00")
    return moment.astimezone(UTC)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--postmortems", type=int, default=200)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="claim-step comparisons (default 3)")
    parser.add_argument(
        "--now", type=parse_now, default=default_now(), help="ISO instant (default: next Tuesday 15:00 UTC)"
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> int:
    if args.now < datetime.now(UTC) + timedelta(hours=1):
        print("note: --now is less than 1 h ahead, so no 'unowned' reminders are due yet", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-reminder-sweep-") as workdir:
        database_url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
        print(describe(args, database_url), flush=True)
        return await run(args, database_url)


def main() -> int:
    return asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
