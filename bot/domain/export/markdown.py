"""The Markdown export: every section as a readable document, then the YAML file and the checklist."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from bot.domain import template as t
from bot.domain.checklist import ChecklistItem, checklist
from bot.domain.document import CorrectiveAction, Postmortem, action_answers, is_blank
from bot.domain.export.layout import LIST_KINDS, checklist_number
from bot.domain.export.yaml_out import to_yaml
from bot.domain.links import NO_LINKS, LinkTemplates, link_for
from bot.domain.owners import is_user_id
from bot.domain.timeline import TimelineEntry, local_time, zone_label

YAML_TITLE = "YAML"
NOT_ANSWERED = "_not answered_"
SOURCE_COLUMN = "From message"
"""The column of the actions created from a Slack message: a link to it."""


def _md_user(value: str) -> str:
    """Slack renders ``<@U…>`` as a mention; a team name kept from an import stays plain."""
    return f"<@{value}>" if is_user_id(value) else value


def _md_value(kind: t.Kind, value: Any) -> str:
    """One answer as inline Markdown (lists are handled by the caller)."""
    if kind is t.Kind.USER and isinstance(value, str):
        return _md_user(value)
    if kind is t.Kind.YES_NO and isinstance(value, dict):
        label = t.YES_NO_LABELS.get(value.get("answer"), str(value.get("answer")))
        return f"{label} — {value['details']}" if value.get("details") else label
    if kind is t.Kind.DATETIME and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M %Z").strip()
        except ValueError:
            return value
    if kind is t.Kind.USERS and isinstance(value, list):
        return ", ".join(_md_user(v) for v in value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _md_field(f: t.Field, value: Any, url: str | None = None) -> str:
    label = f"**{f.label}:**"
    if is_blank(value):
        return f"{label} {NOT_ANSWERED}"
    if url:
        return f"{label} [{value}]({url})"
    if f.kind in LIST_KINDS:
        return label + "\n\n" + "\n".join(f"- {_md_user(v) if f.kind is t.Kind.USERS else v}" for v in value)
    text = _md_value(f.kind, value)
    return f"{label}\n\n{text}" if "\n" in text else f"{label} {text}"


def _md_cell(text: str) -> str:
    """A table cell holds one line, and a ``|`` would start a new column."""
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _md_actions(template: t.Template, actions: list[CorrectiveAction]) -> str:
    if not actions:
        return NOT_ANSWERED
    columns = [f for f in template.action_fields if f.column]
    sourced = any(a.source for a in actions)
    titles = [f.column for f in columns] + ([SOURCE_COLUMN] if sourced else [])
    rows = ["| " + " | ".join(titles) + " |", "|" + " --- |" * len(titles)]
    status = template.action_key(t.ActionRole.STATUS)
    for action in actions:
        answers = action_answers(template, action)
        cells = []
        for f in columns:
            value = answers[f.key]
            text = "" if is_blank(value) else _md_value(f.kind, value)
            if f.key == status and action.status_reason:
                text += f" ({action.status_reason})"
            cells.append(_md_cell(text))
        if sourced:
            cells.append(f"[message]({action.source.replace(')', '%29')})" if action.source else _md_cell(""))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _md_timeline(entries: list[TimelineEntry], zone: tzinfo) -> str:
    """The messages captured from the channel, with their date: an incident may run past midnight."""
    rows = [
        "**Timeline from the channel**",
        "",
        f"| Time ({zone_label(zone)}) | Who | What | Link |",
        "|---|---|---|---|",
    ]
    for e in entries:
        what = _md_cell(e.shown) + (" _(message deleted)_" if e.deleted else "")
        links = [f"[message]({e.permalink})"] if e.permalink.startswith("https://") else []
        links += [f"[file {n}]({url})" for n, url in enumerate(e.files, 1) if url.startswith("https://")]
        cells = [local_time(e.at, zone), _md_cell(_md_user(e.author)), what, _md_cell(" ".join(links))]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def _md_checklist(items: list[ChecklistItem]) -> str:
    """Every item is an explicit yes or an explicit **no**, as section 12 asks."""
    return "\n".join(
        f"- [x] {item.question} — yes" if item.ok else f"- [ ] {item.question} — **no** ({item.missing})"
        for item in items
    )


def _md_cases(pm: Postmortem) -> str:
    """The eval cases as a table; a case's linked actions by id, as the eval-jsonl export names them."""
    if not pm.evals:
        return "Eval cases: " + NOT_ANSWERED
    rows = ["| Scenario | Labels | User inputs | Expected outcomes | Risk class | Source traces | Actions |"]
    rows.append("|" + " --- |" * 7)
    for case in pm.evals:
        lists = [case.labels, case.user_inputs, case.expected_outcomes]
        cells = [case.scenario_id, *("; ".join(v) for v in lists), case.risk_class, "; ".join(case.source_trace_ids)]
        cells.append(", ".join(f"#{a}" for a in case.action_ids))
        rows.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "**Eval cases**\n\n" + "\n".join(rows)


def section_markdown(pm: Postmortem, section: t.Section, links: LinkTemplates = NO_LINKS) -> str:
    """One section's answers (its actions for the action list), without its heading; the ids
    ``links`` has templates for are links."""
    if section.is_action_list:
        return _md_actions(pm.template, pm.actions)
    parts = [
        _md_field(f, pm.value(section.key, f.key), link_for(pm, links, t.FieldRef(section.key, f.key)))
        for f in section.fields
    ]
    if (cases := pm.template.role(t.Role.EVAL_CASES)) and cases.section == section.key:
        parts.append(_md_cases(pm))
    return "\n\n".join(parts)


def to_markdown(pm: Postmortem, links: LinkTemplates = NO_LINKS, zone: tzinfo = UTC) -> str:
    """Every section as a readable document, then the YAML export and the checklist; the ids
    ``links`` has templates for are links. The timeline section also lists the messages
    captured from the channel, at their time in ``zone`` (the table says which)."""
    template = pm.template
    incident_id = template.role(t.Role.INCIDENT_ID)
    title = (pm.value(incident_id.section, incident_id.field) if incident_id else None) or pm.incident_id
    blocks = [f"# Postmortem · {title or '(no incident_id yet)'}"]
    for section in template.sections:
        blocks += [f"## {section.number}. {section.title}", section_markdown(pm, section, links)]
        if pm.timeline and section == template.timeline_section:
            blocks.append(_md_timeline(pm.timeline, zone))
    number = checklist_number(template)
    blocks += [f"## {number - 1}. {YAML_TITLE}", f"```yaml\n{to_yaml(pm)}```"]
    blocks += [f"## {number}. {template.checklist_title}", _md_checklist(checklist(pm))]
    return "\n\n".join(blocks) + "\n"
