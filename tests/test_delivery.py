"""Delivery at Slack's ceiling: paced per method, a 429 holding only its method, no call wasted."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bot.app import create_client, create_sweeper
from bot.config import Settings
from bot.domain.document import CorrectiveAction
from bot.domain.reminder_policy import Reminder, plan_reminders
from bot.ratelimit import parse_rate_limits
from bot.reminders.sweep import action_state
from bot.slackdev import SlackStandin
from storage.ledger import Ledger
from storage.store import Store
from tests.recipients import dm_counts, known_to_the_bot, owner, seed

SCALED_LIMITS = (
    "chat.postMessage=20/s,chat.postMessage/channel=1/s,users.info=20/s,"
    "conversations.open=10/s,conversations.history=10/s"
)
"""Slack's limits with each minute shrunk to a few seconds, so a test sends past them quickly."""


@pytest.fixture
def limited(settings: Settings, standin: SlackStandin) -> Settings:
    standin.enforce_rate_limits(parse_rate_limits(SCALED_LIMITS))
    return settings.model_copy(update={"slack_rate_limits": SCALED_LIMITS})


async def test_digests_reach_everyone_once_within_slacks_limits(
    limited: Settings, store: Store, standin: SlackStandin, working_zone: str
) -> None:
    owners = await seed(store, standin, 60, working_zone)

    report = await create_sweeper(limited, store).sweep()

    assert [c.method for c in standin.calls if c.status == 429] == [], "no method went over its limit"
    assert dm_counts(standin) == dict.fromkeys(owners, 1) and report.messages == 60
    assert standin.calls_to("conversations.open") == [], "a DM goes to the user's id, no channel opened first"
    assert sorted(c.params["user"] for c in standin.calls_to("users.info")) == owners, "only people reminded"
    methods = [c.method for c in standin.calls]
    last_lookup = len(methods) - methods[::-1].index("users.info")
    assert methods.index("chat.postMessage") < last_lookup, "the first DM left before everyone was looked up"

    store.clock.advance(timedelta(minutes=15))
    again = await create_sweeper(limited, store).sweep()
    assert again.messages == 0 and len(standin.calls_to("users.info")) == 60, "answers kept: nobody asked twice"


async def test_users_info_only_for_people_about_to_be_reminded_whose_answer_is_old(
    limited: Settings, store: Store, standin: SlackStandin, working_zone: str
) -> None:
    due_today = await seed(store, standin, 3, working_zone)
    now = store.clock.now()
    await known_to_the_bot(store, due_today[1:2], working_zone, now - timedelta(hours=1))
    await known_to_the_bot(store, due_today[2:], working_zone, now - timedelta(hours=13))
    later = [owner(100 + i) for i in range(3)]  # due in a month: nobody to remind yet
    for user in later:
        standin.add_user(user, tz=working_zone)
    record = await store.by_channel(standin.team_id, "C0INCIDENT")
    assert record is not None
    for user in later:
        await store.save_action(record.id, _action(user, now.date() + timedelta(days=30)), user)
    await known_to_the_bot(store, later[1:], working_zone, now - timedelta(hours=13))

    await create_sweeper(limited, store).sweep()

    asked = sorted(c.params["user"] for c in standin.calls_to("users.info"))
    assert asked == [due_today[0], due_today[2]], "never asked, or asked over 12 hours ago, and reminded now"
    assert dm_counts(standin) == dict.fromkeys(due_today, 1)


def _action(user: str, due: date) -> CorrectiveAction:
    return CorrectiveAction(action=f"Later work of {user}", kind="other", owner=user, due=due)


async def test_a_429_holds_only_its_own_method_for_retry_after(settings: Settings, standin: SlackStandin) -> None:
    standin.add_user("U0ALICE001", tz="UTC")
    standin.add_user("U0BOB0001", tz="UTC")
    standin.fail_next("users.info", status=429, retry_after=1)
    client = create_client(settings)

    first = asyncio.create_task(client.users_info(user="U0ALICE001"))
    await standin.wait_until(lambda: standin.calls_to("users.info"))
    await client.chat_postMessage(channel="C0INCIDENT0", text="post")  # a round trip: the 429 has been read
    second = asyncio.create_task(client.users_info(user="U0BOB0001"))
    for i in (1, 2):
        await client.chat_postMessage(channel=f"C0INCIDENT{i}", text="post")  # each channel takes 1 a second
    await asyncio.gather(first, second)

    assert [(c.method, c.status) for c in standin.calls] == [
        ("users.info", 429),
        *[("chat.postMessage", 200)] * 3,
        ("users.info", 200),
        ("users.info", 200),
    ], "posts went on; both lookups waited out the Retry-After"


async def test_a_claim_is_taken_over_only_once_its_sweep_stopped_renewing_it(
    settings: Settings, store: Store, standin: SlackStandin, working_zone: str
) -> None:
    owners = await seed(store, standin, 2, working_zone)
    await known_to_the_bot(store, owners, working_zone, store.clock.now())
    every = settings.model_copy(update={"reminder_workdays": "mon-sun"})
    planned = await create_sweeper(every, store).sweep(dry_run=True)
    assert planned.planned == 2
    died = Ledger(store)  # a sweep that claimed both, began sending one, and was never heard of again
    claims = await died.claim_all(await _reminders(every, store))
    await died.start_sending([claims[0].reminder.key])

    store.clock.advance(timedelta(minutes=1))
    assert (await create_sweeper(every, store).sweep()).messages == 0, "its lease still runs"

    store.clock.advance(timedelta(minutes=2))
    taken = await create_sweeper(every, store).sweep()
    assert taken.messages == 1 and dm_counts(standin) == {claims[1].reminder.recipient: 1}, "the unsent one"
    assert sorted((await Ledger(store).states()).values()) == ["sent", "unknown"], "maybe on its way: not resent"

    store.clock.advance(timedelta(minutes=15))
    settled = await create_sweeper(every, store).sweep()
    assert settled.messages == 1 and dm_counts(standin) == dict.fromkeys(owners, 1), "not in the history: sent"
    assert set((await Ledger(store).states()).values()) == {"sent"}


async def _reminders(settings: Settings, store: Store) -> list[Reminder]:
    sweeper = create_sweeper(settings, store)
    contexts = await sweeper.due_contexts(store.clock.now())
    cached = await sweeper.directory.cached({c.action.owner or "" for c in contexts})
    people = {u: c.person for u, c in cached.items()}
    states = [action_state(c, people) for c in contexts]
    return plan_reminders(states, store.clock.now(), {u: p.zone for u, p in people.items()}, settings.reminder_policy)
