"""Two people edit a section that was saved before: the second save sees the conflict, nothing is overwritten."""

from __future__ import annotations

import json

from bot import example
from bot.demo import Walkthrough, metadata, section_inputs
from bot.domain.catalog import builtin
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD
FIELDS = builtin().section("artifacts").fields


async def open_artifacts(slack: SlackDriver, standin: SlackStandin, user: str) -> dict:
    (card,) = standin.messages(CHANNEL)
    await slack.click(card, CARD_EDIT, user=user, block_id="section-artifacts")
    return await standin.wait_until(lambda: standin.current_view(user))


async def test_two_people_saving_an_already_saved_section_do_not_overwrite_each_other(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-70")
    await slack.close_view(walk.view(), user=ALICE)
    first = await open_artifacts(slack, standin, ALICE)
    await slack.submit(first, section_inputs(FIELDS, example.ANSWERS["artifacts"]), user=ALICE)
    await slack.close_view(standin.current_view(ALICE), user=ALICE)  # type: ignore[arg-type]

    alice_view = await open_artifacts(slack, standin, ALICE)
    bob_view = await open_artifacts(slack, standin, BOB)
    assert metadata(alice_view)["version"] == metadata(bob_view)["version"] == 1
    alices = {**example.ANSWERS["artifacts"], "trace_id": "trace-alice"}
    bobs = {**example.ANSWERS["artifacts"], "trace_id": "trace-bob"}
    saved = await slack.submit(alice_view, section_inputs(FIELDS, alices), user=ALICE)
    assert saved.view is not None and saved.view["title"]["text"] == "4/10 Containment"

    second = await slack.submit(bob_view, section_inputs(FIELDS, bobs), user=BOB)
    conflict = second.view
    assert conflict is not None and conflict["submit"]["text"] == "Save mine"
    shown = json.dumps(conflict["blocks"])
    assert f"<@{ALICE}> saved this section" in shown and "trace-alice" in shown
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("artifacts", "trace_id") == "trace-alice"
    assert record.version("artifacts") == 2
