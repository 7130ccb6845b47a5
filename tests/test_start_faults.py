"""`/postmortem start` when Slack fails to open the form: the postmortem exists and nothing typed is lost."""

from __future__ import annotations

import pytest

from bot import example
from bot.demo import metadata, section_inputs
from bot.domain.catalog import builtin
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_CONTINUE
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD


def summary_inputs(incident_id: str) -> dict:
    return section_inputs(builtin().sections[0].fields, {**example.ANSWERS["summary"], "incident_id": incident_id})


async def test_a_lost_reply_to_views_open_leaves_a_modal_that_saves(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.drop_next("views.open")  # Slack opened the modal, the bot never heard so
    started = await slack.command("start inc-30", user=ALICE, channel=CHANNEL)
    (notice,) = await standin.wait_until(lambda: standin.responses(started.response_url or ""))
    assert notice["response_type"] == "ephemeral"
    assert "did not confirm that the postmortem form opened" in notice["text"] and "*Continue*" in notice["text"]
    await standin.wait_until(lambda: standin.messages(CHANNEL))
    assert await store.by_channel(standin.team_id, CHANNEL) is not None

    modal = standin.current_view(ALICE)
    assert modal is not None and "postmortem" not in metadata(modal)
    saved = await slack.submit(modal, summary_inputs("inc-30"), user=ALICE)
    assert saved.view is not None and saved.view["title"]["text"] == "2/10 What happened"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("summary", "summary") == example.ANSWERS["summary"]["summary"]


@pytest.mark.parametrize("fault", [{"error": "internal_error"}, {"status": 500}], ids=["ok-false", "http-500"])
async def test_a_form_slack_did_not_open_is_explained_and_continue_opens_it(
    slack: SlackDriver, standin: SlackStandin, store: Store, fault: dict
) -> None:
    standin.fail_next("views.open", **fault)
    started = await slack.command("start inc-31", user=ALICE, channel=CHANNEL)
    (notice,) = await standin.wait_until(lambda: standin.responses(started.response_url or ""))
    assert notice["response_type"] == "ephemeral"
    assert "did not open the postmortem form" in notice["text"] and "*Continue*" in notice["text"]
    (card,) = await standin.wait_until(lambda: standin.messages(CHANNEL))
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id == "inc-31"
    assert standin.current_view(ALICE) is None

    await slack.click(card, CARD_CONTINUE, user=ALICE)
    modal = await standin.wait_until(lambda: standin.current_view(ALICE))
    assert modal["title"]["text"] == "1/10 Summary"


async def test_an_incident_id_in_use_is_explained_even_when_the_form_was_already_closed(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await slack.command("start inc-34", user=BOB, channel="C0OTHER01")
    await standin.wait_until(lambda: standin.messages("C0OTHER01"))
    standin.fail_next("views.update", error="not_found")  # Alice closed the form before the refusal came
    taken = await slack.command("start inc-34", user=ALICE, channel=CHANNEL)
    (refusal,) = await standin.wait_until(lambda: standin.responses(taken.response_url or ""))
    assert "inc-34 already has a postmortem in <#C0OTHER01>" in refusal["text"]
    assert await store.by_channel(standin.team_id, CHANNEL) is None


async def test_a_modal_whose_postmortem_was_never_created_creates_it_on_save(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await slack.command("start inc-32", user=BOB, channel="C0OTHER01")
    await standin.wait_until(lambda: standin.messages("C0OTHER01"))
    standin.drop_next("views.open")
    taken = await slack.command("start inc-32", user=ALICE, channel=CHANNEL)  # the id is in use: nothing created
    (refusal,) = await standin.wait_until(lambda: standin.responses(taken.response_url or ""))
    assert "inc-32 already has a postmortem in <#C0OTHER01>" in refusal["text"]
    assert await store.by_channel(standin.team_id, CHANNEL) is None

    modal = standin.current_view(ALICE)  # but the modal did open, with the channel in its metadata
    assert modal is not None
    saved = await slack.submit(modal, summary_inputs("inc-33"), user=ALICE)
    assert not saved.errors and saved.view is not None and saved.view["title"]["text"] == "2/10 What happened"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id == "inc-33" and record.created_by == ALICE
    card = await standin.wait_until(lambda: standin.messages(CHANNEL))
    assert "inc-33" in card[0]["text"]


async def test_a_modal_that_could_not_be_given_its_postmortem_id_still_saves_and_the_card_is_posted(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.fail_next("views.update", status=500)
    started = await slack.command("start inc-34", user=ALICE, channel=CHANNEL)
    await standin.wait_until(lambda: standin.messages(CHANNEL))
    assert standin.responses(started.response_url or "") == [], "nothing went wrong that the user must act on"

    modal = standin.current_view(ALICE)
    assert modal is not None and "postmortem" not in metadata(modal)
    saved = await slack.submit(modal, summary_inputs("inc-34"), user=ALICE)
    assert saved.view is not None and saved.view["title"]["text"] == "2/10 What happened"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.version("summary") == 1
