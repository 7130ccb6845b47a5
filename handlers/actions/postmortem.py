"""block_actions: the card's buttons and the buttons inside modals."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.builders import exports
from handlers.builders.card import CARD_CONTINUE, CARD_EDIT, CARD_EXPORT
from handlers.builders.modals import (
    ADD_ACTION,
    ADD_CASE,
    CASE_MENU,
    EDIT_ACTION,
    NEXT_PAGE,
    PREVIOUS_PAGE,
    USE_THEIRS,
    ActionFormMeta,
    CaseFormMeta,
    SectionMeta,
    action_form,
    actions_view,
    case_form,
    finished_view,
    parse_meta,
    section_view,
)
from handlers.builders.timeline import REMOVE, entry_choice
from handlers.support.canvas import keep_canvas
from handlers.support.context import Services, services
from handlers.support.errors import guarded
from handlers.support.lookups import GONE, action_to_change, find_postmortem, meta_for
from handlers.support.permissions import NOT_FOUND, Refused
from handlers.support.refresh import refresh_card, update_card
from handlers.support.timeline import show_again
from storage.records import PostmortemRecord


async def _card_postmortem(
    body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> PostmortemRecord | None:
    """The postmortem of the card's channel; a card outliving its postmortem says so."""
    record = await services(context).store.by_channel(body["team"]["id"], body["channel"]["id"])
    if record is None:
        await respond(text=GONE, response_type="ephemeral", replace_original=False)
    return record


async def edit_section(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    await ack()
    record = await _card_postmortem(body, context, respond)
    if record is None:
        return
    section = record.template.section(action["value"])
    svc = services(context)
    view = section_view(record.template, section, record, meta_for(svc, record, section))
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def continue_postmortem(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """Opens the first section that is not done yet, or the summary when all are."""
    await ack()
    record = await _card_postmortem(body, context, respond)
    if record is None:
        return
    section = next((s for s in record.template.sections if record.doc.state(s) != "done"), None)
    if section is None:
        view = finished_view(record)
    else:
        svc = services(context)
        view = section_view(record.template, section, record, meta_for(svc, record, section))
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def export_from_card(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    await ack()
    record = await _card_postmortem(body, context, respond)
    if record is None:
        return
    await respond(**await exports.export_message(record, "yaml"), replace_original=False)


async def _modal_postmortem(svc: Services, body: dict[str, Any]) -> tuple[SectionMeta, PostmortemRecord | None]:
    """The section modal a button was pressed in: its sealed metadata, and the postmortem it is of."""
    meta = parse_meta(body["view"]["private_metadata"], SectionMeta, svc.metadata_key)
    return meta, await find_postmortem(svc, meta, body)


async def use_theirs(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Reload the section with what a colleague saved; the user's own text is discarded by choice."""
    await ack()
    svc = services(context)
    view = body["view"]
    meta, record = await _modal_postmortem(svc, body)
    if record is None:
        return
    section = record.template.section(meta.section)
    fresh = meta_for(svc, record, section, revision=meta.revision + 1)
    await client.views_update(
        view_id=view["id"], hash=view["hash"], view=section_view(record.template, section, record, fresh)
    )


async def open_action_form(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    svc = services(context)
    _, record = await _modal_postmortem(svc, body)
    if record is None:
        return
    action_id = int(action["value"]) if action["action_id"] == EDIT_ACTION else None
    existing = action_to_change(record, action_id, body["user"]["id"])
    form_meta = ActionFormMeta(postmortem=record.id, action=action_id, parent_view=body["view"]["id"])
    form_meta.keyed(svc.metadata_key)
    await client.views_push(trigger_id=body["trigger_id"], view=action_form(form_meta, existing, record.template))


async def add_case(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Add eval case, under the section that lists the cases: pushes an empty case form."""
    await ack()
    svc = services(context)
    meta, record = await _modal_postmortem(svc, body)
    if record is not None:
        await _push_case_form(client, svc, body, meta, record, None)


async def case_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """A listed case's menu: Edit pushes its form; Remove takes it off and lists the cases again."""
    await ack()
    svc = services(context)
    meta, record = await _modal_postmortem(svc, body)
    if record is None:
        return
    choice, case_id = entry_choice(action["selected_option"]["value"])
    if all(c.id != case_id for c in record.doc.evals):
        raise Refused(NOT_FOUND, f"eval case {case_id} is not in postmortem {record.id}")
    if choice != REMOVE:
        await _push_case_form(client, svc, body, meta, record, case_id)
    elif await svc.store.remove_case(record.id, case_id, body["user"]["id"]):
        await show_again(client, svc, body["view"]["id"], meta)
        await update_card(record.id, refresh_card(client, svc.store, record.id))
        await keep_canvas(svc, client, record.id)


async def _push_case_form(
    client: AsyncWebClient,
    svc: Services,
    body: dict[str, Any],
    meta: SectionMeta,
    record: PostmortemRecord,
    case_id: int | None,
) -> None:
    existing = next((c for c in record.doc.evals if c.id == case_id), None)
    form_meta = CaseFormMeta(postmortem=record.id, case=case_id, parent_view=body["view"]["id"], parent=meta)
    form_meta.keyed(svc.metadata_key)
    await client.views_push(trigger_id=body["trigger_id"], view=case_form(form_meta, existing, record))


async def turn_page(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Previous and Next under section 8's list: the same modal, showing the page before or after.

    No ``hash``: every update of this view renders the stored actions, so the last one is right.
    """
    await ack()
    svc = services(context)
    view = body["view"]
    meta, record = await _modal_postmortem(svc, body)
    if record is None:
        return
    page = max(0, (meta.page or 0) + (1 if action["action_id"] == NEXT_PAGE else -1))
    fresh = meta_for(svc, record, record.template.actions_section).model_copy(update={"page": page})
    await client.views_update(view_id=view["id"], view=actions_view(record.template, record, fresh))


def register(app: AsyncApp) -> None:
    app.action(CARD_EDIT)(guarded(edit_section))
    app.action(CARD_CONTINUE)(guarded(continue_postmortem))
    app.action(CARD_EXPORT)(guarded(export_from_card))
    app.action(USE_THEIRS)(guarded(use_theirs))
    app.action(ADD_ACTION)(guarded(open_action_form))
    app.action(EDIT_ACTION)(guarded(open_action_form))
    app.action(ADD_CASE)(guarded(add_case))
    app.action(CASE_MENU)(guarded(case_menu))
    app.action(PREVIOUS_PAGE)(guarded(turn_page))
    app.action(NEXT_PAGE)(guarded(turn_page))
