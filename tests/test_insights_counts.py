"""The insights' counts against their definitions (``bot.domain.insights``), week by week, over a
workspace of every kind of action; and the reads that make them, held to their indexes."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from bot.domain.insights import STALLED_AFTER, WEEK, Tally, middle_offsets, week_ends
from bot.domain.template import DONE, DROPPED, OPEN
from storage.models import ActionRow, PostmortemRow, SlackUserRow
from storage.store import Store

TEAM, OTHER_TEAM = "T0INSIGHTS", "T0ELSEWHERE"
ENDS = datetime(2026, 6, 1, 7, tzinfo=UTC)
FIRST = ENDS - 17 * WEEK
"""Data from before the first week of the trend, through it, and past its end."""
ALICE, BOB, GONE = "U0ALICE001", "W0BOB00001", "U0GONE0001"
OWNERS = [ALICE, BOB, GONE, None, "platform-team", "u0lower001"]
"""People, one Slack says is gone, nobody, a team's name, and a string that is no user id."""
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Postmortem:
    team: str
    created_at: datetime
    finished_at: datetime | None
    last_edited_at: datetime | None


@dataclass(frozen=True)
class Action:
    team: str
    owner: str | None
    due: date | None
    status: str
    created_at: datetime
    closed_at: datetime | None


def _instant(rng: random.Random) -> datetime:
    return FIRST + timedelta(minutes=rng.randrange(int((ENDS + 2 * WEEK - FIRST).total_seconds() // 60)))


def _postmortem(rng: random.Random, team: str) -> Postmortem:
    created = _instant(rng)
    finished = created + timedelta(days=rng.randint(0, 30)) if rng.random() < 0.4 else None
    edited = created + timedelta(days=rng.randint(0, 20)) if rng.random() < 0.6 else None
    return Postmortem(team, created, finished, edited)


def _action(rng: random.Random, team: str) -> Action:
    created = _instant(rng)
    due = created.date() + timedelta(days=rng.randint(-3, 40)) if rng.random() < 0.9 else None
    status = rng.choice([OPEN, OPEN, DONE, DONE, DROPPED])
    closed = None
    if status != OPEN and rng.random() < 0.95:  # the rest closed before closing was recorded
        closed = created + timedelta(hours=rng.randint(1, 60 * 24))
    return Action(team, rng.choice(OWNERS), due, status, created, closed)


async def _store_workspaces(store: Store, postmortems: list[Postmortem], actions: list[Action]) -> None:
    """Each postmortem's actions are those of its team, in turn."""
    ids = {team: [i + 1 for i, p in enumerate(postmortems) if p.team == team] for team in (TEAM, OTHER_TEAM)}
    pm_rows = [
        {
            "id": i + 1,
            "team_id": p.team,
            "channel_id": f"C{i:06d}",
            "incident_id": f"inc-{i}",
            "created_by": ALICE,
            "created_at": p.created_at,
            "last_edited_at": p.last_edited_at,
            "finished_at": p.finished_at,
            "template_name": "builtin",
            "template_version": "1",
        }
        for i, p in enumerate(postmortems)
    ]
    action_rows = [
        {
            "postmortem_id": ids[a.team][n % len(ids[a.team])],
            "action": f"Action {n}",
            "kind": "other",
            "owner": a.owner,
            "due": a.due,
            "status": a.status,
            "snoozed_until": None,
            "created_by": ALICE,
            "created_at": a.created_at,
            "updated_at": a.created_at,
            "closed_at": a.closed_at,
        }
        for n, a in enumerate(actions)
    ]
    gone = {"user_id": GONE, "tz": None, "gone": True, "fetched_at": ENDS}
    alive = {"user_id": ALICE, "tz": "UTC", "gone": False, "fetched_at": ENDS}
    async with store.engine.begin() as connection:
        await connection.execute(insert(PostmortemRow.__table__), pm_rows)
        await connection.execute(insert(ActionRow.__table__), action_rows)
        await connection.execute(insert(SlackUserRow.__table__), [gone, alive])


def _within(at: datetime | None, ends: datetime) -> bool:
    return at is not None and ends - WEEK <= at < ends


def _overdue_at(a: Action, ends: datetime) -> bool:
    still_open = a.status == OPEN or (a.closed_at is not None and a.closed_at >= ends)
    return a.created_at < ends and a.due is not None and a.due < ends.date() and still_open


def _a_person(owner: str | None) -> bool:
    return owner is not None and USER_ID.match(owner) is not None and owner != GONE


def expected(postmortems: list[Postmortem], actions: list[Action]) -> Tally:
    """The figures' definitions, counted one by one over the team's rows."""
    weeks = week_ends(ENDS)
    pms = [p for p in postmortems if p.team == TEAM]
    ours = [a for a in actions if a.team == TEAM]
    done = [a for a in ours if a.status == DONE]
    closed = sorted(
        (a.closed_at - a.created_at).total_seconds() / 86400
        for a in done
        if a.closed_at is not None and weeks[0] - WEEK <= a.closed_at < ENDS
    )
    offset, count = middle_offsets(len(closed))
    owners: dict[str, int] = {}
    for a in ours:
        if _overdue_at(a, ENDS) and _a_person(a.owner):
            owners[str(a.owner)] = owners.get(str(a.owner), 0) + 1
    return Tally(
        ends=weeks,
        started=[sum(_within(p.created_at, w) for p in pms) for w in weeks],
        finished=[sum(_within(p.finished_at, w) for p in pms) for w in weeks],
        done_on_time=[
            sum(_within(a.closed_at, w) and (a.due is None or a.due >= a.closed_at.date()) for a in done)  # type: ignore[union-attr]
            for w in weeks
        ],
        overdue=[sum(_overdue_at(a, w) for a in ours) for w in weeks],
        stalled=sum(
            p.finished_at is None and p.created_at < ENDS and (p.last_edited_at or p.created_at) < ENDS - STALLED_AFTER
            for p in pms
        ),
        unowned=sum(a.status == OPEN and a.created_at < ENDS and not _a_person(a.owner) for a in ours),
        closed=len(closed),
        middle_days=closed[offset : offset + count] if closed else [],
        overdue_by_owner=owners,
    )


@pytest.fixture
async def workspaces(store: Store) -> tuple[list[Postmortem], list[Action]]:
    rng = random.Random(48)
    postmortems = [_postmortem(rng, team) for team in (TEAM, OTHER_TEAM) for _ in range(15)]
    actions = [_action(rng, team) for team in (TEAM, OTHER_TEAM) for _ in range(400)]
    await _store_workspaces(store, postmortems, actions)
    return postmortems, actions


async def test_every_weeks_figures_count_what_the_insights_say_they_count(
    store: Store, workspaces: tuple[list[Postmortem], list[Action]]
) -> None:
    want = expected(*workspaces)
    got = await store.tally(TEAM, ENDS)
    assert got.middle_days == pytest.approx(want.middle_days, abs=1e-6)
    assert {**vars(got), "middle_days": None} == {**vars(want), "middle_days": None}
    assert min(want.overdue) > 0 and want.unowned > 0 and want.closed > 0 and len(want.overdue_by_owner) == 2


async def test_the_insights_read_past_due_and_lately_closed_actions_not_every_action(
    store: Store, workspaces: tuple[list[Postmortem], list[Action]]
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses by its statistics")
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await store.tally(TEAM, ENDS)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    async with store.engine.connect() as connection:
        plans = [
            [row[-1] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)]
            for sql, parameters in sent
        ]
    steps = [step for plan in plans for step in plan if "corrective_actions" in step]
    assert len(plans) == 5 and steps
    assert all(step.startswith("SEARCH") and "postmortem_id" not in step for step in steps), plans
    assert any("COVERING INDEX ix_corrective_actions_closed (closed_at>? AND closed_at<?)" in step for step in steps)
