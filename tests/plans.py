"""SQLite's plan of a statement, for the tests that hold a read to its indexes.

Timed thresholds do not belong in tests; which index a read goes through does, and it decides
whether a read costs what it finds or what is stored. PostgreSQL chooses by its statistics, so
those tests are SQLite's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Executable

from storage.store import Store


async def sqlite_plan(store: Store, statement: Executable) -> list[str]:
    """The steps of ``EXPLAIN QUERY PLAN``; skips the test on PostgreSQL."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses by its statistics")
    sql = statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
    async with store.engine.connect() as connection:
        return [row[-1] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
