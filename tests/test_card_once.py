"""One card per postmortem whatever the network does, and a card that lags never turns a save into a failure."""

from __future__ import annotations

import json

import pytest

from bot import example
from bot.demo import Walkthrough
from bot.slackdev import SlackDriver, SlackStandin

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER


def card_blocks(standin: SlackStandin) -> str:
    return json.dumps([m["blocks"] for m in standin.messages(CHANNEL)])


def summary(incident_id: str) -> dict:
    return {**example.ANSWERS["summary"], "incident_id": incident_id}


async def test_a_failed_card_refresh_after_a_save_is_logged_not_reported(
    slack: SlackDriver, standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    standin.add_user(ALICE)  # so that an apology by DM would reach her
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-40")
    standin.fail_next("chat.update", status=500)

    saved = await walk.save(summary("inc-40"))
    assert saved.view is not None and saved.view["title"]["text"] == "2/10 What happened"
    logged = await standin.wait_until(
        lambda: (
            [r.getMessage() for r in caplog.records if "not refreshed" in r.getMessage()]
            or standin.messages(standin.dm_channel(ALICE))
        )
    )
    assert standin.messages(standin.dm_channel(ALICE)) == [], "the save worked: no 'please try again'"
    assert logged == ["card of postmortem 1 not refreshed (fatal_error); the next change catches up"]

    await walk.save(example.ANSWERS["what_happened"])
    await standin.wait_until(lambda: "Sections done: 2/10" in card_blocks(standin))
    assert len(standin.messages(CHANNEL)) == 1

