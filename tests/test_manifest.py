"""manifest.yml asks for what the app uses: its command, its events, and no scope more."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot import example
from bot.app import EVENTS_PATH, create_sweeper
from bot.config import Settings
from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
from bot.slackdev.standin import Call
from handlers.shortcuts.actions import ACTION_SHORTCUT
from handlers.shortcuts.timeline import TIMELINE_SHORTCUT
from storage.ledger import Ledger
from storage.store import Store

MANIFEST = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
    "conversations.canvases.create": "canvases:write",
    "canvases.create": "canvases:write",
    "canvases.edit": "canvases:write",
    "canvases.sections.lookup": "canvases:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "usergroups.list": "usergroups:read",
}
HISTORY_SCOPES = {"D": "im:history", "C": "channels:history", "G": "groups:history"}
INFO_SCOPES = {"C": "channels:read", "G": "groups:read"}
"""conversations.info (a lost canvas create looked for) needs the public or private channel's read scope."""
"""conversations.history and .replies need the scope of the conversation's kind: DM, public or private channel."""
NO_SCOPE = {
    "chat.getPermalink",
    "auth.test",
    "views.open",
    "views.push",
    "views.update",
    "views.publish",
    "response_url",
}
EVENT_SCOPES = {
    "reaction_added": "reactions:read",
    "pin_added": "pins:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}
"""The timeline's events, each delivered only with its scope."""
UNINSTALL_EVENTS = ("app_uninstalled", "tokens_revoked")
"""No scope: the OAuth install deletes the workspace's tokens on either."""
# the slash command itself; posting without an invite; the timeline events
NOT_A_METHOD = {"commands", "chat:write.public", "reactions:read", "pins:read"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every feature on, so that every scope is used."""
    return settings.model_copy(update={"postmortem_canvas": True})


def _scope(call: Call) -> str | None:
    if call.method in ("conversations.history", "conversations.replies"):
        return HISTORY_SCOPES[str(call.params["channel"])[0]]
    if call.method == "conversations.info":
        return INFO_SCOPES[str(call.params["channel"])[0]]
    return METHOD_SCOPES.get(call.method)


def test_every_request_url_is_the_apps_single_endpoint() -> None:
    settings = MANIFEST["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in MANIFEST["features"]["slash_commands"]),
    ]
    assert all(url.endswith(EVENTS_PATH) for url in urls)
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/postmortem"]
    assert settings["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        *EVENT_SCOPES,
        *UNINSTALL_EVENTS,
    ]
    assert [s["callback_id"] for s in MANIFEST["features"]["shortcuts"]] == [TIMELINE_SHORTCUT, ACTION_SHORTCUT]
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


async def test_scopes_are_exactly_what_the_bot_calls(
    settings: Settings, store: Store, standin: SlackStandin, slack: SlackDriver
) -> None:
    standin.drop_next("conversations.canvases.create")  # looked for in the channel (channels:read)
    standin.drop_next("chat.postMessage")  # the card's reply is lost: the next save looks for it in the channel
    walk = Walkthrough(slack, standin, "U0OPS0001", "C0INCIDENT")
    await walk.whole_example()
    standin.drop_next("chat.postMessage")  # the same in a private channel
    standin.drop_next("conversations.canvases.create")
    private = Walkthrough(slack, standin, "U0OPS0001", "G0PRIVATE1")
    await private.start("inc-private")
    await private.save({**example.ANSWERS["summary"], "incident_id": "inc-private"})
    await listeners_finished()  # the lost create is settled; the next save looks for its canvas
    await private.save(example.ANSWERS["what_happened"])
    await slack.command("status", user="U0OPS0001", channel="C0INCIDENT")
    for user in ("U0OPS0001", "U0SAFE001", "U0RUN0001"):
        standin.add_user(user, tz="UTC")
    await slack.command("insights", user="U0OPS0001", channel="C0INCIDENT")  # the chart's upload, the teams
    await listeners_finished()
    sweeper = create_sweeper(settings.model_copy(update={"reminder_workdays": "mon-sun"}), store)
    store.clock.set(store.clock.now().replace(hour=12) + timedelta(days=1))
    await sweeper.sweep()
    await Ledger(store).unknown(list(await Ledger(store).states())[:1], None)
    await sweeper.sweep()  # the unknown outcome makes it read the DM history
    await slack.app_home_opened("U0OPS0001")
    await standin.wait_until(lambda: standin.home_view("U0OPS0001"))

    called = {c.method for c in standin.calls}
    mapped = {*METHOD_SCOPES, "conversations.history", "conversations.replies", "conversations.info"}
    assert called - NO_SCOPE <= mapped, f"unmapped: {called - NO_SCOPE}"
    needed = {scope for c in standin.calls if (scope := _scope(c))}
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert needed <= granted, f"missing scopes: {needed - granted}"
    assert set(EVENT_SCOPES.values()) <= granted
    assert granted - NOT_A_METHOD <= needed, f"scopes nothing uses: {granted - NOT_A_METHOD - needed}"
