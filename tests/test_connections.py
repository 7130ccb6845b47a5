"""Connections the server dropped are replaced, without pinging busy ones."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import example
from bot.config import StorageSettings
from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
from storage.db import create_engine, open_database
from storage.store import Store

ALICE, BOB = example.OWNER, example.SAFETY_LEAD
_OTHERS = "pid <> pg_backend_pid() AND datname = current_database() AND state = 'idle'"


async def _drop_other_connections(url: str) -> None:
    """As a restart or a failover does: the server ends every idle session of the database, and
    they are gone (the clients have their goodbye) before this returns."""
    killer = create_engine(url)
    async with killer.connect() as connection:
        await connection.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {_OTHERS}"))
        async with asyncio.timeout(10):
            while await connection.scalar(text(f"SELECT count(*) FROM pg_stat_activity WHERE {_OTHERS}")):
                await connection.commit()  # a transaction reads pg_stat_activity once and keeps that snapshot
                await asyncio.sleep(0.01)
    await killer.dispose()
    await asyncio.sleep(0.05)  # the server's closing of each socket, read by this process's event loop


async def _select_one(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT 1"))).scalar_one()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_idle_connection_the_server_dropped_is_replaced(database_url: str) -> None:
    engine = create_engine(database_url, ping_after_idle=0)  # every checkout counts as after an idle spell
    assert await _select_one(engine) == 1
    await _drop_other_connections(database_url)
    assert await _select_one(engine) == 1, "pinged, found dead, and connected anew"
    await engine.dispose()


async def _last_statement_before_use(engine: AsyncEngine, watcher: AsyncEngine) -> str:
    """What the server last ran on a pooled connection, seen from another one right after the
    pool handed it out: its ping if the checkout pinged."""
    async with engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    async with engine.connect(), watcher.connect() as watching:
        return await watching.scalar(text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("ping_after_idle", "pinged"), [(3600, False), (0, True)])
async def test_a_connection_is_pinged_only_after_an_idle_spell(
    database_url: str, ping_after_idle: float, pinged: bool
) -> None:
    """The other side of the bargain: no round trip before a recently used connection, one
    before a connection that idled longer than ``ping_after_idle``."""
    engine, watcher = create_engine(database_url, ping_after_idle=ping_after_idle), create_engine(database_url)
    assert (await _last_statement_before_use(engine, watcher) == "SELECT 1") is pinged
    await engine.dispose()
    await watcher.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_the_server_closed_is_replaced_before_use_without_a_ping(database_url: str) -> None:
    engine = create_engine(database_url, ping_after_idle=3600)
    assert await _select_one(engine) == 1
    await _drop_other_connections(database_url)
    assert await _select_one(engine) == 1, "the driver saw it closed: connected anew, nothing failed"
    await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_after_a_database_restart_nobody_sees_an_error(
    slack: SlackDriver, standin: SlackStandin, store: Store, database_url: str
) -> None:
    """Every connection the pool kept dies at once; the next requests each take one of them."""
    walk = Walkthrough(slack, standin, ALICE, "C0RESTART")
    await walk.start("inc-restart-1")
    starts = [slack.command(f"start inc-before-{n}", user=BOB, channel=f"C0BEFORE{n:02d}") for n in range(10)]
    await asyncio.gather(*starts)
    await listeners_finished()
    kept = store.engine.pool.checkedin()
    assert kept > 1, "a pool of several connections"

    await _drop_other_connections(database_url)
    saved = await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-restart-1"})
    assert saved.errors is None and saved.view is not None
    assert saved.view["title"]["text"] == walk.template.sections[1].modal_title, "saved, the next section shown"
    after = [slack.command(f"start inc-after-{n}", user=BOB, channel=f"C0AFTER{n:02d}") for n in range(kept + 2)]
    assert [a.status for a in await asyncio.gather(*after)] == [200] * (kept + 2)
    await listeners_finished()
    assert all(len(standin.messages(f"C0AFTER{n:02d}")) == 1 for n in range(kept + 2)), "every card posted"
    record = await store.by_channel(standin.team_id, "C0RESTART")
    assert record is not None and "summary" in record.sections


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_database_pool_size_is_how_many_connections_are_used_at_most(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    settings = StorageSettings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    engine = await open_database(settings.database_url, pool_size=settings.database_pool_size)
    await engine.dispose()  # the pool starts empty: every connection below is counted
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda connection, _record: opened.append(connection))

    async def query(n: int) -> int:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT CAST(:n AS integer) FROM pg_sleep(0.05)"), {"n": n}))

    answers = await asyncio.gather(*(query(n) for n in range(9)))
    assert answers == list(range(9)), "a burst past the pool waits for a connection, then runs"
    assert len(opened) == 3, f"{len(opened)} connections opened for nine queries at once"
    assert engine.pool.checkedin() == 3, "all three kept"
    await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_runs_the_bots_statements_without_compiling_them_first(database_url: str) -> None:
    """JIT compiling took half of the insights' time at 500,000 open actions (``storage.db._without_jit``);
    a connection opened anew, after the server dropped the others, is set the same way."""
    engine = await open_database(database_url)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SHOW jit")) == "off"
    await _drop_other_connections(database_url)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SHOW jit")) == "off"
    await engine.dispose()
