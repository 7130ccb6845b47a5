"""The app factory: settings + database in, a Bolt app with every listener registered out."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot import fastjson
from bot.config import Settings
from bot.ratelimit import Limiter, PacedWebClient
from bot.reminders.insights import WeeklyInsights
from bot.reminders.sweep import Sweeper
from bot.slacklink import SlackLink
from bot.verification import slack_endpoint
from bot.workspaces import Workspaces
from handlers.builders.digest import digest_message
from handlers.support.context import Services
from handlers.support.foreground import Foreground
from handlers.support.metadata import metadata_key
from handlers.support.metrics import Metrics
from handlers.support.scope import entered
from storage.db import ping
from storage.store import Store
from storage.totals import action_totals

log = logging.getLogger(__name__)
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

    def __init__(self, *, metrics: Metrics, foreground: Foreground, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self.foreground = foreground
        """The listeners' (``Services.foreground``): the dispatch says which requests are unanswered."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        started = time.perf_counter()
        with entered(req.body, self.metrics) as scope, self.foreground.answering():
            response = await super().async_dispatch(req)
        self.metrics.answered(scope.surface, response.status, time.perf_counter() - started)
        return response


def web_api_session() -> ClientSession:
    """The HTTP session of every Web API call: the cards and modals sent, and Slack's answers
    echoing them, go through orjson."""
    return ClientSession(json_serialize_bytes=fastjson.dumps, response_class=fastjson.FastJsonResponse)


def settle_heap() -> None:
    """Called once the app is built: what exists then (modules, templates, the app itself) lives as long
    as the process, so it is moved out of the garbage collector's sight. A full collection walked all
    of it, pausing every request in flight for 40 to 100 ms; it now walks what requests leave behind."""
    gc.collect()
    gc.freeze()


def create_client(
    settings: Settings,
    session: ClientSession | None = None,
    metrics: Metrics | None = None,
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
        logger=_pinned(WEB_API_LOG),
        metrics=metrics,
    )


def create_workspaces(settings: Settings, store: Store, session: ClientSession | None = None) -> Workspaces:
    metrics = Metrics()

    def make_client(token: str | None, limiter: Limiter) -> AsyncWebClient:
        return create_client(settings, session, metrics, token=token, limiter=limiter)

    return Workspaces(settings, store, make_client, metrics)


def create_app(
    settings: Settings, store: Store, session: ClientSession | None = None, workspaces: Workspaces | None = None
) -> MeteredApp:
    """In OAuth mode, Bolt's authorize gives each request's client its workspace's token."""
    if settings.oauth and workspaces is None:
        workspaces = create_workspaces(settings, store, session)
    metrics = workspaces.metrics if workspaces is not None else Metrics()
    foreground = Foreground()
    app = MeteredApp(
        metrics=metrics,
        foreground=foreground,
        client=create_client(settings, session, metrics),
        signing_secret=settings.slack_signing_secret or "",
        # bot.verification checks each HTTP request before Bolt sees it; Socket Mode's come over an authenticated
        # connection. Bolt checking the signature again cost a second HMAC and header parse per request.
        request_verification_enabled=False,
        logger=_pinned(BOLT_LOG),
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
        foreground=foreground,
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


def create_web_app(app: MeteredApp, store: Store, slack: SlackLink | None = None) -> web.Application:
    """Slack's requests at ``/slack/events``, beside the monitoring endpoints; in OAuth mode, the install pages too."""
    web_app = create_monitoring_app(app, store, slack)
    # Bolt's own secret: create_web_app's callers keep handing over only the app.
    web_app.router.add_post(EVENTS_PATH, slack_endpoint(app, app._signing_secret, app.metrics))
    if app.oauth_flow is not None:
        _add_install_pages(web_app, app.oauth_flow)
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


def weekly_post(
    settings: Settings, store: Store, client: AsyncWebClient, workspaces: Workspaces | None = None
) -> Callable[[], Awaitable[str]] | None:
    """The weekly insights posts; None without ``INSIGHTS_CHANNEL``. In one workspace with ``client``;
    with the OAuth install, each named workspace with its own client, one's failure no other's."""
    zone = settings.insights_tz
    targets = [(team, WeeklyInsights(store, channel, zone)) for team, channel in settings.insights_targets]
    if not targets:
        return None

    async def post_in(team: str | None, weekly: WeeklyInsights) -> str:
        if team is None:
            return await weekly.post(client, str((await client.auth_test())["team_id"]))
        team_client = await workspaces.client(team) if workspaces else None
        if team_client is None:
            return f"{team}: not installed, no post"
        try:
            return f"{team}: " + await weekly.post(team_client, team)
        except Exception:
            log.exception("weekly insights post of %s failed; the next run of this week retries it", team)
            return f"{team}: failed"

    async def post() -> str:
        return "; ".join([await post_in(team, weekly) for team, weekly in targets])

    return post
