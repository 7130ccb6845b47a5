"""Bringing what Slack shows up to date after a change: the card in the incident channel
(one message, edited in place on every change) and a person's App Home."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.domain.insights import figures
from handlers.builders.card import card_message
from handlers.builders.home import MAX_POSTMORTEMS, home_view
from handlers.builders.insights import home_blocks
from handlers.support.errors import UNKNOWN_OUTCOME
from handlers.support.insights import UserGroups
from storage.card_lease import CardLeases, Lease
from storage.insights_posts import InsightsPosts
from storage.records import PostmortemRecord
from storage.store import Store

NOT_A_MEMBER = ("not_in_channel", "channel_not_found")
METADATA_EVENT = "postmortem_card"
HISTORY_MARGIN = timedelta(minutes=1)
"""How far before a lost post the channel's history is read: Slack's clock and ours may differ."""
INVITE = "Invite me with `/invite @postmortem-bot` and run `/postmortem start` again; your answers are saved."

log = logging.getLogger(__name__)


class CardNotPosted(Exception):
    """Slack refused the card; the message says what the user can do about it."""


async def refresh_card(client: AsyncWebClient, store: Store, postmortem_id: int) -> None:
    """Bring the card up to date with what is stored; post it the first time."""
    await render_card(client, store, await CardLeases(store).want(postmortem_id))


async def render_card(
    client: AsyncWebClient, store: Store, lease: Lease | None, known: PostmortemRecord | None = None
) -> None:
    """Render the card under ``lease`` (None: someone else renders it).

    Every change marks the card out of date, but only the holder of the render lease talks
    to Slack, and it renders again until nothing changed meanwhile. So the card's edits
    reach Slack one after the other and the last one shows the newest state. ``known`` is
    the record as the caller read it plus the one change that took the lease: it is
    rendered without reading it back when no other change came between.
    """
    leases = CardLeases(store)
    while lease is not None:
        record = known if known and known.card_revision + 1 == lease.revision else await store.get(lease.postmortem_id)
        known = None
        try:
            posted = await _render_card(client, store, leases, lease, record) if record else None
        except Exception:
            await leases.drop(lease)
            raise
        lease = await leases.release(lease, posted, finished=bool(record and _all_done(record)))


def _all_done(record: PostmortemRecord) -> bool:
    """What the card calls finished: "Sections done: N/N"."""
    return record.doc.sections_done == len(record.template.sections)


async def _render_card(
    client: AsyncWebClient, store: Store, leases: CardLeases, lease: Lease, record: PostmortemRecord
) -> str | None:
    """Edit the card, or post it; the ts of a card this posted, for the lease's release to record."""
    message = card_message(record, store.clock.now().date())
    ts = record.card_ts or await _posted_before(client, store, record)
    if ts:
        await _send(client, "chat.update", channel=record.channel_id, ts=ts, **message)
        return None
    if not lease.post_claimed:  # claimed first: a post whose reply is lost is found later, not repeated
        await leases.claim_post(lease)
    return await _post(client, store, record, message)


async def _post(client: AsyncWebClient, store: Store, record: PostmortemRecord, message: dict[str, Any]) -> str:
    """The first post of the card, tagged with metadata so that a lost reply can be settled by looking."""
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"postmortem_id": record.id}}
    try:
        response = await _send(client, "chat.postMessage", channel=record.channel_id, metadata=metadata, **message)
    except SlackApiError as exc:
        await store.set_card(record.id, None)  # Slack answered: nothing was posted
        if exc.response.get("error") in NOT_A_MEMBER:
            raise CardNotPosted(f"I can't post the postmortem card here. {INVITE}") from exc
        raise
    return str(response["ts"])


async def _send(client: AsyncWebClient, method: str, **message: Any) -> AsyncSlackResponse:
    """``chat.update`` or ``chat.postMessage`` of a card built as plain dicts: slack_sdk's own wrappers
    first put every block through six isinstance checks against its model classes (0.1-0.2 ms a card)."""
    return await client.api_call(method, json=message)


async def _posted_before(client: AsyncWebClient, store: Store, record: PostmortemRecord) -> str | None:
    """The card an earlier post left in the channel although its outcome was lost, adopted by its metadata."""
    if record.card_post_started is None:
        return None
    try:
        ts = await _find_card(client, record.channel_id, record.id, record.card_post_started - HISTORY_MARGIN)
    except SlackApiError as exc:
        if exc.response.get("error") in NOT_A_MEMBER:
            raise CardNotPosted(f"I can't check whether the postmortem card arrived. {INVITE}") from exc
        raise
    if ts:
        await store.set_card(record.id, ts)
    return ts


async def _find_card(client: AsyncWebClient, channel: str, postmortem_id: int, oldest: datetime) -> str | None:
    pages = await client.conversations_history(
        channel=channel, oldest=f"{oldest.timestamp():.6f}", include_all_metadata=True, limit=200
    )
    async for page in pages:
        for message in page.get("messages", []):
            if _is_card_of(message, postmortem_id):
                return message["ts"]
    return None


def _is_card_of(message: dict[str, Any], postmortem_id: int) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == METADATA_EVENT and payload.get("postmortem_id") == postmortem_id


async def update_card(postmortem_id: int, rendering: Awaitable[None]) -> None:
    """After a change is stored: a card Slack did not take is logged, never reported as a failed save.

    Every refresh renders the newest state, so the next one brings the card up to date.
    """
    try:
        await rendering
    except (CardNotPosted, SlackApiError, *UNKNOWN_OUTCOME) as exc:
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc) or type(exc).__name__
        log.warning("card of postmortem %s not refreshed (%s); the next change catches up", postmortem_id, reason)


async def publish_home(client: AsyncWebClient, store: Store, team_id: str, user_id: str, groups: UserGroups) -> None:
    """A person's App Home as it is now; a postmortem owner's shows the workspace's insights too."""
    actions = await store.open_actions_for(team_id, user_id)
    postmortems = await store.postmortems_of(team_id, user_id, MAX_POSTMORTEMS)
    now = store.clock.now()
    insights = []
    if postmortems:
        teams = await groups.of(client, team_id, now)
        chart_link = await InsightsPosts(store).latest_chart(team_id)
        insights = home_blocks(figures(await store.tally(team_id, now), teams), chart_link)
    await client.views_publish(user_id=user_id, view=home_view(actions, postmortems, now.date(), insights))
