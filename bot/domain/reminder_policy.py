"""Reminder policy: which reminder DMs are due at a given instant.

Everything here is pure: the caller passes the clock (``now``), the action
states and the recipients' time zones, and gets back the reminders that may be
delivered right now. Exactly-once delivery is the ledger's job: every reminder
carries a ``key`` that is stable for as long as the reminder means the same
thing, so re-running the planner every few minutes is safe as long as the
caller skips keys it has already recorded.

Dates are always the *recipient's* local dates, because "due tomorrow" and
"office hours" only make sense on the calendar of the person being nagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.template import OPEN, ActionStatus

ReminderKind = Literal["due_soon", "due_today", "overdue", "escalation", "unowned"]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# Digest order: what is already late first, then what is late today, then
# what is coming, then the housekeeping ("someone has to take this").
_KIND_RANK: dict[str, int] = {
    "overdue": 0,
    "escalation": 1,
    "due_today": 2,
    "due_soon": 3,
    "unowned": 4,
}
_SECTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Overdue", frozenset({"overdue", "escalation"})),
    ("Due today", frozenset({"due_today"})),
    ("Due soon", frozenset({"due_soon"})),
    ("Needs an owner", frozenset({"unowned"})),
)


@dataclass(frozen=True)
class ReminderPolicy:
    """Tunable knobs; defaults match the documented environment defaults."""

    due_soon_days: tuple[int, ...] = (3, 1)
    overdue_escalate_days: int = 3
    unowned_grace: timedelta = timedelta(hours=1)
    working_hours: tuple[time, time] = (time(9), time(18))
    workdays: frozenset[int] = frozenset(range(5))

    def __post_init__(self) -> None:
        """Reject settings that would silently never (or always) remind."""
        if any(days < 1 for days in self.due_soon_days):
            raise ValueError("due-soon thresholds must be positive numbers of days")
        if self.overdue_escalate_days < 1:
            raise ValueError("escalation delay must be at least 1 day")
        if self.unowned_grace < timedelta(0):
            raise ValueError("unowned grace period cannot be negative")
        start, end = self.working_hours
        if not start < end:
            raise ValueError("working hours must start before they end")
        if not self.workdays or not self.workdays <= frozenset(range(7)):
            raise ValueError("workdays must be a non-empty set of weekday numbers 0-6")


@dataclass(frozen=True)
class ActionState:
    """Snapshot of one corrective action, as the planner needs it."""

    action_id: int
    postmortem_id: int
    owner: str | None
    owner_gone: bool
    due: date | None
    status: ActionStatus
    snoozed_until: datetime | None
    created_at: datetime
    postmortem_owner: str | None

    @property
    def needs_owner(self) -> bool:
        """The caller's ``bot.domain.owners.needs_owner`` verdict: no owner, or one it found it cannot
        remind (``owner_gone``: a team name, or an account Slack says is gone)."""
        return self.owner is None or self.owner_gone


@dataclass(frozen=True)
class Reminder:
    """One reminder for one recipient; ``key`` is what the ledger dedups on."""

    action_id: int
    postmortem_id: int
    kind: ReminderKind
    slot: str
    recipient: str
    days: int

    @property
    def key(self) -> str:
        """Same key for the same reminder, however often the sweep runs."""
        return f"{self.action_id}:{self.kind}:{self.slot}:{self.recipient}"


@dataclass(frozen=True)
class Digest:
    """Everything one person is reminded of in one sweep: one DM, not one per action."""

    recipient: str
    reminders: tuple[Reminder, ...]

    def sections(self) -> list[tuple[str, tuple[Reminder, ...]]]:
        """Non-empty (heading, reminders) groups, in display order."""
        grouped = ((heading, tuple(r for r in self.reminders if r.kind in kinds)) for heading, kinds in _SECTIONS)
        return [(heading, items) for heading, items in grouped if items]


# --- parsers -----------------------------------------------------------------


def parse_day_thresholds(raw: str) -> tuple[int, ...]:
    """Parse "3,1" into (3, 1); an empty string disables due-soon reminders.

    Order in the input does not matter; the result is deduplicated and
    descending so it reads like the sequence of reminders a user receives.
    """
    if not raw.strip():
        return ()
    thresholds: set[int] = set()
    for part in raw.split(","):
        text = part.strip()
        if not text:
            raise ValueError(f"empty entry in {raw!r}; expected e.g. '3,1'")
        try:
            days = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number of days") from None
        if days < 1:
            raise ValueError(f"{days} is not a positive number of days")
        thresholds.add(days)
    return tuple(sorted(thresholds, reverse=True))


def parse_working_hours(raw: str) -> tuple[time, time]:
    """Parse "09:00-18:00" into (start, end); the window is [start, end)."""
    parts = raw.split("-")
    if len(parts) != 2:
        raise ValueError(f"{raw!r} is not a range like '09:00-18:00'")
    start, end = (_parse_clock(part) for part in parts)
    if not start < end:
        raise ValueError(f"start {start:%H:%M} must be before end {end:%H:%M} (overnight windows are not supported)")
    return start, end


def _parse_clock(raw: str) -> time:
    """Parse "HH:MM" (24-hour clock)."""
    match = _CLOCK.match(raw.strip())
    if match is None:
        raise ValueError(f"{raw.strip()!r} is not a time like '09:00' (24-hour HH:MM)")
    return time(int(match.group(1)), int(match.group(2)))


def parse_workdays(raw: str) -> frozenset[int]:
    """Parse "mon-fri", "mon,wed,fri" or "sun-thu" into weekday numbers (0 = Monday).

    Ranges may wrap around the week end, for teams whose week starts on Sunday.
    """
    if not raw.strip():
        raise ValueError("no workdays given; expected e.g. 'mon-fri'")
    days: set[int] = set()
    for part in raw.lower().split(","):
        bounds = [_parse_day(name) for name in part.split("-")]
        if len(bounds) == 1:
            days.add(bounds[0])
        elif len(bounds) == 2:
            first, last = bounds
            days.update((first + offset) % 7 for offset in range((last - first) % 7 + 1))
        else:
            raise ValueError(f"{part.strip()!r} is not a day or a range like 'mon-fri'")
    return frozenset(days)


def _parse_day(raw: str) -> int:
    """Map a three-letter day name to its weekday number."""
    name = raw.strip()
    if name not in _DAY_NAMES:
        raise ValueError(f"{name!r} is not a day; use {', '.join(_DAY_NAMES)}")
    return _DAY_NAMES.index(name)


# --- planning ----------------------------------------------------------------


def plan_reminders(
    actions: Iterable[ActionState],
    now: datetime,
    tz_of: Mapping[str, ZoneInfo],
    policy: ReminderPolicy,
) -> list[Reminder]:
    """Reminders deliverable at ``now``, in a stable order.

    The result does not consult the ledger: the caller must drop keys it has
    already sent. Reminders outside their recipient's working window are not
    returned; the next sweep inside the window will produce them (or a newer
    reminder that supersedes them).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    candidates = (r for action in actions for r in _candidates(action, now, tz_of, policy))
    deliverable = (r for r in candidates if _in_window(_local(now, r.recipient, tz_of), policy))
    return sorted(deliverable, key=lambda r: (r.recipient, *_display_order(r)))


def due_horizon(now: datetime, policy: ReminderPolicy) -> date:
    """The latest due date that can call for a reminder at ``now``, in any time zone.

    Local dates run from UTC's yesterday (UTC-12) to UTC's tomorrow (UTC+14), so the
    largest due-soon threshold is counted from UTC's tomorrow: a day too many is read in
    vain, a day too few would miss the people east of UTC.
    """
    return now.astimezone(UTC).date() + timedelta(days=max(policy.due_soon_days, default=0) + 1)


def group_digests(reminders: Iterable[Reminder]) -> list[Digest]:
    """One digest per recipient, sections in display order, recipients sorted."""
    by_recipient: dict[str, list[Reminder]] = {}
    for reminder in reminders:
        by_recipient.setdefault(reminder.recipient, []).append(reminder)
    return [
        Digest(recipient, tuple(sorted(items, key=_display_order))) for recipient, items in sorted(by_recipient.items())
    ]


def _display_order(reminder: Reminder) -> tuple[int, int, int, int]:
    """Section first, then most late / most urgent, then a stable tiebreak."""
    return (
        _KIND_RANK[reminder.kind],
        reminder.days,
        reminder.postmortem_id,
        reminder.action_id,
    )


def _candidates(
    action: ActionState,
    now: datetime,
    tz_of: Mapping[str, ZoneInfo],
    policy: ReminderPolicy,
) -> list[Reminder]:
    """Reminders the action calls for today, before the delivery window is applied."""
    if action.status != OPEN or _is_snoozed(action, now):
        return []
    if action.needs_owner:
        return _unowned(action, now, tz_of, policy)
    if action.due is None:
        return []
    return _owned(action, action.owner, action.due, now, tz_of, policy)


def _is_snoozed(action: ActionState, now: datetime) -> bool:
    """A snooze silences every reminder of the action until it ends."""
    return action.snoozed_until is not None and action.snoozed_until > now


def _unowned(
    action: ActionState,
    now: datetime,
    tz_of: Mapping[str, ZoneInfo],
    policy: ReminderPolicy,
) -> list[Reminder]:
    """Nag the postmortem owner daily until someone takes the action.

    The grace period lets the meeting finish assigning owners before anyone is
    nagged. A postmortem owner who is the departed action owner cannot be
    reached either, so there is no one to nag.
    """
    recipient = action.postmortem_owner
    if recipient is None or (action.owner_gone and recipient == action.owner):
        return []
    if now < action.created_at + policy.unowned_grace:
        return []
    today = _local(now, recipient, tz_of).date()
    days = 0 if action.due is None else (action.due - today).days
    return [_reminder(action, "unowned", today.isoformat(), recipient, days)]


def _owned(
    action: ActionState,
    owner: str,
    due: date,
    now: datetime,
    tz_of: Mapping[str, ZoneInfo],
    policy: ReminderPolicy,
) -> list[Reminder]:
    """Due-soon / due-today / overdue for the owner, plus escalation when long overdue.

    Lateness is counted on the owner's calendar (the deadline is theirs); the
    escalation's slot and delivery window follow the postmortem owner's zone.
    """
    today = _local(now, owner, tz_of).date()
    days = (due - today).days
    if days > 0:
        threshold = min((t for t in policy.due_soon_days if days <= t), default=None)
        if threshold is None:
            return []
        return [_reminder(action, "due_soon", _due_slot(f"d-{threshold}", due), owner, days)]
    if days == 0:
        return [_reminder(action, "due_today", _due_slot("d0", due), owner, days)]
    reminders = [_reminder(action, "overdue", today.isoformat(), owner, days)]
    escalate_to = action.postmortem_owner
    long_overdue = -days >= policy.overdue_escalate_days
    if long_overdue and escalate_to is not None and escalate_to != owner:
        escalation_day = _local(now, escalate_to, tz_of).date()
        reminders.append(_reminder(action, "escalation", escalation_day.isoformat(), escalate_to, days))
    return reminders


def _due_slot(label: str, due: date) -> str:
    """Tie pre-deadline slots to the due date, so moving the date re-arms them."""
    return f"{label}@{due.isoformat()}"


def _reminder(action: ActionState, kind: ReminderKind, slot: str, recipient: str, days: int) -> Reminder:
    """Build a reminder for ``action``."""
    return Reminder(action.action_id, action.postmortem_id, kind, slot, recipient, days)


def _local(now: datetime, user: str, tz_of: Mapping[str, ZoneInfo]) -> datetime:
    """``now`` on the user's wall clock; users with no known zone get UTC."""
    zone: tzinfo = tz_of.get(user, UTC)
    return now.astimezone(zone)


def _in_window(local: datetime, policy: ReminderPolicy) -> bool:
    """Deliver only on the recipient's workdays, inside [start, end) local time."""
    start, end = policy.working_hours
    return local.weekday() in policy.workdays and start <= local.time() < end
