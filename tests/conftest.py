"""Fixtures: a real database (SQLite and PostgreSQL), the Slack stand-in and the real app over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text

from bot import eventloop
from bot.app import EVENTS_PATH, MeteredApp, create_app, create_web_app, web_api_session
from bot.config import Settings
from bot.demo import listeners_finished
from bot.domain.clock import FixedClock
from bot.slackdev import SlackDriver, SlackStandin
from storage.db import create_engine, upgrade
from storage.models import Base
from storage.store import Store
from tests.clocks import TUESDAY_AFTERNOON, afternoon_zone

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
_migrated: set[str] = set()


def _postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_DATABASE_URL is not set: in CI the PostgreSQL tests may not be skipped")
        pytest.skip("no PostgreSQL: run the suite with scripts/test")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'postmortem.db'}"
    return _postgres_url()


async def _reset(url: str) -> None:
    """A clean PostgreSQL database per test: migrate once, then empty every table."""
    engine = create_engine(url)
    try:
        if url not in _migrated:
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await upgrade(engine)
            _migrated.add(url)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The suite runs on the loop ``postmortem-bot run`` runs on (uvloop)."""
    return {"bot": eventloop.new_event_loop}


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FixedClock:
    """The app's one clock, set by the test: nothing depends on the day or hour the suite runs.

    A Tuesday afternoon (UTC) after the worked example's due dates, unless a test asks for
    another instant with ``@pytest.mark.parametrize("clock", [...], indirect=True)``.
    """
    return FixedClock(getattr(request, "param", TUESDAY_AFTERNOON))


@pytest.fixture
async def store(database_url: str, clock: FixedClock) -> AsyncIterator[Store]:
    if database_url.startswith("postgresql"):
        await _reset(database_url)
    engine = create_engine(database_url)
    await upgrade(engine)
    yield Store(engine, clock)
    await engine.dispose()


@pytest.fixture
async def standin(clock: FixedClock) -> AsyncIterator[SlackStandin]:
    """Slack on the app's clock: message timestamps, trigger lifetimes and the app's decisions agree."""
    server = SlackStandin(bot_token=BOT_TOKEN, clock=lambda: clock.now().timestamp())
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def settings(standin: SlackStandin, database_url: str) -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def app(settings: Settings, store: Store) -> AsyncIterator[MeteredApp]:
    """The real Bolt app, with its own Web API client session (as ``run`` makes it) and its own metrics."""
    async with web_api_session() as session:
        yield create_app(settings, store, session)


@pytest.fixture
async def app_url(app: MeteredApp, store: Store) -> AsyncIterator[str]:
    """The real Bolt app behind the real aiohttp server, on an ephemeral loopback port."""
    runner = web.AppRunner(create_web_app(app, store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await listeners_finished()  # Bolt's listeners run on after the ack: end them before the database goes
    await runner.cleanup()


@pytest.fixture
async def slack(app_url: str, standin: SlackStandin) -> AsyncIterator[SlackDriver]:
    driver = SlackDriver(app_url + EVENTS_PATH, SIGNING_SECRET, standin)
    yield driver
    await driver.close()


@pytest.fixture
def working_zone(clock: FixedClock) -> str:
    return afternoon_zone(clock.now())
