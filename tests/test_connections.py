"""A connection the server dropped while idle is replaced, without pinging busy ones."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.config import StorageSettings
from storage.db import create_engine, open_database


async def _drop_other_connections(url: str) -> None:
    killer = create_engine(url)
    async with killer.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database() AND state = 'idle'"
            )
        )
    await killer.dispose()


async def _select_one(engine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT 1"))).scalar_one()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_idle_connection_the_server_dropped_is_replaced(database_url: str) -> None:
    engine = create_engine(database_url, ping_after_idle=0)  # every checkout counts as after an idle spell
    assert await _select_one(engine) == 1
    await _drop_other_connections(database_url)
    assert await _select_one(engine) == 1, "pinged, found dead, and connected anew"
    await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_in_steady_use_is_not_pinged(database_url: str) -> None:
    """The other side of the bargain: no round trip before a recently used connection."""
    engine = create_engine(database_url, ping_after_idle=3600)
    assert await _select_one(engine) == 1
    await _drop_other_connections(database_url)
    with pytest.raises(DBAPIError):
        await _select_one(engine)
    assert await _select_one(engine) == 1, "the failed one was discarded"
    await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_database_pool_size_is_how_many_connections_are_kept(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    settings = StorageSettings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    engine = await open_database(settings.database_url, pool_size=settings.database_pool_size)
    connections = [await engine.connect() for _ in range(6)]  # a burst past the pool
    for connection in connections:
        await connection.close()
    assert engine.pool.checkedin() == 3, "the three past the pool size were closed on return"
    await engine.dispose()
