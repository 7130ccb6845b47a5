"""Reminder policy, driven by an explicit clock.

Calendar used throughout (April 2026): Mon 13, Tue 14, Wed 15, Thu 16, Fri 17,
Sat 18, Sun 19, Mon 20. Every ``now`` is an explicit aware datetime.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reminder_policy import (
    ActionState,
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

OWNER = "U_OWNER"
PM = "U_PM"
POLICY = ReminderPolicy()

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
AUCKLAND = ZoneInfo("Pacific/Auckland")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")


def utc(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant on the UTC clock (10:00 UTC is inside the default window)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def action(**changes: object) -> ActionState:
    """An open, owned action created well before the tests' dates."""
    base = ActionState(
        action_id=1,
        postmortem_id=10,
        owner=OWNER,
        owner_gone=False,
        due=None,
        status="open",
        snoozed_until=None,
        created_at=utc(2026, 4, 1),
        postmortem_owner=PM,
    )
    return replace(base, **changes)


def plan(
    actions: Iterable[ActionState],
    now: datetime,
    tz_of: Mapping[str, ZoneInfo] | None = None,
    policy: ReminderPolicy = POLICY,
) -> list[Reminder]:
    """plan_reminders with UTC for everyone unless told otherwise."""
    return plan_reminders(actions, now, tz_of or {}, policy)


def sweep_keys(actions: list[ActionState], start: datetime, end: datetime) -> list[str]:
    """Keys produced by a 15-minute sweep over [start, end), in first-seen order."""
    seen: dict[str, None] = {}
    now = start
    while now < end:
        seen.update(dict.fromkeys(r.key for r in plan(actions, now)))
        now += timedelta(minutes=15)
    return list(seen)


# --- parsers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3,1", (3, 1)),
        ("1,3", (3, 1)),
        (" 7, 3 ,3,1 ", (7, 3, 1)),
        ("", ()),
        ("   ", ()),
    ],
)
def test_parse_day_thresholds(raw: str, expected: tuple[int, ...]) -> None:
    assert parse_day_thresholds(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "0 is not a positive number of days"),
        ("3,-1", "-1 is not a positive number of days"),
        ("three", "'three' is not a whole number of days"),
        ("1.5", "'1.5' is not a whole number of days"),
        ("3,,1", "empty entry in '3,,1'"),
        ("3,", "empty entry in '3,'"),
    ],
)
def test_parse_day_thresholds_errors(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_day_thresholds(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("09:00-18:00", (time(9), time(18))),
        ("8:30 - 17:45", (time(8, 30), time(17, 45))),
        ("00:00-23:59", (time(0), time(23, 59))),
    ],
)
def test_parse_working_hours(raw: str, expected: tuple[time, time]) -> None:
    assert parse_working_hours(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("18:00-09:00", "start 18:00 must be before end 09:00"),
        ("09:00-09:00", "start 09:00 must be before end 09:00"),
        ("9am-5pm", "'9am' is not a time like '09:00'"),
        ("09:00-24:00", "'24:00' is not a time like '09:00'"),
        ("09:60-18:00", "'09:60' is not a time like '09:00'"),
        ("09:00", "'09:00' is not a range like '09:00-18:00'"),
        ("", "'' is not a range like '09:00-18:00'"),
    ],
)
def test_parse_working_hours_errors(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_working_hours(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("MON,Wed,fri", {0, 2, 4}),
        ("sat-sun", {5, 6}),
        ("mon-sun", {0, 1, 2, 3, 4, 5, 6}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("mon-wed, fri", {0, 1, 2, 4}),
        ("tue-tue", {1}),
    ],
)
def test_parse_workdays(raw: str, expected: set[int]) -> None:
    assert parse_workdays(raw) == frozenset(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "no workdays given"),
        ("funday", "'funday' is not a day; use mon, tue, wed, thu, fri, sat, sun"),
        ("monday-friday", "'monday' is not a day"),
        ("mon-", "'' is not a day"),
        ("mon,,fri", "'' is not a day"),
        ("mon-wed-fri", "'mon-wed-fri' is not a day or a range like 'mon-fri'"),
    ],
)
def test_parse_workdays_errors(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_workdays(raw)


def test_default_policy_matches_documented_environment_defaults() -> None:
    parsed = ReminderPolicy(
        due_soon_days=parse_day_thresholds("3,1"),
        overdue_escalate_days=3,
        unowned_grace=timedelta(hours=1),
        working_hours=parse_working_hours("09:00-18:00"),
        workdays=parse_workdays("mon-fri"),
    )
    assert parsed == ReminderPolicy()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"due_soon_days": (3, 0)}, "due-soon thresholds must be positive"),
        ({"overdue_escalate_days": 0}, "escalation delay must be at least 1 day"),
        ({"unowned_grace": timedelta(hours=-1)}, "grace period cannot be negative"),
        ({"working_hours": (time(18), time(9))}, "must start before they end"),
        ({"workdays": frozenset()}, "workdays must be a non-empty set"),
        ({"workdays": frozenset({7})}, "workdays must be a non-empty set"),
    ],
)
def test_policy_rejects_settings_that_would_misbehave(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(POLICY, **changes)


# --- due soon / due today ----------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due", "expected"),
    [
        (utc(2026, 4, 15), date(2026, 4, 20), []),  # 5 days: too early
        (utc(2026, 4, 13), date(2026, 4, 17), []),  # 4 days: too early
        (utc(2026, 4, 13), date(2026, 4, 16), [("due_soon", "d-3@2026-04-16", 3)]),
        (utc(2026, 4, 14), date(2026, 4, 16), [("due_soon", "d-3@2026-04-16", 2)]),
        (utc(2026, 4, 15), date(2026, 4, 16), [("due_soon", "d-1@2026-04-16", 1)]),
        (utc(2026, 4, 16), date(2026, 4, 16), [("due_today", "d0@2026-04-16", 0)]),
    ],
)
def test_due_soon_thresholds_and_due_day(now: datetime, due: date, expected: list[tuple[str, str, int]]) -> None:
    reminders = plan([action(due=due)], now)
    assert [(r.kind, r.slot, r.days) for r in reminders] == expected
    assert all(r.recipient == OWNER for r in reminders)


def test_same_threshold_gives_same_key_so_the_ledger_sends_it_once() -> None:
    item = action(due=date(2026, 4, 16))
    morning = plan([item], utc(2026, 4, 13, 9))
    evening = plan([item], utc(2026, 4, 13, 17, 59))
    next_day = plan([item], utc(2026, 4, 14, 12))  # 2 days left: still the d-3 reminder
    assert [r.key for r in morning] == ["1:due_soon:d-3@2026-04-16:U_OWNER"]
    assert [r.key for r in evening] == [r.key for r in morning]
    assert [r.key for r in next_day] == [r.key for r in morning]


def test_week_of_sweeps_sends_each_reminder_once() -> None:
    keys = sweep_keys([action(due=date(2026, 4, 16))], utc(2026, 4, 10, 0), utc(2026, 4, 17, 0))
    assert keys == [
        "1:due_soon:d-3@2026-04-16:U_OWNER",
        "1:due_soon:d-1@2026-04-16:U_OWNER",
        "1:due_today:d0@2026-04-16:U_OWNER",
    ]


def test_threshold_missed_over_the_weekend_is_superseded_not_caught_up() -> None:
    # Due Tuesday: "3 days" falls on Saturday, "2 days" on Sunday, "1 day" on Monday.
    item = action(due=date(2026, 4, 21))
    assert plan([item], utc(2026, 4, 18)) == []
    assert plan([item], utc(2026, 4, 19)) == []
    keys = sweep_keys([item], utc(2026, 4, 17, 0), utc(2026, 4, 21, 0))
    assert keys == ["1:due_soon:d-1@2026-04-21:U_OWNER"]


def test_moving_the_due_date_rearms_the_due_soon_reminders() -> None:
    before = plan([action(due=date(2026, 4, 16))], utc(2026, 4, 13))
    after = plan([action(due=date(2026, 4, 23))], utc(2026, 4, 20))
    assert [r.slot for r in before] == ["d-3@2026-04-16"]
    assert [r.slot for r in after] == ["d-3@2026-04-23"]
    assert before[0].key != after[0].key


def test_empty_thresholds_still_remind_on_the_due_day() -> None:
    quiet = replace(POLICY, due_soon_days=())
    item = action(due=date(2026, 4, 16))
    assert plan([item], utc(2026, 4, 15), policy=quiet) == []
    assert [r.kind for r in plan([item], utc(2026, 4, 16), policy=quiet)] == ["due_today"]


def test_owned_action_without_due_date_is_never_reminded() -> None:
    assert sweep_keys([action(due=None)], utc(2026, 4, 13, 0), utc(2026, 4, 20, 0)) == []


# --- overdue and escalation --------------------------------------------------


def test_overdue_once_per_working_day_and_never_on_weekends() -> None:
    item = action(due=date(2026, 4, 13))
    keys = sweep_keys([item], utc(2026, 4, 14, 0), utc(2026, 4, 21, 0))
    overdue = [key for key in keys if ":overdue:" in key]
    assert overdue == [
        "1:overdue:2026-04-14:U_OWNER",
        "1:overdue:2026-04-15:U_OWNER",
        "1:overdue:2026-04-16:U_OWNER",
        "1:overdue:2026-04-17:U_OWNER",
        "1:overdue:2026-04-20:U_OWNER",  # Saturday 18 and Sunday 19 skipped
    ]
    assert plan([item], utc(2026, 4, 18)) == []


def test_overdue_days_are_negative() -> None:
    reminders = plan([action(due=date(2026, 4, 13))], utc(2026, 4, 20))
    assert [(r.kind, r.days) for r in reminders if r.recipient == OWNER] == [("overdue", -7)]


def test_escalation_to_postmortem_owner_only_after_n_days() -> None:
    item = action(due=date(2026, 4, 13))
    two_days = plan([item], utc(2026, 4, 15))
    three_days = plan([item], utc(2026, 4, 16))
    assert [(r.kind, r.recipient) for r in two_days] == [("overdue", OWNER)]
    assert sorted((r.kind, r.recipient, r.slot, r.days) for r in three_days) == [
        ("escalation", PM, "2026-04-16", -3),
        ("overdue", OWNER, "2026-04-16", -3),
    ]


def test_escalation_delay_is_configurable() -> None:
    eager = replace(POLICY, overdue_escalate_days=1)
    reminders = plan([action(due=date(2026, 4, 13))], utc(2026, 4, 14), policy=eager)
    assert {(r.kind, r.recipient) for r in reminders} == {
        ("overdue", OWNER),
        ("escalation", PM),
    }


@pytest.mark.parametrize("postmortem_owner", [OWNER, None])
def test_no_escalation_when_owner_runs_the_postmortem_or_nobody_does(
    postmortem_owner: str | None,
) -> None:
    item = action(due=date(2026, 4, 6), postmortem_owner=postmortem_owner)
    assert [r.kind for r in plan([item], utc(2026, 4, 16))] == ["overdue"]


def test_escalation_uses_postmortem_owner_zone_for_slot_and_window() -> None:
    # Wed 15 21:30 UTC: the UTC owner has gone home; in Auckland (NZST, UTC+12)
    # it is Thursday 16 09:30, so the postmortem owner is told, on Thursday's slot.
    item = action(due=date(2026, 4, 10))
    reminders = plan([item], utc(2026, 4, 15, 21, 30), {PM: AUCKLAND})
    assert [(r.kind, r.recipient, r.slot, r.days) for r in reminders] == [
        (
            "escalation",
            PM,
            "2026-04-16",
            -5,
        ),  # lateness counted on the owner's calendar
    ]


# --- unowned -----------------------------------------------------------------


def test_unowned_waits_for_the_grace_period() -> None:
    item = action(owner=None, created_at=utc(2026, 4, 13, 10))
    assert plan([item], utc(2026, 4, 13, 10, 59)) == []
    reminders = plan([item], utc(2026, 4, 13, 11))
    assert [(r.kind, r.recipient, r.slot, r.days) for r in reminders] == [
        ("unowned", PM, "2026-04-13", 0),
    ]


def test_grace_period_is_configurable() -> None:
    item = action(owner=None, created_at=utc(2026, 4, 13, 10))
    no_grace = replace(POLICY, unowned_grace=timedelta(0))
    assert [r.kind for r in plan([item], utc(2026, 4, 13, 10), policy=no_grace)] == ["unowned"]


def test_owner_who_left_slack_counts_as_unowned() -> None:
    item = action(owner="U_LEFT", owner_gone=True, due=date(2026, 4, 16))
    reminders = plan([item], utc(2026, 4, 13))
    assert [(r.kind, r.recipient, r.days) for r in reminders] == [("unowned", PM, 3)]


def test_neither_owner_nor_due_date_is_unowned() -> None:
    reminders = plan([action(owner=None, due=None)], utc(2026, 4, 13))
    assert [(r.kind, r.recipient, r.days) for r in reminders] == [("unowned", PM, 0)]


def test_unowned_nags_once_per_working_day() -> None:
    item = action(owner=None)
    keys = sweep_keys([item], utc(2026, 4, 16, 0), utc(2026, 4, 21, 0))
    assert keys == [
        "1:unowned:2026-04-16:U_PM",
        "1:unowned:2026-04-17:U_PM",
        "1:unowned:2026-04-20:U_PM",
    ]


def test_unowned_follows_the_postmortem_owner_calendar() -> None:
    # Monday 13 April 21:30 UTC is Tuesday 14 April 09:30 in Auckland (NZST).
    item = action(owner=None, due=date(2026, 4, 16))
    reminders = plan([item], utc(2026, 4, 13, 21, 30), {PM: AUCKLAND})
    assert [(r.kind, r.slot, r.days) for r in reminders] == [("unowned", "2026-04-14", 2)]


def test_unowned_without_postmortem_owner_nags_nobody() -> None:
    assert plan([action(owner=None, postmortem_owner=None)], utc(2026, 4, 13)) == []


def test_departed_postmortem_owner_of_own_action_is_not_nagged() -> None:
    item = action(owner="U_LEFT", owner_gone=True, postmortem_owner="U_LEFT")
    assert plan([item], utc(2026, 4, 13)) == []


# --- snooze and closed actions -----------------------------------------------


def test_snooze_silences_until_it_ends_then_reminding_resumes() -> None:
    item = action(due=date(2026, 4, 13), snoozed_until=utc(2026, 4, 15, 12))
    assert plan([item], utc(2026, 4, 14)) == []
    assert plan([item], utc(2026, 4, 15, 11, 59)) == []
    reminders = plan([item], utc(2026, 4, 15, 12))
    assert [(r.kind, r.slot) for r in reminders] == [("overdue", "2026-04-15")]


def test_snooze_ending_at_night_resumes_in_the_next_window() -> None:
    item = action(due=date(2026, 4, 13), snoozed_until=utc(2026, 4, 15, 20), postmortem_owner=None)
    assert plan([item], utc(2026, 4, 15, 20)) == []
    assert [r.slot for r in plan([item], utc(2026, 4, 16, 9))] == ["2026-04-16"]


def test_snooze_silences_unowned_nags_too() -> None:
    item = action(owner=None, snoozed_until=utc(2026, 4, 14, 10))
    assert plan([item], utc(2026, 4, 13)) == []
    assert [r.kind for r in plan([item], utc(2026, 4, 14))] == ["unowned"]


@pytest.mark.parametrize("status", ["done", "wont_do"])
@pytest.mark.parametrize(
    "changes",
    [
        {"due": date(2026, 4, 1)},  # long overdue, would escalate
        {"due": date(2026, 4, 16)},  # due soon, then due today
        {"owner": None},  # unowned
        {"owner": "U_LEFT", "owner_gone": True, "due": date(2026, 4, 14)},
    ],
)
def test_closed_actions_are_never_reminded(status: str, changes: dict[str, object]) -> None:
    item = action(status=status, **changes)
    assert sweep_keys([item], utc(2026, 4, 13, 0), utc(2026, 4, 20, 0)) == []


# --- delivery window and time zones ------------------------------------------


@pytest.mark.parametrize(
    ("now", "delivered"),
    [
        (datetime(2026, 4, 14, 8, 59, 59, tzinfo=UTC), False),
        (utc(2026, 4, 14, 9), True),
        (utc(2026, 4, 14, 17, 59), True),
        (utc(2026, 4, 14, 18), False),
        (utc(2026, 4, 18, 12), False),  # Saturday
    ],
)
def test_working_hours_window_is_start_inclusive_end_exclusive(now: datetime, delivered: bool) -> None:
    assert bool(plan([action(due=date(2026, 4, 13))], now)) is delivered


def test_custom_workweek_sunday_to_thursday() -> None:
    policy = replace(POLICY, workdays=parse_workdays("sun-thu"))
    item = action(due=date(2026, 4, 13), postmortem_owner=None)
    assert [r.slot for r in plan([item], utc(2026, 4, 19), policy=policy)] == ["2026-04-19"]
    assert plan([item], utc(2026, 4, 17), policy=policy) == []


def test_same_instant_only_reaches_people_inside_their_own_window() -> None:
    # Monday 13 April, 08:30 UTC.
    zones = {
        "U_LON": LONDON,
        "U_UTC": ZoneInfo("UTC"),
        "U_KIR": KIRITIMATI,
        "U_NYC": NEW_YORK,
    }
    actions = [
        action(action_id=number, owner=user, due=date(2026, 4, 10), postmortem_owner=None)
        for number, user in enumerate(zones, start=1)
    ]
    reminders = plan(actions, utc(2026, 4, 13, 8, 30), zones)
    # London 09:30 in; UTC 08:30 too early; Kiritimati 22:30 too late; New York 04:30.
    assert [(r.recipient, r.slot) for r in reminders] == [("U_LON", "2026-04-13")]


def test_kiritimati_monday_morning_is_sunday_in_utc() -> None:
    # Sunday 12 April 20:00 UTC is Monday 13 April 10:00 in Kiritimati (UTC+14).
    now = utc(2026, 4, 12, 20)
    overdue = action(action_id=1, owner="U_KIR", due=date(2026, 4, 10))
    soon = action(action_id=2, owner="U_KIR", due=date(2026, 4, 16))
    same_for_utc_owner = action(action_id=3, due=date(2026, 4, 10))
    reminders = plan([overdue, soon, same_for_utc_owner], now, {"U_KIR": KIRITIMATI})
    assert [(r.action_id, r.kind, r.slot, r.days) for r in reminders] == [
        (1, "overdue", "2026-04-13", -3),  # the local date, not UTC's Sunday 12
        (2, "due_soon", "d-3@2026-04-16", 3),  # 3 days on the local calendar (4 in UTC)
    ]


def test_kiritimati_saturday_is_friday_in_utc() -> None:
    # Friday 17 April 20:00 UTC is Saturday 18 April 10:00 in Kiritimati.
    item = action(owner="U_KIR", due=date(2026, 4, 10))
    zones = {"U_KIR": KIRITIMATI}
    assert plan([item], utc(2026, 4, 17, 20), zones) == []
    every_day = replace(POLICY, workdays=parse_workdays("mon-sun"))
    reminders = plan([item], utc(2026, 4, 17, 20), zones, every_day)
    assert [r.slot for r in reminders] == ["2026-04-18"]


def test_auckland_morning_uses_the_next_local_date() -> None:
    # Monday 13 April 21:30 UTC is Tuesday 14 April 09:30 in Auckland (NZST).
    item = action(owner="U_AKL", due=date(2026, 4, 13))
    reminders = plan([item], utc(2026, 4, 13, 21, 30), {"U_AKL": AUCKLAND})
    assert [(r.kind, r.slot, r.days) for r in reminders] == [("overdue", "2026-04-14", -1)]


@pytest.mark.parametrize(
    ("zone", "before_change", "after_change"),
    [
        # New York springs forward on Sunday 8 March 2026 (EST UTC-5 -> EDT UTC-4).
        (NEW_YORK, date(2026, 3, 6), date(2026, 3, 9)),
        # Berlin springs forward on Sunday 29 March 2026 (CET UTC+1 -> CEST UTC+2).
        (BERLIN, date(2026, 3, 27), date(2026, 3, 30)),
    ],
)
def test_window_follows_local_clock_across_dst_change(zone: ZoneInfo, before_change: date, after_change: date) -> None:
    item = action(owner="U_TZ", due=date(2026, 3, 2), postmortem_owner=None)
    zones = {"U_TZ": zone}

    def local(day: date, hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)

    opening_before = local(before_change, 9, 30)
    opening_after = local(after_change, 9, 30)
    # The same local 09:30 is one UTC hour earlier after the change.
    assert opening_before.time() != opening_after.time()
    assert opening_after.time() == (opening_before - timedelta(hours=1)).time()

    for instant, day in (
        (opening_before, before_change),
        (opening_after, after_change),
    ):
        assert [r.slot for r in plan([item], instant, zones)] == [day.isoformat()]
        assert plan([item], local(day, 8, 30), zones) == []
    # After the change, the UTC instant that was 09:30 local last week is 10:30.
    assert plan([item], opening_before.replace(day=after_change.day), zones) != []
    # And the UTC instant that is 09:30 now was 08:30 local last week: closed then.
    assert plan([item], opening_after.replace(day=before_change.day), zones) == []


@pytest.mark.parametrize(
    ("zone", "now", "expected_slots"),
    [
        (NEW_YORK, utc(2026, 3, 6, 14, 30), ["2026-03-06"]),  # Fri 09:30 EST
        (NEW_YORK, utc(2026, 3, 6, 13, 30), []),  # Fri 08:30 EST
        (NEW_YORK, utc(2026, 3, 9, 13, 30), ["2026-03-09"]),  # Mon 09:30 EDT
        (NEW_YORK, utc(2026, 3, 9, 12, 30), []),  # Mon 08:30 EDT
        (BERLIN, utc(2026, 3, 27, 8, 30), ["2026-03-27"]),  # Fri 09:30 CET
        (BERLIN, utc(2026, 3, 27, 7, 30), []),  # Fri 08:30 CET
        (BERLIN, utc(2026, 3, 30, 7, 30), ["2026-03-30"]),  # Mon 09:30 CEST
        (BERLIN, utc(2026, 3, 30, 6, 30), []),  # Mon 08:30 CEST
    ],
)
def test_dst_change_with_fixed_utc_instants(zone: ZoneInfo, now: datetime, expected_slots: list[str]) -> None:
    item = action(owner="U_TZ", due=date(2026, 3, 2), postmortem_owner=None)
    assert [r.slot for r in plan([item], now, {"U_TZ": zone})] == expected_slots


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        plan([action(due=date(2026, 4, 13))], datetime(2026, 4, 14, 10))


# --- ordering and digests ----------------------------------------------------


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    actions = [
        action(action_id=1, due=date(2026, 4, 1)),
        action(action_id=2, due=date(2026, 4, 14)),
        action(action_id=3, owner=None),
        action(action_id=4, owner="U_OTHER", due=date(2026, 4, 14)),
        action(action_id=5, postmortem_id=11, due=date(2026, 4, 17)),
    ]
    expected = plan(actions, utc(2026, 4, 14))
    shuffled = actions[:]
    random.Random(7).shuffle(shuffled)
    assert plan(shuffled, utc(2026, 4, 14)) == expected
    assert [(r.recipient, r.kind, r.action_id) for r in expected] == [
        ("U_OTHER", "due_today", 4),
        ("U_OWNER", "overdue", 1),
        ("U_OWNER", "due_today", 2),
        ("U_OWNER", "due_soon", 5),
        ("U_PM", "escalation", 1),
        ("U_PM", "unowned", 3),
    ]


def test_reminder_key_format() -> None:
    reminder = Reminder(7, 3, "overdue", "2026-04-14", "U1", -1)
    assert reminder.key == "7:overdue:2026-04-14:U1"


def test_two_actions_of_one_owner_make_one_digest() -> None:
    actions = [
        action(action_id=1, due=date(2026, 4, 15)),
        action(action_id=2, due=date(2026, 4, 13)),
    ]
    digests = group_digests(plan(actions, utc(2026, 4, 14)))
    assert [d.recipient for d in digests] == [OWNER]
    assert [(r.action_id, r.kind) for r in digests[0].reminders] == [
        (2, "overdue"),
        (1, "due_soon"),
    ]


def test_digest_sections_in_display_order() -> None:
    def reminder(action_id: int, kind: ReminderKind, days: int) -> Reminder:
        return Reminder(action_id, 10, kind, "slot", OWNER, days)

    reminders = [
        reminder(1, "unowned", 0),
        reminder(2, "due_soon", 3),
        reminder(3, "escalation", -4),
        reminder(4, "due_today", 0),
        reminder(5, "overdue", -1),
        reminder(6, "overdue", -5),
        reminder(7, "due_soon", 1),
    ]
    [digest] = group_digests(reminders)
    sections = [(heading, [r.action_id for r in items]) for heading, items in digest.sections()]
    assert sections == [
        ("Overdue", [6, 5, 3]),  # own actions first (most late first), then escalations
        ("Due today", [4]),
        ("Due soon", [7, 2]),  # soonest first
        ("Needs an owner", [1]),
    ]
    assert [r.action_id for r in digest.reminders] == [6, 5, 3, 4, 7, 2, 1]


def test_digests_one_per_recipient_and_empty_sections_left_out() -> None:
    actions = [
        action(action_id=1, due=date(2026, 4, 6)),  # overdue, escalates to PM
        action(action_id=2, owner=None),  # PM must find an owner
    ]
    digests = group_digests(plan(actions, utc(2026, 4, 14)))
    assert [(d.recipient, [h for h, _ in d.sections()]) for d in digests] == [
        (OWNER, ["Overdue"]),
        (PM, ["Overdue", "Needs an owner"]),
    ]


def test_no_reminders_no_digests() -> None:
    assert group_digests([]) == []
    assert Digest(OWNER, ()).sections() == []
