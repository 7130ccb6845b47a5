"""Trace links: the artifact ids of section 3 become links on the card, in the modals' context
lines and in the Markdown export; an id that is not one plain token is never a broken link."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import example
from bot.config import ConfigError, Settings, load_settings
from bot.demo import Walkthrough
from bot.slackdev import SlackDriver, SlackStandin
from storage.store import Store

CHANNEL = "C0INCIDENT"
TRACES = "https://traces.example.com/trace/{trace_id}"
SESSIONS = "https://traces.example.com/sessions/{session_id}?view=full"
CHANGES = "https://deploys.example.com/changes/{change_id}"
HOSTILE_SESSION = "abc> |<!channel> x"


@pytest.fixture
async def store(store: Store, settings: Settings) -> AsyncIterator[Store]:
    """The store as `postmortem-bot run` opens it: with the operator's link templates."""
    templates = {"trace_url_template": TRACES, "session_url_template": SESSIONS, "change_url_template": CHANGES}
    linked = load_settings(Settings, **(settings.model_dump() | templates), _env_file=None)
    yield Store(store.engine, store.clock, store.catalog, linked.link_templates)


async def _artifacts_saved(slack: SlackDriver, standin: SlackStandin, artifacts: dict[str, Any]) -> Walkthrough:
    walk = Walkthrough(slack, standin, example.OWNER, CHANNEL)
    await walk.start(example.INCIDENT_ID)
    for key in ("summary", "what_happened"):
        await walk.save(example.ANSWERS[key])
    result = await walk.save({**example.ANSWERS["artifacts"], **artifacts})
    assert not result.errors, result.errors
    return walk


def _card(standin: SlackStandin) -> str:
    return json.dumps(standin.messages(CHANNEL)[0]["blocks"], ensure_ascii=False)


async def test_ids_become_links_on_the_card_the_modals_and_the_markdown(
    store: Store, standin: SlackStandin, slack: SlackDriver
) -> None:
    walk = await _artifacts_saved(slack, standin, {"trace_id": "trace-09:001"})
    trace = "https://traces.example.com/trace/trace-09%3A001"
    session = "https://traces.example.com/sessions/session-2026-04-09-001?view=full"
    change = "https://deploys.example.com/changes/chg-2026-04-07-001"
    expected = f"Trace <{trace}|trace-09:001> \u00b7 Session <{session}|session-2026-04-09-001>"
    expected += f" \u00b7 Change <{change}|chg-2026-04-07-001>"

    await standin.wait_until(lambda: expected in _card(standin))
    context = walk.view()["blocks"][0]
    assert context["type"] == "context" and expected in context["elements"][0]["text"], "section 4's modal"

    result = await slack.command("export markdown", user=example.OWNER, channel=CHANNEL)
    exported = await standin.wait_until(lambda: standin.responses(result.response_url or ""))
    text = json.dumps(exported[-1]["blocks"])
    assert f"**trace_id:** [trace-09:001]({trace})" in text
    assert f"**change_id:** [chg-2026-04-07-001]({change})" in text


async def test_an_id_with_markup_is_shown_unlinked(store: Store, standin: SlackStandin, slack: SlackDriver) -> None:
    walk = await _artifacts_saved(slack, standin, {"session_id": HOSTILE_SESSION})
    shown = "Session abc&gt; |&lt;!channel&gt; x"

    await standin.wait_until(lambda: shown in _card(standin))
    card = _card(standin)
    assert "sessions/" not in card and "<!channel>" not in card
    assert "Trace <https://traces.example.com/trace/trace-2026-04-09-001|trace-2026-04-09-001>" in card
    assert shown in walk.view()["blocks"][0]["elements"][0]["text"]

    result = await slack.command("export markdown", user=example.OWNER, channel=CHANNEL)
    exported = await standin.wait_until(lambda: standin.responses(result.response_url or ""))
    text = json.dumps(exported[-1]["blocks"])
    assert "sessions/" not in text and "**session_id:** abc&gt; |&lt;!channel&gt; x" in text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://traces.example.com/trace/", "TRACE_URL_TEMPLATE: needs the placeholder {trace_id}"),
        ("https://t.example.com/{session_id}", "TRACE_URL_TEMPLATE: only {trace_id} may be in it, not {session_id}"),
        ("https://x.example.com/{trace_id}/{id}", "TRACE_URL_TEMPLATE: only {trace_id} may be in it, not {id}"),
        ("javascript:{trace_id}", "TRACE_URL_TEMPLATE: must be an http(s) address"),
    ],
)
def test_a_link_template_without_its_placeholder_is_refused_in_one_line(value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(
            Settings, slack_bot_token="xoxb-1", slack_signing_secret="s", trace_url_template=value, _env_file=None
        )
    assert str(refused.value).startswith("configuration error: " + reason)
    assert "\n" not in str(refused.value)
