"""Storage on a real database: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.catalog import builtin
from bot.domain.clock import FixedClock
from bot.domain.document import CorrectiveAction, validate_section
from bot.example import ANSWERS
from storage.card_lease import LEASE_FOR, CardLeases
from storage.ledger import Ledger
from storage.read_models import open_action_ids
from storage.records import Conflict, IncidentIdTaken, SavedSection
from storage.store import Store
from tests.plans import sqlite_plan


async def test_concurrent_starts_create_one_postmortem(store: Store) -> None:
    results = await asyncio.gather(*(store.open_postmortem("T1", "C1", f"U{i}", "inc-1") for i in range(6)))
    assert len({record.id for record, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_incident_id_is_unique_per_team(store: Store) -> None:
    await store.open_postmortem("T1", "C1", "U1", "inc-1")
    with pytest.raises(IncidentIdTaken) as taken:
        await store.open_postmortem("T1", "C2", "U1", "inc-1")
    assert taken.value.channel_id == "C1"
    other_team, created = await store.open_postmortem("T2", "C2", "U1", "inc-1")
    assert created and other_team.incident_id == "inc-1"


async def test_stale_version_is_a_conflict_and_keeps_the_first_answer(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", "inc-1")
    first = validate_section("root_cause", ANSWERS["root_cause"])
    second = {**first, "immediate_cause": "something else"}
    assert (await store.save_section(record.id, "root_cause", first, 0, "UALICE", builtin())).version == 1
    with pytest.raises(Conflict) as conflict:
        await store.save_section(record.id, "root_cause", second, 0, "UBOB", builtin())
    assert conflict.value.current.updated_by == "UALICE"
    assert conflict.value.current.data["immediate_cause"] == "approval_scope_too_broad"
    assert (await store.save_section(record.id, "root_cause", second, 1, "UBOB", builtin())).version == 2
    stored = await store.get(record.id)
    assert stored is not None and stored.doc.value("root_cause", "immediate_cause") == "something else"
    assert [(a.event, a.actor, a.section_key, a.detail, a.at) for a in await store.audit(record.id)] == [
        ("started", "U1", None, {}, store.clock.now()),
        ("section_saved", "UALICE", "root_cause", {"version": 1}, store.clock.now()),
        ("section_saved", "UBOB", "root_cause", {"version": 2}, store.clock.now()),
    ], "the refused save left no entry"


async def test_two_concurrent_saves_on_one_version_let_exactly_one_win(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    data = validate_section("artifacts", ANSWERS["artifacts"])
    outcomes = await asyncio.gather(
        *(
            store.save_section(record.id, "artifacts", {**data, "trace_id": f"t-{i}"}, 0, f"U{i}", builtin())
            for i in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(o, SavedSection) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3


async def test_saving_the_summary_renames_the_incident_but_not_onto_another(store: Store) -> None:
    a, _ = await store.open_postmortem("T1", "C1", "U1", "inc-a")
    await store.open_postmortem("T1", "C2", "U1", "inc-b")
    summary = validate_section("summary", {**ANSWERS["summary"], "incident_id": "inc-a2"})
    await store.save_section(a.id, "summary", summary, 0, "U1", builtin())
    assert (await store.by_incident("inc-a2")) is not None
    taken = {**summary, "incident_id": "inc-b"}
    with pytest.raises(IncidentIdTaken):
        await store.save_section(a.id, "summary", taken, 1, "U1", builtin())
    assert (await store.section(a.id, "summary")).data["incident_id"] == "inc-a2"


async def test_one_card_renderer_at_a_time_and_it_renders_until_nothing_changed(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    marked = (await store.get(record.id)).card_revision  # type: ignore[union-attr]
    cards = CardLeases(store)
    wanted = await asyncio.gather(*(cards.want(record.id) for _ in range(5)))
    (lease,) = [lease for lease in wanted if lease is not None]
    again = await cards.release(lease)
    assert again is not None and again.revision == marked + 5, "four changes while it rendered: render the newest"
    assert await cards.want(record.id) is None, "another change: the holder renders it"
    last = await cards.release(again)
    assert last is not None and last.revision == marked + 6
    assert await cards.release(last) is None, "nothing changed since: released"
    assert await cards.want(record.id) is not None, "free for the next change"


async def test_a_card_lease_left_by_a_crashed_renderer_expires(store: Store, clock: FixedClock) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    cards = CardLeases(store)
    assert await cards.want(record.id) is not None  # and then the process died
    clock.advance(LEASE_FOR)
    assert await cards.want(record.id) is None, "held for its whole lifetime"
    clock.advance(timedelta(seconds=1))
    assert await cards.want(record.id) is not None, "taken over once expired"


async def test_actions_are_rows_with_their_own_updates(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    action_id = await store.save_action(
        record.id, CorrectiveAction(action="Add eval", kind="add_regression_eval"), "U1"
    )
    edited = CorrectiveAction(id=action_id, action="Add eval", kind="add_regression_eval", owner="U2")
    await store.save_action(record.id, edited, "U1")
    stored = await store.get(record.id)
    assert stored is not None
    assert [(a.id, a.owner) for a in stored.doc.actions] == [(action_id, "U2")]


async def test_the_ledger_looks_up_more_keys_than_one_statement_can_carry(store: Store) -> None:
    assert await Ledger(store).known([f"{i}:overdue:2026-04-14:U1" for i in range(40_000)]) == {}


async def test_an_action_form_saved_twice_creates_one_action(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    action = CorrectiveAction(action="Add eval", kind="add_regression_eval")
    first = await store.save_action(record.id, action, "U1", form_view="V1")
    again = await store.save_action(record.id, action, "U1", form_view="V1")  # a retried delivery
    at_once = await asyncio.gather(*(store.save_action(record.id, action, "U1", form_view="V2") for _ in range(4)))
    other = await store.save_action(record.id, action, "U1", form_view="V3")

    assert again == first and len(set(at_once)) == 1 and len({first, at_once[0], other}) == 3
    stored = await store.get(record.id)
    assert stored is not None and len(stored.doc.actions) == 3
    assert [a.event for a in await store.audit(record.id)].count("action_added") == 3


async def test_a_save_on_an_outdated_version_is_a_conflict_and_overwrites_nothing(store: Store) -> None:
    record, _ = await store.open_postmortem("T1", "C1", "U1", None)
    data = validate_section("artifacts", ANSWERS["artifacts"])
    assert (await store.save_section(record.id, "artifacts", data, 0, "UALICE", builtin())).version == 1
    alices = {**data, "trace_id": "trace-alice"}
    bobs = {**data, "trace_id": "trace-bob"}
    assert (await store.save_section(record.id, "artifacts", alices, 1, "UALICE", builtin())).version == 2
    with pytest.raises(Conflict) as conflict:
        await store.save_section(record.id, "artifacts", bobs, 1, "UBOB", builtin())  # Bob opened it at version 1
    assert conflict.value.current.version == 2 and conflict.value.current.data["trace_id"] == "trace-alice"
    stored = await store.section(record.id, "artifacts")
    assert (stored.version, stored.data["trace_id"], stored.updated_by) == (2, "trace-alice", "UALICE")


async def test_app_home_lists_a_persons_actions_and_those_their_postmortems_need_an_owner_for(store: Store) -> None:
    alice, bob, gone = "U0ALICE001", "U0BOB00001", "U0GONE0001"
    hers, _ = await store.open_postmortem("T1", "C1", alice, None)
    his, _ = await store.open_postmortem("T1", "C2", bob, None)
    other_team, _ = await store.open_postmortem("T2", "C3", alice, None)
    await store.keep_answer(gone, None, True)
    for name, record, owner, status in [
        ("hers, unowned", hers, None, "open"),
        ("hers, a team's", hers, "platform-team", "open"),
        ("hers, owner gone", hers, gone, "open"),
        ("hers, bob's", hers, bob, "open"),
        ("hers, done", hers, alice, "done"),
        ("his, alice's", his, alice, "open"),
        ("his, unowned", his, None, "open"),
        ("other team, alice's", other_team, alice, "open"),
    ]:
        await store.save_action(record.id, CorrectiveAction(action=name, owner=owner, status=status), alice)
    listed = {context.action.action for context in await store.open_actions_for("T1", alice)}
    assert listed == {"hers, unowned", "hers, a team's", "hers, owner gone", "his, alice's"}
    assert {c.action.action for c in await store.open_actions_for("T1", bob)} == {"hers, bob's", "his, unowned"}


async def test_app_home_reads_a_persons_actions_through_indexes_not_every_open_action(store: Store) -> None:
    plan = await sqlite_plan(store, open_action_ids("T1", "U0ALICE001"))
    assert not [step for step in plan if "ix_corrective_actions_open" in step or step.startswith("SCAN corrective")]
    assert "SEARCH corrective_actions USING INDEX ix_corrective_actions_unowned (status=?)" in plan, plan
