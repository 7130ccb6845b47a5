"""One corrective action as a line with its controls: shared by reminder DMs and App Home."""

from __future__ import annotations

from datetime import timedelta

from handlers.builders import blocks as kit
from handlers.builders import render
from storage.read_models import ActionContext

DONE = "reminder_done"
SNOOZE = "reminder_snooze"
REASSIGN = "reminder_reassign"
OPEN = "reminder_open"
SNOOZES = {"1d": ("1 day", timedelta(days=1)), "1w": ("1 week", timedelta(weeks=1))}


def item_text(context: ActionContext, phrase: str) -> str:
    action = context.action
    due = action.due.isoformat() if action.due else "no due date"
    where = f"{render.escape(context.incident_id or 'postmortem')} in <#{context.channel_id}>"
    facts = f"{phrase} \u00b7 due {due} \u00b7 {render.escape(action.kind)} \u00b7 {where}"
    if action.source:
        facts += f" \u00b7 {render.message_link(action.source)}"
    return render.truncate(
        f"*{render.action_title(action)}*\n{facts}\nOwner {render.person(action.owner)}",
        3000,
    )


def item_controls(action_id: int, block_id: str) -> kit.JSON:
    value = str(action_id)
    return kit.actions(
        kit.button("Mark done", DONE, value=value, style="primary"),
        kit.static_select(
            SNOOZE, [kit.option(key, label) for key, (label, _) in SNOOZES.items()], placeholder="Snooze"
        ),
        kit.users_select(REASSIGN, placeholder="Reassign"),
        kit.button("Open postmortem", OPEN, value=value),
        block_id=block_id,
    )
