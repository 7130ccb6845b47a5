"""view_submission: "Save & next" on a section, and saving the corrective-action form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import template as t
from bot.domain.document import SectionErrors, action_answers, validate_action, validate_section
from bot.domain.evals import ACTIONS_KEY, CASE_FIELDS, CaseErrors, validate_case
from handlers.builders.fields import error_blocks, read_state
from handlers.builders.modals import (
    ACTION_FORM_CALLBACK,
    CASE_FORM_CALLBACK,
    SECTION_CALLBACK,
    ActionFormMeta,
    CaseFormMeta,
    SectionMeta,
    actions_view,
    conflict_view,
    finished_view,
    notice_view,
    parse_meta,
    section_view,
)
from handlers.support.canvas import keep_canvas
from handlers.support.context import Services, services
from handlers.support.errors import UNKNOWN_OUTCOME, guarded
from handlers.support.lookups import GONE, action_to_change, find_postmortem, meta_for
from handlers.support.permissions import NOT_FOUND, Refused, check_team
from handlers.support.refresh import refresh_card, render_card, update_card
from storage.records import Conflict, IncidentIdTaken, PostmortemRecord, SavedSection

log = logging.getLogger(__name__)


async def started_with(svc: Services, meta: SectionMeta) -> t.Template | None:
    """The template version a ``/postmortem start`` form was opened with; None (the default) for an older form."""
    if meta.template is None or meta.template_version is None:
        return None
    known = svc.catalog.known(meta.template, meta.template_version)
    return known or await svc.store.stored_template(meta.template, meta.template_version)


async def _save_answers(
    ack: AsyncAck,
    svc: Services,
    record: PostmortemRecord,
    section: t.Section,
    meta: SectionMeta,
    state: dict[str, Any],
    user: str,
) -> SavedSection | None:
    """Validate and store a form section; answers the modal itself when it must stay open (then None).

    The save takes the card's render lease: the caller renders the card (or it stays
    out of date until the lease expires).
    """
    previous = record.sections.get(section.key)
    raw = read_state(section.fields, state, previous.data if previous else None)
    try:
        data = validate_section(section.key, raw, record.template)
    except SectionErrors as exc:
        await ack(response_action="errors", errors=error_blocks(exc.errors, state))
        return None
    base = meta.version if meta.version is not None else (-1 if previous else 0)
    try:
        return await svc.store.save_section(record.id, section.key, data, base, user, record.template, take_card=True)
    except Conflict as exc:
        retry = meta.model_copy(
            update={"postmortem": record.id, "version": exc.current.version, "revision": meta.revision + 1}
        )
        await ack(response_action="update", view=conflict_view(record.template, section, retry, data, exc.current))
    except IncidentIdTaken as exc:
        incident_id = record.template.role(t.Role.INCIDENT_ID)
        field = incident_id.field if incident_id else ""
        await ack(response_action="errors", errors=error_blocks({field: f"{exc}."}, state))
    return None


async def submit_section(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    svc = services(context)
    meta = parse_meta(view["private_metadata"], SectionMeta, svc.metadata_key)
    record = await find_postmortem(svc, meta, body)
    if record is None and meta.postmortem is None:  # opened by a start whose postmortem was not created
        template = await started_with(svc, meta)
        record, _ = await svc.store.open_postmortem(meta.team, meta.channel, body["user"]["id"], None, template)
    if record is None:
        await ack(response_action="update", view=notice_view("Postmortem", GONE))
        return
    section = record.template.section(meta.section)
    if section.is_action_list:  # nothing to store: its actions are saved one by one
        await ack(response_action="update", view=_view_after(svc, record, section))
        return
    saved = await _save_answers(ack, svc, record, section, meta, view["state"]["values"], body["user"]["id"])
    if saved is None:
        return
    record = record.with_section(section.key, saved.snapshot)
    try:
        await ack(response_action="update", view=_view_after(svc, record, section))
    finally:  # the save holds the card's render lease: render even if the answer to Slack failed
        await svc.foreground.turn()
        await update_card(record.id, render_card(client, svc.store, saved.card, record))
        await keep_canvas(svc, client, record.id)


def _view_after(svc: Services, record: PostmortemRecord, section: t.Section) -> dict[str, Any]:
    """The next section's modal (its stored answers and version are not changed by this save), or the end."""
    following = record.template.section_after(section)
    if following is None:
        return finished_view(record)
    return section_view(record.template, following, record, meta_for(svc, record, following))


async def _form_postmortem(
    ack: AsyncAck, svc: Services, body: dict[str, Any], postmortem_id: int
) -> PostmortemRecord | None:
    """The postmortem a pushed form saves into, refused unless it is the requesting team's; a
    postmortem gone meanwhile is said in the form (None)."""
    record = await svc.store.get(postmortem_id)
    if record is None:
        await ack(response_action="update", view=notice_view("Postmortem", GONE))
        return None
    check_team(record.team_id, body)
    return record


async def submit_action(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    svc = services(context)
    meta = parse_meta(view["private_metadata"], ActionFormMeta, svc.metadata_key)
    record = await _form_postmortem(ack, svc, body, meta.postmortem)
    if record is None:
        return
    state = view["state"]["values"]
    previous = action_to_change(record, meta.action, body["user"]["id"])
    template = record.template
    raw = read_state(template.action_fields, state, action_answers(template, previous) if previous else None)
    try:
        action = validate_action(raw, meta.action, template)
    except SectionErrors as exc:
        await ack(response_action="errors", errors=error_blocks(exc.errors, state))
        return
    action = action.model_copy(update={"source": previous.source if previous else meta.source})
    saved = await svc.store.save_action(record.id, action, body["user"]["id"], form_view=view["id"])
    await ack()
    record = await svc.store.get(record.id)
    assert record is not None
    if meta.parent_view is not None:
        await _show_actions(client, svc, record, meta.parent_view, saved)
    await update_card(record.id, refresh_card(client, svc.store, record.id))
    await keep_canvas(svc, client, record.id)


async def _show_actions(
    client: AsyncWebClient, svc: Services, record: PostmortemRecord, view_id: str, focus: int
) -> None:
    """Section 8's list the form was pushed from, on the page of the action just saved."""
    template = record.template
    listed = actions_view(template, record, meta_for(svc, record, template.actions_section), focus=focus)
    try:
        await client.views_update(view_id=view_id, view=listed)
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:  # e.g. the list was closed meanwhile: the save stands
        log.info("section 8 list %s not refreshed after a save: %r", view_id, exc)


def _linked_actions(state: dict[str, Any], record: PostmortemRecord) -> list[int]:
    """The actions ticked on the case form; only this postmortem's own can be linked."""
    element = state.get(ACTIONS_KEY, {}).get(ACTIONS_KEY) or {}
    chosen = [int(o["value"]) for o in element.get("selected_options") or [] if str(o.get("value", "")).isdigit()]
    own = {a.id for a in record.doc.actions}
    if stray := [a for a in chosen if a not in own]:
        raise Refused(NOT_FOUND, f"actions {stray} are not in postmortem {record.id}")
    return chosen


async def submit_case(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Store an eval case, then refresh the section listing the cases, the card and the canvas."""
    svc = services(context)
    meta = parse_meta(view["private_metadata"], CaseFormMeta, svc.metadata_key)
    record = await _form_postmortem(ack, svc, body, meta.postmortem)
    if record is None:
        return
    if meta.parent.postmortem != record.id:
        raise Refused(NOT_FOUND, f"a case form of postmortem {record.id} names a section of {meta.parent.postmortem}")
    if meta.case is not None and all(c.id != meta.case for c in record.doc.evals):
        raise Refused(NOT_FOUND, f"eval case {meta.case} is not in postmortem {record.id}")
    state = view["state"]["values"]
    try:
        case = validate_case(read_state(CASE_FIELDS, state), meta.case, _linked_actions(state, record))
    except CaseErrors as exc:
        await ack(response_action="errors", errors=error_blocks(exc.errors, state))
        return
    await svc.store.save_case(record.id, case, body["user"]["id"], form_view=view["id"])
    await ack()
    record = await svc.store.get(record.id)
    assert record is not None
    section = record.template.section(meta.parent.section)
    try:
        listed = section_view(record.template, section, record, meta.parent.keyed(svc.metadata_key))
        await client.views_update(view_id=meta.parent_view, view=listed)
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:  # e.g. the section was closed meanwhile: the save stands
        log.info("eval cases in %s not refreshed after a save: %r", meta.parent_view, exc)
    await update_card(record.id, refresh_card(client, svc.store, record.id))
    await keep_canvas(svc, client, record.id)


def register(app: AsyncApp) -> None:
    app.view(SECTION_CALLBACK)(guarded(submit_section))
    app.view(ACTION_FORM_CALLBACK)(guarded(submit_action))
    app.view(CASE_FORM_CALLBACK)(guarded(submit_case))
