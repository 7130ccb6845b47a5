"""*Add to postmortem timeline*: the message, at its own time, after the user edits its summary."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.timeline import TimelineEntry, message_time
from handlers.builders.timeline import (
    ENTRY_CALLBACK,
    SUMMARY_BLOCK,
    SUMMARY_INPUT,
    EntryMeta,
    entry_modal,
    message_text,
)
from handlers.support.context import services
from handlers.support.errors import guarded
from handlers.support.lookups import GONE
from handlers.support.permissions import NOT_FOUND, Refused, check_team
from handlers.support.refresh import refresh_card, update_card
from handlers.support.timeline import entry_of

TIMELINE_SHORTCUT = "timeline_add"
NO_POSTMORTEM = (
    "This channel has no postmortem yet, so there is no timeline to add to. Start one with `/postmortem start`."
)


async def add_to_timeline(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    await ack()
    svc = services(context)
    team, channel = body["team"]["id"], body["channel"]["id"]
    record = await svc.store.by_channel(team, channel)
    if record is None:
        await respond(text=NO_POSTMORTEM, response_type="ephemeral", replace_original=False)
        return
    entry = await entry_of(client, channel, body["message"], "shortcut")
    meta = EntryMeta(
        team=team,
        channel=channel,
        postmortem=record.id,
        ts=entry.message_ts,
        author=entry.author,
        permalink=entry.permalink,
        files=tuple(entry.files),
    ).keyed(svc.metadata_key)
    await client.views_open(trigger_id=body["trigger_id"], view=entry_modal(meta, entry.text))


async def save_entry(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    svc = services(context)
    meta = EntryMeta.load(view["private_metadata"], svc.metadata_key)
    check_team(meta.team, body)
    record = await svc.store.get(meta.postmortem)
    if record is None:
        await ack(response_action="errors", errors={SUMMARY_BLOCK: GONE})
        return
    if (record.team_id, record.channel_id) != (meta.team, meta.channel):
        raise Refused(NOT_FOUND, f"entry metadata of {meta.team}/{meta.channel} names postmortem {record.id}")
    await ack()
    text = message_text(view)
    typed = str(view["state"]["values"][SUMMARY_BLOCK][SUMMARY_INPUT].get("value") or "")
    entry = TimelineEntry(
        message_ts=meta.ts,
        at=message_time(meta.ts),
        author=meta.author,
        text=text,
        summary=None if typed == text else typed,
        permalink=meta.permalink,
        files=list(meta.files),
    )
    if await svc.store.add_to_timeline(record.id, entry, body["user"]["id"]):
        await update_card(record.id, refresh_card(client, svc.store, record.id))


def register(app: AsyncApp) -> None:
    app.shortcut(TIMELINE_SHORTCUT)(guarded(add_to_timeline))
    app.view(ENTRY_CALLBACK)(guarded(save_entry))
