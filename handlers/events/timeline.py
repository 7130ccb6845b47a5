"""Timeline events: the configured reaction and pins add a message; edits and deletions follow it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.timeline import plain_text
from handlers.support.context import services
from handlers.support.refresh import refresh_card, update_card
from handlers.support.timeline import capture, file_links, message_at


async def reaction_added(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The event names the message only (a thread reply too): it is read back from its thread."""
    svc = services(context)
    item = event.get("item") or {}
    if event.get("reaction") != svc.timeline_reaction or item.get("type") != "message":
        return
    channel, ts = item["channel"], item["ts"]
    if await svc.store.by_channel(body["team_id"], channel) is None:
        return
    if (message := await message_at(client, channel, ts)) is not None:
        await capture(client, svc, body["team_id"], channel, message, "reaction", event["user"])


async def pin_added(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    item = event.get("item") or {}
    if item.get("type") == "message" and item.get("message"):
        channel = event.get("channel_id") or item["channel"]
        await capture(client, services(context), body["team_id"], channel, item["message"], "pin", event["user"])


async def message_changed(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    svc = services(context)
    record = await svc.store.by_channel(body["team_id"], event["channel"])
    message = event.get("message") or {}
    if record is None or "ts" not in message:
        return
    text = plain_text(str(message.get("text") or ""))
    if await svc.store.message_changed(record.id, message["ts"], text, file_links(message)):
        await update_card(record.id, refresh_card(client, svc.store, record.id))


async def message_deleted(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    svc = services(context)
    record = await svc.store.by_channel(body["team_id"], event["channel"])
    if record is not None and event.get("deleted_ts"):
        await svc.store.message_deleted(record.id, event["deleted_ts"])


async def other_message(event: dict[str, Any]) -> None:
    """Messages the channel subscription delivers that the timeline does not follow."""


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(reaction_added)
    app.event("pin_added")(pin_added)
    app.event({"type": "message", "subtype": "message_changed"})(message_changed)
    app.event({"type": "message", "subtype": "message_deleted"})(message_deleted)
    app.event("message")(other_message)
