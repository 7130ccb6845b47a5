"""mrkdwn text shared by the card, the modals, `/postmortem status` and App Home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain import template as t
from bot.domain.checklist import checklist
from bot.domain.document import CorrectiveAction, Postmortem
from bot.domain.export.layout import checklist_number
from bot.domain.links import artifact_links
from bot.domain.owners import is_user_id, needs_owner
from storage.records import PostmortemRecord

STATE_ICONS = {"done": ":white_check_mark:", "partial": ":large_yellow_circle:", "empty": ":white_circle:"}


def escape(text: str) -> str:
    """User text inside mrkdwn: Slack reads ``<...>`` as mentions and links, so ``<!channel>`` must not survive."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def when(moment: datetime | None) -> str:
    """Slack renders this in each reader's own time zone."""
    if moment is None:
        return ""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def person(value: str | None) -> str:
    if not value:
        return "_no owner_"
    return f"<@{value}>" if is_user_id(value) else escape(value)


def value_text(field: t.Field, value: Any) -> str:
    if value in (None, "", [], {}):
        return "_not answered_"
    match field.kind:
        case t.Kind.USER:
            return person(value)
        case t.Kind.YES_NO:
            details = f" \u2014 {escape(value['details'])}" if value.get("details") else ""
            return t.YES_NO_LABELS[value["answer"]] + details
        case t.Kind.LINES | t.Kind.MULTI_CHOICE:
            return escape(", ".join(value))
        case t.Kind.USERS:
            return ", ".join(person(v) for v in value)
        case t.Kind.DATETIME:
            return when(datetime.fromisoformat(value))
    return escape(str(value))


def links_text(record: PostmortemRecord) -> str:
    """The artifact ids as Slack links (``TRACE_URL_TEMPLATE`` ...); an id that cannot be a link stays text."""
    parts = [
        f"{found.label} <{found.url}|{escape(found.ident)}>" if found.url else f"{found.label} {escape(found.ident)}"
        for found in artifact_links(record.doc, record.links)
    ]
    return " \u00b7 ".join(parts)


def answers_text(section: t.Section, data: dict[str, Any]) -> str:
    return "\n".join(f"*{f.label}:* {value_text(f, data.get(f.key))}" for f in section.fields)


ACTION_LINE_CHARS = 300
"""An action's text where it is listed (all of it is in its Edit form): a page of 20 such lines is
at most about 115 kB of view JSON even if every character is an emoji, under Slack's 250 kB."""


def action_title(action: CorrectiveAction) -> str:
    """The action's text as one line of a list: cut to ``ACTION_LINE_CHARS`` and escaped."""
    return escape(truncate(action.action, ACTION_LINE_CHARS))


def message_link(permalink: str) -> str:
    """A link to the Slack message a corrective action was created from."""
    return f"<{escape(permalink)}|from a message>"


def action_facts(action: CorrectiveAction, template: t.Template) -> str:
    due = action.due.isoformat() if action.due else "no due date"
    kind = f" \u00b7 {escape(action.kind)}" if action.kind else ""
    status = escape(template.status_label(action.status))
    source = f" \u00b7 {message_link(action.source)}" if action.source else ""
    return f"{person(action.owner)} \u00b7 due {due}{kind} \u00b7 {status}{source}"


@dataclass(frozen=True)
class ActionCounts:
    open: int
    overdue: int
    unowned: int

    def text(self) -> str:
        return f"{self.open} open \u00b7 {self.overdue} overdue \u00b7 {self.unowned} unowned"


def action_counts(doc: Postmortem, today: date, gone: frozenset[str] = frozenset()) -> ActionCounts:
    """Unowned counts as the reminders do (``needs_owner``)."""
    open_actions = [a for a in doc.actions if a.status == t.OPEN]
    return ActionCounts(
        open=len(open_actions),
        overdue=sum(1 for a in open_actions if a.due and a.due < today),
        unowned=sum(1 for a in open_actions if needs_owner(a.owner, gone)),
    )


def section_line(record: PostmortemRecord, section: t.Section) -> str:
    state = record.doc.state(section)
    return f"{STATE_ICONS[state]} {section.number}. {section.title} \u2014 {state}"


def sections_done(record: PostmortemRecord) -> str:
    return f"*Sections done: {record.doc.sections_done}/{len(record.template.sections)}*"


def progress_text(record: PostmortemRecord) -> str:
    lines = [section_line(record, s) for s in record.template.sections]
    return sections_done(record) + "\n" + "\n".join(lines)


def checklist_text(doc: Postmortem) -> str:
    lines = [f"*{checklist_number(doc.template)}. {escape(doc.template.checklist_title)}*"]
    for item in checklist(doc):
        if item.ok:
            lines.append(f":white_check_mark: yes \u2014 {item.question}")
        else:
            lines.append(f":x: *no* \u2014 {item.question} _({item.missing})_")
    return "\n".join(lines)


def headline(record: PostmortemRecord) -> str:
    """Plain text (header blocks); wrap it in ``escape`` wherever it becomes mrkdwn."""
    parts = [f"Postmortem \u00b7 {record.incident_id or 'no incident id yet'}"]
    for part in record.template.header:
        value = record.doc.value(part.ref.section, part.ref.field)
        parts.append(part.empty if value in (None, "", [], {}) else _plain(value))
    return " \u00b7 ".join(parts)


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
