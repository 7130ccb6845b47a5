"""Section 2's timeline from the incident channel: the shortcut, reactions, pins, edits and deletions."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from unittest.mock import ANY

import pytest
import yaml

from bot.demo import Walkthrough, listeners_finished
from bot.domain.catalog import builtin
from bot.domain.clock import FixedClock
from bot.domain.export.yaml_in import from_yaml
from bot.domain.timeline import TimelineEntry, message_time
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from handlers.builders.timeline import ENTRY_MENU
from handlers.shortcuts.actions import ACTION_SHORTCUT
from handlers.shortcuts.actions import NO_POSTMORTEM as NO_POSTMORTEM_FOR_ACTIONS
from handlers.shortcuts.timeline import NO_POSTMORTEM, TIMELINE_SHORTCUT
from storage.store import Store

OWNER, ANA, BEN, CAL = "U0OPS0001", "U0ANA0001", "U0BEN0001", "U0CAL0001"
CHANNEL, ELSEWHERE = "C0INCIDENT", "C0ELSEWHERE"
GRAPH = "https://acme.slack.com/files/U0ANA0001/F0GRAPH01/error_rate.png"


async def _started(slack: SlackDriver, standin: SlackStandin) -> None:
    await Walkthrough(slack, standin, OWNER, CHANNEL).start("inc-timeline")


async def test_three_reactions_and_a_replay_make_one_entry(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    message = standin.post_as_user(
        CHANNEL, ANA, "rolled back <https://deploy.example.com|deploy 42> &amp; paged <@U0BEN0001>"
    )
    for user in (ANA, BEN, CAL):
        assert (await slack.reaction_added(message, "pushpin", user=user)).status == 200
    first = await slack.pin_added(message, user=OWNER)
    await slack.pin_added(message, user=OWNER)  # a replay
    await slack.reaction_added(message, "eyes", user=BEN)  # not the timeline's reaction
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    [entry] = record.doc.timeline
    assert first.status == 200
    assert entry.text == "rolled back deploy 42 (https://deploy.example.com) & paged @U0BEN0001"
    assert entry.author == ANA and entry.message_ts == message["ts"]
    assert (
        entry.permalink
        == f"https://{standin.team_domain}.slack.com/archives/{CHANNEL}/p{message['ts'].replace('.', '')}"
    )
    card = standin.messages(CHANNEL)[0]
    assert "*Timeline:* 1 entries" in str(card["blocks"])


async def test_a_reaction_on_a_thread_reply_adds_the_reply_once(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    parent = standin.post_as_user(CHANNEL, ANA, "incident declared")
    reply = standin.post_as_user(CHANNEL, BEN, "the agent retried create_ticket 300 times", thread_ts=parent["ts"])
    for user in (ANA, CAL):
        await slack.reaction_added(reply, "pushpin", user=user)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    [entry] = record.doc.timeline
    assert (entry.message_ts, entry.author) == (reply["ts"], BEN)
    assert entry.text == "the agent retried create_ticket 300 times" and f"thread_ts={parent['ts']}" in entry.permalink


async def test_edited_and_deleted_messages_follow_their_entries(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    edited = standin.post_as_user(CHANNEL, ANA, "error rate 5%")
    gone = standin.post_as_user(CHANNEL, BEN, "I think it is DNS")
    await slack.reaction_added(edited, "pushpin", user=BEN)
    await slack.reaction_added(gone, "pushpin", user=ANA)
    await listeners_finished()
    await slack.message_changed(edited, "error rate 50%")
    await slack.message_deleted(gone)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    assert [(e.text, e.deleted) for e in record.doc.timeline] == [
        ("error rate 50%", False),
        ("I think it is DNS", True),
    ]


async def test_the_shortcut_adds_a_thread_reply_at_its_own_time_with_the_summary_typed(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await _started(slack, standin)
    parent = standin.post_as_user(CHANNEL, ANA, "incident declared")
    reply = standin.post_as_user(CHANNEL, BEN, "<!channel> the agent sent 300 tickets", thread_ts=parent["ts"])
    result = await slack.message_shortcut(reply, TIMELINE_SHORTCUT, user=CAL)
    assert result.status == 200
    await listeners_finished()
    modal = standin.current_view(CAL)
    assert modal is not None
    await slack.submit(modal, {"summary": "Agent opened 300 duplicate tickets"}, user=CAL)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    [entry] = record.doc.timeline
    assert entry.summary == "Agent opened 300 duplicate tickets"
    assert entry.text == "@channel the agent sent 300 tickets"
    assert entry.message_ts == reply["ts"]
    assert f"thread_ts={parent['ts']}" in entry.permalink


@pytest.mark.parametrize(
    ("shortcut", "help_text"), [(TIMELINE_SHORTCUT, NO_POSTMORTEM), (ACTION_SHORTCUT, NO_POSTMORTEM_FOR_ACTIONS)]
)
async def test_a_shortcut_in_a_channel_without_a_postmortem_says_so(
    slack: SlackDriver, standin: SlackStandin, store: Store, shortcut: str, help_text: str
) -> None:
    """*Add to postmortem timeline* and *Create corrective action*: help, only for the user, and no modal."""
    message = standin.post_as_user("C0ELSEWHERE", ANA, "hello")
    result = await slack.message_shortcut(message, shortcut, user=ANA)
    await listeners_finished()
    assert result.status == 200
    assert standin.responses(result.response_url or "")[-1] == {
        "text": help_text,
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert standin.current_view(ANA) is None


async def _section_2(slack: SlackDriver, standin: SlackStandin, user: str) -> dict[str, Any]:
    """Section 2's modal (the timeline section), opened from the card."""
    section = builtin().timeline_section
    assert section is not None
    await slack.click(standin.messages(CHANNEL)[0], CARD_EDIT, user=user, block_id=f"section-{section.key}")
    return await standin.wait_until(lambda: standin.current_view(user))


async def _two_entries(slack: SlackDriver, standin: SlackStandin, store: Store) -> list[int]:
    await _started(slack, standin)
    for author, text in ((ANA, "error rate 50%"), (BEN, "rolled back deploy 42")):
        await slack.reaction_added(standin.post_as_user(CHANNEL, author, text), "pushpin", user=author)
    await listeners_finished()
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    return [e.id for e in record.doc.timeline if e.id is not None]


async def test_edit_and_remove_in_section_2_change_the_list_and_the_card(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    first, second = await _two_entries(slack, standin, store)
    listed = await _section_2(slack, standin, CAL)
    await slack.click(listed, ENTRY_MENU, user=CAL, block_id=f"entry-{first}", selected_option=f"edit:{first}")
    form = await standin.wait_until(lambda: (v := standin.current_view(CAL)) and v["id"] != listed["id"] and v)
    assert form["title"]["text"] == "Edit timeline entry"
    result = await slack.submit(form, {"summary": "Error rate *50%* <!here>"}, user=CAL)
    await listeners_finished()
    assert result.view is not None and result.view["id"] == listed["id"]  # back on the list, refreshed
    assert "Error rate *50%* &lt;!here&gt;" in json.dumps(standin.view(listed["id"])["blocks"])

    await slack.click(
        standin.view(listed["id"]), ENTRY_MENU, user=CAL, block_id=f"entry-{second}", selected_option=f"remove:{second}"
    )
    await listeners_finished()
    shown = json.dumps(standin.view(listed["id"])["blocks"])
    assert "rolled back deploy 42" not in shown and "1 entries" in shown
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    assert [(e.id, e.shown) for e in record.doc.timeline] == [(first, "Error rate *50%* <!here>")]
    assert "*Timeline:* 1 entries" in str(standin.messages(CHANNEL)[0]["blocks"])


async def test_a_row_naming_another_channels_entry_changes_nothing(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    mine, _ = await _two_entries(slack, standin, store)
    theirs, _ = await store.open_postmortem(standin.team_id, ELSEWHERE, BEN, "inc-elsewhere")
    message = standin.post_as_user(ELSEWHERE, BEN, "their secret")
    entry = TimelineEntry(message_ts=message["ts"], at=message_time(message["ts"]), author=BEN, text="their secret")
    assert await store.add_to_timeline(theirs.id, entry, BEN)
    [their_entry] = (await store.get(theirs.id)).doc.timeline  # type: ignore[union-attr]
    listed = await _section_2(slack, standin, CAL)
    forged = json.loads(json.dumps(listed["blocks"]).replace(f":{mine}", f":{their_entry.id}"))
    assert standin.replace_view(listed["id"], {**_kept(listed), "blocks": forged}) == []

    for choice in ("remove", "edit"):
        await slack.click(
            standin.view(listed["id"]),
            ENTRY_MENU,
            user=CAL,
            block_id=f"entry-{mine}",
            selected_option=f"{choice}:{their_entry.id}",
        )
        refusal = await standin.wait_until(lambda: (v := standin.current_view(CAL)) and v["id"] != listed["id"] and v)
        assert refusal["title"]["text"] == "Not allowed"
        standin.close_view(CAL)
    record = await store.get(theirs.id)
    assert record is not None and [e.shown for e in record.doc.timeline] == ["their secret"]


def _kept(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "private_metadata") if k in view}


async def _exported(slack: SlackDriver, standin: SlackStandin, fmt: str) -> str:
    result = await slack.command(f"export {fmt}", user=OWNER, channel=CHANNEL)
    [reply] = await standin.wait_until(lambda: standin.responses(result.response_url or ""))
    chunks = [b["text"]["text"] for b in reply["blocks"][1:] if b["type"] == "section"]
    return html.unescape("".join(c.removeprefix("```").removesuffix("```") for c in chunks))


async def test_a_timeline_past_midnight_exports_in_order_in_utc_and_in_the_owners_zone(
    slack: SlackDriver, standin: SlackStandin, store: Store, clock: FixedClock
) -> None:
    await _started(slack, standin)
    await store.keep_answer(OWNER, "America/Los_Angeles", gone=False)  # what users.info said of the owner
    clock.set(datetime(2026, 5, 5, 23, 50, tzinfo=UTC))
    evening = standin.post_as_user(CHANNEL, ANA, "alerts | fire", files=[{"permalink": GRAPH}])
    clock.set(datetime(2026, 5, 6, 7, 10, tzinfo=UTC))
    morning = standin.post_as_user(CHANNEL, BEN, "mitigated")
    for message in (morning, evening):  # captured in the other order
        await slack.reaction_added(message, "pushpin", user=CAL)
    await listeners_finished()

    exported = yaml.safe_load(await _exported(slack, standin, "yaml"))
    assert exported["postmortem"]["channel_timeline"] == [
        {"at": "2026-05-05T23:50:00Z", "author": ANA, "text": "alerts | fire", "permalink": ANY, "files": [GRAPH]},
        {"at": "2026-05-06T07:10:00Z", "author": BEN, "text": "mitigated", "permalink": ANY},
    ]
    assert from_yaml(await _exported(slack, standin, "yaml")).incident_id == "inc-timeline"  # still imports

    markdown = await _exported(slack, standin, "markdown")
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert rows[:3] == [
        "| Time (America/Los_Angeles) | Who | What | Link |",
        f"| 2026-05-05 16:50 PDT | <@{ANA}> | alerts \\| fire "
        f"| [message]({_link(standin, evening)}) [file 1]({GRAPH}) |",
        f"| 2026-05-06 00:10 PDT | <@{BEN}> | mitigated | [message]({_link(standin, morning)}) |",
    ]


def _link(standin: SlackStandin, message: dict[str, Any]) -> str:
    return f"https://{standin.team_domain}.slack.com/archives/{CHANNEL}/p{message['ts'].replace('.', '')}"
