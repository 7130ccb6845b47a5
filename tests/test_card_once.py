"""One card per postmortem whatever the network does, and a card that lags never turns a save into a failure."""

from __future__ import annotations

import json

import pytest

from bot import example
from bot.demo import Walkthrough
from bot.slackdev import SlackDriver, SlackStandin
from handlers.support.refresh import METADATA_EVENT
from storage.card_lease import CardLeases
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD


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


async def test_a_card_whose_post_lost_its_reply_is_found_and_edited_not_posted_again(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.drop_next("chat.postMessage")  # Slack posts the card; the reply never reaches the bot
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-41")
    (card,) = standin.messages(CHANNEL)
    assert card["metadata"]["event_type"] == METADATA_EVENT

    await walk.save(summary("inc-41"))
    await standin.wait_until(lambda: "Sections done: 1/10" in card_blocks(standin))
    assert [m["ts"] for m in standin.messages(CHANNEL)] == [card["ts"]], "one card, edited in place"
    (look,) = standin.calls_to("conversations.history")
    assert look.params["channel"] == CHANNEL and look.params["include_all_metadata"] in (True, "1", "true")
    assert float(look.params["oldest"]) < float(card["ts"])
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.card_ts == card["ts"]

    await walk.save(example.ANSWERS["what_happened"])
    await standin.wait_until(lambda: "Sections done: 2/10" in card_blocks(standin))
    assert len(standin.calls_to("conversations.history")) == 1, "once adopted, the card is simply edited"
    assert len(standin.calls_to("chat.postMessage")) == 1


async def test_a_claimed_post_that_never_reached_slack_is_posted_once_after_looking(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-42")
    cards = CardLeases(store)
    lease = await cards.want(record.id)
    assert lease is not None
    await cards.claim_post(lease)  # then the process died before its request left
    await cards.drop(lease)

    await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-42")
    assert len(standin.messages(CHANNEL)) == 1
    assert [c.method for c in standin.calls if c.method.startswith(("conversations", "chat"))] == [
        "conversations.history",
        "chat.postMessage",
    ]


async def test_when_the_bot_cannot_look_in_the_channel_it_asks_for_an_invite_and_posts_nothing(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.drop_next("chat.postMessage")
    await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-43")
    standin.fail_next("conversations.history", error="not_in_channel")

    again = await slack.command("start", user=BOB, channel=CHANNEL)
    (hint,) = await standin.wait_until(lambda: standin.responses(again.response_url or ""))
    assert "can't check whether the postmortem card arrived" in hint["text"] and "/invite" in hint["text"]
    assert len(standin.messages(CHANNEL)) == 1

    invited = await slack.command("start", user=BOB, channel=CHANNEL)
    await standin.wait_until(lambda: len(standin.calls_to("conversations.history")) == 2)
    await standin.wait_until(lambda: (r := standin.calls_to("chat.update")) and r[-1].response["ok"])
    assert standin.responses(invited.response_url or "") == []
    assert len(standin.messages(CHANNEL)) == 1
