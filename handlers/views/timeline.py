"""view_submission: the summary of a timeline entry, edited from section 2's list."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.builders.modals import SectionMeta, parse_meta
from handlers.builders.timeline import EDIT_CALLBACK, SUMMARY_BLOCK, EditMeta, typed_summary
from handlers.support.context import services
from handlers.support.errors import guarded
from handlers.support.lookups import GONE, find_postmortem
from handlers.support.permissions import NOT_FOUND, Refused
from handlers.support.refresh import refresh_card, update_card
from handlers.support.timeline import show_again


async def save_summary(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Stores the summary, closes this modal and lists the timeline again in the section modal under it."""
    svc = services(context)
    meta = parse_meta(view["private_metadata"], EditMeta, svc.metadata_key)
    parent = parse_meta(meta.parent_meta, SectionMeta, svc.metadata_key)
    record = await find_postmortem(svc, parent, body)
    if record is None:
        await ack(response_action="errors", errors={SUMMARY_BLOCK: GONE})
        return
    if not await svc.store.set_summary(record.id, meta.entry, typed_summary(view), body["user"]["id"]):
        raise Refused(NOT_FOUND, f"timeline entry {meta.entry} is not in postmortem {record.id}")
    await ack()
    await show_again(client, svc, meta.parent_view, parent)
    await update_card(record.id, refresh_card(client, svc.store, record.id))


def register(app: AsyncApp) -> None:
    app.view(EDIT_CALLBACK)(guarded(save_summary))
