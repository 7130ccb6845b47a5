"""Section 2's timeline from the incident channel: the shortcut, reactions, pins, edits and deletions."""

from __future__ import annotations

from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
from handlers.shortcuts.timeline import NO_POSTMORTEM, TIMELINE_SHORTCUT
from storage.store import Store

OWNER, ANA, BEN, CAL = "U0OPS0001", "U0ANA0001", "U0BEN0001", "U0CAL0001"
CHANNEL = "C0INCIDENT"


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


async def test_the_shortcut_in_a_channel_without_a_postmortem_says_so(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    message = standin.post_as_user("C0ELSEWHERE", ANA, "hello")
    result = await slack.message_shortcut(message, TIMELINE_SHORTCUT, user=ANA)
    await listeners_finished()
    assert result.status == 200
    assert standin.responses(result.response_url or "")[-1]["text"] == NO_POSTMORTEM
    assert standin.current_view(ANA) is None
