"""The bot's operations metrics, in Prometheus' text format at ``GET /metrics``.

Every app has a registry of its own, so that several apps in one process (the tests, the
demo) never collide in prometheus_client's global one. Label values are bounded: surfaces,
Web API methods our code calls, Slack's error names; never a user, a channel or free text.
The names are listed in README "Metrics" and used by ``docs/grafana-dashboard.json``.
"""

from __future__ import annotations

import re
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage.totals import ActionTotals

PREFIX = "postmortem_bot_"
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
"""Slack gives up on an ack after 3 seconds: the buckets are finest well below that."""
SWEEP_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
_ERROR_NAME = re.compile(r"[a-z_]{1,60}")


class SweepCounts(Protocol):
    """What a reminder sweep reports (``bot.reminders.sweep.SweepReport``)."""

    planned: int
    claimed: int
    messages: int
    failed: int
    unknown: int


def slack_outcome(error: object) -> str:
    """``ok``, or Slack's error name when it looks like one (Slack's names are a fixed vocabulary)."""
    name = str(error)
    return name if _ERROR_NAME.fullmatch(name) else "other_error"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = self._counter(
            "requests", "Slack requests answered, by surface and outcome", "surface", "outcome"
        )
        self.ack_seconds = Histogram(
            PREFIX + "ack_seconds",
            "Time from a Slack request's arrival to its ack, by surface",
            ["surface"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.refused = self._counter(
            "requests_refused", "Requests refused before Bolt: 401 unauthenticated, 400 malformed", "status"
        )
        self.errors = self._counter("errors", "Failures shown to a user with a reference code, by surface", "surface")
        self.slack_calls = self._counter(
            "slack_calls", "Slack Web API calls, by method and outcome", "method", "outcome"
        )
        self.slack_ratelimited = self._counter("slack_ratelimited", "HTTP 429 answers from Slack, by method", "method")
        self.slack_retry_after = self._counter(
            "slack_retry_after_seconds", "Seconds Slack's Retry-After made a method pause, by method", "method"
        )
        self.sweep_seconds = Histogram(
            PREFIX + "sweep_seconds",
            "Duration of finished reminder sweeps",
            buckets=SWEEP_BUCKETS,
            registry=self.registry,
        )
        self.sweep_failures = self._counter("sweep_failures", "Reminder sweeps that ended in an exception")
        self.reminders = {
            "planned": self._counter("reminders_planned", "Reminders a sweep found due"),
            "claimed": self._counter("reminders_claimed", "Reminders claimed in the ledger for sending"),
            "messages": self._counter("reminder_dms_sent", "Digest DMs sent (one holds several reminders)"),
            "failed": self._counter("reminders_failed", "Reminders Slack refused to deliver"),
            "unknown": self._counter("reminders_unknown", "Reminders whose DM may or may not have arrived"),
        }
        self.actions = {
            "open": self._gauge("actions_open", "Open corrective actions"),
            "overdue": self._gauge("actions_overdue", "Open corrective actions past their due date"),
            "unowned": self._gauge("actions_unowned", "Open corrective actions nobody can be reminded of"),
        }

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(PREFIX + name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(PREFIX + name, documentation, registry=self.registry)

    def answered(self, surface: str, status: int, seconds: float) -> None:
        """One request acked: ``ok`` (2xx), ``unhandled`` (no listener: Bolt's 404) or ``error``."""
        outcome = "ok" if 200 <= status < 300 else "unhandled" if status == 404 else "error"
        self.requests.labels(surface, outcome).inc()
        self.ack_seconds.labels(surface).observe(seconds)

    def swept(self, report: SweepCounts, seconds: float) -> None:
        self.sweep_seconds.observe(seconds)
        for field, counter in self.reminders.items():
            counter.inc(getattr(report, field))

    def scrape(self, totals: ActionTotals) -> bytes:
        """The text exposition, with the action gauges as of ``totals``."""
        for field, gauge in self.actions.items():
            gauge.set(getattr(totals, field))
        return generate_latest(self.registry)
