"""The channel card ends on the newest state even when refreshes reach Slack out of order."""

from __future__ import annotations

import asyncio
import json

from bot import example
from bot.app import create_client
from bot.config import Settings
from bot.demo import Walkthrough
from bot.domain.catalog import builtin
from bot.domain.document import validate_section
from bot.slackdev import SlackDriver, SlackStandin
from handlers.support.refresh import refresh_card
from storage.store import Store

CHANNEL = "C0INCIDENT"


async def test_an_overtaken_refresh_renders_again(
    settings: Settings, store: Store, standin: SlackStandin, slack: SlackDriver
) -> None:
    await Walkthrough(slack, standin, example.OWNER, CHANNEL).start("inc-21")
    await standin.wait_until(lambda: "inc-21" in json.dumps(standin.messages(CHANNEL)[0]["blocks"]))
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    client = create_client(settings)

    standin.fail_next("chat.update", status=429, retry_after=1)
    slow = asyncio.create_task(refresh_card(client, store, record.id))  # renders "0/10", then waits 1 s
    await standin.wait_until(lambda: standin.calls_to("chat.update"))
    summary = validate_section("summary", {**example.ANSWERS["summary"], "incident_id": "inc-21"})
    await store.save_section(record.id, "summary", summary, record.version("summary"), example.OWNER, builtin())
    await refresh_card(client, store, record.id)  # renders "1/10" while the first one still waits
    await slow

    await standin.wait_until(lambda: "Sections done: 1/10" in json.dumps(standin.messages(CHANNEL)[0]["blocks"]))
    assert len(standin.messages(CHANNEL)) == 1
    assert 429 in [c.status for c in standin.calls_to("chat.update")]
