"""block_actions: the menu on each row of section 2's timeline (Edit, Remove)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.builders.modals import SectionMeta, parse_meta
from handlers.builders.timeline import ENTRY_MENU, REMOVE, EditMeta, edit_modal, entry_choice
from handlers.support.context import services
from handlers.support.errors import guarded
from handlers.support.lookups import find_postmortem
from handlers.support.permissions import NOT_FOUND, Refused
from handlers.support.refresh import refresh_card, update_card
from handlers.support.timeline import show_again


async def entry_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Edit pushes the summary modal; Remove takes the entry off and lists the timeline again.

    The postmortem is the one the section modal's sealed metadata names, checked against the
    clicking user's team and channel; the entry must be on that postmortem's timeline.
    """
    await ack()
    svc = services(context)
    view = body["view"]
    meta = parse_meta(view["private_metadata"], SectionMeta, svc.metadata_key)
    record = await find_postmortem(svc, meta, body)
    if record is None:
        return
    choice, entry_id = entry_choice(action["selected_option"]["value"])
    entry = next((e for e in record.doc.timeline if e.id == entry_id), None)
    if entry is None:
        raise Refused(NOT_FOUND, f"timeline entry {entry_id} is not in postmortem {record.id}")
    if choice != REMOVE:
        edit = EditMeta(entry=entry_id, parent_view=view["id"], parent_meta=view["private_metadata"])
        await client.views_push(trigger_id=body["trigger_id"], view=edit_modal(edit.keyed(svc.metadata_key), entry))
        return
    if await svc.store.remove_from_timeline(record.id, entry_id, body["user"]["id"]):
        await show_again(client, svc, view["id"], meta)
        await update_card(record.id, refresh_card(client, svc.store, record.id))


def register(app: AsyncApp) -> None:
    app.action(ENTRY_MENU)(guarded(entry_menu))
