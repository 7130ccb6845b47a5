"""The reminder DM: one digest per person per sweep, grouped by what each action needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.reminder_policy import Digest, Reminder
from handlers.builders import blocks as kit
from handlers.builders import render
from handlers.builders.action_items import item_controls, item_text
from storage.read_models import ActionContext

MAX_ITEMS = 20  # 2 blocks per item keeps a digest under Slack's 50 blocks per message


def _due_phrase(reminder: Reminder, context: ActionContext) -> str:
    match reminder.kind:
        case "overdue":
            return f"{-reminder.days} day(s) overdue"
        case "escalation":
            return f"{render.person(context.action.owner)}'s action is {-reminder.days} day(s) overdue"
        case "due_today":
            return "due today"
        case "due_soon":
            return f"due in {reminder.days} day(s)"
    return "has no owner who can be reminded"


def digest_message(digest: Digest, contexts: Mapping[int, ActionContext]) -> dict[str, Any]:
    """One DM per person per sweep, grouped: overdue, due today, due soon, needs an owner."""
    count = len(digest.reminders)
    blocks = [kit.section(f":alarm_clock: *{count} corrective action(s) need you.* Done already? Mark it here.")]
    shown = 0
    for heading, reminders in digest.sections():
        blocks.append(kit.section(f"*{heading}*"))
        for reminder in reminders[: MAX_ITEMS - shown]:
            context = contexts[reminder.action_id]
            blocks.append(kit.section(item_text(context, _due_phrase(reminder, context))))
            blocks.append(item_controls(reminder.action_id, f"do-{reminder.action_id}-{reminder.kind}"))
            shown += 1
    if count > shown:
        blocks.append(kit.context(f"+{count - shown} more in my App Home."))
    return {"text": f"{count} corrective action(s) need you", "blocks": blocks}
