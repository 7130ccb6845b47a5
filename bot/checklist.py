"""Section 12, "What to Do Right Away": computed from the answers, never typed in.

Every item is an explicit yes or an explicit no, and a no says what is missing so the
team knows which section to reopen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.document import Postmortem

PLACEHOLDERS = frozenset({"unknown", "n/a", "na", "none", "tbd", "todo", "?", "-", "--"})
EVAL_OR_ROLLOUT_KINDS = frozenset({"update_eval_dataset", "add_regression_eval", "update_rollout_gate"})


@dataclass(frozen=True)
class ChecklistItem:
    question: str
    ok: bool
    missing: str = ""

    @property
    def answer(self) -> str:
        return "yes" if self.ok else "no"


def _known(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() not in PLACEHOLDERS and bool(value.strip())


def _answered(value: object) -> bool:
    """A yes/no question counts only when it is not left as unknown."""
    return isinstance(value, dict) and value.get("answer") in ("yes", "no")


def _item(question: str, missing: list[str]) -> ChecklistItem:
    return ChecklistItem(question, not missing, "missing: " + ", ".join(missing) if missing else "")


def _incident_id(pm: Postmortem) -> ChecklistItem:
    ok = _known(pm.value("summary", "incident_id"))
    return _item("Does the postmortem include a precise incident_id?", [] if ok else ["incident_id"])


def _artifacts(pm: Postmortem) -> ChecklistItem:
    keys = ("trace_id", "session_id", "bundle_id", "change_id")
    missing = [k for k in keys if not _known(pm.value("artifacts", k))]
    return _item("Are trace_id, session_id, bundle_id, and change_id reconstructed?", missing)


def _contributing(pm: Postmortem) -> ChecklistItem:
    missing = [] if pm.value("root_cause", "contributing") else ["contributing factors"]
    return _item("Does it include contributing factors, not only a root cause?", missing)


def _control_gaps(pm: Postmortem) -> ChecklistItem:
    missing = [] if pm.value("control_layer", "policy_decision") else ["policy decision"]
    gaps = ("approval_failure", "missed_checks", "detection")
    if not any(pm.value("control_layer", k) for k in gaps):
        missing.append("failed approvals, checks or detection")
    return _item("Are control gaps recorded?", missing)


def _actions(pm: Postmortem) -> ChecklistItem:
    live = [a for a in pm.actions if a.status != "wont_do"]
    missing = [] if live else ["corrective actions"]
    unowned = sum(1 for a in live if not a.owner)
    undated = sum(1 for a in live if not a.due)
    if unowned:
        missing.append(f"owner on {unowned} action(s)")
    if undated:
        missing.append(f"due date on {undated} action(s)")
    return _item("Are there concrete corrective actions with owners and due dates?", missing)


def _lifecycle(pm: Postmortem) -> ChecklistItem:
    keys = ("retirement_plan", "registry_update", "taxonomy_change")
    missing = [k for k in keys if not _answered(pm.value("lifecycle", k))]
    return _item("Is it clear which lifecycle artifacts must change?", missing)


def _evals(pm: Postmortem) -> ChecklistItem:
    missing: list[str] = []
    has_evals = pm.value("evals_rollout", "eval_cases") or pm.value("evals_rollout", "new_evals")
    has_eval_action = any(a.kind in EVAL_OR_ROLLOUT_KINDS and a.status != "wont_do" for a in pm.actions)
    if not (has_evals or has_eval_action):
        missing.append("eval cases or an eval/rollout corrective action")
    if not _answered(pm.value("evals_rollout", "rollout_gate")):
        missing.append("rollout gate decision")
    return _item("Does the incident flow back into evals and rollout criteria?", missing)


CHECKS: tuple[Callable[[Postmortem], ChecklistItem], ...] = (
    _incident_id,
    _artifacts,
    _contributing,
    _control_gaps,
    _actions,
    _lifecycle,
    _evals,
)


def checklist(pm: Postmortem) -> list[ChecklistItem]:
    return [check(pm) for check in CHECKS]
