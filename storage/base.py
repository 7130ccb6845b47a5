"""What every part of the store shares: the engine, the clock, the templates, the audit trail,
and the one statement that records an edit on the postmortem and marks its card out of date."""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Result, Row, Update, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.domain.catalog import Catalog, default_catalog
from bot.domain.clock import Clock, SystemClock
from bot.domain.links import NO_LINKS, LinkTemplates
from storage import card_lease
from storage.models import AuditRow, PostmortemRow
from storage.sqlite_trips import in_one_trip

_postmortems = PostmortemRow.__table__.c


def new_param(name: str, column: Any) -> Any:
    """The parameter ``new_<name>`` for a SET clause (a parameter may not share its column's name)."""
    return bindparam(f"new_{name}", type_=column.type)


INSERT_AUDIT = insert(AuditRow.__table__)
DIALECT_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
"""Each database's INSERT, for what the generic one lacks (``ON CONFLICT DO NOTHING``)."""


@functools.cache
def touch_statement(changed: tuple[str, ...], *, take_card: bool) -> Update:
    """Who edited last and the ``changed`` columns of the postmortem, with its card marked out of
    date (and, with ``take_card``, its lease taken): one statement per shape, built once."""
    card = card_lease.MARK if take_card else {"card_revision": _postmortems.card_revision + 1}
    edited = {name: new_param(name, _postmortems[name]) for name in ("last_edited_by", "last_edited_at", *changed)}
    return (
        update(PostmortemRow.__table__)
        .where(_postmortems.id == bindparam("pid"))
        .values({**edited, **card})
        .returning(*card_lease.MARK_RETURNS)
    )


def touch_params(
    postmortem_id: int, user_id: str, now: datetime, changes: dict[str, Any], card_holder: str | None
) -> dict[str, Any]:
    """The parameters of ``touch_statement``."""
    params = {"pid": postmortem_id, "new_last_edited_by": user_id, "new_last_edited_at": now}
    params |= {f"new_{name}": value for name, value in changes.items()}
    if card_holder is not None:
        params |= card_lease.wanted(card_holder, now)
    return params


def audit_params(postmortem_id: int, actor: str, event: str, at: datetime, **detail: Any) -> dict[str, Any]:
    """The parameters of the audit entry ``event`` (a section's key, if any, has a column of its own)."""
    section_key = detail.pop("section_key", None)
    entry = {"actor": actor, "event": event, "section_key": section_key, "detail": detail, "at": at}
    return {"postmortem_id": postmortem_id, **entry}


def _first_row(result: Result[Any]) -> Row[Any] | None:
    return result.one_or_none() if result.returns_rows else None


def _one_row(statement: Executable, params: dict[str, Any], connection: Connection) -> Row[Any] | None:
    return _first_row(connection.execute(statement, params))


class IncidentIdInUse(Exception):
    """The summary's incident id is another postmortem's of the same team."""


def touch(
    executor: Connection | Session,
    postmortem_id: int,
    user_id: str,
    now: datetime,
    changes: dict[str, Any],
    card_holder: str | None,
) -> Row[Any] | None:
    """Who edited last, what the save changes on the postmortem, and the card marked out of date."""
    statement = touch_statement(tuple(changes), take_card=card_holder is not None)
    params = touch_params(postmortem_id, user_id, now, changes, card_holder)
    try:
        return executor.execute(statement, params).one_or_none()
    except IntegrityError:
        raise IncidentIdInUse from None


class StoreBase:
    """The ground the store's parts share; ``storage.store.Store`` puts them together."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
        links: LinkTemplates = NO_LINKS,
    ) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._autocommit = engine if self._sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        self.clock: Clock = clock or SystemClock()
        self.catalog: Catalog = catalog or default_catalog()
        self.links = links
        """The operator's trace link templates, handed out with every record."""
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._kept: set[tuple[str, str]] = set()

    def reading(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads, in no transaction: on PostgreSQL without the round trips of BEGIN and
        ROLLBACK (at READ COMMITTED each statement sees its own snapshot, in a transaction or not);
        sqlite3 opens none before a read."""
        return self._autocommit.connect()

    async def write(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """A write that is one statement, a transaction by itself, and the row it returns (if any):
        on PostgreSQL in autocommit, without the round trips of BEGIN and COMMIT; on SQLite with
        its commit in one trip to the database's thread."""
        if self._sqlite:
            return await in_one_trip(self.engine, functools.partial(_one_row, statement, params))
        async with self._autocommit.connect() as connection:
            return _first_row(await connection.execute(statement, params))

    async def _audit(
        self, executor: AsyncConnection | AsyncSession, postmortem_id: int, actor: str, event: str, **detail: Any
    ) -> None:
        await executor.execute(INSERT_AUDIT, audit_params(postmortem_id, actor, event, self.clock.now(), **detail))
