"""Engine creation and schema upgrades, the same way for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import socket
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.sqlite_trips import one_trip_dbapi

MIGRATIONS = Path(__file__).with_name("migrations")
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
_MIGRATION_LOCK = 7_461_302  # any constant: serializes replicas upgrading one PostgreSQL database
_IN_MEMORY = ("", ":memory:")
_IDLE_SINCE = "postmortem_bot_idle_since"
_FIRST_WITH_JIT = 11


class DatabaseUnavailable(Exception):
    """The database cannot be opened; the message says why in one line, for the operator."""


def async_url(url: str) -> str:
    """Operators write plain ``sqlite:///``, ``postgresql://`` or ``postgres://``; we pick the async driver.

    libpq's ``sslmode``, which hosts put in the URLs they hand out, is asyncpg's ``ssl``.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        return url
    if backend != "sqlite" and "sslmode" in parsed.query:
        ssl = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": ssl})
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def sqlite_file(url: str | URL) -> Path | None:
    """The file behind a SQLite URL; None for in-memory SQLite and for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or (parsed.database or "") in _IN_MEMORY:
        return None
    return Path(parsed.database or "").absolute()


PING_AFTER_IDLE_SECONDS = 30.0
RECYCLE_SECONDS = 1800
POOL_SIZE = 5
"""Connections each process opens to PostgreSQL at most, and keeps (``DATABASE_POOL_SIZE``)."""


def create_engine(
    url: str, ping_after_idle: float = PING_AFTER_IDLE_SECONDS, pool_size: int = POOL_SIZE
) -> AsyncEngine:
    """A pooled engine that pings a connection only when it sat idle for ``ping_after_idle`` seconds.

    A ping on every checkout (SQLAlchemy's ``pool_pre_ping``) costs a round trip per
    transaction, several per request; a connection in steady use is alive. One that idled
    may have been dropped by the server or a proxy: it is pinged, and replaced if dead. One
    the server closed (a restart, a failover, a terminated backend) is replaced whenever it is
    taken, without a round trip: the driver saw the server's goodbye. Connections are also
    recycled every half hour, before servers' idle timeouts.
    """
    sqlite = make_url(url).get_backend_name() == "sqlite"
    options = _sqlite_options(url) if sqlite else _server_options(pool_size)
    engine = create_async_engine(async_url(url), pool_recycle=RECYCLE_SECONDS, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine, "connect", _without_jit)
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    event.listen(engine.sync_engine, "checkout", functools.partial(_check_on_checkout, ping_after_idle))
    return engine


def _server_options(pool_size: int) -> dict[str, Any]:
    """At most ``pool_size`` connections, kept open between requests; a request past them waits
    for one to come back, which takes a few milliseconds: none is held across a Slack call.

    Connections past a kept pool (SQLAlchemy's overflow) were closed as soon as they came back,
    so bursts connected anew again and again: a backend forked and a login each time. Keeping
    one per concurrent command (twenty) instead let twenty backends run at once, and on a
    machine the server shares with the bot they took the event loop's core from it just as the
    next commands arrived: start -> ``views.open`` p99 with twenty users 1.22-1.94x bare Bolt's,
    against 0.90-0.98x with five (BENCHMARKS.md, session 16). The loop, not the server, is
    what a burst waits for; more connections only let more of the server's work compete."""
    return {"pool_size": pool_size, "max_overflow": 0}


def _sqlite_options(url: str) -> dict[str, Any]:
    """SQLite's statements make one trip each to aiosqlite's thread (``storage.sqlite_trips``).

    SQLite takes one writer at a time and makes the others sleep and retry (its busy
    timeout, in steps of up to 100 ms): one connection per process queues them on the event
    loop instead, without sleeping. No request holds a connection across a Slack call."""
    trips = {"module": one_trip_dbapi()}
    return trips if sqlite_file(url) is None else {**trips, "pool_size": 1, "max_overflow": 0}


def _note_checkin(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _check_on_checkout(
    ping_after_idle: float, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: object
) -> None:
    """Raising ``DisconnectionError`` here makes the pool connect the entry anew and hand that out."""
    if _closed_by_server(dbapi_connection):
        raise DisconnectionError("the server closed this connection")
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < ping_after_idle:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as exc:
        raise DisconnectionError(f"idle connection is gone: {exc}") from exc


def _closed_by_server(dbapi_connection: Any) -> bool:
    """asyncpg notices the server closing a connection, pooled or not (aiosqlite has nothing to notice)."""
    is_closed = getattr(dbapi_connection.driver_connection, "is_closed", None)
    return bool(is_closed is not None and is_closed())


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """The busy timeout queues writers instead of failing (set first: switching to WAL takes a lock);
    WAL lets readers run beside a writer."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _without_jit(dbapi_connection: Any, _record: object) -> None:
    """PostgreSQL compiles a statement it estimates costly to machine code first (JIT): 167 ms of the
    insights' 329 ms at 500,000 open actions, for reads that take milliseconds. Estimates run high
    here (PostgreSQL cannot know how few open actions are past due), and every statement of the bot
    is an index read that runs faster than it would compile. Set outside a transaction, which would
    take it back when rolled back; not in the startup packet, which pgbouncer refuses. PostgreSQL
    before 11 has no JIT, and would refuse the setting."""
    if dbapi_connection.driver_connection.get_server_version().major < _FIRST_WITH_JIT:
        return
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.close()
    dbapi_connection.autocommit = False


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    """One upgrade at a time: PostgreSQL's advisory lock, SQLite's write lock, taken before
    alembic reads the version table (two processes creating a new database both saw none)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(alembic_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration; safe when several processes start at once."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def open_database(url: str, *, create: bool = True, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """An engine on an up-to-date schema, or DatabaseUnavailable saying why not.

    ``create=False`` refuses a SQLite file that does not exist yet rather than making an empty one.
    """
    path = sqlite_file(url)
    if path is not None and not create and not path.exists():
        raise DatabaseUnavailable(f"no database at {path}: `postmortem-bot migrate` creates it")
    if path is not None and not path.parent.is_dir():  # told before aiosqlite starts a thread that fails
        raise DatabaseUnavailable(f"cannot open the database file {path}: folder {path.parent} does not exist")
    engine = create_engine(url, pool_size=pool_size)
    try:
        async with engine.connect():
            pass
    except (OSError, DBAPIError) as exc:
        await engine.dispose()
        raise DatabaseUnavailable(_cannot_connect(make_url(url), exc)) from None
    await upgrade(engine)
    return engine


def _cannot_connect(url: URL, exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    path = sqlite_file(url)
    if path is not None:
        return f"cannot open the database file {path}: {_first_line(cause)}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if isinstance(cause, socket.gaierror):
        return f"cannot connect to the database at {where}: unknown host {url.host}"
    if isinstance(cause, ConnectionRefusedError):
        return f"cannot connect to the database at {where}: connection refused"
    return f"cannot connect to the database at {where}: {_first_line(cause)}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


async def ping(engine: AsyncEngine) -> bool:
    """Whether the database answers; a SQLite file deleted under a running process does not,
    although the connections open on it still would."""
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        return False
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
    return True
