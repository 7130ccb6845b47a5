"""The guided postmortem end to end: the real app over HTTP, signed requests, the Slack stand-in."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot import example
from bot.demo import Walkthrough, metadata, section_inputs
from bot.domain.catalog import builtin
from bot.slackdev import Signing, SlackDriver, SlackStandin
from handlers.builders.card import CARD_CONTINUE, CARD_EDIT, CARD_EXPORT
from handlers.builders.modals import EDIT_ACTION, USE_THEIRS, SectionMeta, section_view
from handlers.support.metadata import metadata_key
from storage.store import Store
from tests.conftest import SIGNING_SECRET

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD


def walker(slack: SlackDriver, standin: SlackStandin, user: str = ALICE) -> Walkthrough:
    return Walkthrough(slack, standin, user, CHANNEL)


def card(standin: SlackStandin) -> dict:
    (message,) = standin.messages(CHANNEL)
    return message


def card_text(standin: SlackStandin) -> str:
    return json.dumps(card(standin)["blocks"])


async def open_from_card(slack: SlackDriver, standin: SlackStandin, user: str, section: str) -> dict:
    before = standin.current_view(user)
    await slack.click(card(standin), CARD_EDIT, user=user, block_id=f"section-{section}")
    return await standin.wait_until(lambda: (v := standin.current_view(user)) and v != before and v)


def input_value(view: dict, action_id: str) -> object:
    for block in view["blocks"]:
        element = block.get("element") or {}
        if element.get("action_id") == action_id:
            return element.get("initial_value") or element.get("initial_option", {}).get("value")
    raise AssertionError(f"no input {action_id}")


async def test_full_walk_through_every_section(slack: SlackDriver, standin: SlackStandin, store: Store) -> None:
    walk = walker(slack, standin)
    await walk.whole_example()

    assert walk.titles == [s.modal_title for s in builtin().sections] + ["Postmortem saved"]
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id == example.INCIDENT_ID
    assert record.doc.answers["root_cause"]["contributing"] == example.ANSWERS["root_cause"]["contributing"]
    assert [a.action for a in record.doc.actions] == [a["action"] for a in example.ACTIONS]
    # one action has no owner: section 8 stays partial and the checklist says so
    assert record.doc.sections_done == 9
    text = await standin.wait_until(lambda: "Sections done: 9/10" in (t := card_text(standin)) and t)
    assert "Postmortem \\u00b7 inc-2026-04-09-001 \\u00b7 sev2 \\u00b7 in_review" in text
    assert ":x: *no* \\u2014 Are there concrete corrective actions with owners and due dates?" in text
    assert "4 open \\u00b7 4 overdue \\u00b7 1 unowned" in text  # the example's due dates are in April 2026
    assert len(standin.calls_to("chat.postMessage")) == 1, "the card is posted once, then edited in place"
    assert len(standin.calls_to("chat.update")) >= 9
    events = [a.event for a in await store.audit(record.id)]
    assert events.count("section_saved") == 9 and events.count("action_added") == 4


async def test_reopening_a_section_shows_and_edits_what_is_stored(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = walker(slack, standin)
    await walk.start("inc-7")
    await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-7"})
    await slack.close_view(standin.current_view(ALICE), user=ALICE)  # type: ignore[arg-type]

    view = await open_from_card(slack, standin, ALICE, "summary")
    assert view["title"]["text"] == "1/10 Summary"
    assert input_value(view, "severity") == "sev2"
    assert input_value(view, "summary") == example.ANSWERS["summary"]["summary"]

    result = await slack.submit(view, {"severity": "sev1"}, user=ALICE)
    assert not result.errors and result.problems == []
    assert result.view is not None and result.view["title"]["text"] == "2/10 What happened"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("summary", "severity") == "sev1"
    assert record.version("summary") == 2
    await standin.wait_until(lambda: "sev1" in card_text(standin))


def _prefilled(view: dict) -> dict[str, list[str]]:
    """The inputs a form opens with something in them, and what (``initial_value``, ``initial_user``...)."""
    inputs = [block["element"] for block in view["blocks"] if block["type"] == "input"]
    return {
        e["action_id"]: [k for k in e if k.startswith("initial_")]
        for e in inputs
        if any(k.startswith("initial_") for k in e)
    }


async def test_one_postmortems_answers_never_show_in_another_ones_form(
    slack: SlackDriver, standin: SlackStandin
) -> None:
    """The inputs of questions nobody answered yet are built once and shown in every form that has them."""
    alice = walker(slack, standin)
    await alice.start("inc-7")
    await alice.save({**example.ANSWERS["summary"], "incident_id": "inc-7"})

    bobs = await Walkthrough(slack, standin, BOB, "C0OTHER").start("inc-8")
    assert _prefilled(bobs) == {"incident_id": ["initial_value"]}
    assert input_value(bobs, "incident_id") == "inc-8"
    alices = await open_from_card(slack, standin, ALICE, "summary")
    assert input_value(alices, "summary") == example.ANSWERS["summary"]["summary"]
    assert len(_prefilled(alices)) >= 5


def test_the_shared_inputs_of_unanswered_questions_refuse_to_be_changed() -> None:
    template = builtin()
    first = template.sections[0]
    meta = SectionMeta(team="T1", channel="C1", section=first.key).keyed(b"key")
    blank = section_view(template, first, None, meta)["blocks"][1]
    with pytest.raises(TypeError):
        blank["element"]["initial_value"] = "typed by someone else"
    assert "initial_value" not in section_view(template, first, None, meta)["blocks"][1]["element"]


async def test_concurrent_edit_is_not_lost_and_the_second_user_chooses(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await walker(slack, standin).start("inc-8")
    alice_view = await open_from_card(slack, standin, ALICE, "root_cause")
    bob_view = await open_from_card(slack, standin, BOB, "root_cause")
    alices = example.ANSWERS["root_cause"]
    bobs = {**alices, "immediate_cause": "stale_rollout_gate", "failed_gate": "Bob's view of the gate"}

    first = await slack.submit(alice_view, section_inputs(builtin().section("root_cause").fields, alices), user=ALICE)
    assert first.view is not None and first.view["title"]["text"] == "6/10 Control layer"
    second = await slack.submit(bob_view, section_inputs(builtin().section("root_cause").fields, bobs), user=BOB)

    conflict = second.view
    assert conflict is not None and conflict["submit"]["text"] == "Save mine"
    shown = json.dumps(conflict["blocks"])
    assert f"<@{ALICE}> saved this section" in shown and "approval_scope_too_broad" in shown
    assert input_value(conflict, "immediate_cause") == "stale_rollout_gate", "Bob's input is still in the form"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("root_cause", "immediate_cause") == "approval_scope_too_broad"

    mine = await slack.submit(conflict, user=BOB)
    assert not mine.errors and mine.view is not None and mine.view["title"]["text"] == "6/10 Control layer"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("root_cause", "failed_gate") == "Bob's view of the gate"
    assert record.version("root_cause") == 2


async def test_use_theirs_loads_the_colleagues_answers(slack: SlackDriver, standin: SlackStandin, store: Store) -> None:
    await walker(slack, standin).start("inc-9")
    alice_view = await open_from_card(slack, standin, ALICE, "artifacts")
    bob_view = await open_from_card(slack, standin, BOB, "artifacts")
    fields = builtin().section("artifacts").fields
    await slack.submit(alice_view, section_inputs(fields, example.ANSWERS["artifacts"]), user=ALICE)
    bobs = {**example.ANSWERS["artifacts"], "trace_id": "trace-bob"}
    conflict = (await slack.submit(bob_view, section_inputs(fields, bobs), user=BOB)).view
    assert conflict is not None

    await slack.click(conflict, USE_THEIRS, user=BOB)
    reloaded = await standin.wait_until(
        lambda: (v := standin.current_view(BOB)) and v["hash"] != conflict["hash"] and v
    )
    assert input_value(reloaded, "trace_id") == "trace-2026-04-09-001"
    assert reloaded["submit"]["text"] == "Save & next"
    assert metadata(reloaded)["version"] == 1


async def test_retried_and_doubled_start_make_one_postmortem_and_one_card(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    first = await slack.command("start inc-10", user=ALICE, channel=CHANNEL)
    retried = await slack.command("start inc-10", user=ALICE, channel=CHANNEL, trigger_id=first.trigger_id, retry_num=1)
    doubled = await slack.command("start inc-10", user=ALICE, channel=CHANNEL)
    assert {first.status, retried.status, doubled.status} == {200}
    await standin.wait_until(lambda: standin.calls_to("views.update"))  # the doubled start's form shows what is stored
    await standin.wait_until(lambda: standin.messages(CHANNEL))

    assert len(standin.messages(CHANNEL)) == 1
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert [c.response["ok"] for c in standin.calls_to("views.open")] == [True, False, True]
    assert (await store.by_channel(standin.team_id, CHANNEL)) is not None
    assert (await store.by_incident("inc-10")).channel_id == CHANNEL  # type: ignore[union-attr]


async def test_invalid_input_is_answered_on_the_field_and_nothing_typed_is_lost(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    view = await walker(slack, standin).start("")
    answers = section_inputs(builtin().sections[0].fields, {**example.ANSWERS["summary"], "summary": "x" * 3001})
    del answers["severity"]
    answers["incident_id"] = ""
    result = await slack.submit(view, answers, user=ALICE)

    assert result.errors is not None
    assert set(result.errors) == {"incident_id", "severity", "summary"}
    assert result.errors["severity"] == "This is required."
    assert "3000" in result.errors["summary"]
    kept = standin.current_view(ALICE)
    assert kept is not None and kept["id"] == view["id"]
    assert kept["state"]["values"]["status"]["status"]["selected_option"]["value"] == "resolved"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and "summary" not in record.sections


async def test_a_due_date_that_is_not_a_date_is_refused_on_the_field(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = walker(slack, standin)
    await walk.start("inc-11")
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    view = await open_from_card(slack, standin, ALICE, "corrective_actions")
    await slack.click(view, "action_add", user=ALICE)
    form = await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v["id"] != view["id"] and v)
    answers = section_inputs(builtin().action_fields, {**example.ACTIONS[0], "due": "2026-02-30", "status": "open"})
    result = await slack.submit(form, answers, user=ALICE)
    assert result.errors is not None and list(result.errors) == ["due"]
    assert (await store.get(record.id)).doc.actions == []  # type: ignore[union-attr]


async def test_editing_an_action_from_the_list(slack: SlackDriver, standin: SlackStandin, store: Store) -> None:
    walk = walker(slack, standin)
    await walk.start("inc-12")
    await slack.close_view(walk.view(), user=ALICE)
    await open_from_card(slack, standin, ALICE, "corrective_actions")
    listed = await walk.add_action(example.ACTIONS[3])
    assert "_no owner_" in json.dumps(listed["blocks"])

    await slack.click(listed, EDIT_ACTION, user=ALICE)
    form = await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v["id"] != listed["id"] and v)
    assert input_value(form, "action") == example.ACTIONS[3]["action"]
    await slack.submit(form, {"owner": BOB}, user=ALICE)
    await standin.wait_until(lambda: f"<@{BOB}>" in json.dumps(standin.view(listed["id"])["blocks"]))
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and [a.owner for a in record.doc.actions] == [BOB]


async def test_continue_opens_the_first_unfinished_section(slack: SlackDriver, standin: SlackStandin) -> None:
    walk = walker(slack, standin)
    await walk.start("inc-13")
    await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-13"})
    await slack.close_view(walk.view(), user=ALICE)
    await standin.wait_until(lambda: standin.messages(CHANNEL))
    await slack.click(card(standin), CARD_CONTINUE, user=ALICE)
    view = await standin.wait_until(lambda: standin.current_view(ALICE))
    assert view["title"]["text"] == "2/10 What happened"


async def test_forged_and_stale_requests_are_rejected_and_store_nothing(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    forged = await slack.command("start inc-14", user=ALICE, channel=CHANNEL, signing=Signing(secret="not-the-secret"))
    stale = await slack.command("start inc-14", user=ALICE, channel=CHANNEL, signing=Signing(offset=-600))
    assert (forged.status, stale.status) == (401, 401)
    assert standin.calls_to("views.open") == []
    assert await store.by_channel(standin.team_id, CHANNEL) is None


async def test_start_in_a_direct_message_is_refused_clearly(slack: SlackDriver, standin: SlackStandin) -> None:
    result = await slack.command("start inc-15", user=ALICE, channel="D0ALICE01", channel_name="directmessage")
    assert result.status == 200 and "incident's channel" in result.text
    assert standin.calls_to("views.open") == []


async def test_help_status_and_export(slack: SlackDriver, standin: SlackStandin) -> None:
    help_text = (await slack.command("", user=ALICE, channel=CHANNEL)).text
    assert "/postmortem start" in help_text and "/postmortem export" in help_text
    none_yet = await slack.command("status", user=ALICE, channel=CHANNEL)
    assert "No postmortem" in (await standin.wait_until(lambda: standin.responses(none_yet.response_url)))[0]["text"]

    walk = walker(slack, standin)
    await walk.start("inc-16")
    await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-16"})
    status = await slack.command("status", user=ALICE, channel=CHANNEL)
    (reply,) = await standin.wait_until(lambda: standin.responses(status.response_url))
    assert reply["response_type"] == "ephemeral"
    assert "Sections done: 1/10" in reply["text"] and ":x: *no*" in reply["text"]

    exported = await slack.command("export markdown", user=ALICE, channel=CHANNEL)
    (document,) = await standin.wait_until(lambda: standin.responses(exported.response_url))
    body = json.dumps(document["blocks"])
    assert "# Postmortem" in body and "## 12. What to Do Right Away" in body

    clicked = await slack.click(card(standin), CARD_EXPORT, user=ALICE)
    (yaml_reply,) = await standin.wait_until(lambda: standin.responses(clicked.response_url or ""))
    assert "incident_id: inc-16" in json.dumps(yaml_reply["blocks"])


async def test_an_incident_id_in_use_elsewhere_is_explained(slack: SlackDriver, standin: SlackStandin) -> None:
    await walker(slack, standin).start("inc-17")
    other = await slack.command("start inc-17", user=BOB, channel="C0OTHER01")
    (reply,) = await standin.wait_until(lambda: standin.responses(other.response_url))
    assert "inc-17 already has a postmortem in <#C0INCIDENT>" in reply["text"]
    notice = await standin.wait_until(
        lambda: (v := standin.current_view(BOB)) and v["title"]["text"] == "Incident id in use" and v
    )
    assert notice


async def test_a_failing_handler_tells_the_user_and_the_app_keeps_serving(
    slack: SlackDriver, standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    view = await walker(slack, standin).start("inc-18")
    kept = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    broken = SectionMeta(**{**metadata(view), "section": "no-such"}).keyed(metadata_key(SIGNING_SECRET)).dump()
    assert standin.replace_view(view["id"], {**kept, "private_metadata": broken}) == []
    result = await slack.submit(standin.view(view["id"]), user=ALICE)
    assert result.status == 200 and result.view is not None
    assert result.view["title"]["text"] == "Not saved"
    assert "problem on our side" in json.dumps(result.view["blocks"])

    after_ack = await slack.click(card(standin), CARD_EDIT, user=ALICE, block_id="section-summary", value="no-such")
    assert after_ack.status == 200
    apology = await standin.wait_until(lambda: standin.responses(after_ack.response_url or ""))
    assert "problem on our side" in apology[0]["text"]
    logged = [r.getMessage() for r in caplog.records if r.name == "postmortem_bot.errors"]
    assert any("'callback_id': 'section'" in line and "'type': 'view_submission'" in line for line in logged)
    assert any("'actions': ['card_edit']" in line and f"'user': '{ALICE}'" in line for line in logged)
    assert (await slack.command("help", user=ALICE, channel=CHANNEL)).status == 200


async def test_a_rate_limited_views_open_waits_and_opens(slack: SlackDriver, standin: SlackStandin) -> None:
    standin.fail_next("views.open", status=429, retry_after=1)
    await walker(slack, standin).start("inc-19")
    assert [c.status for c in standin.calls_to("views.open")] == [429, 200]


async def test_healthz_follows_the_database(app_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(app_url + "/healthz") as response:
        assert response.status == 200 and (await response.json())["database"] == "up"


@pytest.mark.parametrize("database_url", ["postgresql://nobody@127.0.0.1:9/none"], indirect=False)
async def test_healthz_is_503_when_the_database_is_down(settings, database_url: str) -> None:
    from aiohttp import web

    from bot.app import create_app, create_web_app
    from storage.db import create_engine

    store = Store(create_engine(database_url))
    runner = web.AppRunner(create_web_app(create_app(settings, store), store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
        assert response.status == 503
    await runner.cleanup()
    await store.engine.dispose()


async def test_a_channel_the_bot_is_not_in_gets_an_invite_hint_and_a_card_later(
    slack: SlackDriver, standin: SlackStandin
) -> None:
    standin.fail_next("chat.postMessage", error="not_in_channel")
    first = await slack.command("start inc-20", user=ALICE, channel=CHANNEL)
    (hint,) = await standin.wait_until(lambda: standin.responses(first.response_url or ""))
    assert "/invite @postmortem-bot" in hint["text"] and standin.messages(CHANNEL) == []

    await walker(slack, standin).start("inc-20")  # after the invite: the same postmortem, now with its card
    assert len(standin.messages(CHANNEL)) == 1


async def test_the_word_payload_in_a_command_or_channel_name_is_no_problem(
    slack: SlackDriver, standin: SlackStandin
) -> None:
    """Bolt alone reads any form containing "payload" as an empty request (and answers 404)."""
    result = await slack.command("start payload-7", user=ALICE, channel=CHANNEL, channel_name="payload-team")
    assert result.status == 200
    view = await standin.wait_until(lambda: standin.current_view(ALICE))
    await standin.wait_until(lambda: standin.messages(CHANNEL))
    assert input_value(view, "incident_id") == "payload-7"
