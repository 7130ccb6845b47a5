"""*Create corrective action*: section 8's action form, prefilled from a message and linking back to it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import template as t
from bot.domain.clip import clip
from bot.domain.timeline import readable
from handlers.builders.modals import ActionFormMeta, action_form
from handlers.support.context import services
from handlers.support.errors import guarded
from handlers.support.permissions import request_team
from handlers.support.timeline import permalink

ACTION_SHORTCUT = "create_corrective_action"
NO_POSTMORTEM = (
    "This channel has no postmortem yet, so there is nowhere to add a corrective action. "
    "Start one with `/postmortem start`, then use the shortcut again."
)


def _title(template: t.Template, message: dict[str, Any]) -> dict[str, Any]:
    """The message's text as the action's title, as readers see it and as long as the field allows."""
    key = template.action_key(t.ActionRole.TITLE)
    text = readable(str(message.get("text") or "")).strip()
    return {key: clip(text, template.action_field(key).text_limit)} if key and text else {}


async def create_action(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """Opens the form on the shortcut's trigger; the action is stored when the form is submitted."""
    await ack()
    svc = services(context)
    channel, message = body["channel"]["id"], body["message"]
    record = await svc.store.by_channel(request_team(body), channel)
    if record is None:
        await respond(text=NO_POSTMORTEM, response_type="ephemeral", replace_original=False)
        return
    meta = ActionFormMeta(postmortem=record.id, source=await permalink(client, channel, str(message["ts"])))
    view = action_form(meta.keyed(svc.metadata_key), None, record.template, _title(record.template, message))
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def register(app: AsyncApp) -> None:
    app.shortcut(ACTION_SHORTCUT)(guarded(create_action))
