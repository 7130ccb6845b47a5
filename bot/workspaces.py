"""The OAuth install (``SLACK_CLIENT_ID`` and friends): the app in any number of workspaces,
each with its own bot token, kept encrypted in our database (``storage.installations``).

Slack counts rate limits per app per workspace, so each workspace's calls have a limiter of
their own: one workspace's 429 pauses only that workspace's method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.ratelimit import Limiter, RateLimitRetry
from handlers.support.metrics import Metrics
from storage.installations import InstallationStore, OAuthStateStore
from storage.store import Store

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "im:write",
    "im:history",
    "channels:history",
    "groups:history",
    "reactions:read",
    "pins:read",
    "canvases:write",
    "canvases:read",
    "channels:read",
    "groups:read",
    "files:write",
    "usergroups:read",
)
"""What an install asks for: manifest.yml's bot scopes (tests/test_oauth.py holds them equal)."""
STATE_SECONDS = 600
"""How long an install started at /slack/install may take to come back."""
MakeClient = Callable[[str | None, Limiter], AsyncWebClient]


class Workspaces:
    """Installations, OAuth states and each workspace's limiter; ``client(team)`` for the sweep."""

    def __init__(self, settings: Settings, store: Store, make_client: MakeClient, metrics: Metrics) -> None:
        self.settings = settings
        self.make_client = make_client
        self.metrics = metrics
        """The app's: every workspace's calls are counted in it."""
        self.installations = InstallationStore(store, settings.token_cipher, settings.slack_client_id or "")
        self.states = OAuthStateStore(store, settings.slack_state_secret or "", STATE_SECONDS)
        self._limiters: dict[str, Limiter] = {}
        self._org_teams: set[str] = set()
        """Workspaces of org-wide installs this process has noted (the database has them all)."""

    def limiter(self, team_id: str) -> Limiter:
        if team_id not in self._limiters:
            self._limiters[team_id] = Limiter(self.settings.rate_limits)
        return self._limiters[team_id]

    async def client(self, team_id: str) -> AsyncWebClient | None:
        """The workspace's bot client, or None where the app is not (or no longer) installed."""
        bot = await self.installations.bot_for_team(team_id)
        return None if bot is None else self.make_client(bot.bot_token, self.limiter(team_id))

    def oauth_flow(self) -> AsyncOAuthFlow:
        """/slack/install and /slack/oauth_redirect, with oauth.v2.access asked at ``SLACK_API_URL``."""
        settings = AsyncOAuthSettings(
            client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            installation_store=self.installations,
            installation_store_bot_only=True,
            state_store=self.states,
            state_expiration_seconds=STATE_SECONDS,
        )
        return AsyncOAuthFlow(client=self.make_client(None, Limiter(self.settings.rate_limits)), settings=settings)

    async def pace(self, context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002
        """Middleware: a request's calls (made with its workspace's token, which Bolt's authorize
        put on its client) wait out that workspace's 429s only; a workspace first met under an
        org-wide install is noted."""
        team = context.team_id or context.enterprise_id
        if team and context.client is not None:
            context.client.retry_handlers = [RateLimitRetry(self.limiter(team), metrics=self.metrics)]
        if context.is_enterprise_install and context.team_id and context.enterprise_id:
            await self._note_org_team(context.team_id, context.enterprise_id)
        return await next()

    async def _note_org_team(self, team_id: str, enterprise_id: str) -> None:
        """So that the sweep finds the org's token for this workspace's postmortems."""
        if team_id not in self._org_teams:
            await self.installations.note_org_team(team_id, enterprise_id)
            self._org_teams.add(team_id)
