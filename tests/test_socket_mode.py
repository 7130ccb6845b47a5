"""Socket Mode end to end: the real app behind Bolt's AsyncSocketModeHandler, connected
to the stand-in's apps.connections.open and WebSocket, as ``postmortem-bot run`` does
when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import create_app, web_api_session
from bot.config import Settings
from bot.demo import metadata
from bot.domain.catalog import default_catalog
from bot.slackdev import ACK_DEADLINE_SECONDS, SlackStandin
from handlers.commands.postmortem import NOT_IN_DM, help_text
from storage.store import Store

pytestmark = pytest.mark.filterwarnings("error")

CHANNEL = "C0SOCKET01"
ALICE = "U0ALICE001"
_BACKGROUND = ("run_ack_function_asynchronously", "run_message_listeners")
"""Bolt's listeners after the ack, and slack_sdk's per-envelope tasks."""


async def _background_finished() -> None:
    """Let the app's work on delivered envelopes end before the database goes away."""
    running = [t for t in asyncio.all_tasks() if any(name in repr(t.get_coro()) for name in _BACKGROUND)]
    if running:
        await asyncio.wait(running, timeout=10)


def _socket_mode_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running slack_sdk's or Bolt's Socket Mode code."""
    code = [(t, getattr(t.get_coro(), "cr_code", None)) for t in asyncio.all_tasks() if not t.done()]
    return [t for t, c in code if c is not None and "socket_mode" in c.co_filename]


@pytest.fixture
def socket_settings(settings: Settings, standin: SlackStandin) -> Settings:
    """Validated as the operator's environment would be: an app token and no signing secret."""
    return Settings(
        **settings.model_dump(exclude={"slack_signing_secret", "slack_app_token"}),
        slack_app_token=standin.app_token,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def handler(socket_settings: Settings, store: Store) -> AsyncIterator[AsyncSocketModeHandler]:
    """The real app connected over Socket Mode, wired as bot.cli._serve wires it."""
    assert socket_settings.socket_mode and socket_settings.slack_signing_secret is None
    async with web_api_session() as session:
        app = create_app(socket_settings, store, session)
        socket_handler = AsyncSocketModeHandler(app, socket_settings.slack_app_token)
        # apps.connections.open goes through this client, so it reaches the stand-in
        assert socket_handler.client.web_client is app.client
        await socket_handler.connect_async()
        try:
            yield socket_handler
        finally:
            await _background_finished()
            await socket_handler.close_async()
            client = socket_handler.client
            cancelled = [client.message_processor, client.current_session_monitor, client.message_receiver]
            await asyncio.gather(*(t for t in cancelled if t is not None), return_exceptions=True)
            assert _socket_mode_tasks() == []


# --------------------------------------------------------------------------
# the app over Socket Mode


async def test_start_over_socket_mode_opens_the_summary_and_posts_the_card(
    handler: AsyncSocketModeHandler, standin: SlackStandin, store: Store
) -> None:
    assert len(standin.calls_to("apps.connections.open")) == 1
    assert len(standin.socket_connections()) == 1

    sent = time.monotonic()
    envelope_id = await standin.socket_command("start inc-socket-1", user=ALICE, channel=CHANNEL)
    ack = await standin.wait_until(lambda: standin.socket_ack(envelope_id), timeout=ACK_DEADLINE_SECONDS)
    assert time.monotonic() - sent < ACK_DEADLINE_SECONDS
    assert ack == {"envelope_id": envelope_id}, "start acks empty and answers through views.open"

    trigger_id = standin.socket_envelope(envelope_id)["payload"]["trigger_id"]
    view = await standin.wait_until(lambda: standin.current_view(ALICE))
    (opened,) = standin.calls_to("views.open")
    assert opened.params["trigger_id"] == trigger_id and opened.response and opened.response["ok"]
    assert view["title"]["text"] == "1/10 Summary"

    (card,) = await standin.wait_until(lambda: standin.messages(CHANNEL))
    assert "inc-socket-1" in json.dumps(card["blocks"])
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id == "inc-socket-1"
    assert (metadata(view)["team"], metadata(view)["channel"]) == (record.team_id, CHANNEL)


async def test_help_over_socket_mode_is_the_ack_payload(handler: AsyncSocketModeHandler, standin: SlackStandin) -> None:
    help_id = await standin.socket_command("help", user=ALICE, channel=CHANNEL)
    in_dm_id = await standin.socket_command("start", user=ALICE, channel=standin.dm_channel(ALICE))

    help_ack = await standin.wait_until(lambda: standin.socket_ack(help_id))
    in_dm_ack = await standin.wait_until(lambda: standin.socket_ack(in_dm_id))
    assert help_ack == {"envelope_id": help_id, "payload": {"text": help_text(default_catalog())}}
    assert in_dm_ack == {"envelope_id": in_dm_id, "payload": {"text": NOT_IN_DM}}
    assert standin.calls_to("views.open") == [] and standin.messages(CHANNEL) == []


async def test_the_app_reconnects_when_slack_asks_it_to(handler: AsyncSocketModeHandler, standin: SlackStandin) -> None:
    (first,) = standin.socket_connections()
    await standin.socket_disconnect("refresh_requested")

    (second,) = await standin.wait_until(lambda: (c := standin.socket_connections()) != [first] and c)
    assert second != first and len(standin.calls_to("apps.connections.open")) == 2
    envelope_id = await standin.socket_command("help", user=ALICE, channel=CHANNEL)
    ack = await standin.wait_until(lambda: standin.socket_ack(envelope_id))
    assert ack["payload"] == {"text": help_text(default_catalog())}


# --------------------------------------------------------------------------
# the stand-in's side of the protocol


async def _slack_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value.response["error"]


async def test_apps_connections_open_wants_the_app_level_token_in_the_header(standin: SlackStandin) -> None:
    client = AsyncWebClient(base_url=standin.api_url, retry_handlers=[])
    bot = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[])
    as_app = AsyncWebClient(token=standin.app_token, base_url=standin.api_url, retry_handlers=[])

    opened = await client.apps_connections_open(app_token=standin.app_token)
    assert opened["url"].startswith(standin.socket_url) and standin.socket_url.startswith("ws://127.0.0.1:")
    assert await _slack_error(client.apps_connections_open(app_token=standin.bot_token)) == "not_allowed_token_type"
    assert await _slack_error(client.apps_connections_open(app_token="xapp-1-A0OTHER-forged")) == "invalid_auth"
    assert await _slack_error(as_app.auth_test()) == "not_allowed_token_type"
    assert (await bot.auth_test())["ok"]
    async with aiohttp.ClientSession() as session:
        # Slack refuses the app-level token as a POST parameter: it must come as a Bearer header
        answer = await session.post(standin.api_url + "apps.connections.open", data={"token": standin.app_token})
        assert (await answer.json()) == {"ok": False, "error": "not_authed"}


async def test_a_connection_is_greeted_then_carries_envelopes_and_acks(standin: SlackStandin) -> None:
    client = AsyncWebClient(base_url=standin.api_url, retry_handlers=[])
    url = (await client.apps_connections_open(app_token=standin.app_token))["url"]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(standin.socket_url + "no-such-ticket")
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=2)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": standin.app_id}

            event = {"type": "event_callback", "team_id": standin.team_id, "event": {"type": "app_home_opened"}}
            envelope_id = await standin.socket_send("events_api", event)
            envelope = await ws.receive_json(timeout=2)
            assert envelope == {
                "envelope_id": envelope_id,
                "type": "events_api",
                "payload": event,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
            assert standin.socket_envelope(envelope_id) == envelope
            assert standin.socket_ack(envelope_id) is None

            await ws.send_str("not json")
            await ws.send_json({"envelope_id": "unknown"})
            await ws.send_json({"envelope_id": envelope_id})
            await ws.send_json({"envelope_id": envelope_id, "payload": {"text": "a second ack is ignored"}})
            assert await standin.wait_until(lambda: standin.socket_ack(envelope_id)) == {"envelope_id": envelope_id}

            command_id = await standin.socket_command("help", user=ALICE, channel=CHANNEL)
            command = await ws.receive_json(timeout=2)
            payload = command["payload"]
            assert command["type"] == "slash_commands" and command["accepts_response_payload"] is True
            assert command["envelope_id"] == command_id and payload["text"] == "help"
            assert (payload["command"], payload["user_id"], payload["channel_id"]) == ("/postmortem", ALICE, CHANNEL)
            assert payload["response_url"].startswith(standin.url + "/response/")
            assert standin.socket_connections() == [standin.socket_connections(include_closed=True)[0]]
        await standin.wait_until(lambda: standin.socket_connections() == [])
    with pytest.raises(TimeoutError):
        await standin.socket_send("events_api", event, timeout=0.05)


async def test_closing_the_stand_in_closes_open_connections() -> None:
    server = await SlackStandin().start()
    client = AsyncWebClient(base_url=server.api_url, retry_handlers=[])
    url = (await client.apps_connections_open(app_token=server.app_token))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=2))["type"] == "hello"
        closing = asyncio.ensure_future(server.close())
        goodbye = await ws.receive(timeout=2)
        await asyncio.wait_for(closing, timeout=2)
    assert (goodbye.type, goodbye.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
    assert server.socket_connections() == []
