"""The template's worked example: the support-triage agent's duplicate-ticket thread.

Used by ``postmortem-bot demo`` and by the tests, so both walk the same realistic story.
"""

from __future__ import annotations

from typing import Any

INCIDENT_ID = "inc-2026-04-09-001"
OWNER = "U0OPS0001"
SAFETY_LEAD = "U0SAFE001"
RUNTIME_LEAD = "U0RUN0001"

ANSWERS: dict[str, dict[str, Any]] = {
    "summary": {
        "incident_id": INCIDENT_ID,
        "occurred_at": "2026-04-09T14:20:00+00:00",
        "severity": "sev2",
        "status": "resolved",
        "owner": OWNER,
        "postmortem_status": "in_review",
        "summary": "The support-triage agent created the same customer ticket 41 times after a create_ticket call "
        "timed out and the agent retried without an idempotency_key.",
    },
    "what_happened": {
        "agent_or_workflow": "support-triage agent (ticket intake workflow)",
        "trigger": "A customer e-mail thread with a quoted earlier message, retrieved as context, asked for a "
        "callback; the first create_ticket call timed out at the connector.",
        "risky_action": "create_ticket was called repeatedly for one request: the connector returned "
        "side_effect_unknown and the agent treated it as a failure.",
        "real_side_effect": {"answer": "yes", "details": "41 duplicate tickets, 41 e-mails to the customer"},
        "category": "unauthorized_side_effect",
    },
    "artifacts": {
        "trace_id": "trace-2026-04-09-001",
        "session_id": "session-2026-04-09-001",
        "bundle_id": "bundle-2026-04-07-a",
        "change_id": "chg-2026-04-07-001",
        "rollout_wave": "canary",
        "policy_bundle": "support-policies-2026-04-07",
        "approval_mode": "auto-approve for ticket writes",
        "tool_principal": "svc-ticket-writer-v1",
    },
    "containment": {
        "first_actions": "Paused the canary wave; switched the agent to draft-only mode for tickets.",
        "restricted": "create_ticket moved behind human approval; old ticket writer principal suspended.",
        "rollback_required": {"answer": "yes", "details": "Rolled back to bundle-2026-03-30-c"},
        "revocations": {"answer": "yes", "details": "svc-ticket-writer-v1 write scope revoked"},
        "temporary_vs_permanent": "Draft-only mode is temporary; the idempotency requirement is permanent.",
    },
    "root_cause": {
        "immediate_cause": "approval_scope_too_broad",
        "contributing": ["missing_targeted_eval", "stale_rollout_gate", "side_effect_unknown treated as failure"],
        "failed_gate": "The canary gate measured task success only, not duplicate side effects.",
        "areas": ["approvals", "rollout", "observability"],
    },
    "control_layer": {
        "policy_decision": "Ticket writes were auto-approved for the whole session instead of per call.",
        "approval_failure": ["wrong approval scope"],
        "missed_checks": "No eval replays a connector timeout on a side-effecting tool.",
        "detection": "The duplicate-ticket alert fires after 100 tickets per hour; it fired 50 minutes late.",
    },
    "blast_radius": {
        "affected": "One customer, the support queue (41 tickets), the ticketing system's SLA metrics.",
        "external_systems": {"answer": "yes", "details": "Customer e-mail notifications were sent"},
        "memory_affected": {"answer": "no", "details": ""},
        "scope": "single run",
    },
    "lifecycle": {
        "change_id": "chg-2026-04-09-003",
        "bundle_id": "bundle-2026-04-09-b",
        "retirement_plan": {"answer": "yes", "details": "Retire svc-ticket-writer-v1 by 2026-05-01"},
        "registry_update": {"answer": "yes", "details": "Mark create_ticket as side-effecting, non-idempotent"},
        "taxonomy_change": {"answer": "no", "details": ""},
    },
    "evals_rollout": {
        "eval_cases": ["connector timeout on create_ticket", "side_effect_unknown followed by retry"],
        "new_evals": ["control eval: no repeat of a side-effecting call without idempotency_key"],
        "rollout_gate": {"answer": "yes", "details": "Gate on duplicate side effects per 1k runs"},
        "canary_scope": {"answer": "yes", "details": "Canary limited to 1% with per-call approval"},
    },
}

ACTIONS: list[dict[str, Any]] = [
    {
        "action": "Scope ticket-write approval to a single call",
        "kind": "tighten_approval_policy",
        "owner": SAFETY_LEAD,
        "due": "2026-04-12",
        "artifact": "approval policy",
    },
    {
        "action": "Add a regression eval replaying the create_ticket timeout",
        "kind": "add_regression_eval",
        "owner": RUNTIME_LEAD,
        "due": "2026-04-13",
        "artifact": "eval dataset",
    },
    {
        "action": "Gate rollout waves on duplicate side effects",
        "kind": "update_rollout_gate",
        "owner": OWNER,
        "due": "2026-04-20",
        "artifact": "rollout gate",
    },
    {
        "action": "Record create_ticket as non-idempotent in the registry",
        "kind": "update_registry_record",
        "owner": None,
        "due": "2026-04-24",
        "artifact": "registry record",
    },
]
