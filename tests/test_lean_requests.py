"""What a request costs the database: the postmortem read once, and a handful of statements.

Every statement is a round trip (and on PostgreSQL, a network one) made while a person
waits for the next modal, so a save reads the postmortem once, stores the answers, the
audit entry and the card's mark all or nothing (in one statement on PostgreSQL), and
releases the card after its edit. On SQLite, a trip to the database's thread wakes that
thread and then the event loop: a transaction is one trip, its commit included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import example
from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
from storage.card_lease import CardLeases
from storage.db import POOL_SIZE
from storage.sqlite_trips import in_one_trip
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER
SAVE_STATEMENTS = {"postgresql": 3, "sqlite": 5}
"""The read, the save (one statement, or three in a transaction) and the card's release."""
START_STATEMENTS = {"postgresql": 2, "sqlite": 3}
"""The postmortem with its audit entry (one statement, or two in a transaction) and the card's release."""


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the app sends while inside, as sent."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every trip to aiosqlite's thread, named by what it ran there."""
    made: list[str] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(fn.__name__)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


def postmortem_reads(sent: list[str]) -> list[str]:
    return [s for s in sent if s.startswith("SELECT") and " FROM postmortems" in s]


async def test_save_and_next_reads_the_postmortem_once_and_saves_in_one_statement_on_postgresql(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-lean-1")
    await listeners_finished()
    for section, answers in [
        ("summary", {**example.ANSWERS["summary"], "incident_id": "inc-lean-1"}),  # renames the incident too
        ("what_happened", example.ANSWERS["what_happened"]),
    ]:
        with statements(store.engine) as sent:
            saved = await walk.save(answers)
            await listeners_finished()  # the card's edit and release come after the answer
        assert saved.errors is None and saved.view is not None, section
        assert len(postmortem_reads(sent)) == 1, f"{section}: {postmortem_reads(sent)}"
        assert len(sent) == SAVE_STATEMENTS[store.engine.dialect.name], f"{section}: {len(sent)}: {sent}"
        assert not [s for s in sent if "UNION ALL" in s], f"{section}: actions read where there are none"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id == "inc-lean-1"
    assert set(record.sections) == {"summary", "what_happened"}
    assert "Sections done: 2/10" in str(standin.messages(CHANNEL)[0]["blocks"])


async def test_a_start_creates_the_postmortem_with_its_audit_entry_in_one_statement_on_postgresql(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    await Walkthrough(slack, standin, ALICE, "C0FIRST").start("inc-lean-1")  # stores the template, once
    await listeners_finished()
    with statements(store.engine) as sent:
        await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-lean-2")
        await listeners_finished()
    assert len(sent) == START_STATEMENTS[store.engine.dialect.name], f"{len(sent)} statements: {sent}"
    assert len(standin.messages(CHANNEL)) == 1
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.card_ts == standin.messages(CHANNEL)[0]["ts"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_a_start_and_a_save_make_a_trip_per_transaction(
    slack: SlackDriver, standin: SlackStandin, store: Store, trips: list[str]
) -> None:
    """The start's postmortem with its audit entry, then the card's release once it is posted; the
    save's read, its three statements with their commit, then the card's release: before, a
    transaction made a trip per statement and one more for its commit."""
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await Walkthrough(slack, standin, ALICE, "C0FIRST").start("inc-trips-0")  # stores the template, once
    await listeners_finished()
    trips.clear()
    await walk.start("inc-trips-1")
    await listeners_finished()
    assert len(trips) == 2, trips
    trips.clear()
    saved = await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-trips-1"})
    await listeners_finished()
    assert saved.errors is None and len(trips) == 3, trips
    assert "Sections done: 1/10" in str(standin.messages(CHANNEL)[0]["blocks"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_save_after_the_pool_replaced_its_sqlite_connection_uses_the_new_one(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    """A transaction's one trip runs on the connection the pool lends now, never on one it closed."""
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-trips-2")
    await listeners_finished()
    async with store.engine.connect() as connection:
        await connection.invalidate()  # the pool closes it and connects anew for the next checkout
    saved = await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-trips-2"})
    await listeners_finished()
    assert saved.errors is None and saved.view is not None
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and set(record.sections) == {"summary"}
    assert "Sections done: 1/10" in str(standin.messages(CHANNEL)[0]["blocks"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_transaction_whose_sqlite_connection_closed_fails_alone(store: Store) -> None:
    """The pool drops a connection that closed during a transaction's trip; the next write gets a new one."""
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    with pytest.raises(DBAPIError, match="closed database"):
        await in_one_trip(store.engine, lambda connection: connection.connection.dbapi_connection.close())
    assert await CardLeases(store).want(record.id) is not None, "the next write ran, on a new connection"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_bursts_of_twenty_starts_share_the_pools_connections_and_keep_them(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    """A burst past the pool waits for its connections instead of opening more: SQLAlchemy's
    overflow connected anew past the fifth and closed those on return (a server process forked
    and a login each time), and a connection per command let twenty backends take the bot's CPU."""
    opened: list[object] = []
    in_use: list[int] = []
    event.listen(store.engine.sync_engine, "connect", lambda connection, _record: opened.append(connection))
    event.listen(store.engine.sync_engine, "checkout", lambda *_: in_use.append(store.engine.pool.checkedout()))
    for burst in range(3):
        channels = [f"C0BURST{burst}{n:02d}" for n in range(20)]
        answers = await asyncio.gather(
            *(slack.command(f"start inc-burst-{burst}-{n}", user=ALICE, channel=c) for n, c in enumerate(channels))
        )
        await listeners_finished()
        assert [a.status for a in answers] == [200] * 20
        assert [len(standin.messages(c)) for c in channels] == [1] * 20, "one card in every channel"
    assert len(opened) <= POOL_SIZE, f"{len(opened)} connections opened for 60 starts"
    assert 1 < max(in_use) <= POOL_SIZE, f"{max(in_use)} connections in use at once"
