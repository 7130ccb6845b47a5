"""The app factory: settings + database in, a Bolt app with every listener registered out."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
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
from handlers.support.metrics import Metrics
from handlers.support.scope import entered
from storage.db import ping
from storage.store import Store
from storage.totals import action_totals

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


class _OurClientIsMeant(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN behind our back and warns, at every start, that our client wins: it is meant to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG = logging.getLogger("postmortem_bot.bolt")
BOLT_LOG.addFilter(_OurClientIsMeant())
WEB_API_LOG = logging.getLogger("postmortem_bot.slack.api")


def _pinned(logger: logging.Logger) -> logging.Logger:
    """Bolt and slack_sdk test ``logger.level``, not the effective level, before formatting their debug
    lines: left at NOTSET, a logger has every request, Web API call and response body formatted into a
    string only to be thrown away. It takes the level logging is configured with."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logger.getEffectiveLevel())
    return logger


class MeteredApp(AsyncApp):
    """Bolt's app, with each request's scope set and its ack timed around the dispatch.

    The dispatch is where HTTP and Socket Mode requests both enter and where Bolt returns
    once the listener acked; a Bolt middleware would not do: it runs before the listener,
    and the listeners' tasks copy the request's scope when the dispatch starts them.
    """

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        started = time.perf_counter()
        with entered(req.body, self.metrics) as scope:
            response = await super().async_dispatch(req)
        self.metrics.answered(scope.surface, response.status, time.perf_counter() - started)
        return response


def create_client(
    settings: Settings, session: ClientSession | None = None, metrics: Metrics | None = None
) -> AsyncWebClient:
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
        logger=_pinned(WEB_API_LOG),
        metrics=metrics,
    )


def create_app(settings: Settings, store: Store, session: ClientSession | None = None) -> MeteredApp:
    metrics = Metrics()
    app = MeteredApp(
        metrics=metrics,
        client=create_client(settings, session, metrics),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        logger=_pinned(BOLT_LOG),
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


def create_web_app(app: MeteredApp, store: Store, slack: SlackLink | None = None) -> web.Application:
    """Slack's requests at ``/slack/events``, beside the monitoring endpoints."""
    web_app = create_monitoring_app(app, store, slack)
    # Bolt's own secret: create_web_app's callers keep handing over only the app.
    web_app.router.add_post(EVENTS_PATH, slack_endpoint(app, app._signing_secret, app.metrics))
    return web_app


def create_monitoring_app(app: MeteredApp, store: Store, slack: SlackLink | None = None) -> web.Application:
    """``/healthz`` is 200 only while the database answers and, given ``slack``, while Slack takes
    the bot token; ``/metrics`` for Prometheus. Alone, in Socket Mode, when ``PORT`` is set."""
    web_app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        report = {"database": "up" if await ping(store.engine) else "down"}
        if slack is not None:
            report["slack"] = slack.state
        healthy = all(state == "up" for state in report.values())
        return web.json_response({"ok": healthy, **report}, status=200 if healthy else 503)

    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(METRICS_PATH, metrics_endpoint(app.metrics, store))
    return web_app


def metrics_endpoint(metrics: Metrics, store: Store) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Unsigned, like ``/healthz``: counts and bounded names only, nothing a caller could use against Slack."""

    async def scrape(_request: web.Request) -> web.Response:
        exposition = metrics.scrape(await action_totals(store, store.clock.now().date()))
        return web.Response(body=exposition, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return scrape


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
