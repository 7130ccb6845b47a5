"""User text never becomes a mention: `<!channel>` typed or imported is shown, not broadcast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from bot import example
from bot.app import create_client, create_sweeper
from bot.config import Settings
from bot.domain.document import CorrectiveAction, Postmortem
from bot.slackdev import SlackDriver, SlackStandin
from handlers.support.refresh import refresh_card
from storage.store import Store

CHANNEL = "C0INCIDENT"
BOB = "U0BOB0001"
BROADCASTS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S0TEAM>")


def _hostile(due: date) -> Postmortem:
    """As an imported file can have it: every free-text place carries a broadcast mention."""
    answers = {key: dict(data) for key, data in example.ANSWERS.items()}
    answers["summary"] |= {"incident_id": "<!channel> inc", "owner": "<!here> platform team", "summary": "<!everyone>"}
    answers["root_cause"]["contributing"] = ["<!subteam^S0TEAM> on call", "stale gate"]
    actions = [
        CorrectiveAction(action="<!channel> fix it", kind="other", owner=BOB, due=due),
        CorrectiveAction(action="<!here> and this", kind="other", owner="<!channel> ping"),
    ]
    return Postmortem(incident_id="<!channel> inc", answers=answers, actions=actions)


def _mrkdwn(value: Any) -> Iterator[str]:
    """Every string Slack parses for mentions: mrkdwn text objects and messages' top-level ``text``.

    ``plain_text`` objects (header blocks, modal titles) are shown as typed and never notify.
    """
    if isinstance(value, dict):
        if value.get("type") != "plain_text":
            yield from (v for k, v in value.items() if k == "text" and isinstance(v, str))
        for v in value.values():
            yield from _mrkdwn(v)
    elif isinstance(value, list):
        for v in value:
            yield from _mrkdwn(v)


def _sent_mrkdwn(standin: SlackStandin) -> str:
    shown = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish", "response_url")
    return "\n".join(text for c in standin.calls if c.method in shown for text in _mrkdwn(c.params))


async def test_imported_mentions_are_shown_escaped_on_every_surface(
    settings: Settings, store: Store, standin: SlackStandin, slack: SlackDriver
) -> None:
    hostile = _hostile(due=store.clock.now().date())
    postmortem_id = await store.import_postmortem(standin.team_id, CHANNEL, hostile, example.OWNER)
    standin.add_user(BOB, tz="UTC")
    await refresh_card(create_client(settings), store, postmortem_id)
    await slack.command("status", user=BOB, channel=CHANNEL)
    await slack.command("export markdown", user=BOB, channel=CHANNEL)
    await create_sweeper(settings.model_copy(update={"reminder_workdays": "mon-sun"}), store).sweep()
    await slack.app_home_opened(BOB)
    await standin.wait_until(lambda: standin.home_view(BOB) and len(standin.calls_to("response_url")) >= 2)

    sent = _sent_mrkdwn(standin)
    assert not [b for b in BROADCASTS if b in sent], "a broadcast mention reached Slack unescaped"
    card = json.dumps(standin.messages(CHANNEL)[0])
    assert "&lt;!channel&gt; inc" in card and "&lt;!here&gt; platform team" in card, "shown, not dropped"
    assert "&lt;!channel&gt; fix it" in json.dumps(standin.messages(standin.dm_channel(BOB)))
