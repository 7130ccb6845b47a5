"""`LOG_FORMAT=json`: each line of a Slack request names the request, and the error a user saw."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import example
from bot.cli import JsonLines
from bot.demo import Walkthrough, metadata
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.modals import SectionMeta
from handlers.support.metadata import metadata_key
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The bot's log lines as ``LOG_FORMAT=json`` writes them."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("postmortem_bot")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


async def test_an_error_line_names_the_request_and_the_ref_the_user_saw(
    slack: SlackDriver, standin: SlackStandin, json_log: io.StringIO
) -> None:
    view = await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-j1")
    kept = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    broken = SectionMeta(**{**metadata(view), "section": "no-such"}).keyed(metadata_key(SIGNING_SECRET)).dump()
    assert standin.replace_view(view["id"], {**kept, "private_metadata": broken}) == []
    result = await slack.submit(standin.view(view["id"]), user=ALICE)
    assert result.view is not None
    shown = json.dumps(result.view["blocks"]).split("ref `", 1)[1].split("`", 1)[0]
    logging.getLogger("postmortem_bot.test").warning("after the request")

    entries = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (failure,) = [e for e in entries if e["logger"] == "postmortem_bot.errors"]
    assert failure["level"] == "ERROR" and "Traceback" in failure["exception"]
    assert {k: failure.get(k) for k in ("team", "user", "channel", "surface", "ref")} == {
        "team": standin.team_id,
        "user": ALICE,
        "channel": None,  # a modal's submission names no channel
        "surface": "view_submission",
        "ref": shown,
    }
    assert entries[-1]["message"] == "after the request" and "team" not in entries[-1], "cleared after the request"
    assert BOT_TOKEN not in json_log.getvalue() and SIGNING_SECRET not in json_log.getvalue()
