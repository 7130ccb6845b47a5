"""YAML (section 11) and Markdown exports, and the YAML import.

The postmortem used throughout is the template's own worked example: the support-triage agent
that opened a duplicate ticket in a thread.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from bot.domain.document import CorrectiveAction, Postmortem, validate_action, validate_section
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_in import ImportFileError, from_yaml
from bot.domain.export.yaml_out import to_yaml, yaml_dumper

SECTION_11_KEYS = [
    "incident_id",
    "severity",
    "owner",
    "active_artifacts",
    "root_cause",
    "corrective_actions",
    "lifecycle_updates",
]

# The template's own section 11 example, as printed in the spec.
SPEC_EXAMPLE = (Path(__file__).parent / "data" / "section11_example.yaml").read_text()

RAW_ANSWERS = {
    "summary": {
        "incident_id": "inc-2026-04-09-001",
        "occurred_at": "2026-04-09T14:32:00+02:00",
        "severity": "sev2",
        "status": "resolved",
        "owner": "U04PLATOPS",
        "postmortem_status": "in_review",
        "summary": (
            "The support-triage agent created a second ticket for the same customer thread.\n"
            "The retried create_ticket call carried no idempotency_key."
        ),
    },
    "what_happened": {
        "agent_or_workflow": "support-triage agent",
        "trigger": "A customer reply in an existing thread re-entered the triage path after a tool timeout.",
        "risky_action": "create_ticket was called twice; the retry ran after side_effect_unknown.",
        "real_side_effect": {"answer": "yes", "details": "a duplicate ticket was opened and routed"},
        "category": "unauthorized_side_effect",
    },
    "artifacts": {
        "trace_id": "trace-2026-04-09-001",
        "session_id": "session-2026-04-09-001",
        "bundle_id": "bundle-2026-04-07-a",
        "change_id": "chg-2026-04-07-001",
        "rollout_wave": "canary",
        "policy_bundle": "support-policy-2026-04-07",
        "approval_mode": "auto_low_risk",
        "tool_principal": "svc-ticket-writer-v1",
    },
    "containment": {
        "first_actions": "Paused the canary wave and disabled create_ticket retries.",
        "restricted": "create_ticket moved behind human approval.",
        "rollback_required": {"answer": "no"},
        "revocations": {"answer": "yes", "details": "svc-ticket-writer-v1 lost its write scope"},
    },
    "root_cause": {
        "immediate_cause": "approval_scope_too_broad",
        "contributing": ["missing_targeted_eval", "stale_rollout_gate", "no idempotency_key on retries"],
        "failed_gate": "The rollout gate did not look at side_effect_unknown outcomes.",
        "areas": ["approvals", "rollout"],
    },
    "control_layer": {
        "policy_decision": "Low-risk auto approval covered create_ticket retries.",
        "approval_failure": ["wrong approval scope"],
        "missed_checks": "No eval had a retry after side_effect_unknown.",
        "detection": "Duplicate-ticket detection ran daily, not per run.",
    },
    "blast_radius": {
        "affected": "One customer thread; two tickets in the helpdesk.",
        "external_systems": {"answer": "yes", "details": "helpdesk"},
        "memory_affected": {"answer": "unknown", "details": "memory audit pending"},
        "scope": "rollout wave",
    },
    "lifecycle": {
        "change_id": "chg-2026-04-09-003",
        "bundle_id": "bundle-2026-04-09-b",
        "retirement_plan": {"answer": "yes", "details": "retire the old ticket writer"},
        "registry_update": {"answer": "yes"},
        "taxonomy_change": {"answer": "no"},
    },
    "evals_rollout": {
        "eval_cases": ["duplicate-ticket thread, retry after side_effect_unknown"],
        "new_evals": ["control eval: create_ticket without idempotency_key is refused"],
        "rollout_gate": {"answer": "yes", "details": "block promotion on any side_effect_unknown repeat"},
        "canary_scope": {"answer": "yes"},
    },
}

RAW_ACTIONS = [
    {
        "action": "Add the duplicate-ticket thread to the eval dataset",
        "kind": "update_eval_dataset",
        "owner": "U02EVALS",
        "due": date(2026, 4, 12),
        "artifact": "eval dataset support-triage",
    },
    {
        "action": "Gate rollout past canary on side_effect_unknown repeats",
        "kind": "update_rollout_gate",
        "owner": "runtime-team",
        "due": date(2026, 4, 13),
        "artifact": "rollout gate",
    },
    {
        "action": "Require approval for create_ticket without an idempotency_key",
        "kind": "tighten_approval_policy",
        "owner": "U03SAFETY",
        "due": date(2026, 4, 10),
        "artifact": "policy bundle",
        "status": "done",
    },
    {
        "action": "Record the idempotency requirement in the ticket writer's registry record",
        "kind": "update_registry_record",
        "artifact": "registry record | ticket writer",
    },
    {
        "action": "Write a retirement plan for svc-ticket-writer-v1",
        "kind": "retire_capability_or_principal",
        "owner": "U04PLATOPS",
        "due": date(2026, 4, 20),
        "status": "wont_do",
        "status_reason": "covered by the registry change",
    },
]


def worked_example() -> Postmortem:
    """The worked example, entered as the Slack modals would: through the section validators."""
    answers = {key: validate_section(key, raw) for key, raw in RAW_ANSWERS.items()}
    actions = [validate_action(raw, action_id=i + 1) for i, raw in enumerate(RAW_ACTIONS)]
    return Postmortem(incident_id="inc-2026-04-09-001", answers=answers, actions=actions)


def without_ids(pm: Postmortem) -> Postmortem:
    """Action ids are database row ids; the file does not carry them."""
    return pm.model_copy(update={"actions": [a.model_copy(update={"id": None}) for a in pm.actions]})


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first line containing ``fragment``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def exported() -> dict:
    return yaml.safe_load(to_yaml(worked_example()))["postmortem"]


# --- YAML export: section 11's shape -------------------------------------------------------------


def test_the_file_starts_with_exactly_section_11s_keys_in_order() -> None:
    assert list(exported())[: len(SECTION_11_KEYS)] == SECTION_11_KEYS


def test_section_11s_nested_keys_hold_the_answers() -> None:
    doc = exported()
    assert doc["incident_id"] == "inc-2026-04-09-001"
    assert doc["severity"] == "sev2"
    assert doc["owner"] == "U04PLATOPS"
    assert doc["active_artifacts"] == {
        "trace_id": "trace-2026-04-09-001",
        "session_id": "session-2026-04-09-001",
        "bundle_id": "bundle-2026-04-07-a",
        "change_id": "chg-2026-04-07-001",
        "rollout_wave": "canary",
    }
    assert list(doc["active_artifacts"]) == [
        "trace_id",
        "session_id",
        "bundle_id",
        "change_id",
        "rollout_wave",
    ]
    assert list(doc["root_cause"]) == ["primary", "contributing"]
    assert doc["root_cause"]["primary"] == "approval_scope_too_broad"
    assert doc["root_cause"]["contributing"][:2] == ["missing_targeted_eval", "stale_rollout_gate"]
    assert doc["lifecycle_updates"] == {"change_id": "chg-2026-04-09-003", "bundle_id": "bundle-2026-04-09-b"}
    assert list(doc["lifecycle_updates"]) == ["change_id", "bundle_id"]


def test_each_corrective_action_starts_with_owner_action_due() -> None:
    actions = exported()["corrective_actions"]
    assert len(actions) == len(RAW_ACTIONS)
    for item in actions:
        assert list(item)[:3] == ["owner", "action", "due"]
    assert actions[0] == {
        "owner": "U02EVALS",
        "action": "Add the duplicate-ticket thread to the eval dataset",
        "due": date(2026, 4, 12),
        "kind": "update_eval_dataset",
        "artifact": "eval dataset support-triage",
        "status": "open",
    }
    # an unowned, undated action still has the template's keys, as nulls; no database id leaks
    assert actions[3]["owner"] is None and actions[3]["due"] is None
    assert "id" not in actions[3]
    assert actions[4]["status"] == "wont_do" and actions[4]["status_reason"] == "covered by the registry change"


def test_due_dates_are_plain_yaml_dates_and_the_incident_time_is_kept() -> None:
    text = to_yaml(worked_example())
    assert "    due: 2026-04-12\n" in text  # unquoted: a YAML date, not a string
    doc = yaml.safe_load(text)["postmortem"]
    assert isinstance(doc["corrective_actions"][0]["due"], date)
    occurred = doc["summary"]["occurred_at"]
    assert occurred == datetime(2026, 4, 9, 14, 32, tzinfo=timezone(timedelta(hours=2)))
    assert occurred.utcoffset() == timedelta(hours=2)


def test_other_answers_follow_one_mapping_per_section_then_the_checklist() -> None:
    doc = exported()
    assert list(doc)[len(SECTION_11_KEYS) :] == [
        "summary",
        "what_happened",
        "artifacts",
        "containment",
        "root_cause_details",  # section 5's key is taken by section 11's root_cause
        "control_layer",
        "blast_radius",
        "lifecycle",
        "evals_rollout",
        "checklist",
    ]
    assert list(doc["summary"]) == ["occurred_at", "status", "postmortem_status", "summary"]
    assert doc["artifacts"] == {
        "policy_bundle": "support-policy-2026-04-07",
        "approval_mode": "auto_low_risk",
        "tool_principal": "svc-ticket-writer-v1",
    }
    assert doc["root_cause_details"]["areas"] == ["approvals", "rollout"]
    assert doc["what_happened"]["real_side_effect"] == {
        "answer": "yes",
        "details": "a duplicate ticket was opened and routed",
    }
    assert doc["containment"]["rollback_required"] == {"answer": "no"}
    # section 11's root_cause holds exactly the template's keys, nothing of section 5's rest
    assert "failed_gate" not in doc["root_cause"]


def test_unanswered_questions_are_left_out_but_section_11_keeps_its_keys() -> None:
    pm = worked_example()
    del pm.answers["containment"]
    del pm.answers["artifacts"]["rollout_wave"]
    del pm.answers["control_layer"]["detection"]
    doc = yaml.safe_load(to_yaml(pm))["postmortem"]
    assert "containment" not in doc
    assert "detection" not in doc["control_layer"]
    assert doc["active_artifacts"]["rollout_wave"] is None


def test_a_new_postmortem_exports_the_templates_skeleton_and_imports_back_empty() -> None:
    text = to_yaml(Postmortem())
    doc = yaml.safe_load(text)["postmortem"]
    assert list(doc) == [*SECTION_11_KEYS, "checklist"]
    assert doc["active_artifacts"] == dict.fromkeys(
        ["trace_id", "session_id", "bundle_id", "change_id", "rollout_wave"]
    )
    assert doc["root_cause"] == {"primary": None, "contributing": None}
    assert doc["corrective_actions"] == []
    assert from_yaml(text) == Postmortem()


def test_the_checklist_is_in_the_file_marked_as_computed() -> None:
    text = to_yaml(worked_example())
    assert "  # section 12, computed from the answers above: ignored on import\n  checklist:\n" in text
    checklist = yaml.safe_load(text)["postmortem"]["checklist"]
    assert len(checklist) == 7
    assert all(item["answer"] in ("yes", "no") for item in checklist)  # strings, not booleans
    # one action has neither owner nor due date: the file says so explicitly
    assert [item for item in checklist if item["answer"] == "no"] == [
        {
            "question": "Are there concrete corrective actions with owners and due dates?",
            "answer": "no",
            "missing": "owner on 1 action(s), due date on 1 action(s)",
        }
    ]


def test_the_file_is_the_same_with_and_without_libyaml() -> None:
    """libyaml's emitter is used when PyYAML has it, for speed; it must not change a byte."""
    pm = worked_example()
    pm.answers["summary"]["summary"] = "Two tickets.\nThen a third: the retry had no idempotency_key."
    pure_python = to_yaml(pm, yaml_dumper(yaml.SafeDumper))
    assert to_yaml(pm) == pure_python
    assert from_yaml(pure_python) == from_yaml(to_yaml(pm))


def test_multi_line_answers_are_written_as_blocks() -> None:
    text = to_yaml(worked_example())
    assert "    summary: |-\n      The support-triage agent created a second ticket" in text


# --- YAML import ---------------------------------------------------------------------------------


def test_round_trip_gives_the_same_postmortem() -> None:
    pm = worked_example()
    assert from_yaml(to_yaml(pm)) == without_ids(pm)


def test_the_checklist_in_a_file_is_ignored_on_import() -> None:
    pm = worked_example()
    answers, checklist = to_yaml(pm).split("  checklist:\n")
    edited = answers + "  checklist:\n" + checklist.replace("'yes'", "'no'").replace("question: Are", "question: Is")
    assert edited != to_yaml(pm)
    assert from_yaml(edited) == without_ids(pm)


def test_the_templates_own_example_imports() -> None:
    pm = from_yaml(SPEC_EXAMPLE)
    assert pm.incident_id == "inc-2026-04-09-001"
    assert pm.answers == {
        "summary": {"incident_id": "inc-2026-04-09-001", "severity": "sev2", "owner": "platform-operations"},
        "artifacts": {
            "trace_id": "trace-2026-04-09-001",
            "session_id": "session-2026-04-09-001",
            "bundle_id": "bundle-2026-04-07-a",
            "change_id": "chg-2026-04-07-001",
            "rollout_wave": "canary",
        },
        "root_cause": {
            "immediate_cause": "approval_scope_too_broad",
            "contributing": ["missing_targeted_eval", "stale_rollout_gate"],
        },
        "lifecycle": {"change_id": "chg-2026-04-09-003", "bundle_id": "bundle-2026-04-09-b"},
    }
    assert pm.actions == [
        CorrectiveAction(
            action="tighten_approval_policy",
            kind="tighten_approval_policy",
            owner="platform-safety",
            due=date(2026, 4, 12),
        ),
        CorrectiveAction(
            action="add_regression_eval",
            kind="add_regression_eval",
            owner="runtime-team",
            due=date(2026, 4, 13),
        ),
    ]


def test_the_templates_example_exports_back_to_the_same_section_11() -> None:
    original = yaml.safe_load(SPEC_EXAMPLE)["postmortem"]
    again = yaml.safe_load(to_yaml(from_yaml(SPEC_EXAMPLE)))["postmortem"]
    for key in SECTION_11_KEYS:
        if key == "corrective_actions":
            assert [{k: a[k] for k in ("owner", "action", "due")} for a in again[key]] == original[key]
        else:
            assert again[key] == original[key], key


def test_a_free_text_action_without_kind_is_other_and_an_explicit_kind_wins() -> None:
    text = SPEC_EXAMPLE.replace(
        "      action: add_regression_eval\n",
        "      action: Add a regression eval for retries\n",
    ).replace(
        "      action: tighten_approval_policy\n",
        "      action: tighten_approval_policy\n      kind: update_policy_bundle\n",
    )
    first, second = from_yaml(text).actions
    assert first.kind == "update_policy_bundle"
    assert (second.action, second.kind) == ("Add a regression eval for retries", "other")


def test_hand_written_values_are_read_as_meant() -> None:
    further = (
        "  what_happened:\n"
        "    real_side_effect: {answer: yes, details: duplicate ticket}\n"
        "  lifecycle:\n"
        "    taxonomy_change: no\n"
        "  summary:\n"
        "    occurred_at: 2026-04-09T12:32:00Z\n"
    )
    text = SPEC_EXAMPLE.replace("rollout_wave: canary", "rollout_wave: 3") + further
    pm = from_yaml(text)
    assert pm.value("what_happened", "real_side_effect") == {"answer": "yes", "details": "duplicate ticket"}
    assert pm.value("lifecycle", "taxonomy_change") == {"answer": "no", "details": ""}
    assert pm.value("artifacts", "rollout_wave") == "3"
    assert pm.value("summary", "occurred_at") == "2026-04-09T12:32:00Z"


def _replace_actions(text: str, new_block: str) -> str:
    start = text.index("  corrective_actions:")
    end = text.index("  lifecycle_updates:")
    return text[:start] + new_block + text[end:]


MALFORMED = {
    "syntax error": (
        SPEC_EXAMPLE.replace("rollout_wave: canary", "rollout_wave: canary: wave-1"),
        "rollout_wave: canary: wave-1",
        "invalid YAML: mapping values are not allowed here",
    ),
    "unknown key": (
        SPEC_EXAMPLE.replace("  owner: platform-operations", "  ownr: platform-operations"),
        "ownr: platform-operations",
        "unknown key 'ownr' in postmortem; expected one of: incident_id, severity, owner,",
    ),
    "unknown nested key": (
        SPEC_EXAMPLE.replace("trace_id: trace", "traceid: trace"),
        "traceid:",
        "unknown key 'traceid' in postmortem.active_artifacts; expected one of: trace_id,",
    ),
    "bad severity": (
        SPEC_EXAMPLE.replace("severity: sev2", "severity: sev9"),
        "severity: sev9",
        "postmortem.severity: must be one of: sev1, sev2, sev3, sev4",
    ),
    "impossible due date": (
        SPEC_EXAMPLE.replace("due: 2026-04-13", "due: 2026-02-30"),
        "due: 2026-02-30",
        "postmortem.corrective_actions[1].due: 2026-02-30 is not a real date (day is out of range for month)",
    ),
    "due that is not a date": (
        SPEC_EXAMPLE.replace("due: 2026-04-12", "due: next week"),
        "due: next week",
        "postmortem.corrective_actions[0].due: must be a date like 2026-04-12, not text ('next week')",
    ),
    "corrective_actions as a string": (
        _replace_actions(SPEC_EXAMPLE, "  corrective_actions: tighten the approval policy\n"),
        "corrective_actions:",
        "postmortem.corrective_actions must be a list of actions, each with owner, action, due;",
    ),
    "action without text": (
        SPEC_EXAMPLE.replace("      action: add_regression_eval\n", ""),
        "- owner: runtime-team",
        "postmortem.corrective_actions[1].action: This is required.",
    ),
    "mapping given as a list": (
        SPEC_EXAMPLE.split("  lifecycle_updates:")[0] + "  lifecycle_updates:\n    - chg-2026-04-09-003\n",
        "lifecycle_updates:",
        "postmortem.lifecycle_updates must be a mapping of change_id, bundle_id, not a list",
    ),
    "duplicate key": (
        SPEC_EXAMPLE.replace("  owner: platform-operations\n", "  severity: sev3\n"),
        "severity: sev3",
        "invalid YAML: duplicate key 'severity' (first at line 3)",
    ),
    "no root": (
        SPEC_EXAMPLE.replace("postmortem:", "incident:"),
        "incident:",
        "no `postmortem:` root (found 'incident')",
    ),
    "invalid answer in a further section": (
        SPEC_EXAMPLE + "  blast_radius:\n    scope: everywhere\n",
        "scope: everywhere",
        "postmortem.blast_radius.scope: must be one of: single run, rollout wave, session family",
    ),
}


@pytest.mark.parametrize(("text", "fragment", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_refused_at_the_offending_line(text: str, fragment: str, reason: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        from_yaml(text)
    line = line_of(text, fragment)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: {reason}")


def test_an_empty_file_is_refused_without_a_line() -> None:
    with pytest.raises(ImportFileError) as caught:
        from_yaml("# nothing here\n")
    assert caught.value.line is None
    assert str(caught.value) == "the file is empty; expected a `postmortem:` mapping"


def test_every_problem_is_reported_in_file_order() -> None:
    text = (
        SPEC_EXAMPLE.replace("severity: sev2", "severity: sev9")
        .replace("due: 2026-04-13", "due: 2026-02-30")
        .replace("rollout_wave: canary", "rollout_wave: canary\n    wave: 2")
    )
    with pytest.raises(ImportFileError) as caught:
        from_yaml(text)
    lines = [line for line, _ in caught.value.problems]
    assert lines == [line_of(text, "sev9"), line_of(text, "wave: 2"), line_of(text, "2026-02-30")]
    assert caught.value.line == line_of(text, "sev9")


# --- Markdown ------------------------------------------------------------------------------------


def test_markdown_has_all_twelve_sections_in_order() -> None:
    md = to_markdown(worked_example())
    assert md.startswith("# Postmortem · inc-2026-04-09-001\n")
    positions = [md.index(f"\n## {n}. ") for n in range(1, 13)]
    assert positions == sorted(positions)
    assert "\n## 1. Short summary\n" in md
    assert "\n## 11. YAML\n\n```yaml\npostmortem:\n" in md
    assert "\n## 12. What to Do Right Away\n" in md


def test_markdown_shows_answers_as_a_reader_expects() -> None:
    md = to_markdown(worked_example())
    assert "**Owner:** <@U04PLATOPS>" in md
    assert "**Date and time:** 2026-04-09 14:32 UTC+02:00" in md
    assert "**Whether a real side effect happened:** Yes — a duplicate ticket was opened and routed" in md
    assert "**Whether rollback was required:** No\n" in md
    assert "**Where the problem lived:**\n\n- approvals\n- rollout" in md
    assert "**Which detection rules failed or triggered too late:** Duplicate-ticket detection" in md


def test_markdown_action_table() -> None:
    md = to_markdown(worked_example())
    assert "| Action | Kind | Owner | Due | Artifact | Status |\n| --- | --- | --- | --- | --- | --- |\n" in md
    assert (
        "| Add the duplicate-ticket thread to the eval dataset | update_eval_dataset | <@U02EVALS> "
        "| 2026-04-12 | eval dataset support-triage | open |"
    ) in md
    assert "| runtime-team |" in md  # a team name is not turned into a mention
    assert "| — | — | registry record \\| ticket writer | open |" in md  # unowned, undated, pipe escaped
    assert "| wont_do (covered by the registry change) |" in md


def test_markdown_marks_every_unmet_checklist_item_with_an_explicit_no() -> None:
    pm = worked_example()
    del pm.answers["root_cause"]["contributing"]
    md = to_markdown(pm)
    assert (
        "- [ ] Does it include contributing factors, not only a root cause? — **no** (missing: contributing factors)"
    ) in md
    assert "- [x] Does the postmortem include a precise incident_id? — yes" in md


def test_markdown_of_the_templates_example_says_what_is_not_answered() -> None:
    md = to_markdown(from_yaml(SPEC_EXAMPLE))
    assert "**Owner:** platform-operations" in md
    assert "**Short incident summary:** _not answered_" in md
    assert "- [ ] Are control gaps recorded? — **no** (missing: policy decision," in md
