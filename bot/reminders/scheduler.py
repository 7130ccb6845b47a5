"""The reminder sweep on a timer inside `postmortem-bot run`.

Durable state is in the database, so the job store is in memory: a restart loses only the
timer, and the ledger keeps replicas from sending a reminder twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.reminders.sweep import Sweeper, SweepReport
from handlers.support.metrics import Metrics

log = logging.getLogger(__name__)
JOB_ID = "reminder-sweep"
FIRST_JOB_ID = "reminder-sweep-at-start"


class ReminderTimer:
    """Sweeps at start and every ``every_minutes``; ``stop`` lets a running sweep finish.
    Each sweep's duration and report go to ``metrics``."""

    def __init__(self, sweeper: Sweeper, every_minutes: float, metrics: Metrics | None = None) -> None:
        self.sweeper = sweeper
        self.every_minutes = every_minutes
        self.metrics = metrics or Metrics()
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
                report = await measured_sweep(self.sweeper, self.metrics)
            except Exception:
                log.exception("reminder sweep failed; the next one picks up what this one missed")
                return
            log.info("reminder sweep: %s", report.summary())


async def measured_sweep(sweeper: Sweeper, metrics: Metrics, *, dry_run: bool = False) -> SweepReport:
    """One sweep, with its duration and its report (or its failure) counted in ``metrics``."""
    started = time.perf_counter()
    try:
        report = await sweeper.sweep(dry_run=dry_run)
    except Exception:
        metrics.sweep_failures.inc()
        raise
    metrics.swept(report, time.perf_counter() - started)
    return report
