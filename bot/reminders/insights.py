"""The weekly insights post: Monday 09:00 in ``INSIGHTS_TZ``, once per workspace and ISO week.

``post`` takes the workspace and its Web API client, so that with several installations
the timer calls it once per workspace with that workspace's client. Exactly once, across
replicas, restarts and a trigger that fires twice: the (team, week) is claimed in the
database first (``storage.insights_posts``); the chart is uploaded, its file id recorded,
and only then shared into the channel with the text. A share whose answer was lost is
settled by looking for that file in the channel's history, never by sharing again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.insights import iso_week
from handlers.builders.insights import CHART_TITLE, insights_text
from handlers.support.errors import UNKNOWN_OUTCOME
from handlers.support.insights import UserGroups, chart, find_share, share, upload, workspace_figures
from storage.insights_posts import COMPLETING, FAILED, POSTED, UNKNOWN, InsightsPosts, PostClaim
from storage.store import Store

ALREADY = "already"
"""Another run made this week's post, makes it now, or left it to be settled."""
HISTORY_MARGIN = timedelta(minutes=1)
"""How far before a lost share the channel's history is read: Slack's clock and ours may differ."""
log = logging.getLogger(__name__)


class WeeklyInsights:
    def __init__(self, store: Store, channel: str, zone: str, groups: UserGroups | None = None) -> None:
        self.store = store
        self.channel = channel
        self.zone = zone
        self.groups = groups or UserGroups()
        self.posts = InsightsPosts(store)

    async def post(self, client: AsyncWebClient, team_id: str) -> str:
        """This week's post for ``team_id``; what became of it (posted, already, failed, unknown)."""
        week = iso_week(self.store.clock.now(), self.zone)
        claim = await self.posts.claim(team_id, week, self.channel)
        if claim is None:
            return await self._settle(client, team_id, week)
        figures = await workspace_figures(client, self.store, self.groups, team_id)
        try:
            file_id = await upload(client, await chart(figures), f"postmortem-insights-{week}.png", CHART_TITLE)
        except (SlackApiError, *UNKNOWN_OUTCOME) as exc:  # nothing is in the channel yet
            return await self._failed(claim, exc)
        if not await self.posts.completing(claim, file_id):
            return ALREADY  # the claim ran out and another run took it
        try:
            shared = await share(client, file_id, f"{CHART_TITLE} {week}", self.channel, insights_text(figures))
        except SlackApiError as exc:
            return await self._failed(claim, exc)
        except UNKNOWN_OUTCOME as exc:
            log.warning("weekly insights %s of %s: share outcome unknown (%r); looking", week, team_id, exc)
            await self.posts.settle(team_id, week, UNKNOWN)
            return await self._settle(client, team_id, week)
        await self.posts.settle(team_id, week, POSTED, permalink=shared.get("permalink"))
        return POSTED

    async def _failed(self, claim: PostClaim, exc: Exception) -> str:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("weekly insights %s of %s not posted: %s", claim.week, claim.team_id, error)
        await self.posts.settle(claim.team_id, claim.week, FAILED, error=str(error)[:200])
        return FAILED

    async def _settle(self, client: AsyncWebClient, team_id: str, week: str) -> str:
        """Another run holds the week; a share whose outcome is unknown (or whose run died while
        sharing) is looked for in the channel and marked posted when found, else left unknown."""
        known = await self.posts.state(team_id, week)
        if known is None or known.state not in (UNKNOWN, COMPLETING) or known.file_id is None:
            return ALREADY
        if known.state == COMPLETING and known.lease_until > self.store.clock.now():
            return ALREADY  # its run is sharing it now
        try:
            found = await find_share(client, known.channel_id, known.file_id, known.claimed_at - HISTORY_MARGIN)
        except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
            log.warning("weekly insights %s of %s: could not look for the share (%r)", week, team_id, exc)
            return UNKNOWN
        if found is None:
            log.warning("weekly insights %s of %s: outcome unknown and not found; not shared again", week, team_id)
            await self.posts.settle(team_id, week, UNKNOWN)
            return UNKNOWN
        files = [f for f in found.get("files", []) if f.get("id") == known.file_id]
        await self.posts.settle(team_id, week, POSTED, message_ts=found["ts"], permalink=files[0].get("permalink"))
        return POSTED
