"""Never twice, even when sweeps overlap: a second sweep while a slow one is mid-way.

Slack is slow here (every chat.postMessage takes 300 ms), so the first sweep is still
sending when the second one starts: on the same clock, and on a clock 15 minutes ahead,
as when a long send has outlived the old ten-minute takeover of "stale" claims.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import create_sweeper
from bot.config import Settings
from bot.slackdev import SlackStandin
from storage.ledger import Ledger
from storage.store import Store
from tests.recipients import dm_counts, known_to_the_bot, seed

RECIPIENTS = 160


@pytest.mark.parametrize("later", [timedelta(0), timedelta(minutes=15)], ids=["same clock", "clock 15 min ahead"])
async def test_a_second_sweep_during_a_slow_one_sends_no_one_two_dms_and_misses_no_one(
    settings: Settings, store: Store, standin: SlackStandin, working_zone: str, later: timedelta
) -> None:
    owners = await seed(store, standin, RECIPIENTS, working_zone)
    await known_to_the_bot(store, owners, working_zone, store.clock.now())
    roomy = settings.model_copy(update={"slack_rate_limits": "chat.postMessage=6000/min"})
    standin.delay("chat.postMessage", 0.3)

    first = asyncio.create_task(create_sweeper(roomy, store).sweep())
    await standin.wait_until(lambda: len(dm_counts(standin)) >= RECIPIENTS // 4, timeout=120)
    assert not first.done(), "the first sweep is still sending"
    store.clock.advance(later)
    second = await create_sweeper(roomy, store).sweep()
    await first

    counts = dm_counts(standin)
    assert [user for user, n in counts.items() if n > 1] == [], "nobody got two DMs"
    assert sorted(counts) == owners, "nobody was missed"
    assert set((await Ledger(store).states()).values()) == {"sent"}
    assert second.messages + first.result().messages == RECIPIENTS
