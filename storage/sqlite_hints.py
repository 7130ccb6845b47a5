"""SQLite's ``INDEXED BY``, through SQLAlchemy's ``with_hint``.

Nothing runs ``ANALYZE``, and without statistics SQLite's planner can rate two usable indexes
alike and take the one the schema lists last. The order of a table's indexes is the order a
migration that rebuilt the table happened to create them in, which differs from one database
to the next: the same query then reads a few rows in one database and scans a whole table in
another. A query whose cost must not depend on that names its index with ``indexed_by``;
should the index ever be gone, SQLite refuses the query rather than scanning in silence.
SQLAlchemy renders table hints for MySQL, SQL Server and Oracle only, hence the hook below.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

S = TypeVar("S", bound=Select[Any])


def indexed_by(query: S, table: Table, index: str) -> S:
    """``query`` reading ``table`` through ``index`` on SQLite; PostgreSQL plans from its statistics."""
    return query.with_hint(table, f"INDEXED BY {index}", "sqlite")


@compiles(Table, "sqlite")
def _table_with_its_hint(table: Table, compiler: SQLCompiler, **kw: Any) -> str:
    rendered = compiler.visit_table(table, **kw)
    hint = (kw.get("fromhints") or {}).get(table)
    return f"{rendered} {hint}" if hint and kw.get("asfrom") and not kw.get("ashint") else rendered
