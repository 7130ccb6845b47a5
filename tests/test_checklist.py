"""Section 12: every item is an explicit yes, or an explicit no that names what is missing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot import example
from bot.domain.checklist import ChecklistItem, checklist
from bot.domain.document import CorrectiveAction, Postmortem

QUESTIONS = {
    "incident_id": "Does the postmortem include a precise incident_id?",
    "artifacts": "Are trace_id, session_id, bundle_id, and change_id reconstructed?",
    "contributing": "Does it include contributing factors, not only a root cause?",
    "control_gaps": "Are control gaps recorded?",
    "actions": "Are there concrete corrective actions with owners and due dates?",
    "lifecycle": "Is it clear which lifecycle artifacts must change?",
    "evals": "Does the incident flow back into evals and rollout criteria?",
}
DUE = date(2026, 4, 20)
EVAL_OR_ROLLOUT_KINDS = ("update_eval_dataset", "add_regression_eval", "update_rollout_gate")


def action(
    kind: str = "other", owner: str | None = "U0OWNER01", due: date | None = DUE, **more: Any
) -> CorrectiveAction:
    return CorrectiveAction(action="Do the thing", kind=kind, owner=owner, due=due, **more)


def wont_do(kind: str = "other", **more: Any) -> CorrectiveAction:
    return action(kind, status="wont_do", status_reason="superseded", **more)


def complete() -> Postmortem:
    """The worked example with every action owned and dated: a yes everywhere."""
    actions = [action(a["kind"]) for a in example.ACTIONS]
    return Postmortem(incident_id=example.INCIDENT_ID, answers=example.ANSWERS, actions=actions)


def changed(section: str, **answers: Any) -> Postmortem:
    pm = complete()
    merged = {**pm.answers[section], **answers}
    return pm.model_copy(
        update={"answers": {**pm.answers, section: {k: v for k, v in merged.items() if v is not None}}}
    )


def item(pm: Postmortem, key: str) -> ChecklistItem:
    (found,) = [i for i in checklist(pm) if i.question == QUESTIONS[key]]
    return found


def test_a_complete_postmortem_is_yes_on_every_item_in_the_templates_order() -> None:
    items = checklist(complete())
    assert [i.question for i in items] == list(QUESTIONS.values())
    assert [(i.answer, i.missing) for i in items] == [("yes", "")] * len(QUESTIONS)


def test_an_empty_postmortem_is_an_explicit_no_on_every_item_saying_what_is_missing() -> None:
    items = {i.question: (i.answer, i.missing) for i in checklist(Postmortem())}
    assert items == {
        QUESTIONS["incident_id"]: ("no", "missing: incident_id"),
        QUESTIONS["artifacts"]: ("no", "missing: trace_id, session_id, bundle_id, change_id"),
        QUESTIONS["contributing"]: ("no", "missing: contributing factors"),
        QUESTIONS["control_gaps"]: ("no", "missing: policy decision, failed approvals, checks or detection"),
        QUESTIONS["actions"]: ("no", "missing: corrective actions"),
        QUESTIONS["lifecycle"]: ("no", "missing: retirement_plan, registry_update, taxonomy_change"),
        QUESTIONS["evals"]: ("no", "missing: eval cases or an eval/rollout corrective action, rollout gate decision"),
    }


PLACEHOLDERS = ["unknown", "Unknown", " UNKNOWN ", "tbd", "TBD", "n/a", " N/A", "na", "none", "todo", "?", "-", "--"]


@pytest.mark.parametrize("placeholder", [*PLACEHOLDERS, "", "   "])
def test_a_placeholder_is_not_an_answer(placeholder: str) -> None:
    assert item(changed("summary", incident_id=placeholder), "incident_id").missing == "missing: incident_id"
    no_trace = item(changed("artifacts", trace_id=placeholder, change_id=placeholder), "artifacts")
    assert (no_trace.answer, no_trace.missing) == ("no", "missing: trace_id, change_id")


@pytest.mark.parametrize("value", ["inc-7", "unknown-7", "n/a-2026", "  tbd2 "])
def test_a_value_that_merely_contains_a_placeholder_word_is_an_answer(value: str) -> None:
    assert item(changed("summary", incident_id=value), "incident_id").ok
    assert item(changed("artifacts", session_id=value), "artifacts").ok


def test_a_root_cause_without_contributing_factors_is_a_no() -> None:
    assert item(changed("root_cause", contributing=None), "contributing").missing == "missing: contributing factors"


@pytest.mark.parametrize("gap", ["approval_failure", "missed_checks", "detection"])
def test_one_recorded_control_gap_is_enough(gap: str) -> None:
    others = {k: None for k in ("approval_failure", "missed_checks", "detection") if k != gap}
    assert item(changed("control_layer", **others), "control_gaps").ok


def test_control_gaps_need_the_policy_decision_and_a_gap() -> None:
    no_gap = changed("control_layer", approval_failure=None, missed_checks=None, detection=None)
    assert item(no_gap, "control_gaps").missing == "missing: failed approvals, checks or detection"
    no_policy = changed("control_layer", policy_decision=None)
    assert item(no_policy, "control_gaps").missing == "missing: policy decision"


def test_actions_without_owner_or_due_date_are_counted() -> None:
    pm = complete().model_copy(update={"actions": [action(owner=None), action(owner=None, due=None), action()]})
    assert item(pm, "actions").missing == "missing: owner on 2 action(s), due date on 1 action(s)"


def test_wont_do_actions_are_not_live_actions() -> None:
    only_dropped = complete().model_copy(update={"actions": [wont_do(), wont_do("add_regression_eval")]})
    assert item(only_dropped, "actions").missing == "missing: corrective actions"
    dropped_unowned = complete().model_copy(update={"actions": [action(), wont_do(owner=None, due=None)]})
    assert item(dropped_unowned, "actions").ok, "a dropped action needs no owner or due date"


@pytest.mark.parametrize("field", ["retirement_plan", "registry_update", "taxonomy_change"])
def test_a_lifecycle_question_left_unknown_is_a_no(field: str) -> None:
    unknown = changed("lifecycle", **{field: {"answer": "unknown", "details": "ask the registry team"}})
    assert item(unknown, "lifecycle").missing == f"missing: {field}"
    assert item(changed("lifecycle", **{field: {"answer": "no", "details": ""}}), "lifecycle").ok, "no is an answer"


@pytest.mark.parametrize("kind", sorted(EVAL_OR_ROLLOUT_KINDS))
def test_an_eval_or_rollout_action_stands_in_for_eval_cases(kind: str) -> None:
    pm = changed("evals_rollout", eval_cases=None, new_evals=None).model_copy(update={"actions": [action(kind)]})
    assert item(pm, "evals").ok


@pytest.mark.parametrize(
    "actions",
    [[action("update_policy_bundle"), action("other")], [wont_do("add_regression_eval")]],
    ids=["other-kinds", "dropped-eval-action"],
)
def test_without_eval_cases_only_a_live_eval_or_rollout_action_counts(actions: list[CorrectiveAction]) -> None:
    pm = changed("evals_rollout", eval_cases=None, new_evals=None).model_copy(update={"actions": actions})
    assert item(pm, "evals").missing == "missing: eval cases or an eval/rollout corrective action"


@pytest.mark.parametrize("field", ["eval_cases", "new_evals"])
def test_either_list_of_evals_is_enough(field: str) -> None:
    pm = changed("evals_rollout", **{field: None}).model_copy(update={"actions": []})
    assert item(pm, "evals").ok


def test_the_rollout_gate_needs_a_yes_or_no() -> None:
    unknown = changed("evals_rollout", rollout_gate={"answer": "unknown", "details": ""})
    assert item(unknown, "evals").missing == "missing: rollout gate decision"
    assert item(changed("evals_rollout", rollout_gate={"answer": "no", "details": ""}), "evals").ok
