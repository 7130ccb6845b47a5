"""The sweep reads only the actions that can remind someone, and still misses no reminder.

Hundreds of random actions (due dates around the sweeps, owners in UTC+14 and UTC-12,
departed owners, team names, no owner, snoozes, done and won't-do), swept at instants on
both sides of the date line and at weekends: the reminders planned from the narrow read
are exactly those the policy plans from every stored action.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from bot.app import create_sweeper
from bot.config import Settings
from bot.domain.catalog import builtin
from bot.domain.clock import FixedClock
from bot.domain.document import CorrectiveAction
from bot.domain.reminder_policy import ReminderPolicy, plan_reminders
from bot.reminders.sweep import Sweeper, action_state
from bot.slackdev import SlackStandin
from storage.due import due_ids
from storage.read_models import ActionContext
from storage.store import Store
from tests.plans import sqlite_plan

SEEDED_AT = datetime(2026, 5, 1, 0, tzinfo=UTC)  # a Friday
ZONES = {
    "U0KIRI0001": "Pacific/Kiritimati",  # UTC+14: its "today" is often UTC's tomorrow
    "U0BAKER001": "Etc/GMT+12",  # UTC-12: its "today" is often UTC's yesterday
    "U0LONDON01": "Europe/London",
    "U0NEWYORK1": "America/New_York",
    "U0KOLKATA1": "Asia/Kolkata",
    "U0UTC00001": "UTC",
}
DEPARTED = "U0GONE0001"
UNKNOWN = "U0NOBODY01"  # never existed: Slack answers user_not_found
TEAM_NAMES = ("platform-team", "U-TEAM", "Ux", "W0lower", "UABC DEF")
OWNERS: tuple[str | None, ...] = (*ZONES, *ZONES, DEPARTED, UNKNOWN, None, None, *TEAM_NAMES)
POSTMORTEM_OWNERS = (*ZONES, DEPARTED, "sre-team")
INSTANTS = (
    SEEDED_AT + timedelta(minutes=30),  # Fri: unowned actions still in their grace period
    datetime(2026, 5, 4, 20, 30, tzinfo=UTC),  # Mon evening; Tue 10:30 at UTC+14
    datetime(2026, 5, 4, 21, 30, tzinfo=UTC),  # Mon 09:30 at UTC-12, Tue at UTC+14
    datetime(2026, 5, 5, 5, tzinfo=UTC),  # Tue; Mon 17:00 at UTC-12
    datetime(2026, 5, 6, 13, 30, tzinfo=UTC),  # Wed afternoon in Europe
    datetime(2026, 5, 8, 22, tzinfo=UTC),  # Fri 10:00 at UTC-12, Sat at UTC+14
    datetime(2026, 5, 9, 14, tzinfo=UTC),  # Saturday everywhere
    datetime(2026, 5, 10, 22, tzinfo=UTC),  # Sunday in UTC, Monday noon at UTC+14
)
ALWAYS = (time(0), time(23, 59))
POLICIES = (
    ReminderPolicy(),
    ReminderPolicy(due_soon_days=(7, 2), working_hours=ALWAYS, workdays=frozenset(range(7))),
    ReminderPolicy(due_soon_days=(), working_hours=ALWAYS, workdays=frozenset(range(7))),
)


async def _seed(store: Store, standin: SlackStandin, rng: random.Random) -> list[int]:
    """Postmortems with random owners, and random actions in them; returns every action id."""
    ids: list[int] = []
    for p in range(12):
        record, _ = await store.open_postmortem(standin.team_id, f"C0DUE{p:04d}", "U0UTC00001", f"inc-due-{p}")
        summary = {"incident_id": f"inc-due-{p}", "owner": rng.choice(POSTMORTEM_OWNERS)}
        await store.save_section(record.id, "summary", summary, 0, "U0UTC00001", builtin())
        for n in range(25):
            due = None if rng.random() < 0.1 else date(2026, 5, 5) + timedelta(days=rng.randint(-14, 16))
            status = rng.choices(("open", "done", "wont_do"), weights=(8, 1, 1))[0]
            reason = "superseded" if status == "wont_do" else ""
            action = CorrectiveAction(
                action=f"Action {p}.{n}", owner=rng.choice(OWNERS), due=due, status=status, status_reason=reason
            )
            ids.append(await store.save_action(record.id, action, "U0UTC00001"))
            if rng.random() < 0.3:
                until = rng.choice(INSTANTS) + timedelta(minutes=rng.choice((-1, 0, 1, 600)))
                await store.snooze_action(ids[-1], "U0UTC00001", until)
    return ids


async def _every_action(store: Store, ids: list[int]) -> list[ActionContext]:
    found = [await store.action(action_id) for action_id in ids]
    return [context for context in found if context]


def _may_remind(context: ActionContext, now: datetime, policy: ReminderPolicy) -> bool:
    """Open, not snoozed, and due by the largest threshold plus a day unless no live user owns it."""
    if context.action.status != "open" or (context.snoozed_until or now) > now:
        return False
    last_due = now.date() + timedelta(days=max(policy.due_soon_days, default=0) + 1)
    due_in_time = context.action.due is not None and context.action.due <= last_due
    return due_in_time or context.action.owner not in ZONES


async def test_the_narrow_read_plans_exactly_what_all_actions_plan(
    settings: Settings, store: Store, standin: SlackStandin, clock: FixedClock
) -> None:
    for user, zone in ZONES.items():
        standin.add_user(user, tz=zone)
    standin.add_user(DEPARTED, tz="UTC")
    standin.set_user_deleted(DEPARTED)
    clock.set(SEEDED_AT)
    ids = await _seed(store, standin, random.Random(20260505))
    sweeper: Sweeper = create_sweeper(settings, store)
    everyone = {*ZONES, DEPARTED, UNKNOWN}
    for user in everyone:  # what earlier sweeps learnt, departures included
        await sweeper.directory.ask(user)
    stored = await _every_action(store, ids)
    kinds: set[str] = set()
    for policy in POLICIES:
        sweeper.policy = policy
        for now in INSTANTS:
            clock.set(now)
            read = await sweeper.due_contexts(now)
            people = {u: c.person for u, c in (await sweeper.directory.cached(everyone)).items()}
            zones = {u: p.zone for u, p in people.items()}
            narrow = plan_reminders([action_state(c, people) for c in read], now, zones, policy)
            from_all = plan_reminders([action_state(c, people) for c in stored], now, zones, policy)
            assert narrow == from_all, f"{now:%a %Y-%m-%d %H:%M} UTC, {policy.due_soon_days}"
            assert all(_may_remind(context, now, policy) for context in read)
            kinds.update(r.kind for r in from_all)
    assert kinds == {"due_soon", "due_today", "overdue", "escalation", "unowned"}


async def test_unowned_actions_are_found_through_their_index_whatever_order_a_migration_left_the_indexes_in(
    store: Store,
) -> None:
    """SQLite, which has no statistics, rates the open-actions index as good as the small partial
    index of unowned actions and takes the one listed last: then every sweep read all open actions."""
    if store.engine.dialect.name == "sqlite":  # ix_corrective_actions_open listed last, as a rebuild may leave it
        async with store.engine.begin() as connection:
            await connection.exec_driver_sql("DROP INDEX ix_corrective_actions_open")
            await connection.exec_driver_sql(
                "CREATE INDEX ix_corrective_actions_open ON corrective_actions (status, due)"
            )
    plan = await sqlite_plan(store, due_ids(date(2026, 5, 5)))
    assert "SEARCH corrective_actions USING INDEX ix_corrective_actions_unowned (status=?)" in plan
    assert "SEARCH corrective_actions USING INDEX ix_corrective_actions_open (status=?)" not in plan
