"""A person's calls and the bot's own share Slack's limits: cards leave at once, digests leave them room."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import MeteredApp, create_sweeper
from bot.config import Settings
from bot.ratelimit import parse_rate_limits
from bot.reminders.sweep import WORKERS
from bot.slackdev import SlackDriver, SlackStandin
from storage.store import Store
from tests.recipients import LEAD, dm_counts, seed

LIMITS = "chat.postMessage=20/s,chat.postMessage/channel=1/s,users.info=50/s"
"""Slack's limits with each minute shrunk to a few seconds, so that a test reaches them quickly."""


@pytest.fixture
def settings(settings: Settings, standin: SlackStandin) -> Settings:
    """The app and its sweeper paced by ``LIMITS``, which the stand-in enforces with 429s."""
    standin.enforce_rate_limits(parse_rate_limits(LIMITS))
    return settings.model_copy(update={"slack_rate_limits": LIMITS})


async def test_digests_leave_room_for_the_cards_people_just_posted(
    settings: Settings, store: Store, standin: SlackStandin, slack: SlackDriver, app: MeteredApp, working_zone: str
) -> None:
    owners = await seed(store, standin, 20, working_zone)
    channels = [f"C0BUSY{i:04d}" for i in range(15)]
    started = await asyncio.gather(*(slack.command("start", user=LEAD, channel=c) for c in channels))
    assert [r.status for r in started] == [200] * len(channels)
    await standin.wait_until(lambda: all(standin.messages(c) for c in channels))

    report = await create_sweeper(settings, store, app.client).sweep()  # the client ``run`` gives the sweep

    assert [c.method for c in standin.calls if c.status == 429] == [], "15 cards and 20 digests, within 20 a second"
    assert report.messages == len(owners)
    assert {user: n for user, n in dm_counts(standin).items() if user in owners} == dict.fromkeys(owners, 1)
    assert [len(standin.messages(c)) for c in channels] == [1] * len(channels), "every card posted once"


async def test_a_card_does_not_wait_behind_a_sweep_at_slacks_ceiling(
    settings: Settings, store: Store, standin: SlackStandin, slack: SlackDriver, app: MeteredApp, working_zone: str
) -> None:
    owners = await seed(store, standin, 120, working_zone)  # 10 at once, then 20 a second: about 5.5 s
    sweep = asyncio.create_task(create_sweeper(settings, store, app.client).sweep())
    await standin.wait_until(lambda: len(dm_counts(standin)) >= 15)

    sent = _digests(standin, owners)
    started = await slack.command("start", user=LEAD, channel="C0BUSY0001")
    assert started.status == 200
    await standin.wait_until(lambda: standin.messages("C0BUSY0001"))
    meanwhile = _digests(standin, owners) - sent
    report = await sweep

    assert meanwhile <= 10, f"the card left at once, not behind the {WORKERS} digests waiting their turn"
    assert report.messages == len(owners)
    assert {user: n for user, n in dm_counts(standin).items() if user in owners} == dict.fromkeys(owners, 1)


def _digests(standin: SlackStandin, owners: list[str]) -> int:
    return sum(n for user, n in dm_counts(standin).items() if user in owners)
