"""Reminder buttons used by the postmortem's owner, and clicks that find nothing left to change.

Bob owns an action five days overdue: he gets the overdue DM and Alice, who owns the
postmortem, gets the escalation, with the same buttons.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import create_sweeper
from bot.config import Settings
from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.action_items import DONE, REASSIGN, SNOOZE
from storage.store import Store

ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
CHANNEL = "C0INCIDENT"


TUESDAY_3PM = datetime(2026, 5, 12, 15, tzinfo=UTC)  # 16:00 in London, a week after the clock's start


@pytest.fixture
async def reminded(settings: Settings, store: Store, standin: SlackStandin) -> tuple[int, int]:
    """(postmortem id, action id) once both DMs are out."""
    for user in (ALICE, BOB, CAROL):
        standin.add_user(user, tz="Europe/London")
    now = TUESDAY_3PM
    record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-60")
    overdue = CorrectiveAction(action="Scope the approval", kind="other", owner=BOB, due=now.date() - timedelta(days=5))
    action_id = await store.save_action(record.id, overdue, ALICE)
    store.clock.set(now)
    await create_sweeper(settings, store).sweep()
    assert dm(standin, BOB) and dm(standin, ALICE)
    return record.id, action_id


def dm(standin: SlackStandin, user: str) -> dict:
    (message,) = standin.messages(standin.dm_channel(user))
    return message


def outcome(standin: SlackStandin, user: str) -> str:
    """What the DM says where its buttons were."""
    blocks = dm(standin, user)["blocks"]
    return " ".join(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])


async def events(store: Store, postmortem_id: int) -> list[str]:
    return [a.event for a in await store.audit(postmortem_id)]


async def test_the_postmortem_owner_may_use_the_buttons_and_nobody_else(
    store: Store, standin: SlackStandin, slack: SlackDriver, reminded: tuple[int, int]
) -> None:
    postmortem_id, action_id = reminded
    refused = await slack.click(dm(standin, ALICE), DONE, user=CAROL)
    (refusal,) = await standin.wait_until(lambda: standin.responses(refused.response_url or ""))
    assert "Only <@U0BOB0001> (the action's owner) or <@U0ALICE01> (the postmortem's owner)" in refusal["text"]
    assert (await store.action(action_id)).action.status == "open"  # type: ignore[union-attr]

    await slack.click(dm(standin, ALICE), DONE, user=ALICE)
    await standin.wait_until(lambda: "Marked done by <@U0ALICE01>" in outcome(standin, ALICE))
    assert (await store.action(action_id)).action.status == "done"  # type: ignore[union-attr]
    assert (await events(store, postmortem_id)).count("action_done") == 1


async def test_done_twice_shows_already_done(
    store: Store, standin: SlackStandin, slack: SlackDriver, reminded: tuple[int, int]
) -> None:
    postmortem_id, _ = reminded
    await slack.click(dm(standin, BOB), DONE, user=BOB)
    await standin.wait_until(lambda: "Marked done by <@U0BOB0001>" in outcome(standin, BOB))
    await slack.click(dm(standin, ALICE), DONE, user=ALICE)
    await standin.wait_until(lambda: outcome(standin, ALICE))
    assert outcome(standin, ALICE) == ":white_check_mark: Already done"
    assert (await events(store, postmortem_id)).count("action_done") == 1


async def test_the_same_snooze_twice_shows_until_when(
    store: Store, standin: SlackStandin, slack: SlackDriver, reminded: tuple[int, int]
) -> None:
    postmortem_id, action_id = reminded
    await slack.click(dm(standin, BOB), SNOOZE, user=BOB, selected_option="1w")
    await standin.wait_until(lambda: "Snoozed for 1 week by <@U0BOB0001>" in outcome(standin, BOB))
    await slack.click(dm(standin, ALICE), SNOOZE, user=ALICE, selected_option="1w")
    await standin.wait_until(lambda: outcome(standin, ALICE))
    until = (await store.action(action_id)).snoozed_until  # type: ignore[union-attr]
    assert until is not None and outcome(standin, ALICE) == f":zzz: Already snoozed until {until:%Y-%m-%d %H:%M} UTC"
    assert (await events(store, postmortem_id)).count("action_snoozed") == 1


async def test_reassigning_to_the_owner_it_already_has_shows_the_owner(
    store: Store, standin: SlackStandin, slack: SlackDriver, reminded: tuple[int, int]
) -> None:
    postmortem_id, _ = reminded
    await slack.click(dm(standin, BOB), REASSIGN, user=BOB, selected_user=CAROL)
    await standin.wait_until(lambda: "Reassigned to <@U0CAROL01>" in outcome(standin, BOB))
    await slack.click(dm(standin, ALICE), REASSIGN, user=ALICE, selected_user=CAROL)
    await standin.wait_until(lambda: outcome(standin, ALICE))
    assert outcome(standin, ALICE) == ":arrow_right: Already owned by <@U0CAROL01>"
    assert (await events(store, postmortem_id)).count("action_reassigned") == 1


async def test_a_button_on_a_closed_action_says_it_is_closed(
    store: Store, standin: SlackStandin, slack: SlackDriver, reminded: tuple[int, int]
) -> None:
    postmortem_id, action_id = reminded
    found = await store.action(action_id)
    assert found is not None
    dropped = found.action.model_copy(update={"status": "wont_do", "status_reason": "superseded by inc-61"})
    await store.save_action(postmortem_id, dropped, ALICE)

    await slack.click(dm(standin, BOB), SNOOZE, user=BOB, selected_option="1d")
    await standin.wait_until(lambda: outcome(standin, BOB))
    assert outcome(standin, BOB) == ":no_entry_sign: Already closed as won't do"
    assert json.dumps(dm(standin, BOB)["blocks"]).count("reminder_snooze") == 0
