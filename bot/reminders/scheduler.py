"""The reminder sweep on a timer inside `postmortem-bot run`.

Durable state is in the database, so the job store is in memory: a restart loses only the
timer, and the ledger keeps replicas from sending a reminder twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.reminders.sweep import Sweeper

log = logging.getLogger(__name__)
JOB_ID = "reminder-sweep"
FIRST_JOB_ID = "reminder-sweep-at-start"


class ReminderTimer:
    """Sweeps at start and every ``every_minutes``; ``stop`` lets a running sweep finish."""

    def __init__(self, sweeper: Sweeper, every_minutes: float) -> None:
        self.sweeper = sweeper
        self.every_minutes = every_minutes
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._sweeping = asyncio.Lock()

    def start(self) -> None:
        """A late or piled-up run collapses into one (coalesce), and runs never overlap."""
        self.scheduler.add_job(
            self._sweep,
            "interval",
            id=JOB_ID,
            minutes=self.every_minutes,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(self.every_minutes * 60),
        )
        self.scheduler.add_job(self._sweep, id=FIRST_JOB_ID)  # no run date: at once, on the scheduler's timer
        self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.pause()
        async with self._sweeping:
            self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler applies the shutdown on the loop's next turn

    async def _sweep(self) -> None:
        async with self._sweeping:
            try:
                report = await self.sweeper.sweep()
            except Exception:
                log.exception("reminder sweep failed; the next one picks up what this one missed")
                return
            log.info("reminder sweep: %s", report.summary())
