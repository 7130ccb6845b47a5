"""The YAML export: a postmortem as its template's file (the layout is ``bot.domain.export.layout``'s)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import yaml

from bot.domain import template as t
from bot.domain.checklist import ChecklistItem, checklist
from bot.domain.document import CorrectiveAction, Postmortem, action_answers, is_blank
from bot.domain.export.layout import (
    ACTION_SOURCE_KEY,
    CHECKLIST_KEY,
    EVAL_ACTIONS_KEY,
    EVALS_KEY,
    ROOT,
    TEMPLATE_KEY,
    TIMELINE_KEY,
    ActionList,
    Layout,
    Slot,
    checklist_number,
    layouts,
)
from bot.domain.timeline import TimelineEntry, utc_time


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def yaml_dumper(base: type[yaml.SafeDumper]) -> type[yaml.SafeDumper]:
    """``safe_dump`` with multi-line answers as ``|`` blocks and never an anchor, which import refuses.

    Built on libyaml's emitter when PyYAML has it (twenty times faster), else on PyYAML's own:
    both write list items at their key's indentation, so the file is the same either way.
    """

    class Dumper(base):  # type: ignore[valid-type, misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    Dumper.add_representer(str, _represent_str)
    return Dumper


DUMPER = yaml_dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper))


def _to_yaml_value(kind: t.Kind, value: Any) -> Any:
    """A stored JSON answer as a YAML scalar of its own type (dates as dates), None when blank."""
    if is_blank(value):
        return None
    try:
        if kind is t.Kind.DATE and isinstance(value, str):
            return date.fromisoformat(value)
        if kind is t.Kind.DATETIME and isinstance(value, str):
            return datetime.fromisoformat(value)
    except ValueError:
        return value  # stored before validation tightened: keep the text rather than lose it
    if kind is t.Kind.YES_NO and isinstance(value, dict):
        return {k: v for k, v in value.items() if not is_blank(v)}
    return value


def _stored(pm: Postmortem, slot: Slot) -> Any:
    value = pm.value(slot.section.key, slot.field.key)
    if value is None and pm.template.role(t.Role.INCIDENT_ID) == t.FieldRef(slot.section.key, slot.field.key):
        return pm.incident_id
    return value


def _export(layout: Layout, pm: Postmortem, keep_empty: bool) -> dict[str, Any]:
    """One mapping of the file; ``keep_empty`` keeps null keys so the fixed keys keep their shape."""
    out: dict[str, Any] = {}
    for key, node in layout.items():
        if isinstance(node, Slot):
            value = _to_yaml_value(node.field.kind, _stored(pm, node))
        elif isinstance(node, ActionList):
            value = [_action_to_yaml(pm.template, a) for a in pm.actions]
        elif isinstance(node, dict):
            value = _export(node, pm, keep_empty) or None
        else:
            continue
        if keep_empty or value is not None:
            out[key] = value
    return out


def _action_to_yaml(template: t.Template, action: CorrectiveAction) -> dict[str, Any]:
    """The template's ``export_first`` keys always, then the other fields when not empty; no id."""
    stored = action_answers(template, action)
    out: dict[str, Any] = {}
    for key in layouts(template).action_keys:
        value = _to_yaml_value(template.action_field(key).kind, stored[key])
        if key in template.action_export_first or value is not None:
            out[key] = value
    if action.source:
        out[ACTION_SOURCE_KEY] = action.source
    return out


def _timeline_to_yaml(entries: list[TimelineEntry]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        item: dict[str, Any] = {"at": utc_time(entry.at), "author": entry.author, "text": entry.shown}
        if entry.permalink:
            item["permalink"] = entry.permalink
        if entry.files:
            item["files"] = list(entry.files)
        if entry.deleted:
            item["deleted"] = True
        out.append(item)
    return out


def _checklist_to_yaml(items: list[ChecklistItem]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in items:
        entry = {"question": item.question, "answer": item.answer}
        if item.missing:
            entry["missing"] = item.missing.removeprefix("missing: ")
        out.append(entry)
    return out


def _cases_to_yaml(pm: Postmortem) -> list[dict[str, Any]]:
    positions = {action.id: number for number, action in enumerate(pm.actions, 1)}
    cases = []
    for case in pm.evals:
        linked = [positions[a] for a in case.action_ids if a in positions]
        cases.append({**case.fields(), **({EVAL_ACTIONS_KEY: linked} if linked else {})})
    return cases


def to_yaml(pm: Postmortem, dumper: type[yaml.SafeDumper] = DUMPER) -> str:
    """The template's YAML file for ``pm`` (see the module docstring for its layout)."""
    layout = layouts(pm.template)
    document = _export(layout.fixed, pm, keep_empty=True)
    for key, sections_fields in layout.further.items():
        if answers := _export(sections_fields, pm, keep_empty=False):
            document[key] = answers
    if pm.timeline:
        document[TIMELINE_KEY] = _timeline_to_yaml(pm.timeline)
    document[CHECKLIST_KEY] = _checklist_to_yaml(checklist(pm))
    version = {"name": pm.template.name, "version": pm.template.version}
    whole: dict[str, Any] = {ROOT: document, TEMPLATE_KEY: version}
    if pm.evals:
        whole[EVALS_KEY] = _cases_to_yaml(pm)
    text = yaml.dump(whole, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    # A comment cannot be dumped; the key is indented once and alone on its line, so this is exact.
    key_line = f"\n  {CHECKLIST_KEY}:\n"
    note = f"section {checklist_number(pm.template)}, computed from the answers above: ignored on import"
    return text.replace(key_line, f"\n  # {note}{key_line}", 1)
