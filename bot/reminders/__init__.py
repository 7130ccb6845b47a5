"""Reminder policy for corrective actions (pure: no Slack, no database, no clock)."""

from bot.reminders.policy import (
    ActionState,
    ActionStatus,
    Digest,
    Reminder,
    ReminderKind,
    ReminderPolicy,
    group_digests,
    parse_day_thresholds,
    parse_workdays,
    parse_working_hours,
    plan_reminders,
)

__all__ = [
    "ActionState",
    "ActionStatus",
    "Digest",
    "Reminder",
    "ReminderKind",
    "ReminderPolicy",
    "group_digests",
    "parse_day_thresholds",
    "parse_workdays",
    "parse_working_hours",
    "plan_reminders",
]
