"""Insights for Slack: a workspace's figures with its user groups as teams, and the chart's
way into Slack through the external upload flow (upload the bytes, then share the file).

Slack has no team field on a user; user groups (``@runtime-team``) are how people name
teams there, so an owner's overdue actions count for each group they are in.
``usergroups.list`` answers for the whole workspace at once; its answer is kept for
``GROUPS_FOR`` (a cache only: a replica without it asks again).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.insights import Figures, figures
from handlers.builders.chart import chart_png
from storage.store import Store

GROUPS_FOR = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass
class UserGroups:
    """Each workspace's user groups (handle -> member ids), as ``usergroups.list`` last said."""

    _kept: dict[str, tuple[datetime, dict[str, list[str]]]] = field(default_factory=dict)

    async def of(self, client: AsyncWebClient, team_id: str, now: datetime) -> dict[str, list[str]]:
        kept = self._kept.get(team_id)
        if kept and now - kept[0] < GROUPS_FOR:
            return kept[1]
        try:
            answer = await client.usergroups_list(include_users=True, team_id=team_id)
        except SlackApiError as exc:
            log.warning("usergroups.list refused (%s): insights name no teams", exc.response.get("error"))
            return kept[1] if kept else {}
        groups = {
            g["handle"]: list(g.get("users") or [])
            for g in answer.get("usergroups", [])
            if g.get("handle") and not g.get("date_delete")
        }
        self._kept[team_id] = (now, groups)
        return groups


async def workspace_figures(client: AsyncWebClient, store: Store, groups: UserGroups, team_id: str) -> Figures:
    """The week up to now, as the app's clock tells it."""
    now = store.clock.now()
    return figures(await store.tally(team_id, now), await groups.of(client, team_id, now))


async def chart(figures_: Figures) -> bytes:
    """The PNG, drawn on a worker thread: drawing holds the CPU far longer than a request may hold the loop."""
    return await asyncio.to_thread(chart_png, figures_)


async def upload(client: AsyncWebClient, png: bytes, filename: str, alt: str) -> str:
    """Steps 1 and 2 of Slack's external upload: an upload URL, then the bytes; the file's id.

    Nothing is in any channel yet: a failure here leaves nothing to settle.
    """
    url = await client.files_getUploadURLExternal(filename=filename, length=len(png), alt_txt=alt)
    async with _UploadSession(client) as session, session.post(str(url["upload_url"]), data=png) as answer:
        if answer.status != 200:
            raise SlackApiError(f"upload refused ({answer.status})", {"ok": False, "error": f"http_{answer.status}"})
    return str(url["file_id"])


class _UploadSession:
    """The client's own HTTP session when it has one (kept-alive connections), else one for this upload."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._shared = client.session
        self._own: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> aiohttp.ClientSession:
        if self._shared is not None:
            return self._shared
        self._own = aiohttp.ClientSession()
        return self._own

    async def __aexit__(self, *exc_info: object) -> None:
        if self._own is not None:
            await self._own.close()


async def share(client: AsyncWebClient, file_id: str, title: str, channel: str, comment: str) -> dict[str, Any]:
    """Step 3: the uploaded file shared into ``channel`` as one message with ``comment``; the file as Slack lists it."""
    done = await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}], channel_id=channel, initial_comment=comment
    )
    files = done.get("files") or [{}]
    return dict(files[0])


async def find_share(client: AsyncWebClient, channel: str, file_id: str, oldest: datetime) -> dict[str, Any] | None:
    """The channel's message carrying ``file_id`` (posted since ``oldest``): how a lost share is settled."""
    pages = await client.conversations_history(channel=channel, oldest=f"{oldest.timestamp():.6f}", limit=200)
    async for page in pages:
        for message in page.get("messages", []):
            if any(f.get("id") == file_id for f in message.get("files") or []):
                return dict(message)
    return None


def app_redirect(team_id: str, channel: str) -> str:
    """A link that opens ``channel`` in the Slack client."""
    return f"https://slack.com/app_redirect?team={team_id}&channel={channel}"
