"""The app factory: settings + database in, a Bolt app with every listener registered out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import ClientSession, web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config import Settings
from bot.ratelimit import Limiter, PacedWebClient
from bot.reminders.insights import WeeklyInsights
from bot.reminders.sweep import Sweeper
from bot.slacklink import SlackLink
from bot.verification import slack_endpoint
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


def create_client(settings: Settings, session: ClientSession | None = None) -> AsyncWebClient:
    """Web API client for ``SLACK_API_URL``, paced within ``SLACK_RATE_LIMITS`` per method.

    A 429 pauses only its method for ``Retry-After``, then the call is made again.
    Connection errors are deliberately not retried here: resending a message whose first
    attempt may have arrived would post it twice. A shared ``session`` keeps connections
    (and their TLS handshakes) alive between calls.
    """
    return PacedWebClient(
        limiter=Limiter(settings.rate_limits),
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        logger=logging.getLogger("postmortem_bot.slack"),
    )


def create_app(settings: Settings, store: Store, session: ClientSession | None = None) -> AsyncApp:
    app = AsyncApp(
        client=create_client(settings, session),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        logger=BOLT_LOG,
    )
    secret = settings.slack_signing_secret or settings.slack_app_token or settings.slack_bot_token
    provided = Services(
        store=store,
        metadata_key=metadata_key(secret),
        canvas=settings.postmortem_canvas,
        timeline_reaction=settings.timeline_reaction,
    )
    handlers.register(app, provided)
    return app


def create_web_app(app: AsyncApp, store: Store, slack: SlackLink | None = None) -> web.Application:
    """Slack's requests at ``/slack/events``; ``/healthz`` is 200 only while the database answers
    and, given ``slack``, while Slack takes the bot token."""
    web_app = web.Application()
    # Bolt's own secret: create_web_app's callers keep handing over only the app.
    web_app.router.add_post(EVENTS_PATH, slack_endpoint(app, app._signing_secret))

    async def healthz(_request: web.Request) -> web.Response:
        report = {"database": "up" if await ping(store.engine) else "down"}
        if slack is not None:
            report["slack"] = slack.state
        healthy = all(state == "up" for state in report.values())
        return web.json_response({"ok": healthy, **report}, status=200 if healthy else 503)

    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


def create_sweeper(settings: Settings, store: Store, client: AsyncWebClient | None = None) -> Sweeper:
    return Sweeper(store, client or create_client(settings), settings.reminder_policy, digest_message)


def weekly_post(settings: Settings, store: Store, client: AsyncWebClient) -> Callable[[], Awaitable[str]] | None:
    """The weekly insights post of the workspace ``client``'s token belongs to; None without ``INSIGHTS_CHANNEL``.

    With several installations, call ``WeeklyInsights.post`` once per workspace with its client.
    """
    if not settings.insights_channel:
        return None
    weekly = WeeklyInsights(store, settings.insights_channel, settings.insights_tz)

    async def post() -> str:
        team_id = str((await client.auth_test())["team_id"])
        return await weekly.post(client, team_id)

    return post
