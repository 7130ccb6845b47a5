"""The postmortem template (spec sections 1-10) declared once, as data.

Every other layer reads this declaration: the modal blocks, the validation model, the
stored JSON, completeness, the checklist inputs and the YAML/Markdown export. Adding a
question is adding one ``Field`` line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """How a field is asked in Slack and stored as JSON."""

    SHORT_TEXT = "short_text"  # str
    LONG_TEXT = "long_text"  # str, multiline
    DATE = "date"  # "YYYY-MM-DD"
    DATETIME = "datetime"  # ISO 8601 with offset
    USER = "user"  # Slack user id (or a team name kept from an import)
    CHOICE = "choice"  # one value of a vocabulary
    MULTI_CHOICE = "multi_choice"  # list of vocabulary values
    YES_NO = "yes_no"  # {"answer": "yes"|"no"|"unknown", "details": str}
    LINES = "lines"  # list of non-empty lines


YES_NO_LABELS = {"yes": "Yes", "no": "No", "unknown": "Unknown"}
YES_NO_ANSWERS = tuple(YES_NO_LABELS)
SHORT_TEXT_MAX = 150
LONG_TEXT_MAX = 3000
DETAILS_MAX = 1000


@dataclass(frozen=True)
class Field:
    """One question of a section.

    ``vocabulary`` names a list in ``Vocabulary`` for choice kinds. ``export`` is the
    path under ``postmortem:`` in the YAML export when section 11 fixes it; otherwise
    the answer is exported under the section's own key.
    """

    key: str
    label: str
    kind: Kind
    required: bool = False
    vocabulary: str = ""
    hint: str = ""
    placeholder: str = ""
    export: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    number: int
    key: str
    title: str
    short: str
    guidance: str
    fields: tuple[Field, ...] = ()
    is_action_list: bool = False

    @property
    def modal_title(self) -> str:
        """Slack cuts modal titles at 24 characters, so position + short name."""
        return f"{self.number}/{len(SECTIONS)} {self.short}"

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


def _default_vocabularies() -> dict[str, tuple[str, ...]]:
    return {
        "severity": ("sev1", "sev2", "sev3", "sev4"),
        "incident_status": ("open", "contained", "resolved"),
        "postmortem_status": ("draft", "in_review", "published"),
        "incident_category": (
            "policy_bypass",
            "unauthorized_side_effect",
            "dangerous_egress",
            "memory_contamination",
            "approval_failure",
            "eval_escape",
            "agentic_misalignment",
        ),
        "root_cause_area": ("policy", "approvals", "rollout", "memory", "observability", "inventory"),
        "approval_failure": ("approval bypass", "missing approval", "wrong approval scope"),
        "blast_scope": ("single run", "rollout wave", "session family"),
        "action_kind": (
            "update_policy_bundle",
            "tighten_approval_policy",
            "update_eval_dataset",
            "add_regression_eval",
            "update_rollout_gate",
            "retire_capability_or_principal",
            "update_registry_record",
            "add_detection_rule",
            "other",
        ),
        "action_status": ("open", "done", "wont_do"),
    }


@dataclass(frozen=True)
class Vocabulary:
    """The value lists offered in dropdowns; severities and statuses are configurable."""

    lists: dict[str, tuple[str, ...]] = field(default_factory=_default_vocabularies)

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self.lists[name]

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.lists.items())))

    def with_overrides(self, **overrides: tuple[str, ...]) -> Vocabulary:
        return Vocabulary({**self.lists, **{k: v for k, v in overrides.items() if v}})


DEFAULT_VOCABULARY = Vocabulary()

F = Field
K = Kind

SECTIONS: tuple[Section, ...] = (
    Section(
        1,
        "summary",
        "Short summary",
        "Summary",
        "Use it after containment, once traces, approvals, rollout data and the active bundle have been reconstructed.",
        (
            F(
                "incident_id",
                "Incident ID",
                K.SHORT_TEXT,
                True,
                placeholder="inc-2026-04-09-001",
                export=("incident_id",),
            ),
            F("occurred_at", "Date and time", K.DATETIME, True),
            F("severity", "Severity", K.CHOICE, True, "severity", export=("severity",)),
            F("status", "Incident status", K.CHOICE, True, "incident_status"),
            F(
                "owner",
                "Owner",
                K.USER,
                True,
                hint="Owns the postmortem and hears about unowned actions.",
                export=("owner",),
            ),
            F("postmortem_status", "Postmortem status", K.CHOICE, True, "postmortem_status"),
            F("summary", "Short incident summary", K.LONG_TEXT, True),
        ),
    ),
    Section(
        2,
        "what_happened",
        "What happened",
        "What happened",
        "Capture the event chain briefly and without interpretation.",
        (
            F("agent_or_workflow", "Which agent or workflow was involved", K.SHORT_TEXT, True),
            F(
                "trigger",
                "Which user input, retrieved context, or external trigger started the path",
                K.LONG_TEXT,
                True,
            ),
            F("risky_action", "Which risky action or failure occurred", K.LONG_TEXT, True),
            F("real_side_effect", "Whether a real side effect happened", K.YES_NO, True),
            F("category", "Incident category", K.CHOICE, False, "incident_category"),
        ),
    ),
    Section(
        3,
        "artifacts",
        "Which artifacts were active",
        "Artifacts",
        "If this cannot be filled quickly, the team has a problem not only with the incident, "
        "but also with observability or the lifecycle layer. Type unknown rather than guess.",
        (
            F("trace_id", "trace_id", K.SHORT_TEXT, True, export=("active_artifacts", "trace_id")),
            F("session_id", "session_id", K.SHORT_TEXT, True, export=("active_artifacts", "session_id")),
            F("bundle_id", "bundle_id", K.SHORT_TEXT, True, export=("active_artifacts", "bundle_id")),
            F("change_id", "change_id", K.SHORT_TEXT, True, export=("active_artifacts", "change_id")),
            F("rollout_wave", "rollout_wave", K.SHORT_TEXT, False, export=("active_artifacts", "rollout_wave")),
            F("policy_bundle", "policy_bundle", K.SHORT_TEXT),
            F("approval_mode", "approval_mode", K.SHORT_TEXT),
            F("tool_principal", "tool_principal", K.SHORT_TEXT),
        ),
    ),
    Section(
        4,
        "containment",
        "Containment actions",
        "Containment",
        "Distinguish temporary containment from permanent correction.",
        (
            F("first_actions", "Which actions were taken in the first minutes", K.LONG_TEXT, True),
            F("restricted", "What was disabled, restricted, or moved into restricted mode", K.LONG_TEXT),
            F("rollback_required", "Whether rollback was required", K.YES_NO, True),
            F("revocations", "Whether any principals, connectors, or capabilities were revoked", K.YES_NO, True),
            F(
                "temporary_vs_permanent",
                "Which of this is temporary containment, which permanent correction",
                K.LONG_TEXT,
            ),
        ),
    ),
    Section(
        5,
        "root_cause",
        "Root cause",
        "Root cause",
        "Lead to a systemic explanation, not just \u201cthe model made a mistake.\u201d",
        (
            F(
                "immediate_cause",
                "What the immediate cause of the incident was",
                K.SHORT_TEXT,
                True,
                placeholder="approval_scope_too_broad",
                export=("root_cause", "primary"),
            ),
            F(
                "contributing",
                "Which contributing factors amplified the problem (one per line)",
                K.LINES,
                export=("root_cause", "contributing"),
            ),
            F("failed_gate", "Which gate, review, or assumption failed", K.LONG_TEXT, True),
            F("areas", "Where the problem lived", K.MULTI_CHOICE, True, "root_cause_area"),
        ),
    ),
    Section(
        6,
        "control_layer",
        "What failed in the control layer",
        "Control layer",
        "Describe not only the error, but the missing guardrail.",
        (
            F("policy_decision", "Which policy decision allowed the risky path", K.LONG_TEXT, True),
            F("approval_failure", "Approval failure", K.MULTI_CHOICE, False, "approval_failure"),
            F("missed_checks", "Which checks or evals failed to catch the issue", K.LONG_TEXT),
            F("detection", "Which detection rules failed or triggered too late", K.LONG_TEXT),
        ),
    ),
    Section(
        7,
        "blast_radius",
        "Blast radius",
        "Blast radius",
        "Who and what was touched, and how far the pattern reaches.",
        (
            F("affected", "Which users, systems, or data were affected", K.LONG_TEXT, True),
            F("external_systems", "Whether external systems were touched", K.YES_NO, True),
            F("memory_affected", "Whether memory records were affected", K.YES_NO, True),
            F("scope", "Single run or a broader pattern", K.CHOICE, True, "blast_scope"),
        ),
    ),
    Section(
        8,
        "corrective_actions",
        "Corrective actions",
        "Actions",
        "For each action: the action, the owner, the due date, and which artifact is updated.",
        is_action_list=True,
    ),
    Section(
        9,
        "lifecycle",
        "What changes in lifecycle artifacts",
        "Lifecycle",
        "Tie the postmortem to managed artifacts, not only tracker tasks.",
        (
            F(
                "change_id",
                "New change_id, if a correction release is needed",
                K.SHORT_TEXT,
                export=("lifecycle_updates", "change_id"),
            ),
            F(
                "bundle_id",
                "New bundle_id, if the release configuration changes",
                K.SHORT_TEXT,
                export=("lifecycle_updates", "bundle_id"),
            ),
            F("retirement_plan", "Whether a new retirement_plan is needed", K.YES_NO, True),
            F("registry_update", "Whether registry or inventory must be updated", K.YES_NO, True),
            F("taxonomy_change", "Whether incident taxonomy or postmortem rubric must change", K.YES_NO, True),
        ),
    ),
    Section(
        10,
        "evals_rollout",
        "What changes in evals and rollout",
        "Evals & rollout",
        "If incidents do not flow back into evals and rollout rules, teams repeat the same failure class.",
        (
            F("eval_cases", "Which cases should enter the eval dataset (one per line)", K.LINES),
            F("new_evals", "Which behavioral or control evals should be added (one per line)", K.LINES),
            F("rollout_gate", "Whether rollout gate criteria must change", K.YES_NO, True),
            F("canary_scope", "Whether canary scope or approval thresholds must change", K.YES_NO, True),
        ),
    ),
)

ACTION_FIELDS: tuple[Field, ...] = (
    F("action", "Action", K.LONG_TEXT, True, placeholder="Require an idempotency_key on every create_ticket call"),
    F("kind", "Kind", K.CHOICE, True, "action_kind"),
    F("owner", "Owner", K.USER, hint="Reminders go to this person."),
    F("due", "Due date", K.DATE),
    F("artifact", "Artifact updated", K.SHORT_TEXT, placeholder="policy bundle, eval dataset, rollout gate\u2026"),
    F("status", "Status", K.CHOICE, True, "action_status"),
    F("status_reason", "Reason (needed for won't do)", K.LONG_TEXT),
)

SECTION_BY_KEY: dict[str, Section] = {s.key: s for s in SECTIONS}
FORM_SECTIONS: tuple[Section, ...] = tuple(s for s in SECTIONS if not s.is_action_list)
ACTIONS_SECTION: Section = next(s for s in SECTIONS if s.is_action_list)


def section_after(section: Section) -> Section | None:
    """The section "Save & next" moves to; None after the last one."""
    index = SECTIONS.index(section)
    return SECTIONS[index + 1] if index + 1 < len(SECTIONS) else None
