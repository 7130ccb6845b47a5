"""SQLite through aiosqlite in one trip to its thread per statement.

aiosqlite runs sqlite3 on a thread of its own, and every call is a trip: a queue put that
wakes the thread, then a write to the event loop's self-pipe to hand the answer back.
SQLAlchemy's aiosqlite adapter makes four trips per statement (open a cursor, execute,
fetch the rows, close the cursor); measured on a request of five statements, the trips
were a seventh of the request's CPU time. Here one trip does all four, with the same
sqlite3 calls in the same order on aiosqlite's thread. (SQLAlchemy's own adapter reaches
aiosqlite's queue the same way to set the isolation level.)

A transaction still made a trip per statement and one for its commit. ``in_one_trip`` runs
a whole transaction, written as a function of a synchronous connection, in one trip.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")
_TRIPS = "postmortem_bot_trips"

Outcome = tuple[Any, list[Any], int, int | None]
"""What DB-API callers read of a cursor: description, rows, rowcount, lastrowid."""


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """On aiosqlite's thread: the statement, start to end, on a cursor of its own."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters if parameters is not None else ())
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A DB-API cursor whose every statement is one trip; rows are buffered, as the stock adapter does."""

    __slots__ = ("_outcome",)
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # opens nothing: trips do
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: Outcome = (None, [], -1, None)

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[2]

    @property
    def lastrowid(self) -> int | None:
        return self._outcome[3]

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        try:
            self._outcome = await_(connection._execute(_execute, connection._conn, operation, parameters, many))
        except Exception as error:  # noqa: BLE001 - translated into DB-API errors, as the stock adapter does
            self._adapt_connection._handle_exception(error)
        self._rows = collections.deque(self._outcome[1])

    async def _async_soft_close(self) -> None:
        """Nothing stays open between trips."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        """No trip where there is nothing to roll back: sqlite3 begins a transaction before a write
        only, so a connection that only read (returned to the pool, which rolls back) has none.
        Read off the thread, safely: a checked-out connection runs nothing meanwhile."""
        sqlite = self._connection._connection
        if sqlite is not None and not sqlite.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Given to the engine as its DB-API module (``module=``): connections whose cursors make one trip."""

    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        stock = super().connect(*args, **kwargs)
        return OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    import aiosqlite

    return OneTripDBAPI(aiosqlite, sqlite3)


async def in_one_trip(engine: AsyncEngine, work: Callable[[Connection], T]) -> T:
    """``work``'s statements and their commit (a rollback when it raises) in one trip to aiosqlite's thread.

    ``work`` runs there on a synchronous SQLAlchemy connection over the very sqlite3 connection
    the pool lends, so its SQL, types and errors are SQLAlchemy's as everywhere else; only the
    trips between statements are gone. A save of three statements made four trips, and each
    trip wakes that thread and then the event loop.
    """
    async with engine.connect() as connection:
        lent = await connection.get_raw_connection()
        thread = lent.driver_connection
        trips = lent.info.get(_TRIPS)
        if trips is None:
            trips = lent.info[_TRIPS] = _Trips(engine, thread._conn)
        return await thread._execute(trips.run, work)


class _Trips:
    """One pooled sqlite3 connection's transactions in one trip each. Kept in the pool's ``info``
    for that connection, it goes when the pool drops the connection."""

    def __init__(self, engine: AsyncEngine, sqlite: sqlite3.Connection) -> None:
        self._heard = engine.sync_engine.dispatch
        self._engine = create_engine("sqlite://", creator=lambda: sqlite, poolclass=StaticPool)
        self._connection: Connection | None = None
        self._forwarding = False

    def run(self, work: Callable[[Connection], T]) -> T:
        """On aiosqlite's thread, where the connection is opened (sqlite3 checks the thread) and kept."""
        if self._connection is None:
            self._connection = self._engine.connect()
        self._forward_statements()
        with self._connection.begin():
            return work(self._connection)

    def _forward_statements(self) -> None:
        """Who listens for ``engine``'s statements before they are sent (counting them, say) hears these
        too. Only once someone does: listening slows every statement down, and the app itself never does."""
        if not self._forwarding and self._heard.before_cursor_execute:
            event.listen(self._engine, "before_cursor_execute", self._forward)
            self._forwarding = True

    def _forward(self, *args: Any) -> None:
        self._heard.before_cursor_execute(*args)
