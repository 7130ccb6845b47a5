"""*Create corrective action* on a message of the incident channel: section 8's form, prefilled, linking back."""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.app import create_sweeper
from bot.config import Settings
from bot.demo import Walkthrough, listeners_finished
from bot.domain.catalog import builtin
from bot.domain.export.yaml_in import from_yaml
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from handlers.builders.fields import block_id
from handlers.builders.modals import ACTION_FORM_CALLBACK, EDIT_ACTION, ActionFormMeta
from handlers.shortcuts.actions import ACTION_SHORTCUT
from handlers.support.metadata import metadata_key
from storage.store import Store
from tests.conftest import SIGNING_SECRET
from tests.test_timeline import _exported

OWNER, ANA, BEN = "U0OPS0001", "U0ANA0001", "U0BEN0001"
CHANNEL = "C0INCIDENT"
TITLE_MAX = builtin().action_field("action").text_limit


async def _started(slack: SlackDriver, standin: SlackStandin) -> None:
    await Walkthrough(slack, standin, OWNER, CHANNEL).start("inc-actions")


def _link(standin: SlackStandin, message: dict[str, Any]) -> str:
    base = f"https://{standin.team_domain}.slack.com/archives/{CHANNEL}/p{message['ts'].replace('.', '')}"
    thread = message.get("thread_ts")
    return f"{base}?thread_ts={thread}&cid={CHANNEL}" if thread and thread != message["ts"] else base


async def _form(slack: SlackDriver, standin: SlackStandin, message: dict[str, Any], user: str) -> dict[str, Any]:
    result = await slack.message_shortcut(message, ACTION_SHORTCUT, user=user)
    assert result.status == 200
    return await standin.wait_until(
        lambda: (v := standin.current_view(user)) and v["callback_id"] == ACTION_FORM_CALLBACK and v
    )


def _title_input(form: dict[str, Any]) -> dict[str, Any]:
    return next(b["element"] for b in form["blocks"] if b.get("block_id") == block_id("action", 0))


async def test_a_message_becomes_a_prefilled_form_that_links_back_and_saves_one_action(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    message = standin.post_as_user(
        CHANNEL, ANA, "we should gate <https://deploy.example.com|deploys> &amp; page <@U0BEN0001> first"
    )
    form = await _form(slack, standin, message, BEN)
    assert form["title"]["text"] == "Corrective action"
    assert _title_input(form)["initial_value"] == (
        "we should gate deploys (https://deploy.example.com) & page @U0BEN0001 first"
    )
    assert f"<{html.escape(_link(standin, message), quote=False)}|" in json.dumps(form["blocks"][0])

    await asyncio.gather(*(slack.submit(form, {"kind": "update_rollout_gate"}, user=BEN) for _ in range(2)))
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    [action] = record.doc.actions
    assert action.action.startswith("we should gate deploys") and action.source == _link(standin, message)
    card = standin.messages(CHANNEL)[0]
    assert "1 open" in json.dumps(card["blocks"])


async def test_a_thread_reply_links_to_the_reply_in_its_thread(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    parent = standin.post_as_user(CHANNEL, ANA, "incident declared")
    reply = standin.post_as_user(CHANNEL, ANA, "add an idempotency key to create_ticket", thread_ts=parent["ts"])
    form = await _form(slack, standin, reply, BEN)
    assert _title_input(form)["initial_value"] == "add an idempotency key to create_ticket"
    await slack.submit(form, {}, user=BEN)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    [action] = record.doc.actions
    assert action.source == _link(standin, reply) and f"thread_ts={parent['ts']}" in action.source


async def test_the_link_travels_into_section_8_the_exports_an_import_and_the_reminder(
    slack: SlackDriver, standin: SlackStandin, store: Store, settings: Settings, working_zone: str
) -> None:
    await _started(slack, standin)
    standin.add_user(BEN, tz=working_zone)
    message = standin.post_as_user(CHANNEL, ANA, "retire the old approval token")
    link = _link(standin, message)
    today = store.clock.now().astimezone(ZoneInfo(working_zone)).date().isoformat()
    form = await _form(slack, standin, message, ANA)
    await slack.submit(form, {"owner": BEN, "due": today}, user=ANA)
    await listeners_finished()

    exported = await _exported(slack, standin, "yaml")
    [action] = yaml.safe_load(exported)["postmortem"]["corrective_actions"]
    assert action["source_message"] == link
    assert from_yaml(exported).actions[0].source == link
    markdown = await _exported(slack, standin, "markdown")
    assert f"| [message]({link}) |" in markdown

    section = f"section-{builtin().actions_section.key}"
    await slack.click(standin.messages(CHANNEL)[0], CARD_EDIT, user=ANA, block_id=section)
    listed = await standin.wait_until(lambda: standin.current_view(ANA))
    assert f"<{html.escape(link, quote=False)}|" in json.dumps(listed["blocks"])

    sweeper = create_sweeper(settings.model_copy(update={"reminder_workdays": "mon-sun"}), store)
    await sweeper.sweep()
    [dm] = standin.messages(standin.dm_channel(BEN))
    assert f"<{html.escape(link, quote=False)}|" in json.dumps(dm["blocks"])


async def test_three_thousand_characters_of_emoji_make_a_valid_form(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    thumbs = "\U0001f44d\U0001f3fd"  # a thumbs up with a skin tone: two code points, one emoji
    message = standin.post_as_user(CHANNEL, ANA, "ok " + thumbs * 1500 + " :fire:" * 100)
    result = await slack.message_shortcut(message, ACTION_SHORTCUT, user=BEN)
    form = await standin.wait_until(lambda: standin.current_view(BEN))
    assert result.status == 200 and all(c.response and c.response["ok"] for c in standin.calls_to("views.open"))
    title = _title_input(form)["initial_value"]
    assert TITLE_MAX - 1 <= len(title) <= TITLE_MAX and title == "ok " + thumbs * ((TITLE_MAX - 3) // 2)
    saved = await slack.submit(form, {}, user=BEN)
    assert not saved.errors
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and [a.action for a in record.doc.actions] == [title]


async def test_a_form_naming_another_workspaces_postmortem_is_refused(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    """Sealed by this app (another workspace's install, or a replayed form) but naming another team's postmortem."""
    await _started(slack, standin)
    theirs, _ = await store.open_postmortem("T0ELSEWHERE", CHANNEL, OWNER, "inc-elsewhere")
    message = standin.post_as_user(CHANNEL, ANA, "rotate the leaked key")
    form = await _form(slack, standin, message, BEN)
    forged = ActionFormMeta(postmortem=theirs.id, source=_link(standin, message)).keyed(metadata_key(SIGNING_SECRET))
    kept = {k: form[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    assert standin.replace_view(form["id"], {**kept, "private_metadata": forged.dump()}) == []

    result = await slack.submit(standin.view(form["id"]), {}, user=BEN)
    assert result.view is not None and result.view["title"]["text"] == "Not saved"
    assert "does not exist here" in json.dumps(result.view["blocks"])
    for record in (await store.get(theirs.id), await store.by_channel(standin.team_id, CHANNEL)):
        assert record is not None and record.doc.actions == []


async def test_editing_the_action_in_section_8_keeps_its_link(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    message = standin.post_as_user(CHANNEL, ANA, "alert on duplicate create_ticket calls")
    await slack.submit(await _form(slack, standin, message, BEN), {"owner": BEN}, user=BEN)
    await listeners_finished()

    section = f"section-{builtin().actions_section.key}"
    await slack.click(standin.messages(CHANNEL)[0], CARD_EDIT, user=BEN, block_id=section)
    listed = await standin.wait_until(lambda: standin.current_view(BEN))
    await slack.click(listed, EDIT_ACTION, user=BEN)
    form = await standin.wait_until(lambda: (v := standin.current_view(BEN)) and v["id"] != listed["id"] and v)
    assert form["title"]["text"] == "Edit action"
    assert f"<{html.escape(_link(standin, message), quote=False)}|" in json.dumps(form["blocks"][0])
    await slack.submit(form, {"kind": "add_detection_rule"}, user=BEN)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    assert [(a.kind, a.source) for a in record.doc.actions] == [("add_detection_rule", _link(standin, message))]
