"""The reminder sweep on a timer inside `postmortem-bot run`.

Durable state is in the database, so the job store is in memory: a restart loses only the
timer, and the ledger keeps replicas from sending a reminder twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.reminders.sweep import Sweeper

log = logging.getLogger(__name__)
JOB_ID = "reminder-sweep"


async def sweep_now(sweeper: Sweeper) -> None:
    try:
        report = await sweeper.sweep(datetime.now(UTC))
    except Exception:
        log.exception("reminder sweep failed; the next one will pick up what this one missed")
        return
    log.info("reminder sweep: %s", report.summary())


def start_scheduler(sweeper: Sweeper, every_minutes: float) -> AsyncIOScheduler:
    """Runs a first sweep right away; a late or piled-up run collapses into one (coalesce)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        sweep_now,
        "interval",
        args=[sweeper],
        id=JOB_ID,
        minutes=every_minutes,
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(every_minutes * 60),
    )
    scheduler.start()
    return scheduler
