"""Several workspaces with the app installed, each with its own team id, people, channels
and bot token, and the OAuth install that hands a workspace's token out.

As in Slack, a token works on its own workspace only: another workspace's channel is
``channel_not_found`` and its people ``user_not_found``. A workspace's token comes from
``oauth.v2.access``, in exchange for a code the stand-in mints when someone there
authorises the app (``authorize``); the code works once, for the OAuth app whose client
id and secret it was minted for. ``uninstall`` revokes a workspace's tokens, as
``apps.uninstall`` does: they answer ``token_revoked`` from then on.

Existing single-workspace use is untouched: the stand-in's own workspace (``default``)
holds every channel no other workspace claims.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.slackdev.webapi import Clock
from bot.slackdev.wire import JSON, ApiError

CODE_TTL_SECONDS = 600
"""Slack: an authorization code expires after ten minutes."""
BOT_SCOPES = "commands,chat:write,im:write,im:history,users:read"


@dataclass
class Workspace:
    team_id: str
    team_domain: str
    team_name: str
    bot_user_id: str
    bot_id: str
    bot_token: str | None = None
    enterprise_id: str | None = None
    org_install: bool = False
    """Installed org-wide on its Enterprise Grid: requests come with ``is_enterprise_install``."""
    channels: set[str] = field(default_factory=set)


@dataclass
class _Code:
    team_id: str
    user_id: str
    client_id: str
    issued_at: float
    org_wide: bool = False
    used: bool = False


class Workspaces:
    """The workspaces, whose tokens the HTTP front checks; ``current`` is the caller's while a
    method runs (and the default one otherwise), so each method sees one workspace's data."""

    app_id: str
    clock: Clock

    def __init__(self, default: Workspace) -> None:
        self.default = default
        self.current = default
        self._workspaces = {default.team_id: default}
        self._teams_of_tokens = {default.bot_token: default.team_id} if default.bot_token else {}
        self._revoked: set[str] = set()
        self._codes: dict[str, _Code] = {}
        self._oauth_app: tuple[str, str] | None = None

    def add_workspace(
        self, team_id: str, *, name: str | None = None, domain: str | None = None, enterprise_id: str | None = None
    ) -> Workspace:
        """A workspace where the app is not installed yet: its token comes from the OAuth install."""
        suffix = team_id.removeprefix("T")
        workspace = Workspace(
            team_id=team_id,
            team_domain=domain or team_id.lower(),
            team_name=name or f"Workspace {team_id}",
            bot_user_id=f"U0BOT{suffix}"[:11],
            bot_id=f"B0BOT{suffix}"[:11],
            enterprise_id=enterprise_id,
        )
        self._workspaces[team_id] = workspace
        return workspace

    def workspace(self, team_id: str) -> Workspace:
        return self._workspaces[team_id]

    def add_channel(self, channel: str, team_id: str) -> None:
        """``channel`` belongs to ``team_id``: other workspaces' tokens cannot see it."""
        self._workspaces[team_id].channels.add(channel)

    def team_of_channel(self, channel: str) -> str:
        owner = next((w.team_id for w in self._workspaces.values() if channel in w.channels), None)
        return owner or self.default.team_id

    @contextlib.contextmanager
    def acting_as(self, team_id: str) -> Iterator[Workspace]:
        """Payloads built meanwhile (commands, events, clicks) come from ``team_id``."""
        before, self.current = self.current, self._workspaces[team_id]
        try:
            yield self.current
        finally:
            self.current = before

    def caller(self, token: str) -> Workspace | None:
        """The workspace a bot token works in; None for a token revoked or never issued."""
        team_id = self._teams_of_tokens.get(token)
        return None if team_id is None or token in self._revoked else self._workspaces[team_id]

    def refusal(self, token: str) -> str:
        """Slack's error for a bot token that works nowhere."""
        return "token_revoked" if token in self._revoked else "invalid_auth"

    # ---- the OAuth install --------------------------------------------------------

    def oauth_app(self, client_id: str, client_secret: str) -> None:
        """The app's credentials (Basic Information > App Credentials)."""
        self._oauth_app = (client_id, client_secret)

    def authorize(self, team_id: str, user_id: str, *, client_id: str, org_wide: bool = False) -> str:
        """Someone in ``team_id`` clicks Allow on the authorize page (``org_wide``: an org admin
        installs it for the workspace's whole Enterprise Grid): the code Slack redirects with."""
        code = f"{team_id}.{secrets.token_hex(12)}"
        self._codes[code] = _Code(team_id, user_id, client_id, self.clock(), org_wide)
        return code

    def uninstall(self, team_id: str) -> None:
        """The app is removed from the workspace: its tokens stop working."""
        workspace = self._workspaces[team_id]
        if workspace.bot_token:
            self._revoked.add(workspace.bot_token)
        workspace.bot_token = None

    def oauth_v2_access(self, params: JSON, basic_auth: str | None) -> JSON:
        """Code for token; the client authenticates with HTTP Basic auth or with parameters."""
        client_id, client_secret = _credentials(params, basic_auth)
        if self._oauth_app is None or client_id != self._oauth_app[0]:
            raise ApiError("invalid_client_id")
        if client_secret != self._oauth_app[1]:
            raise ApiError("bad_client_secret")
        code = self._codes.get(str(params.get("code") or ""))
        expired = code is not None and self.clock() - code.issued_at > CODE_TTL_SECONDS
        if code is None or code.client_id != client_id or expired:
            raise ApiError("invalid_code")
        if code.used:
            raise ApiError("code_already_used")
        code.used = True
        return self._grant(self._workspaces[code.team_id], code.user_id, code.org_wide)

    def _grant(self, workspace: Workspace, user_id: str, org_wide: bool) -> JSON:
        """Slack's answer: an org-wide install names the org, and no workspace."""
        if workspace.bot_token is None:
            workspace.bot_token = f"xoxb-{workspace.team_id}-{secrets.token_hex(8)}"
            self._teams_of_tokens[workspace.bot_token] = workspace.team_id
        workspace.org_install = org_wide and workspace.enterprise_id is not None
        enterprise = {"id": workspace.enterprise_id, "name": "Org"} if workspace.enterprise_id else None
        team = None if workspace.org_install else {"id": workspace.team_id, "name": workspace.team_name}
        return {
            "access_token": workspace.bot_token,
            "token_type": "bot",
            "scope": BOT_SCOPES,
            "bot_user_id": workspace.bot_user_id,
            "app_id": self.app_id,
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": workspace.org_install,
            "authed_user": {"id": user_id},
        }


def _credentials(params: JSON, basic_auth: str | None) -> tuple[str, str]:
    if basic_auth:
        client_id, _, client_secret = base64.b64decode(basic_auth).decode().partition(":")
        return client_id, client_secret
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")
