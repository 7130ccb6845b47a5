"""App Home's view: my corrective actions (with the reminder buttons) and my postmortems."""

from __future__ import annotations

from datetime import date

from bot.domain.checklist import checklist
from bot.domain.owners import needs_owner
from handlers.builders import blocks as kit
from handlers.builders import render
from handlers.builders.action_items import item_controls, item_text
from storage.read_models import ActionContext
from storage.records import PostmortemRecord

MAX_ACTIONS = 30
MAX_POSTMORTEMS = 10
HELP = (
    "Start a postmortem with `/postmortem start inc-…` in the incident's channel. I remind owners of open "
    "corrective actions before they are due, on the due day and while overdue, in their working hours; "
    "actions without an owner go to the postmortem's owner."
)


def _phrase(context: ActionContext, today: date) -> str:
    action = context.action
    if needs_owner(action.owner):
        return ":warning: needs an owner"
    if action.due and action.due < today:
        return f":red_circle: overdue since {action.due.isoformat()}"
    return f"due {action.due.isoformat()}" if action.due else "no due date"


def _action_blocks(actions: list[ActionContext], today: date) -> list[kit.JSON]:
    blocks: list[kit.JSON] = []
    for context in actions[:MAX_ACTIONS]:
        action_id = context.action.id or 0
        blocks.append(kit.section(item_text(context, _phrase(context, today))))
        blocks.append(item_controls(action_id, f"home-{action_id}"))
    if not actions:
        blocks.append(kit.section("_Nothing open. Nice._"))
    elif len(actions) > MAX_ACTIONS:
        blocks.append(kit.context(f"+{len(actions) - MAX_ACTIONS} more"))
    return blocks


def _postmortem_line(record: PostmortemRecord) -> str:
    items = checklist(record.doc)
    yes = sum(item.ok for item in items)
    done = f"{record.doc.sections_done}/{len(record.template.sections)}"
    return (
        f"*{render.escape(render.headline(record))}* in <#{record.channel_id}>\n"
        f"Sections done {done} \u00b7 checklist {yes}/{len(items)} yes"
    )


def home_view(
    actions: list[ActionContext], postmortems: list[PostmortemRecord], today: date, insights: list[kit.JSON]
) -> kit.JSON:
    """``insights``: the workspace's figures (``handlers.builders.insights.home_blocks``), for a postmortem owner."""
    blocks = [kit.header("My corrective actions"), *_action_blocks(actions, today), kit.divider()]
    blocks.append(kit.header("My postmortems"))
    blocks += [kit.section(_postmortem_line(r)) for r in postmortems[:MAX_POSTMORTEMS]]
    if not postmortems:
        blocks.append(kit.section("_None yet._"))
    if insights:
        blocks += [kit.divider(), *insights]
    blocks += [kit.divider(), kit.context(HELP)]
    return kit.home(blocks)
