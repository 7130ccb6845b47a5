"""The reminder sweep's cost against the number of actions stored, beside the old full scan.

A sweep runs every few minutes on the event loop that answers Slack. This script seeds in
bulk (Core inserts, executemany) 10k, 100k and 1M corrective actions, half of them open,
of which 200 can remind someone at ``--now`` (120 overdue, due today or due soon, 40 with
no owner, 20 owned by a team name, 20 whose owner left), the other open ones due 5 days to
a year ahead; the closed half is due in the past, each created up to 400 days before ``--now``
and closed up to 30 days after (about a fifth of them in the insights' twelve weeks). Every
owner is in the ``users.info`` cache, so no step waits for Slack. Then, at ``--now``:

* product: ``Sweeper.plan`` (``storage/due.py``'s query, the due actions' people, the
  policy in a worker thread): the first run (new connections, statements not yet
  compiled), then the median time and the longest stall of ``--repeat`` more;
* BASELINE: ``BASELINE_full_scan_plan`` below, the planning step as the sweep did it
  before: every open action through the ORM, all their owners looked up, planned on the
  event loop; once, in the same process, after the product;
* the whole product sweep once (claims and one DM per person to the Slack stand-in);
* ``/metrics``' action totals (``storage/totals.py``: four index reads in one statement),
  beside the BASELINE ``BASELINE_one_pass_totals``, the one pass over every open action a
  scrape made before; and App Home's list of one person's open actions (``open_actions_for``:
  one index read per reason an action is theirs) beside ``BASELINE_one_condition_home``, the
  one condition with ORs it was read with before; and the insights' counts of the workspace
  (``Store.tally``, which a postmortem owner's App Home shows) beside ``BASELINE_tally``, the
  same figures counted over every open action of the workspace through a join, as before;
  1 + ``--repeat`` runs each, the median.

Each step reports its wall time, its peak resident memory above its start (Linux: the
high-water mark is reset first through ``/proc/self/clear_refs``), the longest gap between
two wake-ups of a probe task that asks to wake every millisecond (what any request being
served meanwhile would have waited), the rows read and the reminders planned; product and
baseline must plan the same reminders. Each database and size runs in a child process of
its own, and the seeding in another one before it, so one step's memory or garbage does not
hide in another's. Once its sweeper is built, the measuring process settles its heap as
``postmortem-bot run`` does (``bot.app.settle_heap``). Before it did, a full collection of what
``run`` would have set aside (the imported modules, the stand-in's 1,000 people) took 105-107 ms
and fell into the whole sweep at 10k and 100k: a stall of the benchmark's own making.

PostgreSQL: ``--postgres-url`` (or ``TEST_DATABASE_URL``) names a server on which the
script creates and drops one database per size; without one it starts a throwaway cluster
on loopback as ``scripts/test`` does (default durability), and removes it afterwards.

    .venv/bin/python bench/sweep_scale.py [--sizes 10000,100000,1000000] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from provenance import code_version
from sqlalchemy import and_, case, func, insert, make_url, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_sweeper, settle_heap
from bot.config import Settings
from bot.domain.catalog import builtin
from bot.domain.clock import FixedClock
from bot.domain.document import CorrectiveAction
from bot.domain.insights import WEEK, Tally, middle_offsets, week_ends
from bot.domain.owners import is_user_id
from bot.domain.reminder_policy import Reminder, plan_reminders
from bot.reminders.people import Person
from bot.reminders.sweep import Sweeper, action_state
from bot.slackdev import SlackStandin
from storage.db import create_engine, upgrade
from storage.insights import _closed_on, _count, _days_to_close, _params, _statements
from storage.models import ActionRow, PostmortemRow, SlackUserRow
from storage.owners import needs_owner
from storage.people import DEPARTED
from storage.read_models import ACTION_CONTEXT_COLUMNS, ActionContext, action_context
from storage.store import Store
from storage.totals import ActionTotals, action_totals

BOT_TOKEN = "xoxb-bench-token"
TEAM = "T0STANDIN1"
ZONES = ("Europe/London", "UTC")
OWNERS = 1_000
DUE = 200
DUE_OFFSETS = (-6, -5, -4, -3, -2, -1, 0, 1, 2, 3)
"""Days from --now of the 120 dated due actions: overdue, due today, due soon (d-1, d-3)."""
TEAM_NAMES = ("platform-team", "sre", "data-eng", "security")
INSERT_CHUNK = 10_000
BUILTIN = builtin()
T = TypeVar("T")


# --------------------------------------------------------------------------
# the stored actions


def owner_id(k: int) -> str:
    return f"U0SCALE{k:04d}"


def departed_id(k: int) -> str:
    return f"U0LEFT{k:04d}"


def postmortem_rows(count: int, seeded_at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": p + 1,
            "team_id": TEAM,
            "channel_id": f"CSCALE{p:07d}",
            "incident_id": f"inc-scale-{p}",
            "created_by": owner_id(p % OWNERS),
            "created_at": seeded_at,
            "owner": owner_id((p * 7) % OWNERS),
            "card_revision": 0,
            "template_name": BUILTIN.name,
            "template_version": BUILTIN.version,
        }
        for p in range(count)
    ]


def _due_action(j: int, today: date) -> tuple[str | None, date | None]:
    """The j-th of the 200 that can remind: 120 dated, 40 unowned, 20 team-owned, 20 departed."""
    if j < 120:
        return owner_id(j * 37 % OWNERS), today + timedelta(days=DUE_OFFSETS[j % len(DUE_OFFSETS)])
    if j < 160:
        return None, today + timedelta(days=30 + j)
    if j < 180:
        return TEAM_NAMES[j % len(TEAM_NAMES)], today + timedelta(days=60 + j)
    return departed_id(j - 180), today + timedelta(days=90 + j)


def _closed_span(rng: random.Random, now: datetime) -> tuple[datetime, datetime]:
    """A closed action's creation, up to 400 days ago, and its closing, up to 30 days later."""
    age = rng.randint(2, 400)
    created = now - timedelta(days=age)
    return created, created + timedelta(hours=rng.randint(1, 24 * min(30, age - 1)))


def action_rows(size: int, postmortems: int, now: datetime, seeded_at: datetime) -> Iterator[list[dict[str, Any]]]:
    """``size`` actions in chunks: even ids open, odd ones closed; 200 open ones can remind."""
    rng = random.Random(size)
    today = now.date()
    step = max(1, (size // 2) // DUE)
    chunk: list[dict[str, Any]] = []
    for n in range(size):
        status, reason, k, created, closed = "open", "", n // 2, seeded_at, None
        if n % 2:
            status = "done" if rng.random() < 0.9 else "wont_do"
            reason = "superseded" if status == "wont_do" else ""
            owner, due = owner_id(rng.randrange(OWNERS)), today - timedelta(days=rng.randint(1, 400))
            created, closed = _closed_span(rng, now)
        elif k % step == 0 and k // step < DUE:
            owner, due = _due_action(k // step, today)
        else:
            owner = owner_id(rng.randrange(OWNERS))
            due = None if rng.random() < 0.05 else today + timedelta(days=rng.randint(5, 365))
        chunk.append(
            {
                "id": n + 1,
                "postmortem_id": n % postmortems + 1,
                "action": f"Corrective action {n}: add an idempotency key",
                "kind": "other",
                "owner": owner,
                "due": due,
                "extra": {},
                "status": status,
                "status_reason": reason,
                "snoozed_until": None,
                "created_by": owner_id(n % OWNERS),
                "created_at": created,
                "updated_at": closed or seeded_at,
                "closed_at": closed,
            }
        )
        if len(chunk) == INSERT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def people_rows(now: datetime) -> list[dict[str, Any]]:
    """Everyone in the ``users.info`` cache, fetched an hour ago: no step asks Slack."""
    fetched = now - timedelta(hours=1)
    live = [
        {"user_id": owner_id(k), "tz": ZONES[k % len(ZONES)], "gone": False, "fetched_at": fetched}
        for k in range(OWNERS)
    ]
    gone = [{"user_id": departed_id(k), "tz": None, "gone": True, "fetched_at": fetched} for k in range(20)]
    return live + gone


async def seed(engine: AsyncEngine, size: int, now: datetime) -> None:
    seeded_at = now - timedelta(days=2)
    postmortems = max(10, size // 100)
    async with engine.begin() as connection:
        await connection.execute(insert(PostmortemRow.__table__), postmortem_rows(postmortems, seeded_at))
        await connection.execute(insert(SlackUserRow.__table__), people_rows(now))
        for chunk in action_rows(size, postmortems, now, seeded_at):
            await connection.execute(insert(ActionRow.__table__), chunk)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does after a bulk load


# --------------------------------------------------------------------------
# the baseline: the sweep's planning step as it was


async def people_of(sweeper: Sweeper, users: set[str]) -> dict[str, Person]:
    """What the sweep knows of these people: its fresh cache, else Slack's answer now."""
    cached = await sweeper.directory.cached(users)
    people = {u: c.person for u, c in cached.items() if c.fresh}
    for user in sorted(users - set(people)):
        if person := await sweeper.directory.ask(user):
            people[user] = person
    return people


async def product_plan(sweeper: Sweeper, now: datetime) -> tuple[list[Reminder], list[ActionContext]]:
    """The sweep's planning half as the product does it: the due read, then the policy in a thread."""
    read = await sweeper.due_contexts(now)
    people = await people_of(sweeper, {u for c in read for u in (c.action.owner, c.postmortem_owner) if is_user_id(u)})
    zones = {u: p.zone for u, p in people.items()}
    states = [action_state(c, people) for c in read]
    return await asyncio.to_thread(plan_reminders, states, now, zones, sweeper.policy), read


async def BASELINE_full_scan_plan(sweeper: Sweeper, now: datetime) -> tuple[list[Reminder], int]:
    """BASELINE: every open action through the ORM (an ActionRow, a CorrectiveAction and an
    ActionContext each), every owner looked up, the policy run on the event loop."""
    async with sweeper.store.sessions() as session:
        rows = (
            await session.execute(
                select(ActionRow, PostmortemRow)
                .join(PostmortemRow, ActionRow.postmortem_id == PostmortemRow.id)
                .where(ActionRow.status == "open")
                .order_by(ActionRow.due.is_(None), ActionRow.due, ActionRow.id)
            )
        ).all()
    contexts = [
        ActionContext(
            action=CorrectiveAction(
                id=a.id,
                action=a.action,
                kind=a.kind,
                owner=a.owner,
                due=a.due,
                extra=a.extra,
                status=a.status,  # type: ignore[arg-type]
                status_reason=a.status_reason,
            ),
            postmortem_id=pm.id,
            team_id=pm.team_id,
            channel_id=pm.channel_id,
            incident_id=pm.incident_id,
            postmortem_owner=pm.owner or pm.created_by,
            created_at=a.created_at,
            snoozed_until=a.snoozed_until,
        )
        for a, pm in rows
    ]
    users = {u for c in contexts for u in (c.action.owner, c.postmortem_owner) if is_user_id(u)}
    people = await people_of(sweeper, users)  # type: ignore[arg-type]
    states = [action_state(c, people) for c in contexts]
    zones = {u: p.zone for u, p in people.items()}
    return plan_reminders(states, now, zones, sweeper.policy), len(contexts)


async def BASELINE_one_pass_totals(store: Store, today: date) -> ActionTotals:
    """BASELINE: ``/metrics``' totals as a scrape counted them before, in one pass over every open
    action, each one's owner read from the table."""
    actions = ActionRow.__table__.c
    no_user, departed = needs_owner(actions.owner, DEPARTED)
    query = select(
        func.count(), func.count(case((actions.due < today, 1))), func.count(case((or_(no_user, departed), 1)))
    ).where(actions.status == "open")
    async with store.engine.connect() as connection:
        opened, overdue, unowned = (await connection.execute(query)).one()
    return ActionTotals(open=opened, overdue=overdue, unowned=unowned)


async def BASELINE_one_condition_home(store: Store, person: str) -> list[ActionContext]:
    """BASELINE: App Home's list of a person's open actions as one condition with ORs, as it was read before."""
    actions, postmortems = ActionRow.__table__.c, PostmortemRow.__table__.c
    theirs = (postmortems.owner == person) | (postmortems.owner.is_(None) & (postmortems.created_by == person))
    whose = (actions.owner == person) | (or_(*needs_owner(actions.owner, DEPARTED, qualified=True)) & theirs)
    query = (
        select(*ACTION_CONTEXT_COLUMNS)
        .join_from(ActionRow.__table__, PostmortemRow.__table__, postmortems.id == actions.postmortem_id)
        .where(actions.status == "open", postmortems.team_id == TEAM, whose)
    )
    async with store.engine.connect() as connection:
        return [action_context(row) for row in await connection.execute(query)]


def _BASELINE_within(column: Any, ends: datetime) -> Any:
    return and_(column >= ends - WEEK, column < ends)


def _BASELINE_overdue_at(actions: Any, ends: datetime) -> Any:
    still_open = or_(actions.status == "open", actions.closed_at >= ends)
    return and_(actions.created_at < ends, actions.due < ends.date(), still_open)


async def BASELINE_tally(store: Store, team_id: str, ends: datetime) -> Tally:
    """BASELINE: the insights' counts as they were read before: the actions of the team's
    postmortems that were open or closed in the span, every open one among them, through a join,
    the statements built at each call. The postmortems' counts are the product's (unchanged)."""
    actions, postmortems = ActionRow.__table__.c, PostmortemRow.__table__.c
    weeks = week_ends(ends)
    since = weeks[0] - WEEK
    of_team = ActionRow.__table__.join(PostmortemRow.__table__, postmortems.id == actions.postmortem_id)
    dialect = store.engine.dialect.name
    done = actions.status == "done"
    in_time = or_(actions.due.is_(None), actions.due >= _closed_on(actions.closed_at, dialect))
    unowned = and_(
        actions.status == "open", actions.created_at < ends, or_(*needs_owner(actions.owner, DEPARTED, qualified=True))
    )
    in_span = and_(done, actions.closed_at >= since, actions.closed_at < ends)
    counts = select(
        *(_count(and_(done, _BASELINE_within(actions.closed_at, w), in_time)) for w in weeks),
        *(_count(_BASELINE_overdue_at(actions, w)) for w in weeks),
        _count(unowned),
        _count(in_span),
    ).select_from(of_team)
    counts = counts.where(postmortems.team_id == team_id, or_(actions.status == "open", actions.closed_at >= since))
    days = _days_to_close(dialect)
    a_person = ~or_(*needs_owner(actions.owner, DEPARTED, qualified=True))
    owners = select(actions.owner, func.count()).select_from(of_team).group_by(actions.owner)
    owners = owners.where(postmortems.team_id == team_id, _BASELINE_overdue_at(actions, ends), a_person)
    async with store.engine.connect() as connection:
        counted = (await connection.execute(_statements(dialect).postmortems, _params(team_id, weeks))).one()
        row = (await connection.execute(counts)).one()
        n, closed = len(weeks), row[-1]
        offset, count = middle_offsets(closed)
        middle = select(days).select_from(of_team).where(postmortems.team_id == team_id, in_span)
        middle_rows = await connection.execute(middle.order_by(days).offset(offset).limit(count)) if closed else []
        by_owner = dict(list(await connection.execute(owners)))
    middle_days = [float(value) for (value,) in middle_rows]
    on_time, overdue = list(row[:n]), list(row[n : 2 * n])
    started, finished, stalled = list(counted[:n]), list(counted[n : 2 * n]), counted[-1]
    return Tally(weeks, started, finished, on_time, overdue, stalled, row[2 * n], closed, middle_days, by_owner)


def _median_row(database: str, size: int, step: str, runs: Sequence[tuple[Any, Measured]]) -> Row:
    costs = [cost for _, cost in runs]
    seconds = statistics.median(c.seconds for c in costs)
    return Row(database, size, step, seconds, max(c.peak_mb for c in costs), max(c.stall_ms for c in costs), None, None)


# --------------------------------------------------------------------------
# measuring a step


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _longest_stall(stop: asyncio.Event) -> float:
    """Wake every millisecond until stopped; the longest gap between two wake-ups."""
    worst, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        moment = time.perf_counter()
        worst, last = max(worst, moment - last), moment
    return worst


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    stall_ms: float


async def measured(step: Callable[[], Awaitable[T]]) -> tuple[T, Measured]:
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM) to the current RSS
    start_kb = _status_kb("VmHWM")
    stop = asyncio.Event()
    probe = asyncio.create_task(_longest_stall(stop))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    result = await step()
    seconds = time.perf_counter() - started
    stop.set()
    stall = await probe
    return result, Measured(seconds, (_status_kb("VmHWM") - start_kb) / 1024, stall * 1000)


@dataclass
class Row:
    database: str
    size: int
    step: str
    seconds: float
    peak_mb: float
    stall_ms: float
    rows: int | None
    planned: int | None
    sent: int | None = None


async def seeded(database: str, url: str, size: int, now: datetime) -> list[Row]:
    engine = create_engine(url)
    await upgrade(engine)
    started = time.perf_counter()
    await seed(engine, size, now)
    await engine.dispose()
    return [Row(database, size, "seed (Core executemany)", time.perf_counter() - started, 0, 0, size, None)]


async def measure(database: str, url: str, size: int, now: datetime, repeat: int) -> list[Row]:
    """In a process that did not seed: a serving process has no million rows' garbage to collect."""
    engine = create_engine(url)
    rows: list[Row] = []
    store = Store(engine, FixedClock(now))
    async with SlackStandin(bot_token=BOT_TOKEN) as standin:
        for k in range(OWNERS):
            standin.add_user(owner_id(k), tz=ZONES[k % len(ZONES)])
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret="bench-signing-secret",
            slack_api_url=standin.api_url,
            database_url=url,
            _env_file=None,  # type: ignore[call-arg]
        )
        sweeper = create_sweeper(settings, store)
        settle_heap()  # as ``postmortem-bot run`` does once built; see the module
        runs = [await measured(lambda: product_plan(sweeper, now)) for _ in range(1 + repeat)]
        (product, read), _ = runs[0]
        rows.append(_summary(database, size, "product plan, first (cold)", runs[:1], len(read)))
        rows.append(_summary(database, size, f"product plan, next {repeat}: median", runs[1:], len(read)))
        (baseline, scanned), cost = await measured(lambda: BASELINE_full_scan_plan(sweeper, now))
        rows.append(Row(database, size, "BASELINE full scan", *asdict(cost).values(), scanned, len(baseline)))
        if baseline != product:
            raise SystemExit(f"{database} {size}: product planned {len(product)}, the baseline {len(baseline)}")
        report, cost = await measured(sweeper.sweep)
        whole = Row(database, size, "product whole sweep (claims, DMs)", *asdict(cost).values(), None, report.planned)
        whole.sent = report.messages
        rows.append(whole)
        today = now.date()
        totals = [await measured(lambda: action_totals(store, today)) for _ in range(1 + repeat)]
        before = [await measured(lambda: BASELINE_one_pass_totals(store, today)) for _ in range(1 + repeat)]
        if totals[0][0] != before[0][0]:
            raise SystemExit(f"{database} {size}: /metrics totals {totals[0][0]}, the baseline {before[0][0]}")
        rows.append(_median_row(database, size, f"product /metrics totals: median of {1 + repeat}", totals))
        rows.append(_median_row(database, size, f"BASELINE /metrics totals, one pass: median of {1 + repeat}", before))
        person = owner_id(0)
        home = [await measured(lambda: store.open_actions_for(TEAM, person)) for _ in range(1 + repeat)]
        before_home = [await measured(lambda: BASELINE_one_condition_home(store, person)) for _ in range(1 + repeat)]
        if {c.action.id for c in home[0][0]} != {c.action.id for c in before_home[0][0]}:
            raise SystemExit(f"{database} {size}: App Home lists other actions than the baseline")
        rows.append(_median_row(database, size, f"product App Home list: median of {1 + repeat}", home))
        rows.append(
            _median_row(database, size, f"BASELINE App Home list, one condition: median of {1 + repeat}", before_home)
        )
        tallies = [await measured(lambda: store.tally(TEAM, now)) for _ in range(1 + repeat)]
        before_tallies = [await measured(lambda: BASELINE_tally(store, TEAM, now)) for _ in range(1 + repeat)]
        if tallies[0][0] != before_tallies[0][0]:
            raise SystemExit(
                f"{database} {size}: the insights counted {tallies[0][0]}, the baseline {before_tallies[0][0]}"
            )
        rows.append(_median_row(database, size, f"product insights tally: median of {1 + repeat}", tallies))
        rows.append(
            _median_row(
                database, size, f"BASELINE insights tally, via the team: median of {1 + repeat}", before_tallies
            )
        )
    await engine.dispose()
    return rows


def _summary(database: str, size: int, step: str, runs: Sequence[tuple[Any, Measured]], read: int) -> Row:
    costs = [cost for _, cost in runs]
    planned = len(runs[0][0][0])
    return Row(
        database,
        size,
        step,
        statistics.median(c.seconds for c in costs),
        max(c.peak_mb for c in costs),
        max(c.stall_ms for c in costs),
        read,
        planned,
    )


# --------------------------------------------------------------------------
# databases: one per size


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster on loopback in a temporary directory, as scripts/test starts one."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise SystemExit("no PostgreSQL here: give --postgres-url, or run scripts/setup")
    bin_dir = Path(found[-1]).parent
    as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-pg-"))
    if as_pg:
        shutil.chown(work, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = work / "data"
    initdb = [*as_pg, bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust"]
    subprocess.run(initdb, check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {work}"
    subprocess.run(
        [*as_pg, bin_dir / "pg_ctl", "-D", data, "-l", work / "log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, bin_dir / "pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


async def _admin(server_url: str, statement: str) -> None:
    engine = create_engine(server_url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def fresh_database(database: str, size: int, server_url: str, workdir: Path) -> Iterator[str]:
    if database == "sqlite":
        path = workdir / f"sweep-{size}.db"
        yield f"sqlite:///{path}"
        for leftover in workdir.glob(f"{path.name}*"):
            leftover.unlink()
        return
    name = f"bench_sweep_scale_{size}"
    asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_admin(server_url, f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name}"))


def in_child(args: argparse.Namespace, task: str, database: str, url: str, size: int) -> list[Row]:
    """Seeding, then measuring, each in a process of its own: a step's peak memory is its own."""
    command = [sys.executable, __file__, "--child", f"{task}:{database}:{size}", "--url", url]
    command += ["--now", args.now.isoformat(), "--repeat", str(args.repeat)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{database} {size}: {done.stderr.strip()}")
    return [Row(**row) for row in json.loads(done.stdout)]


# --------------------------------------------------------------------------
# report


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| stored | open | step | wall ms | peak RSS MB | longest loop stall ms | rows read | planned | DMs |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        seed = row.step.startswith("seed")
        lines.append(
            f"| {row.size:,} | {row.size // 2:,} | {row.step} | {row.seconds * 1000:,.1f} "
            f"| {'' if seed else f'{row.peak_mb:,.1f}'} | {'' if seed else f'{row.stall_ms:,.1f}'} "
            f"| {'' if row.rows is None or seed else f'{row.rows:,}'} | {'' if row.planned is None else row.planned} "
            f"| {'' if row.sent is None else row.sent} |"
        )
    return "\n".join(lines)


def describe(args: argparse.Namespace) -> str:
    return (
        f"sweep_scale: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {len(os.sched_getaffinity(0))}, "
        f"Python {platform.python_version()}, {OWNERS} owners ({' / '.join(ZONES)}), {DUE} able to remind, "
        f"now {args.now:%a %Y-%m-%d %H:%M} UTC, code {code_version()}"
    )


def parse_now(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs a time zone, e.g. 2026-12-01T15:00:00+00:00")
    return moment.astimezone(UTC)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored actions (default 10k, 100k, 1M)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--repeat", type=int, default=5, help="product runs after the first (default 5)")
    parser.add_argument("--now", type=parse_now, default=datetime(2026, 12, 1, 15, tzinfo=UTC))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.child:
        task, database, size = args.child.split(":")
        if task == "seed":
            rows = asyncio.run(seeded(database, args.url, int(size), args.now))
        else:
            rows = asyncio.run(measure(database, args.url, int(size), args.now, args.repeat))
        print(json.dumps([asdict(row) for row in rows]))
        return 0
    databases = args.databases.split(",")
    sizes = [int(size) for size in args.sizes.split(",")]
    print(describe(args), flush=True)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sweep-scale-")))
        server = args.postgres_url
        if "postgresql" in databases and not server:
            server = stack.enter_context(throwaway_postgres())
        for database in databases:
            rows: list[Row] = []
            for size in sizes:
                with fresh_database(database, size, server, workdir) as url:
                    rows += in_child(args, "seed", database, url, size)
                    rows += in_child(args, "measure", database, url, size)
                print(f"\n{database}, {size:,} stored: done", file=sys.stderr, flush=True)
            print(f"\n### {database}\n\n{table(rows)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
