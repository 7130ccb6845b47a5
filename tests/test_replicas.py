"""Several replicas on one database send every reminder exactly once.

The process test starts real `postmortem-bot run` and `postmortem-bot remind` processes
against PostgreSQL and the Slack stand-in, all sweeping at the same moment.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

from bot.app import create_sweeper
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackStandin
from storage.ledger import Ledger
from storage.store import Store
from tests.clocks import afternoon_zone

OWNERS = [f"U0OWNER{i:03d}" for i in range(8)]
LEAD = "U0LEAD0001"


async def seed(store: Store, standin: SlackStandin, now: datetime, zone: str) -> int:
    """Postmortems whose actions are overdue, due today, due soon or unowned: one digest per person."""
    for user in [*OWNERS, LEAD]:
        standin.add_user(user, tz=zone)
    today = now.date()
    for p in range(4):
        record, _ = await store.open_postmortem(standin.team_id, f"C0INC{p:04d}", LEAD, f"inc-replica-{p}")
        for i, owner in enumerate(OWNERS):
            due = today + timedelta(days=(i % 4) - 2)
            action = CorrectiveAction(action=f"Action {p}.{i}", kind="other", owner=owner, due=due)
            await store.save_action(record.id, action, LEAD)
        await store.save_action(record.id, CorrectiveAction(action=f"Unowned {p}", kind="other"), LEAD)
    return len(OWNERS) + 1


@pytest.fixture
def every_day(settings: Settings) -> Settings:
    """Settings under which the seeded reminders are due whatever day and hour the suite runs."""
    return settings.model_copy(update={"reminder_workdays": "mon-sun", "reminder_unowned_grace_hours": 0})


def dm_counts(standin: SlackStandin) -> Counter[str]:
    return Counter(c.params["channel"] for c in standin.calls_to("chat.postMessage") if c.response.get("ok"))


async def test_concurrent_sweeps_in_one_process_send_once(
    every_day: Settings, store: Store, standin: SlackStandin, working_zone: str
) -> None:
    recipients = await seed(store, standin, store.clock.now(), working_zone)
    sweepers = [create_sweeper(every_day, store) for _ in range(4)]
    reports = await asyncio.gather(*(s.sweep() for s in sweepers))
    assert sum(r.messages for r in reports) == recipients
    assert set(dm_counts(standin).values()) == {1}
    assert set((await Ledger(store).states()).values()) == {"sent"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _spawn(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # replicas share PostgreSQL
async def test_run_and_remind_processes_on_postgresql_send_every_reminder_once(
    every_day: Settings, store: Store, standin: SlackStandin
) -> None:
    database_url = every_day.database_url
    wall = Store(store.engine, SystemClock())  # the processes run on the wall clock, so the seed does too
    now = wall.clock.now()
    recipients = await seed(wall, standin, now, afternoon_zone(now))
    expected_keys = (await create_sweeper(every_day, wall).sweep(dry_run=True)).planned
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": every_day.slack_bot_token,
        "SLACK_SIGNING_SECRET": every_day.slack_signing_secret or "",
        "SLACK_API_URL": standin.api_url,
        "REMINDER_WORKDAYS": "mon-sun",
        "REMINDER_UNOWNED_GRACE_HOURS": "0",
    }
    runs = [await _spawn(["run"], {**env, "PORT": str(_free_port())}) for _ in range(2)]
    reminds = [await _spawn(["remind"], env) for _ in range(2)]
    try:
        for process in reminds:
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == 0, stderr.decode()[-2000:]
        ledger = Ledger(store)
        await _until(lambda: _all_sent(ledger, expected_keys), timeout=60)
    finally:
        for process in runs:
            if process.returncode is None:
                process.terminate()
        outcomes = [await asyncio.wait_for(p.communicate(), timeout=30) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], [err.decode()[-2000:] for _, err in outcomes]
    counts = dm_counts(standin)
    assert len(counts) == recipients and set(counts.values()) == {1}, counts


async def _all_sent(ledger: Ledger, expected: int) -> bool:
    states = await ledger.states()
    return len(states) >= expected and set(states.values()) == {"sent"}


async def _until(condition, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "replicas did not finish in time"
        await asyncio.sleep(0.2)
