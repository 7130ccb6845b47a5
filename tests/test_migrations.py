"""The alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from storage.db import alembic_config
from storage.models import Base
from storage.store import Store


def _differences(connection: Connection) -> list:
    return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_migrations_match_the_models_and_downgrade_cleanly(store: Store) -> None:
    async with store.engine.begin() as connection:
        assert await connection.run_sync(_differences) == []
        await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        assert await connection.run_sync(_tables) == set()
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
