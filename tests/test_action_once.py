"""A corrective-action form submitted twice (a second click on a slow "Save") creates one action."""

from __future__ import annotations

import asyncio
import json

from bot import example
from bot.demo import Walkthrough, section_inputs
from bot.domain.catalog import builtin
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from handlers.builders.modals import ADD_ACTION
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER


async def test_the_same_submission_twice_at_once_creates_one_action(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-50")
    await slack.close_view(walk.view(), user=ALICE)
    (card,) = standin.messages(CHANNEL)
    await slack.click(card, CARD_EDIT, user=ALICE, block_id="section-corrective_actions")
    listed = await standin.wait_until(lambda: standin.current_view(ALICE))
    await slack.click(listed, ADD_ACTION, user=ALICE)
    form = await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v["id"] != listed["id"] and v)
    answers = section_inputs(builtin().action_fields, {**example.ACTIONS[0], "status": "open"})

    await asyncio.gather(*(slack.submit(form, answers, user=ALICE) for _ in range(2)))
    await standin.wait_until(  # both submissions were handled to the end
        lambda: len([c for c in standin.calls_to("views.update") if c.params.get("view_id") == listed["id"]]) == 2
    )

    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and [a.action for a in record.doc.actions] == [example.ACTIONS[0]["action"]]
    assert [a.event for a in await store.audit(record.id)].count("action_added") == 1
    shown = [  # the driver pops the stack once per answer, so the list may be gone for the second update
        json.dumps(c.params["view"])
        for c in standin.calls_to("views.update")
        if c.params.get("view_id") == listed["id"] and c.response and c.response["ok"]
    ]
    assert all(s.count(example.ACTIONS[0]["action"]) == 1 for s in shown)
    await standin.wait_until(lambda: "1 open" in json.dumps(standin.messages(CHANNEL)[0]["blocks"]))
