"""The app factory: settings + database in, a Bolt app with every listener registered out."""

from __future__ import annotations

import logging

from aiohttp import ClientSession, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config import Settings
from bot.ratelimit import Limiter, PacedWebClient
from bot.reminders.sweep import Sweeper
from bot.slacklink import SlackLink
from bot.verification import slack_endpoint
from bot.workspaces import Workspaces
from handlers.builders.digest import digest_message
from handlers.support.context import Services
from handlers.support.metadata import metadata_key
from storage.db import ping
from storage.store import Store

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class _OurClientIsMeant(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN behind our back and warns, at every start, that our client wins: it is meant to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG = logging.getLogger("postmortem_bot.bolt")
BOLT_LOG.addFilter(_OurClientIsMeant())


def create_client(
    settings: Settings,
    session: ClientSession | None = None,
    *,
    token: str | None = None,
    limiter: Limiter | None = None,
) -> AsyncWebClient:
    """Web API client for ``SLACK_API_URL``, paced within ``SLACK_RATE_LIMITS`` per method.

    A 429 pauses only its method for ``Retry-After``, then the call is made again.
    Connection errors are deliberately not retried here: resending a message whose first
    attempt may have arrived would post it twice. A shared ``session`` keeps connections
    (and their TLS handshakes) alive between calls. ``token`` and ``limiter``: one workspace's
    of the OAuth install (``bot.workspaces``).
    """
    return PacedWebClient(
        limiter=limiter or Limiter(settings.rate_limits),
        token=token or settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        logger=logging.getLogger("postmortem_bot.slack"),
    )


def create_workspaces(settings: Settings, store: Store, session: ClientSession | None = None) -> Workspaces:
    def make_client(token: str | None, limiter: Limiter) -> AsyncWebClient:
        return create_client(settings, session, token=token, limiter=limiter)

    return Workspaces(settings, store, make_client)


def create_app(
    settings: Settings, store: Store, session: ClientSession | None = None, workspaces: Workspaces | None = None
) -> AsyncApp:
    """In OAuth mode, Bolt's authorize gives each request's client its workspace's token."""
    if settings.oauth and workspaces is None:
        workspaces = create_workspaces(settings, store, session)
    app = AsyncApp(
        client=create_client(settings, session),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        logger=BOLT_LOG,
        **_installed(workspaces),
    )
    if workspaces is not None:
        app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: the tokens go
        app.middleware(workspaces.pace)
    secret = settings.slack_signing_secret or settings.slack_app_token or settings.slack_bot_token or ""
    provided = Services(
        store=store,
        metadata_key=metadata_key(secret),
        canvas=settings.postmortem_canvas,
        timeline_reaction=settings.timeline_reaction,
    )
    handlers.register(app, provided)
    return app


def _installed(workspaces: Workspaces | None) -> dict[str, object]:
    if workspaces is None:
        return {}
    return {
        "oauth_flow": workspaces.oauth_flow(),
        "installation_store": workspaces.installations,
        "installation_store_bot_only": True,
    }


def create_web_app(app: AsyncApp, store: Store, slack: SlackLink | None = None) -> web.Application:
    """Slack's requests at ``/slack/events``; ``/healthz`` is 200 only while the database answers
    and, given ``slack``, while Slack takes the bot token. In OAuth mode, the install pages too."""
    web_app = web.Application()
    # Bolt's own secret: create_web_app's callers keep handing over only the app.
    web_app.router.add_post(EVENTS_PATH, slack_endpoint(app, app._signing_secret))
    if app.oauth_flow is not None:
        _add_install_pages(web_app, app.oauth_flow)

    async def healthz(_request: web.Request) -> web.Response:
        report = {"database": "up" if await ping(store.engine) else "down"}
        if slack is not None:
            report["slack"] = slack.state
        healthy = all(state == "up" for state in report.values())
        return web.json_response({"ok": healthy, **report}, status=200 if healthy else 503)

    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


def _add_install_pages(web_app: web.Application, flow: AsyncOAuthFlow) -> None:
    """``/slack/install`` hands out a state (cookie and URL) and the "Add to Slack" link;
    Slack sends the browser back to ``/slack/oauth_redirect`` with a code for the token."""

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def redirect(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    web_app.router.add_get(flow.install_path, install)
    web_app.router.add_get(flow.redirect_uri_path, redirect)


def create_sweeper(
    settings: Settings,
    store: Store,
    client: AsyncWebClient | None = None,
    session: ClientSession | None = None,
    workspaces: Workspaces | None = None,
) -> Sweeper:
    """In OAuth mode the sweep covers every installation, each workspace with its own client
    (and, given the app's ``workspaces``, the same limiter as the workspace's requests)."""
    if settings.oauth and workspaces is None:
        workspaces = create_workspaces(settings, store, session)
    return Sweeper(
        store,
        client or create_client(settings, session),
        settings.reminder_policy,
        digest_message,
        workspaces=workspaces.client if workspaces else None,
    )
