"""The reminder sweep on a timer inside `postmortem-bot run`, and the weekly insights post.

Durable state is in the database, so the job store is in memory: a restart loses only the
timer, and the ledger keeps replicas from sending a reminder twice (the insights posts'
claims do the same for the weekly post).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.reminders.sweep import Sweeper, SweepReport
from handlers.support.metrics import Metrics

log = logging.getLogger(__name__)
JOB_ID = "reminder-sweep"
FIRST_JOB_ID = "reminder-sweep-at-start"
WEEKLY_JOB_ID = "weekly-insights"
WEEKLY_GRACE_SECONDS = 3600
"""A replica that was busy or restarting at 09:00 still posts until 10:00 (the claim keeps it once)."""


def weekly_trigger(zone: str) -> CronTrigger:
    """Mondays at 09:00 wall-clock time in ``zone``: the hour that day has, whatever DST did overnight."""
    return CronTrigger(day_of_week="mon", hour=9, minute=0, timezone=ZoneInfo(zone))


class ReminderTimer:
    """Sweeps at start and every ``every_minutes``; ``stop`` lets a running sweep finish.
    Each sweep's duration and report go to ``metrics``."""

    def __init__(
        self,
        sweeper: Sweeper,
        every_minutes: float,
        metrics: Metrics | None = None,
        weekly: Callable[[], Awaitable[object]] | None = None,
        weekly_zone: str = "UTC",
    ) -> None:
        self.sweeper = sweeper
        self.every_minutes = every_minutes
        self.metrics = metrics or Metrics()
        self.weekly = weekly
        """The weekly insights post (``bot.reminders.insights``), when ``INSIGHTS_CHANNEL`` is set."""
        self.weekly_zone = weekly_zone
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
        if self.weekly is not None:
            self.scheduler.add_job(
                self._post_weekly,
                weekly_trigger(self.weekly_zone),
                id=WEEKLY_JOB_ID,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=WEEKLY_GRACE_SECONDS,
            )
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

    async def _post_weekly(self) -> None:
        assert self.weekly is not None
        try:
            outcome = await self.weekly()
        except Exception:
            log.exception("weekly insights post failed; its claim lets the next run of this week retry")
            return
        log.info("weekly insights post: %s", outcome)


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
