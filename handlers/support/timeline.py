"""Turning a Slack message into a timeline entry: its own time, author, plain text, permalink, files."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.timeline import TimelineEntry, message_time, plain_text
from handlers.builders.modals import SectionMeta, section_view
from handlers.support.context import Services
from handlers.support.errors import UNKNOWN_OUTCOME
from handlers.support.refresh import refresh_card, update_card

FILES_MAX = 10

log = logging.getLogger(__name__)


def file_links(message: dict[str, Any]) -> list[str]:
    """Files and images keep their own permalink (the message's link shows them too)."""
    return [str(f["permalink"]) for f in message.get("files") or [] if f.get("permalink")][:FILES_MAX]


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str:
    answer = await client.chat_getPermalink(channel=channel, message_ts=ts)
    return str(answer["permalink"])


async def message_at(client: AsyncWebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """The message ``ts`` of ``channel``, a thread reply too, or None when it is gone.

    conversations.history returns top-level messages only; conversations.replies takes the
    ts of any message, returns the thread it is in (a message without replies is a thread of
    one), and its oldest/latest window narrows that to the message. Picked by its ts all the
    same: the thread's parent may come first whatever the window.
    """
    try:
        thread = await client.conversations_replies(
            channel=channel, ts=ts, oldest=ts, latest=ts, inclusive=True, limit=2
        )
    except SlackApiError as exc:
        if exc.response.get("error") != "thread_not_found":
            raise
        return None
    return next((m for m in thread.get("messages") or [] if m.get("ts") == ts), None)


async def entry_of(client: AsyncWebClient, channel: str, message: dict[str, Any], via: str) -> TimelineEntry:
    ts = str(message["ts"])
    return TimelineEntry(
        message_ts=ts,
        at=message_time(ts),
        author=str(message.get("user") or message.get("bot_id") or ""),
        text=plain_text(str(message.get("text") or "")),
        permalink=await permalink(client, channel, ts),
        files=file_links(message),
        via=via,
    )


async def capture(
    client: AsyncWebClient, svc: Services, team: str, channel: str, message: dict[str, Any], via: str, user: str
) -> None:
    """Adds ``message`` to the timeline of the channel's postmortem, once; a channel without one is left alone."""
    record = await svc.store.by_channel(team, channel)
    if record is None or any(e.message_ts == message.get("ts") for e in record.doc.timeline):
        return
    if await svc.store.add_to_timeline(record.id, await entry_of(client, channel, message, via), user):
        await update_card(record.id, refresh_card(client, svc.store, record.id))


async def show_again(client: AsyncWebClient, svc: Services, view_id: str, meta: SectionMeta) -> None:
    """The section modal ``view_id`` with what it lists as stored now (the timeline, the eval cases).

    Its metadata is kept as it was (the version it was opened at, its revision), so a
    colleague's save still conflicts and what the user typed into its fields stays.
    """
    record = await svc.store.get(meta.postmortem) if meta.postmortem is not None else None
    if record is None:
        return
    view = section_view(record.template, record.template.section(meta.section), record, meta)
    try:
        await client.views_update(view_id=view_id, view=view)
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:  # the modal was closed meanwhile: the change stands
        log.info("timeline list %s not refreshed: %r", view_id, exc)
