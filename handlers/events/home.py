"""App Home opened: the person's App Home, published as it is now."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.support.context import services
from handlers.support.refresh import publish_home


async def app_home_opened(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if event.get("tab", "home") != "home":
        return
    svc = services(context)
    await publish_home(client, svc.store, body["team_id"], event["user"], svc.groups)


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(app_home_opened)
