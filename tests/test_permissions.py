"""Nobody gets in where they don't belong: foreign, tampered or stale payloads change nothing."""

from __future__ import annotations

import json
from typing import Any

from bot import example
from bot.demo import Walkthrough, metadata, section_inputs
from bot.domain.catalog import builtin
from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.action_items import DONE
from handlers.builders.card import CARD_EDIT
from handlers.builders.modals import EDIT_ACTION, ActionFormMeta, CaseFormMeta, SectionMeta
from handlers.builders.timeline import EditMeta, EntryMeta
from handlers.support.metadata import metadata_key
from storage.store import Store
from tests.conftest import SIGNING_SECRET

CHANNEL, OTHER_CHANNEL, OTHER_TEAM = "C0INCIDENT", "C0ELSEWHERE", "T0ELSEWHERE"
ALICE, BOB, CAROL, DAVE = example.OWNER, "U0BOB0001", "U0CAROL01", "U0DAVE001"


def _card(standin: SlackStandin) -> dict[str, Any]:
    return standin.messages(CHANNEL)[0]


async def _section_8(slack: SlackDriver, standin: SlackStandin, user: str) -> dict[str, Any]:
    """Section 8's list, opened from the card (over whatever modal the user had open)."""
    await slack.click(_card(standin), CARD_EDIT, user=user, block_id="section-corrective_actions")
    return await standin.wait_until(
        lambda: (v := standin.current_view(user)) and v["title"]["text"].startswith("8/") and v
    )


async def _pushed_over(standin: SlackStandin, user: str, below: dict[str, Any]) -> dict[str, Any]:
    return await standin.wait_until(lambda: (v := standin.current_view(user)) and v["id"] != below["id"] and v)


async def _postmortem_with_bobs_action(slack: SlackDriver, standin: SlackStandin, store: Store) -> tuple[int, int]:
    await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-30")
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    action = CorrectiveAction(action="Add a regression eval", kind="add_regression_eval", owner=BOB)
    return record.id, await store.save_action(record.id, action, ALICE)


async def test_only_the_owners_may_edit_an_action_from_section_8(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _postmortem_with_bobs_action(slack, standin, store)
    listed = await _section_8(slack, standin, DAVE)
    await slack.click(listed, EDIT_ACTION, user=DAVE)
    refusal = await _pushed_over(standin, DAVE, listed)
    assert refusal["title"]["text"] == "Not allowed" and "Only <@U0BOB0001>" in json.dumps(refusal["blocks"])

    for allowed in (BOB, ALICE):  # the action's owner, and the postmortem's owner (who started it)
        listed = await _section_8(slack, standin, allowed)
        await slack.click(listed, EDIT_ACTION, user=allowed)
        form = await _pushed_over(standin, allowed, listed)
        assert form["title"]["text"] == "Edit action"


async def test_an_edit_form_left_open_after_a_reassignment_is_refused(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    _, action_id = await _postmortem_with_bobs_action(slack, standin, store)
    listed = await _section_8(slack, standin, BOB)
    await slack.click(listed, EDIT_ACTION, user=BOB)
    form = await _pushed_over(standin, BOB, listed)
    assert await store.reassign_action(action_id, ALICE, CAROL)

    result = await slack.submit(form, {"action": "Bob's rewrite", "owner": BOB}, user=BOB)
    assert result.view is not None and result.view["title"]["text"] == "Not saved"
    found = await store.action(action_id)
    assert found is not None and found.action.owner == CAROL and found.action.action == "Add a regression eval"


async def _submit_with_metadata(
    slack: SlackDriver, standin: SlackStandin, view: dict[str, Any], private_metadata: str
) -> dict[str, Any]:
    """Section 1 filled in and submitted, with its private_metadata swapped on the way."""
    kept = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    assert standin.replace_view(view["id"], {**kept, "private_metadata": private_metadata}) == []
    answers = section_inputs(builtin().sections[0].fields, {**example.ANSWERS["summary"], "incident_id": "inc-31"})
    result = await slack.submit(standin.view(view["id"]), answers, user=ALICE)
    assert result.view is not None
    return result.view


async def _elsewhere(store: Store, team: str, channel: str) -> int:
    record, _ = await store.open_postmortem(team, channel, CAROL, "inc-elsewhere")
    return record.id


async def test_tampered_metadata_is_refused_and_writes_nowhere(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    victim = await _elsewhere(store, standin.team_id, OTHER_CHANNEL)
    view = await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-31")
    seal = view["private_metadata"].partition(".")[0]
    forged = f"{seal}.{json.dumps({**metadata(view), 'postmortem': victim, 'channel': OTHER_CHANNEL})}"
    shown = await _submit_with_metadata(slack, standin, view, forged)
    assert shown["title"]["text"] == "Not saved" and "changed on its way" in json.dumps(shown["blocks"])
    victim_record = await store.get(victim)
    assert victim_record is not None and victim_record.sections == {}


def test_every_kind_of_form_metadata_comes_back_as_it_was_sealed() -> None:
    key = metadata_key(SIGNING_SECRET)
    section = SectionMeta(team="T1", channel="C1", section="summary", postmortem=3, version=2, page=0, template="ai")
    sealed = [
        section,
        ActionFormMeta(postmortem=3, action=4, source="https://acme.slack.com/archives/C1/p1712650000000100"),
        CaseFormMeta(postmortem=3, case=5, parent_view="V1", parent=section),
        EntryMeta(
            team="T1", channel="C1", postmortem=3, ts="1.2", author="U1", permalink="l \U0001f525 \u00e9", files=("F1",)
        ),
        EditMeta(entry=6, parent_view="V2", parent_meta=section.keyed(key).dump()),
    ]
    for meta in sealed:
        raw = meta.keyed(key).dump()
        assert type(meta).load(raw, key).model_dump() == meta.model_dump()
        assert "null" not in raw, "unset fields are left out: private_metadata holds 3,000 characters"


async def test_a_sealed_payload_of_another_channel_or_team_is_refused(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    """Sealed by this app (another workspace's install, or a replayed modal) but naming other records."""
    key = metadata_key(SIGNING_SECRET)
    other_channel = await _elsewhere(store, standin.team_id, OTHER_CHANNEL)
    other_team = await _elsewhere(store, OTHER_TEAM, CHANNEL)
    cases = [
        SectionMeta(team=standin.team_id, channel=CHANNEL, section="summary", postmortem=other_channel),
        SectionMeta(team=OTHER_TEAM, channel=CHANNEL, section="summary", postmortem=other_team),
    ]
    view = await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-31")
    for case in cases:
        shown = await _submit_with_metadata(slack, standin, view, case.keyed(key).dump())
        assert shown["title"]["text"] == "Not saved", case
        standin.close_view(ALICE)
        await slack.click(_card(standin), CARD_EDIT, user=ALICE, block_id="section-summary")
        view = await standin.wait_until(lambda: standin.current_view(ALICE))
    for postmortem_id in (other_channel, other_team):
        record = await store.get(postmortem_id)
        assert record is not None and record.sections == {}


async def test_a_reminder_button_naming_another_workspaces_action_is_refused(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    _, bobs = await _postmortem_with_bobs_action(slack, standin, store)
    foreign_pm = await _elsewhere(store, OTHER_TEAM, CHANNEL)
    foreign = await store.save_action(foreign_pm, CorrectiveAction(action="Theirs", owner=BOB), CAROL)
    await slack.app_home_opened(BOB)
    home = await standin.wait_until(lambda: standin.home_view(BOB))
    forged = json.loads(json.dumps(home).replace(f"home-{bobs}", f"home-{foreign}"))
    assert standin.replace_view(home["id"], {k: forged[k] for k in ("type", "blocks")}) == []

    await slack.click(standin.view(home["id"]), DONE, user=BOB)
    refusal = await standin.wait_until(lambda: standin.current_view(BOB))
    assert refusal["title"]["text"] == "Not allowed"
    found = await store.action(foreign)
    assert found is not None and found.action.status == "open"
