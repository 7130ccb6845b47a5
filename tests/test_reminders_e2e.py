"""Reminders end to end: the sweep, the ledger, the DMs and their buttons, through the stand-in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import create_sweeper
from bot.config import Settings
from bot.domain.document import CorrectiveAction
from bot.reminders.scheduler import JOB_ID, ReminderTimer
from bot.reminders.sweep import Sweeper, SweepReport
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.action_items import DONE, OPEN, REASSIGN, SNOOZE
from handlers.support.refresh import refresh_card
from storage.ledger import Ledger
from storage.store import Store

ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
CHANNEL = "C0INCIDENT"


TUESDAY_3PM = datetime(2026, 5, 12, 15, tzinfo=UTC)  # 16:00 in London: inside working hours
TUESDAY_3AM = TUESDAY_3PM.replace(hour=3)  # the actions are seeded a week before, at the clock's start


async def sweep_at(sweeper: Sweeper, at: datetime, *, dry_run: bool = False) -> SweepReport:
    """Set the app's clock, then sweep: the sweep and its ledger claims read the same "now"."""
    sweeper.store.clock.set(at)
    return await sweeper.sweep(dry_run=dry_run)


@pytest.fixture
def people(standin: SlackStandin) -> None:
    for user in (ALICE, BOB, CAROL):
        standin.add_user(user, tz="Europe/London")


@pytest.fixture
def sweeper(settings: Settings, store: Store, people: None) -> Sweeper:
    return create_sweeper(settings, store)


Seed = Callable[..., Awaitable[tuple[int, list[int]]]]


@pytest.fixture
def seed(store: Store, standin: SlackStandin) -> Seed:
    async def postmortem_with(*actions: tuple[str | None, date | None]) -> tuple[int, list[int]]:
        """A postmortem owned by Alice, with the given (owner, due) corrective actions."""
        record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-2026-04-09-001")
        ids = [
            await store.save_action(
                record.id, CorrectiveAction(action=f"Action {i}", kind="other", owner=o, due=d), ALICE
            )
            for i, (o, d) in enumerate(actions)
        ]
        return record.id, ids

    return postmortem_with


def dms(standin: SlackStandin, user: str) -> list[dict]:
    return standin.messages(standin.dm_channel(user))


def dm_text(message: dict) -> str:
    return json.dumps(message["blocks"])


async def test_one_digest_per_person_and_a_second_sweep_sends_nothing(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    today = TUESDAY_3PM.date()
    await seed((BOB, today - timedelta(days=2)), (BOB, today + timedelta(days=3)), (CAROL, today), (None, None))

    report = await sweep_at(sweeper, TUESDAY_3PM)

    assert report.messages == 3 and report.claimed == 4
    (bob,) = dms(standin, BOB)
    assert "*Overdue*" in dm_text(bob) and "*Due soon*" in dm_text(bob)
    assert "Action 0" in dm_text(bob) and "Action 1" in dm_text(bob)
    assert "*Due today*" in dm_text(dms(standin, CAROL)[0])
    (alice,) = dms(standin, ALICE)
    assert "*Needs an owner*" in dm_text(alice) and "Action 3" in dm_text(alice)
    assert bob["metadata"]["event_type"] == "postmortem_reminder"

    again = await sweep_at(sweeper, TUESDAY_3PM + timedelta(minutes=15))
    assert again.messages == 0 and again.claimed == 0
    assert len(standin.calls_to("chat.postMessage")) == 3


async def test_outside_working_hours_the_reminder_waits_for_the_window(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    await seed((BOB, TUESDAY_3PM.date()))
    assert (await sweep_at(sweeper, TUESDAY_3AM)).planned == 0
    assert dms(standin, BOB) == []
    assert (await sweep_at(sweeper, TUESDAY_3PM)).messages == 1


async def test_a_429_delays_but_does_not_lose_the_reminder(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    await seed((BOB, TUESDAY_3PM.date()))
    standin.fail_next("chat.postMessage", status=429, retry_after=1)
    report = await sweep_at(sweeper, TUESDAY_3PM)
    assert report.messages == 1
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 200]
    assert len(dms(standin, BOB)) == 1


async def test_a_refused_send_is_retried_by_a_later_sweep(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    await seed((BOB, TUESDAY_3PM.date()))
    standin.fail_next("chat.postMessage", error="internal_error")
    first = await sweep_at(sweeper, TUESDAY_3PM)
    assert first.failed == 1 and dms(standin, BOB) == []
    assert list((await Ledger(store).states()).values()) == ["failed"]
    second = await sweep_at(sweeper, TUESDAY_3PM + timedelta(minutes=15))
    assert second.messages == 1 and len(dms(standin, BOB)) == 1


async def test_an_unknown_outcome_already_in_the_history_is_not_resent(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    await seed((BOB, TUESDAY_3PM.date()))
    standin.drop_next("chat.postMessage")
    first = await sweep_at(sweeper, TUESDAY_3PM)
    assert first.unknown == 1
    assert len(dms(standin, BOB)) == 1, "Slack got the message although the connection dropped"

    second = await sweep_at(sweeper, TUESDAY_3PM + timedelta(minutes=15))
    assert second.found_in_history == 1 and second.messages == 0
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert list((await Ledger(store).states()).values()) == ["sent"]


async def test_an_unknown_outcome_missing_from_the_history_is_sent(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    await seed((BOB, TUESDAY_3PM.date()))
    planned = await sweep_at(sweeper, TUESDAY_3PM, dry_run=True)
    assert planned.planned == 1 and standin.calls_to("chat.postMessage") == []
    ledger = Ledger(store)
    (claim,) = await ledger.claim_all([r for r in (await _plan(sweeper, TUESDAY_3PM))])
    await ledger.unknown([claim.reminder.key], None)  # the process died mid-request, nothing arrived

    report = await sweep_at(sweeper, TUESDAY_3PM)
    assert report.found_in_history == 0 and report.messages == 1
    assert len(dms(standin, BOB)) == 1


async def _plan(sweeper: Sweeper, now: datetime) -> list:
    from bot.domain.reminder_policy import plan_reminders
    from bot.reminders.sweep import action_state

    contexts = await sweeper.due_contexts(now)
    people = {u: p for u in (ALICE, BOB, CAROL) if (p := await sweeper.directory.ask(u))}
    states = [action_state(c, people) for c in contexts]
    return plan_reminders(states, now, {u: p.zone for u, p in people.items()}, sweeper.policy)


async def test_a_deactivated_owner_makes_the_action_unowned(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed
) -> None:
    postmortem_id, _ = await seed((BOB, TUESDAY_3PM.date()))
    standin.set_user_deleted(BOB)
    await sweep_at(sweeper, TUESDAY_3PM)
    assert dms(standin, BOB) == []
    (alice,) = dms(standin, ALICE)
    assert "*Needs an owner*" in dm_text(alice) and "Action 0" in dm_text(alice)
    await refresh_card(sweeper.client, store, postmortem_id)
    assert "1 open \\u00b7 0 overdue \\u00b7 1 unowned" in json.dumps(standin.messages(CHANNEL)[0]["blocks"])


async def _bob_gets_a_dm(sweeper: Sweeper, seed: Seed, standin: SlackStandin) -> tuple[int, int, dict]:
    postmortem_id, (action_id,) = await seed((BOB, TUESDAY_3PM.date()))
    await sweep_at(sweeper, TUESDAY_3PM)
    (message,) = dms(standin, BOB)
    return postmortem_id, action_id, message


async def test_mark_done_double_clicked_updates_the_dm_and_the_card_once(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed, slack: SlackDriver
) -> None:
    postmortem_id, _, message = await _bob_gets_a_dm(sweeper, seed, standin)
    await asyncio.gather(slack.click(message, DONE, user=BOB), slack.click(message, DONE, user=BOB))

    await standin.wait_until(lambda: "Marked done by <@U0BOB0001>" in dm_text(dms(standin, BOB)[0]))
    await standin.wait_until(lambda: "0 open" in json.dumps(standin.messages(CHANNEL)))
    record = await store.get(postmortem_id)
    assert record is not None and record.doc.actions[0].status == "done"
    events = [a.event for a in await store.audit(postmortem_id)]
    assert events.count("action_done") == 1, "a second click changes nothing more"
    assert len(standin.messages(CHANNEL)) == 1, "one card, edited in place"
    assert (await sweep_at(sweeper, TUESDAY_3PM + timedelta(days=1))).planned == 0


async def test_someone_else_is_refused_and_nothing_changes(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed, slack: SlackDriver
) -> None:
    postmortem_id, _, message = await _bob_gets_a_dm(sweeper, seed, standin)
    clicked = await slack.click(message, DONE, user=CAROL)
    (refusal,) = await standin.wait_until(lambda: standin.responses(clicked.response_url or ""))
    assert refusal["response_type"] == "ephemeral" and "Only <@U0BOB0001>" in refusal["text"]
    record = await store.get(postmortem_id)
    assert record is not None and record.doc.actions[0].status == "open"


async def test_snooze_keeps_it_quiet_until_the_snooze_ends(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed, slack: SlackDriver
) -> None:
    postmortem_id, action_id, message = await _bob_gets_a_dm(sweeper, seed, standin)
    await asyncio.gather(*(slack.click(message, SNOOZE, user=BOB, selected_option="1w") for _ in range(2)))
    await standin.wait_until(lambda: "Snoozed for 1 week" in dm_text(dms(standin, BOB)[0]))
    found = await store.action(action_id)
    assert found is not None and found.snoozed_until is not None
    assert found.snoozed_until == TUESDAY_3PM + timedelta(weeks=1), "a week from the click, on the app's clock"
    events = [a.event for a in await store.audit(postmortem_id)]
    assert events.count("action_snoozed") == 1, "the double click snoozed once"
    next_day = await sweep_at(sweeper, TUESDAY_3PM + timedelta(days=1))
    assert next_day.planned == 0, "quiet while snoozed"
    after = await sweep_at(sweeper, found.snoozed_until + timedelta(days=1))  # a Wednesday, 16:00 in London
    assert len(dms(standin, BOB)) == 2 and "*Overdue*" in dm_text(dms(standin, BOB)[-1]), "reminding again afterwards"
    (escalation,) = dms(standin, ALICE)  # 8 days overdue by then: the postmortem owner hears of it too
    assert "overdue" in dm_text(escalation) and after.messages == 2


async def test_reassign_moves_the_action_and_the_next_reminder(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed, slack: SlackDriver
) -> None:
    _, action_id, message = await _bob_gets_a_dm(sweeper, seed, standin)
    await slack.click(message, REASSIGN, user=BOB, selected_user=CAROL)
    await standin.wait_until(lambda: "Reassigned to <@U0CAROL01>" in dm_text(dms(standin, BOB)[0]))
    found = await store.action(action_id)
    assert found is not None and found.action.owner == CAROL
    await sweep_at(sweeper, TUESDAY_3PM + timedelta(minutes=15))
    assert "Action 0" in dm_text(dms(standin, CAROL)[0])


async def test_open_postmortem_shows_its_corrective_actions(
    sweeper: Sweeper, store: Store, standin: SlackStandin, seed: Seed, slack: SlackDriver
) -> None:
    _, _, message = await _bob_gets_a_dm(sweeper, seed, standin)
    await slack.click(message, OPEN, user=BOB)
    view = await standin.wait_until(lambda: standin.current_view(BOB))
    assert view["title"]["text"] == "8/10 Actions" and "Action 0" in json.dumps(view["blocks"])


async def test_app_home_lists_my_actions_and_my_postmortems(
    standin: SlackStandin, slack: SlackDriver, people: None, seed: Seed
) -> None:
    await seed((BOB, date(2026, 4, 1)), (None, None))
    await slack.app_home_opened(BOB)
    home = await standin.wait_until(lambda: standin.home_view(BOB))
    text = json.dumps(home["blocks"])
    assert "My corrective actions" in text and "Action 0" in text and "overdue since 2026-04-01" in text
    assert "Action 1" not in text

    await slack.app_home_opened(ALICE)
    alice_home = json.dumps((await standin.wait_until(lambda: standin.home_view(ALICE)))["blocks"])
    assert "Action 1" in alice_home and "needs an owner" in alice_home
    assert "inc-2026-04-09-001" in alice_home and "Sections done 0/10" in alice_home


async def test_the_scheduler_sweeps_at_once_and_stops_cleanly(
    settings: Settings, store: Store, standin: SlackStandin, seed: Seed, working_zone: str
) -> None:
    standin.add_user(BOB, tz=working_zone)
    standin.add_user(ALICE, tz=working_zone)
    await seed((BOB, store.clock.now().date() - timedelta(days=1)))
    every_day = settings.model_copy(update={"reminder_workdays": "mon-sun"})
    timer = ReminderTimer(create_sweeper(every_day, store), every_minutes=15)
    timer.start()
    try:
        job = timer.scheduler.get_job(JOB_ID)
        assert job is not None and job.coalesce and job.max_instances == 1
        await standin.wait_until(lambda: dms(standin, BOB))
    finally:
        await timer.stop()
    assert not timer.scheduler.running
    assert set((await Ledger(store).states()).values()) == {"sent"}, "the running sweep finished before the stop"
    assert "*Overdue*" in dm_text(dms(standin, BOB)[0])


async def test_app_home_buttons_work_and_refuse_others_in_a_modal(
    store: Store, standin: SlackStandin, slack: SlackDriver, people: None, seed: Seed
) -> None:
    postmortem_id, _ = await seed((BOB, date(2026, 4, 1)))
    await slack.app_home_opened(CAROL)
    await slack.app_home_opened(BOB)
    home = await standin.wait_until(lambda: standin.home_view(BOB))

    await slack.click(home, DONE, user=CAROL)  # a view Carol should not have: refused, nothing changes
    refusal = await standin.wait_until(lambda: standin.current_view(CAROL))
    assert refusal["title"]["text"] == "Not allowed"
    assert (await store.get(postmortem_id)).doc.actions[0].status == "open"  # type: ignore[union-attr]

    await slack.click(home, DONE, user=BOB)
    await standin.wait_until(lambda: "Nothing open" in json.dumps(standin.home_view(BOB)["blocks"]))
    assert (await store.get(postmortem_id)).doc.actions[0].status == "done"  # type: ignore[union-attr]


TRICKY_STARTS = [
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "Europe/Berlin"),  # the year ends mid-sweep
    (datetime(2028, 2, 27, 22, 0, tzinfo=UTC), "America/New_York"),  # due on a leap day
    (datetime(2027, 3, 27, 12, 0, tzinfo=UTC), "Europe/Berlin"),  # EU summer time starts on the 28th
    (datetime(2027, 3, 13, 12, 0, tzinfo=UTC), "America/New_York"),  # US summer time starts on the 14th
    (datetime(2026, 10, 31, 12, 0, tzinfo=UTC), "America/New_York"),  # US winter time starts on Nov 1
    (datetime(2026, 11, 27, 20, 0, tzinfo=UTC), "Pacific/Kiritimati"),  # UTC+14: its Monday is UTC's Sunday
]


@pytest.mark.parametrize(("start", "zone"), TRICKY_STARTS)
async def test_hourly_sweeps_across_tricky_dates_remind_in_working_hours_once_a_day(
    settings: Settings, store: Store, standin: SlackStandin, seed: Seed, start: datetime, zone: str
) -> None:
    """Three days of hourly sweeps: DMs only in the owner's working hours, at most one per local day."""
    local = ZoneInfo(zone)
    standin.add_user(BOB, tz=zone)
    standin.add_user(ALICE, tz=zone)
    store.clock.set(start - timedelta(hours=2))
    due = start.astimezone(local).date() + timedelta(days=1)
    await seed((BOB, due))
    sweeper = create_sweeper(settings, store)
    sent_on: list[datetime] = []
    for hour in range(72):
        before = len(dms(standin, BOB))
        await sweep_at(sweeper, start + timedelta(hours=hour))
        sent_on += [store.clock.now().astimezone(local)] * (len(dms(standin, BOB)) - before)

    assert sent_on, "three days always hold a working hour"
    assert all(s.weekday() < 5 and 9 <= s.hour < 18 for s in sent_on), sent_on
    assert len({s.date() for s in sent_on}) == len(sent_on), f"two DMs on one local day: {sent_on}"
    due_today = [s for s, m in zip(sent_on, dms(standin, BOB), strict=True) if "*Due today*" in dm_text(m)]
    assert [s.date() for s in due_today] == ([due] if due.weekday() < 5 else [])


async def test_app_home_stays_within_slacks_view_size_with_long_emoji_actions(
    store: Store, standin: SlackStandin, slack: SlackDriver, people: None, seed: Seed
) -> None:
    postmortem_id, _ = await seed()
    wordy = "\U0001f525" * 2999 + "!"  # the longest action text, every character an emoji
    for _ in range(30):
        await store.save_action(postmortem_id, CorrectiveAction(action=wordy, kind="other", owner=BOB), ALICE)
    await slack.app_home_opened(BOB)
    home = await standin.wait_until(lambda: standin.home_view(BOB))
    assert [c.response["error"] for c in standin.calls_to("views.publish") if not c.response["ok"]] == []
    listed = [b for b in home["blocks"] if "\U0001f525\u2026" in (b.get("text") or {}).get("text", "")]
    assert len(listed) == 30, "each action listed, its text cut short"
