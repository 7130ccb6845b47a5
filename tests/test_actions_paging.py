"""Section 8 with more corrective actions than one view can hold: pages, each within Slack's limits."""

from __future__ import annotations

import json
from datetime import date

from bot import example
from bot.demo import Walkthrough, metadata
from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from handlers.builders.modals import ADD_ACTION, EDIT_ACTION, NEXT_PAGE, PREVIOUS_PAGE
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD
EMOJI = "\U0001f6a8\U0001f525\U0001f9ef\U0001f916"


def long_action(number: int) -> str:
    """3,000 characters, nearly all emoji: 12 bytes each in the JSON a view travels in."""
    prefix = f"#{number} "
    return prefix + (EMOJI * 750)[: 3000 - len(prefix)]


async def postmortem_with_actions(slack: SlackDriver, standin: SlackStandin, store: Store, texts: list[str]) -> int:
    """A started postmortem (its card in the channel) with these actions, stored directly."""
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-2026-04-09-001")
    await slack.close_view(walk.view(), user=ALICE)
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    for text in texts:
        action = CorrectiveAction(action=text, owner=BOB, due=date(2026, 6, 1))
        await store.save_action(record.id, action, ALICE)
    return record.id


async def open_actions(slack: SlackDriver, standin: SlackStandin) -> dict:
    (card,) = standin.messages(CHANNEL)
    await slack.click(card, CARD_EDIT, user=ALICE, block_id="section-corrective_actions")
    return await standin.wait_until(lambda: standin.current_view(ALICE))


async def turn(slack: SlackDriver, standin: SlackStandin, view: dict, button: str) -> dict:
    page = metadata(view)["page"]
    await slack.click(view, button, user=ALICE)
    return await standin.wait_until(lambda: (v := standin.view(view["id"])) and metadata(v)["page"] != page and v)


def listed_ids(view: dict) -> list[int]:
    return [int(b["block_id"].removeprefix("action-")) for b in view["blocks"] if b["block_id"].startswith("action-")]


def texts(view: dict) -> list[str]:
    return [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]


def buttons(view: dict) -> set[str]:
    return {e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]}


async def test_the_last_of_150_long_actions_can_be_reached_edited_and_saved(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    postmortem = await postmortem_with_actions(slack, standin, store, [long_action(n) for n in range(150)])
    ids = [a.id for a in (await store.get(postmortem)).doc.actions]  # type: ignore[union-attr]

    view = await open_actions(slack, standin)
    while NEXT_PAGE in buttons(view):
        view = await turn(slack, standin, view, NEXT_PAGE)
    assert listed_ids(view) == ids[140:]

    await slack.click(view, EDIT_ACTION, user=ALICE, block_id=f"action-{ids[-1]}")
    form = await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v["id"] != view["id"] and v)
    result = await slack.submit(form, {"action": "Roll back bundle-2026-04-07-a"}, user=ALICE)
    relisted = await standin.wait_until(
        lambda: "Roll back bundle" in json.dumps((v := standin.view(view["id"]))["blocks"]) and v
    )

    actions = (await store.get(postmortem)).doc.actions  # type: ignore[union-attr]
    assert actions[-1].action == "Roll back bundle-2026-04-07-a" and actions[-2].action == long_action(148)
    assert listed_ids(relisted) == ids[140:], "saving returns to the page of the action"
    views = [c for c in standin.calls if c.method.startswith("views.")]
    assert [c.response for c in views if not (c.response or {}).get("ok")] == [] and result.problems == []


async def test_previous_goes_back_and_a_new_action_shows_on_its_own_page(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await postmortem_with_actions(slack, standin, store, [f"Action {n}" for n in range(40)])

    first = await open_actions(slack, standin)
    second = await turn(slack, standin, first, NEXT_PAGE)
    back = await turn(slack, standin, second, PREVIOUS_PAGE)
    assert buttons(first) == {NEXT_PAGE, ADD_ACTION} and buttons(second) == {PREVIOUS_PAGE, ADD_ACTION}
    assert listed_ids(back) == listed_ids(first) != listed_ids(second)

    await slack.click(back, ADD_ACTION, user=ALICE)
    form = await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v["id"] != back["id"] and v)
    await slack.submit(form, {"action": "Add a regression eval", "kind": "add_regression_eval"}, user=ALICE)
    third = await standin.wait_until(lambda: (v := standin.view(back["id"])) and metadata(v)["page"] == 2 and v)

    assert "Add a regression eval" in json.dumps(third["blocks"]) and len(listed_ids(third)) == 1
    assert "Page 3 of 3 \u00b7 41 corrective actions" in texts(third)
