"""The checklist (section 12 of the built-in template): computed from the answers, never typed in.

Every item is an explicit yes or an explicit no, and a no says what is missing so the
team knows which section to reopen. The items and their rules come from the template
(``checklist:`` in its file); this module only knows how to evaluate a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import template as t
from bot.domain.document import CorrectiveAction, Postmortem, action_answers, is_blank


@dataclass(frozen=True)
class ChecklistItem:
    question: str
    ok: bool
    missing: str = ""

    @property
    def answer(self) -> str:
        return "yes" if self.ok else "no"


def _known(pm: Postmortem, value: object) -> bool:
    """Answered, and not a placeholder: "unknown-7" is an answer, "unknown" is not."""
    if is_blank(value):
        return False
    return not isinstance(value, str) or value.strip().lower() not in pm.template.placeholders


def _decided(value: object) -> bool:
    """A yes/no question counts only when it is not left as unknown."""
    return isinstance(value, dict) and value.get("answer") in ("yes", "no")


def _has(pm: Postmortem, action: CorrectiveAction, key: str) -> object:
    return action_answers(pm.template, action).get(key)


def _holds(pm: Postmortem, condition: t.Condition) -> bool:
    value = pm.value(condition.ref.section, condition.ref.field) if condition.ref else None
    live = [a for a in pm.actions if a.live]
    match condition.rule:
        case t.Rule.ANSWERED:
            return not is_blank(value)
        case t.Rule.KNOWN:
            return _known(pm, value)
        case t.Rule.DECIDED:
            return _decided(value)
        case t.Rule.ANY:
            return any(_holds(pm, c) for c in condition.any_of)
        case t.Rule.HAS_ACTIONS:
            return bool(live)
        case t.Rule.EVERY_ACTION_HAS:
            return not _lacking(pm, condition)
        case t.Rule.SOME_ACTION:
            return any(_has(pm, a, condition.action_field) in condition.values for a in live)
        case t.Rule.EVAL_CASES:
            return len(pm.evals) >= condition.least
    raise AssertionError(f"unhandled rule {condition.rule}")


def _lacking(pm: Postmortem, condition: t.Condition) -> int:
    """How many live actions lack the field ``every_action_has`` asks for."""
    return sum(1 for a in pm.actions if a.live and is_blank(_has(pm, a, condition.action_field)))


def _missing(pm: Postmortem, requirement: t.Requirement) -> str:
    if requirement.condition.rule is t.Rule.EVERY_ACTION_HAS:
        return requirement.missing.format(count=_lacking(pm, requirement.condition))
    return requirement.missing


def _item(pm: Postmortem, item: t.CheckItem) -> ChecklistItem:
    missing = [_missing(pm, r) for r in item.requires if not _holds(pm, r.condition)]
    return ChecklistItem(item.question, not missing, "missing: " + ", ".join(missing) if missing else "")


def checklist(pm: Postmortem) -> list[ChecklistItem]:
    return [_item(pm, item) for item in pm.template.checklist]
