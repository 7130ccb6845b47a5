"""The postmortem kept as a canvas (``POSTMORTEM_CANVAS=on``): the channel's canvas, created at
``/postmortem start`` with the whole document, then brought up to date section by section.

The database is the source of truth: each render reads the stored postmortem and replaces
only the sections whose text changed since the canvas last got them. Where the workspace
refuses channel canvases, a standalone canvas in the channel's tabs takes its place and
the card links to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.canvas import CanvasSection, canvas_markdown, canvas_sections, canvas_title
from handlers.support.context import Services
from handlers.support.errors import UNKNOWN_OUTCOME
from handlers.support.refresh import refresh_card, update_card
from storage.canvas_lease import CanvasLease, CanvasLeases, CanvasState
from storage.records import PostmortemRecord
from storage.store import Store

NO_CHANNEL_CANVAS = ("team_tier_cannot_create_channel_canvases", "channel_canvas_already_exists")
"""Slack's refusals of a channel canvas that a standalone canvas in the channel's tabs answers."""
SECTION_TYPES = ["h2"]

log = logging.getLogger(__name__)


def _content(markdown: str) -> dict[str, str]:
    return {"type": "markdown", "markdown": markdown}


async def refresh_canvas(client: AsyncWebClient, store: Store, postmortem_id: int) -> None:
    """Bring the canvas up to date with what is stored; create it the first time."""
    await render_canvas(client, store, await CanvasLeases(store).want(postmortem_id))


async def render_canvas(client: AsyncWebClient, store: Store, lease: CanvasLease | None) -> None:
    """Render under ``lease`` (None: someone else renders), again until nothing changed meanwhile:
    a burst of saves ends in one update per changed section, the newest text last."""
    leases = CanvasLeases(store)
    while lease is not None:
        try:
            digests = await _render(client, store, leases, lease)
        except Exception:
            await leases.drop(lease)
            raise
        lease = await leases.release(lease, digests)


async def _render(client: AsyncWebClient, store: Store, leases: CanvasLeases, lease: CanvasLease) -> dict[str, str]:
    """The canvas brought to the stored postmortem; the digests of what it now holds."""
    state = await leases.state(lease)
    record = await store.get(lease.postmortem_id)
    if state is None or record is None:
        return {}
    sections = canvas_sections(record.doc, record.links)
    canvas_id, digests = state.canvas_id, state.digests
    if canvas_id is None and state.create_started is not None:
        if state.standalone:  # no way to look for it: never risk a second canvas
            log.warning("canvas of postmortem %s: a create's reply was lost; not created again", record.id)
            return digests
        canvas_id, digests = await _adopted(client, leases, lease, state, sections), {}
    if canvas_id is None:
        await _create(client, store, leases, lease, record)
        return {s.key: s.digest for s in sections}
    for section in sections:
        if digests.get(section.key) != section.digest:
            await _replace(client, canvas_id, section)
    return {s.key: s.digest for s in sections}


async def _adopted(
    client: AsyncWebClient, leases: CanvasLeases, lease: CanvasLease, state: CanvasState, sections: list[CanvasSection]
) -> str | None:
    """A channel canvas whose create lost its reply, found by looking: the channel's canvas,
    if it carries our first heading (else it is someone else's, or none was made)."""
    info = await client.conversations_info(channel=state.channel_id)
    found = ((info.get("channel") or {}).get("properties") or {}).get("canvas") or {}
    file_id = found.get("file_id")
    if file_id and sections and await _section_ids(client, file_id, sections[0].heading):
        await leases.created(lease, file_id, standalone=False)
        return str(file_id)
    return None


async def _create(
    client: AsyncWebClient, store: Store, leases: CanvasLeases, lease: CanvasLease, record: PostmortemRecord
) -> None:
    """The channel's canvas with the whole document; a standalone one in the channel's tabs
    where Slack refuses a channel canvas. Claimed first, so a lost reply is looked for."""
    content, title = _content(canvas_markdown(record.doc, record.links)), canvas_title(record.doc)
    await leases.claim_create(lease, standalone=False)
    channel_canvas = client.conversations_canvases_create(
        channel_id=record.channel_id, document_content=content, title=title
    )
    try:
        await _created(leases, lease, channel_canvas, standalone=False)
        return
    except SlackApiError as exc:
        if exc.response.get("error") not in NO_CHANNEL_CANVAS:
            raise
    await leases.claim_create(lease, standalone=True)
    in_tabs = client.canvases_create(title=title, document_content=content, channel_id=record.channel_id)
    await _created(leases, lease, in_tabs, standalone=True)
    await update_card(record.id, refresh_card(client, store, record.id))  # the card links to it, and says why


async def _created(leases: CanvasLeases, lease: CanvasLease, call: Awaitable[Any], *, standalone: bool) -> None:
    try:
        response = await call
    except SlackApiError:
        await leases.created(lease, None, standalone=standalone)  # Slack answered: nothing was created
        raise
    await leases.created(lease, str(response["canvas_id"]), standalone=standalone)


async def _section_ids(client: AsyncWebClient, canvas_id: str, heading: str) -> list[str]:
    criteria = {"section_types": SECTION_TYPES, "contains_text": heading}
    response = await client.canvases_sections_lookup(canvas_id=canvas_id, criteria=criteria)
    return [str(s["id"]) for s in response.get("sections") or []]


async def _replace(client: AsyncWebClient, canvas_id: str, section: CanvasSection) -> None:
    """Replace one section, found by its heading; put back at the end if someone deleted it."""
    ids = await _section_ids(client, canvas_id, section.heading)
    change: dict[str, Any] = {"operation": "insert_at_end", "document_content": _content(section.markdown)}
    if ids:
        change = {**change, "operation": "replace", "section_id": ids[0]}
    await client.canvases_edit(canvas_id=canvas_id, changes=[change])


async def update_canvas(postmortem_id: int, rendering: Awaitable[None]) -> None:
    """After a change is stored: a canvas Slack did not take is logged, never reported as a failed save."""
    try:
        await rendering
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc) or type(exc).__name__
        log.warning("canvas of postmortem %s not refreshed (%s); the next change catches up", postmortem_id, reason)


async def keep_canvas(svc: Services, client: AsyncWebClient, postmortem_id: int) -> None:
    """With ``POSTMORTEM_CANVAS`` on, the canvas follows every stored change."""
    if svc.canvas:
        await update_canvas(postmortem_id, refresh_canvas(client, svc.store, postmortem_id))
